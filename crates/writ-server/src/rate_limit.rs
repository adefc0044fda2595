//! A small in-process token-bucket limiter for password sign-ins, keyed per user and per source
//! address. Per process rather than shared: with N replicas the effective budget is N times the
//! configured one, which still bounds online guessing; the argon2 cost bounds it further.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

#[derive(Debug)]
pub struct RateLimiter {
    capacity: f64,
    refill_per_sec: f64,
    buckets: Mutex<HashMap<String, (f64, OffsetDateTime)>>,
}

/// Buckets idle this long are forgotten, so the map cannot grow without bound.
const IDLE_EVICTION: Duration = Duration::from_secs(600);
const MAX_KEYS: usize = 100_000;

impl RateLimiter {
    /// `capacity` attempts at once, refilled at `per_minute` per minute.
    pub fn new(capacity: u32, per_minute: u32) -> Self {
        Self {
            capacity: f64::from(capacity),
            refill_per_sec: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for each key; if any bucket is empty, nothing is taken and the number of
    /// seconds until a retry can succeed is returned.
    pub fn check(&self, keys: &[String], now: OffsetDateTime) -> Result<(), u64> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > MAX_KEYS {
            buckets.retain(|_, (_, last)| now - *last < IDLE_EVICTION);
        }
        let mut wait: f64 = 0.0;
        for key in keys {
            let (tokens, last) = buckets.get(key).copied().unwrap_or((self.capacity, now));
            let elapsed = (now - last).as_seconds_f64().max(0.0);
            let tokens = (tokens + elapsed * self.refill_per_sec).min(self.capacity);
            if tokens < 1.0 {
                wait = wait.max((1.0 - tokens) / self.refill_per_sec);
            }
            buckets.insert(key.clone(), (tokens, now));
        }
        if wait > 0.0 {
            return Err(wait.ceil() as u64);
        }
        for key in keys {
            if let Some(entry) = buckets.get_mut(key) {
                entry.0 -= 1.0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_capacity_and_refills() {
        let limiter = RateLimiter::new(2, 60);
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let keys = vec!["user:a".to_owned()];
        assert!(limiter.check(&keys, t0).is_ok());
        assert!(limiter.check(&keys, t0).is_ok());
        assert_eq!(limiter.check(&keys, t0), Err(1));
        // Another key is unaffected.
        assert!(limiter.check(&["user:b".to_owned()], t0).is_ok());
        assert!(
            limiter
                .check(&keys, t0 + time::Duration::seconds(1))
                .is_ok()
        );
    }
}

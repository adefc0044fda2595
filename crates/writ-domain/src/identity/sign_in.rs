//! The sign-in limiter of the password grant (asked by `writ-server/src/oauth.rs`): token buckets
//! per source address and per account, in a table of bounded size, built so that a stranger can
//! slow guesses at an account but cannot lock its owner out.
//!
//! # Buckets
//!
//! Each bucket holds up to `burst` tokens and refills continuously at `per_minute`.
//!
//! - **Per source** (the client address, which `writ-server/src/client_address.rs` resolves behind
//!   proxies): every attempt takes a token; 10 at once, 10 a minute. An IPv6 source is its /64,
//!   since one host commonly holds a whole /64. When it is empty the attempt is `429` with
//!   `Retry-After`, and nothing else is looked up or created: a limited source cannot make the
//!   table grow.
//! - **Per account and source**: every *failed* attempt takes a token; 10 at once, then one a
//!   minute. When it is empty, attempts on that account from that source are `429`. The account's
//!   owner, signing in from another address, has a bucket of their own.
//! - **Per account**, whatever the source: every failed attempt takes a token; 20 at once, 10 a
//!   minute. When it is empty, attempts on the account are *delayed*, not refused, by the time
//!   the bucket needs to hold a token again, at most [`Limits::max_delay`] (2 s).
//!
//! Why not a per-account bucket that refuses (what this replaced): anyone who knows a user name
//! could then keep its owner out for good by guessing wrong ten times a minute. Here a stranger
//! at one address gets 10 guesses, then one a minute; strangers at many addresses at once each
//! get as much (the source budget and the cost of an argon2 verification bound them), and while
//! they keep the account's bucket empty every attempt on the account, theirs and the owner's,
//! waits up to 2 s before it is checked. The owner is slowed, never refused: only a stranger
//! sharing the owner's address (behind the same NAT) can make the owner wait a minute.
//!
//! # Memory
//!
//! All buckets live in one table of at most [`Limits::max_keys`] entries (100,000), each of a
//! fixed size: accounts are keyed by a keyed hash (SipHash with a random per-process key) of the
//! lower-cased user name, never by the name itself, and user names over 256 characters are
//! refused before the limiter is asked. When the table is full, the least recently used entry is
//! dropped. Forgetting a bucket hands back at most its budget, and an attacker who wants to
//! evict another's bucket must fill the table with fresh entries from sources that are not
//! limited yet, each of which creates at most a few before being limited itself.
//!
//! The limiter is per process: with N replicas the budgets are N times as large.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Duration;

use hashlink::LruCache;
use time::OffsetDateTime;

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub burst: f64,
    pub per_minute: f64,
}

impl Budget {
    fn per_second(self) -> f64 {
        self.per_minute / 60.0
    }
}

/// The limiter's budgets and bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Every attempt from one source.
    pub per_source: Budget,
    /// Failed attempts on one account from one source.
    pub per_account_source: Budget,
    /// Failed attempts on one account from anywhere: beyond it, attempts are delayed.
    pub per_account: Budget,
    /// The longest an attempt is delayed.
    pub max_delay: Duration,
    /// The most buckets kept.
    pub max_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_source: Budget {
                burst: 10.0,
                per_minute: 10.0,
            },
            per_account_source: Budget {
                burst: 10.0,
                per_minute: 1.0,
            },
            per_account: Budget {
                burst: 20.0,
                per_minute: 10.0,
            },
            max_delay: Duration::from_secs(2),
            max_keys: 100_000,
        }
    }
}

/// What a bucket is for. Fixed size whatever the caller sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Source(IpAddr),
    AccountSource(u64, IpAddr),
    Account(u64),
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: OffsetDateTime,
}

impl Bucket {
    fn full(budget: Budget, now: OffsetDateTime) -> Self {
        Self {
            tokens: budget.burst,
            at: now,
        }
    }

    /// The bucket at `now`, refilled for the time since it was last seen.
    fn at(self, budget: Budget, now: OffsetDateTime) -> Self {
        let elapsed = (now - self.at).as_seconds_f64().max(0.0);
        Self {
            tokens: (self.tokens + elapsed * budget.per_second()).min(budget.burst),
            at: now.max(self.at),
        }
    }

    /// Seconds until the bucket holds a whole token again.
    fn wait(self, budget: Budget) -> f64 {
        if self.tokens >= 1.0 {
            0.0
        } else if budget.per_second() > 0.0 {
            (1.0 - self.tokens) / budget.per_second()
        } else {
            f64::INFINITY
        }
    }
}

/// The limiter's answer to a sign-in attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// Check the password, after waiting `delay` (zero unless the account is under attack).
    Proceed { delay: Duration },
    /// Refuse (`429`); a retry can succeed after this many seconds.
    Refused { retry_after_secs: u64 },
}

/// Seconds to tell a refused client, whole and bounded.
fn retry_after(wait: f64) -> u64 {
    // `as` saturates; the bounds keep the header sensible for an infinite or tiny wait.
    (wait.ceil() as u64).clamp(1, 3600)
}

/// The source a bucket is kept for: IPv4 addresses as they are, IPv6 by their /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// The sign-in limiter: see the module documentation.
#[derive(Debug)]
pub struct SignInLimiter {
    limits: Limits,
    hasher: RandomState,
    table: Mutex<LruCache<Key, Bucket>>,
}

impl SignInLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            table: Mutex::new(LruCache::new(limits.max_keys.max(1))),
            limits,
            hasher: RandomState::new(),
        }
    }

    /// How many buckets are kept now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Key, Bucket>> {
        // A panic elsewhere while holding the lock leaves consistent buckets: keep using them.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn account(&self, username: &str) -> u64 {
        self.hasher.hash_one(username.to_lowercase())
    }

    /// Decides whether an attempt to sign in as `username` from `source` may be checked now.
    /// Takes one token from the source's bucket when it proceeds.
    pub fn admit(&self, username: &str, source: IpAddr, now: OffsetDateTime) -> Admission {
        let source = source_key(source);
        let account = self.account(username);
        let limits = &self.limits;
        let mut table = self.lock();

        let key = Key::Source(source);
        let bucket = table.get(&key).copied().map_or_else(
            || Bucket::full(limits.per_source, now),
            |b| b.at(limits.per_source, now),
        );
        if bucket.tokens < 1.0 {
            // The key exists (a new bucket is full): refresh it, create nothing else.
            table.insert(key, bucket);
            return Admission::Refused {
                retry_after_secs: retry_after(bucket.wait(limits.per_source)),
            };
        }
        table.insert(
            key,
            Bucket {
                tokens: bucket.tokens - 1.0,
                ..bucket
            },
        );

        // Failures create the account buckets (record_failure); here they are only read.
        if let Some(bucket) = table.get(&Key::AccountSource(account, source)).copied() {
            let bucket = bucket.at(limits.per_account_source, now);
            if bucket.tokens < 1.0 {
                return Admission::Refused {
                    retry_after_secs: retry_after(bucket.wait(limits.per_account_source)),
                };
            }
        }
        let wait = table.get(&Key::Account(account)).map_or(0.0, |b| {
            b.at(limits.per_account, now).wait(limits.per_account)
        });
        let delay = Duration::try_from_secs_f64(wait)
            .unwrap_or(limits.max_delay)
            .min(limits.max_delay);
        Admission::Proceed { delay }
    }

    /// Records a failed attempt (unknown user or wrong password) on the account's buckets.
    pub fn record_failure(&self, username: &str, source: IpAddr, now: OffsetDateTime) {
        let source = source_key(source);
        let account = self.account(username);
        let limits = &self.limits;
        // The account's bucket may go below zero down to where its wait is the longest delay,
        // so a sustained attack keeps the delay at its bound and no further.
        let account_floor = 1.0 - limits.max_delay.as_secs_f64() * limits.per_account.per_second();
        let mut table = self.lock();
        for (key, budget, floor) in [
            (
                Key::AccountSource(account, source),
                limits.per_account_source,
                0.0,
            ),
            (Key::Account(account), limits.per_account, account_floor),
        ] {
            let bucket = table
                .get(&key)
                .copied()
                .map_or_else(|| Bucket::full(budget, now), |b| b.at(budget, now));
            table.insert(
                key,
                Bucket {
                    tokens: (bucket.tokens - 1.0).max(floor).min(bucket.tokens),
                    ..bucket
                },
            );
        }
    }
}

impl Default for SignInLimiter {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proceeds(admission: Admission) -> bool {
        matches!(admission, Admission::Proceed { .. })
    }

    #[test]
    fn sources_are_limited_and_refill() {
        let limiter = SignInLimiter::default();
        let source = ip("198.51.100.1");
        for i in 0..10 {
            assert!(proceeds(limiter.admit(&format!("u{i}"), source, T0)));
        }
        assert_eq!(
            limiter.admit("u", source, T0),
            Admission::Refused {
                retry_after_secs: 6
            }
        );
        // Another source is unaffected; six seconds refill one attempt.
        assert!(proceeds(limiter.admit("u", ip("198.51.100.2"), T0)));
        let later = T0 + time::Duration::seconds(6);
        assert!(proceeds(limiter.admit("u", source, later)));
        assert!(!proceeds(limiter.admit("u", source, later)));
    }

    #[test]
    fn a_limited_source_creates_no_keys() {
        let limiter = SignInLimiter::default();
        let source = ip("203.0.113.5");
        for i in 0..10 {
            assert!(proceeds(limiter.admit(&format!("u{i}"), source, T0)));
            limiter.record_failure(&format!("u{i}"), source, T0);
        }
        let kept = limiter.len();
        assert_eq!(kept, 1 + 10 * 2);
        for i in 0..1000 {
            assert!(!proceeds(limiter.admit(&format!("new{i}"), source, T0)));
        }
        assert_eq!(limiter.len(), kept);
    }

    #[test]
    fn ipv6_sources_are_their_64() {
        let limiter = SignInLimiter::default();
        for i in 0..10 {
            let address = ip(&format!("2001:db8:1:2::{i:x}"));
            assert!(proceeds(limiter.admit("u", address, T0)));
        }
        assert!(!proceeds(limiter.admit(
            "u",
            ip("2001:db8:1:2:ffff::1"),
            T0
        )));
        assert!(proceeds(limiter.admit("u", ip("2001:db8:1:3::1"), T0)));
        // An IPv4-mapped address is its IPv4 address.
        for _ in 0..10 {
            assert!(proceeds(limiter.admit("u", ip("192.0.2.9"), T0)));
        }
        assert!(!proceeds(limiter.admit("u", ip("::ffff:192.0.2.9"), T0)));
    }

    #[test]
    fn memory_is_bounded_whatever_is_sent() {
        let limiter = SignInLimiter::new(Limits {
            max_keys: 1000,
            ..Limits::default()
        });
        let long_name = "x".repeat(256);
        for i in 0u32..20_000 {
            let source = IpAddr::from(i.to_be_bytes());
            let name = format!("{long_name}{i}");
            if proceeds(limiter.admit(&name, source, T0)) {
                limiter.record_failure(&name, source, T0);
            }
            assert!(limiter.len() <= 1000);
        }
        assert_eq!(limiter.len(), 1000);
    }

    #[test]
    fn failures_limit_the_account_at_one_source_and_slow_it_everywhere() {
        let limiter = SignInLimiter::default();
        let stranger = ip("203.0.113.7");
        let owner = ip("198.51.100.20");
        for _ in 0..10 {
            assert!(proceeds(limiter.admit("Paula@Example.org", stranger, T0)));
            limiter.record_failure("paula@example.org", stranger, T0);
        }
        // Six seconds refill the source's bucket by one, the account-and-source one by a tenth.
        let now = T0 + time::Duration::seconds(6);
        assert_eq!(
            limiter.admit("paula@example.org", stranger, now),
            Admission::Refused {
                retry_after_secs: 54
            }
        );
        // The owner elsewhere goes ahead at once (10 of the account's 20 failures are used).
        assert_eq!(
            limiter.admit("paula@example.org", owner, now),
            Admission::Proceed {
                delay: Duration::ZERO
            }
        );
        // Strangers at many addresses empty the account's bucket: attempts are delayed, at
        // most max_delay, and never refused.
        for stranger in 0..50u8 {
            let source = IpAddr::from([192, 0, 2, stranger]);
            assert!(proceeds(limiter.admit("paula@example.org", source, now)));
            limiter.record_failure("paula@example.org", source, now);
        }
        match limiter.admit("paula@example.org", owner, now) {
            Admission::Proceed { delay } => assert!(
                delay > Duration::from_millis(1900) && delay <= Duration::from_secs(2),
                "{delay:?}"
            ),
            refused => panic!("the owner was refused: {refused:?}"),
        }
        // Other accounts are not slowed.
        assert_eq!(
            limiter.admit("other@example.org", owner, now),
            Admission::Proceed {
                delay: Duration::ZERO
            }
        );
        // Once the attack stops, the delay goes (the floor bounds how long it lasts).
        let later = now + time::Duration::seconds(20);
        assert_eq!(
            limiter.admit("paula@example.org", owner, later),
            Admission::Proceed {
                delay: Duration::ZERO
            }
        );
    }
}

//! One pass of an outbox dispatcher, shared by webhooks and email (DESIGN section 8): route new
//! outbox events into delivery rows, claim a batch of due deliveries under a lease, send them a
//! few at a time, and record each outcome with the retry schedule of
//! [`next_step`]; on shutdown, deliveries claimed and not yet sent are released
//! so that a clean restart sends nothing twice.
//!
//! This module also owns what every channel shares: an attempt's outcome ([`SendOutcome`]), the
//! dispatcher's configuration and the retry rule ([`next_step`], [`backoff`]); `webhooks`
//! re-exports them at their old paths. An attempt's record ([`AttemptRecord`], [`NextStep`]) is
//! plain data the queues store, so it lives in the model (re-exported here).
//!
//! What differs between the channels (which rows an event becomes, how one is sent) is the
//! [`DeliveryQueue`] a channel implements over its store and sender.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use crate::authz::Caller;
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
pub use crate::model::{AttemptRecord, NextStep};
use crate::store::StoreResult;

/// Who reads a channel's deliveries (`/writ/v1/webhookDeliveries`, `…/emailDeliveries`):
/// administrators of entitlement management only; `what` names the channel's deliveries.
pub(crate) fn require_delivery_reader(caller: &Caller, what: &str) -> DomainResult<()> {
    if caller.is_em_admin() {
        Ok(())
    } else {
        Err(DomainError::forbidden(format!(
            "{what} are visible to Global Administrators and Identity Governance Administrators only"
        )))
    }
}

/// What the receiver (or the network) said.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// The receiver answered; anything but 2xx (3xx included: redirects are not followed) is a
    /// failed attempt.
    Answered {
        status: u16,
        /// The `Retry-After` header as sent, if any.
        retry_after: Option<String>,
    },
    /// No answer: connection refused, reset, timed out, TLS failure, DNS failure.
    Failed { error: String },
    /// The outbound policy refused the endpoint's address. Permanent: not retried.
    Refused { reason: String },
}

/// How a dispatcher claims, retries and gives up.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    pub worker_id: String,
    /// Longer than a send can take (the sender's whole-request timeout), so that a live
    /// worker's lease never runs out under it.
    pub lease: Duration,
    pub batch_size: u32,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// Attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// The first retry's nominal wait; each further one doubles it.
    pub base_delay: Duration,
    /// The longest wait between attempts, `Retry-After` included.
    pub max_delay: Duration,
}

/// Attempts before dead-lettering, by default: with [`DEFAULT_BASE_DELAY`] doubling to
/// [`DEFAULT_MAX_DELAY`] the last attempt comes about 9 hours after the first.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 15;
pub const DEFAULT_BASE_DELAY: Duration = Duration::seconds(2);
pub const DEFAULT_MAX_DELAY: Duration = Duration::hours(1);

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            worker_id: new_object_id(),
            lease: Duration::seconds(60),
            batch_size: 50,
            concurrency: 8,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }
}

/// The wait after failed attempt number `attempts` (1-based): `base · 2^(attempts-1)` capped at
/// `max`, of which the upper half is scaled by `jitter` ∈ [0, 1) ("equal jitter"): retries of
/// many events that failed together spread out instead of hitting the receiver at once, and no
/// wait is shorter than half its nominal value.
pub fn backoff(attempts: u32, base: Duration, max: Duration, jitter: f64) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let nominal = base
        .checked_mul(1i32 << exponent.min(30))
        .unwrap_or(max)
        .min(max);
    let half = nominal / 2;
    half + half * jitter.clamp(0.0, 1.0)
}

/// Reads `Retry-After`: delay-seconds or an HTTP date (IMF-fixdate), relative to `now`. A date
/// in the past means "now"; anything else unreadable is ignored.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(Duration::seconds(i64::from(seconds)));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    Some((at - now).max(Duration::ZERO))
}

/// What to record after attempt number `attempts` ended with `outcome` at `now`.
pub fn next_step(
    outcome: &SendOutcome,
    attempts: u32,
    config: &DispatchConfig,
    now: OffsetDateTime,
    jitter: f64,
) -> AttemptRecord {
    let retry_or_give_up = |status: Option<u16>, error: String, wait: Duration| AttemptRecord {
        at: now,
        status,
        error: Some(if attempts >= config.max_attempts {
            format!("{error}; gave up after {attempts} attempts")
        } else {
            error
        }),
        next: if attempts >= config.max_attempts {
            NextStep::DeadLetter
        } else {
            // Saturating: the wait is capped by the configuration, so only a clock at the end
            // of time could overflow, and then "as late as can be" is the right retry.
            NextStep::RetryAt(now.saturating_add(wait))
        },
    };
    let backoff = backoff(attempts, config.base_delay, config.max_delay, jitter);
    match outcome {
        SendOutcome::Answered { status, .. } if (200..300).contains(status) => AttemptRecord {
            at: now,
            status: Some(*status),
            error: None,
            next: NextStep::Delivered,
        },
        SendOutcome::Answered {
            status,
            retry_after,
        } => {
            // The receiver's own schedule wins where it gives one (429, 503), within our cap.
            let wait = match (status, retry_after) {
                (429 | 503, Some(value)) => parse_retry_after(value, now)
                    .map(|d| d.min(config.max_delay))
                    .unwrap_or(backoff),
                _ => backoff,
            };
            let error = if (300..400).contains(status) {
                format!("the receiver answered {status} (redirects are not followed)")
            } else {
                format!("the receiver answered {status}")
            };
            retry_or_give_up(Some(*status), error, wait)
        }
        SendOutcome::Failed { error } => retry_or_give_up(None, error.clone(), backoff),
        SendOutcome::Refused { reason } => AttemptRecord {
            at: now,
            status: None,
            error: Some(reason.clone()),
            next: NextStep::DeadLetter,
        },
    }
}

/// A delivery given up on in a pass, for the log (`endpoint_url`: where it was going, for
/// email the recipient's address).
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub delivery_id: String,
    pub event_id: String,
    pub endpoint_url: String,
    pub reason: String,
}

/// A delivery a worker holds the lease of.
pub trait Claimed {
    fn delivery_id(&self) -> &str;
    /// Claims so far, this one included.
    fn attempts(&self) -> u32;
    fn event_id(&self) -> &str;
    /// Where it goes (an endpoint URL, a recipient), for the dead-letter log.
    fn destination(&self) -> &str;
    /// Attempts before this delivery is dead-lettered, where it sets its own (a custom
    /// extension's `maximumRetries`); otherwise the channel's.
    fn max_attempts(&self) -> Option<u32> {
        None
    }
}

/// A channel's deliveries: its store calls (each its own transaction) and its sender.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    type Item: Claimed + Send + Sync;
    /// Routes up to `limit` unrouted outbox events into pending deliveries due at `now`.
    async fn route(&self, now: OffsetDateTime, limit: u32) -> StoreResult<u32>;
    /// Leases up to `limit` due pending deliveries to `worker` until `lease_until`.
    async fn claim(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Self::Item>>;
    /// Sends one claimed delivery.
    async fn send(&self, item: &Self::Item) -> SendOutcome;
    /// Records an attempt under `worker`'s lease; `false` when the lease was lost.
    async fn record(&self, id: &str, worker: &str, record: &AttemptRecord) -> StoreResult<bool>;
    /// Gives leased deliveries back unsent, uncounting their attempt.
    async fn release(&self, ids: &[String], worker: &str) -> StoreResult<u64>;
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PassReport {
    pub routed: u32,
    pub claimed: u32,
    pub delivered: u32,
    pub retried: u32,
    pub released: u32,
    /// Attempts whose lease ran out before they were recorded.
    pub lost: u32,
    pub dead_lettered: Vec<DeadLetter>,
}

/// How a pass claims, paces and stops.
pub struct Pacing<'a> {
    pub config: &'a DispatchConfig,
    pub clock: &'a dyn Clock,
    /// A uniform draw from [0, 1), for jitter.
    pub jitter: &'a (dyn Fn() -> f64 + Send + Sync),
    /// Whether shutdown was asked: checked between groups of sends; deliveries claimed and not
    /// yet sent are then released.
    pub stopping: &'a (dyn Fn() -> bool + Send + Sync),
}

/// One pass: route, claim a batch, send it (`concurrency` at a time) and record each outcome.
/// The caller loops while a pass claimed or routed a full batch and otherwise sleeps until the
/// next delivery is due.
pub async fn run_pass<Q: DeliveryQueue + ?Sized>(
    queue: &Q,
    pacing: &Pacing<'_>,
) -> DomainResult<PassReport> {
    let config = pacing.config;
    let mut report = PassReport {
        routed: queue.route(pacing.clock.now(), config.batch_size).await?,
        ..PassReport::default()
    };
    let now = pacing.clock.now();
    let lease_until = crate::instant::add(now, config.lease)?;
    let claimed = queue
        .claim(&config.worker_id, now, lease_until, config.batch_size)
        .await?;
    report.claimed = u32::try_from(claimed.len()).unwrap_or(u32::MAX);
    let mut chunks = claimed.chunks(config.concurrency.max(1));
    while let Some(chunk) = chunks.next() {
        if (pacing.stopping)() {
            let unsent: Vec<String> = std::iter::once(chunk)
                .chain(chunks.by_ref())
                .flatten()
                .map(|d| d.delivery_id().to_owned())
                .collect();
            let released = queue.release(&unsent, &config.worker_id).await?;
            report.released = u32::try_from(released).unwrap_or(u32::MAX);
            break;
        }
        let outcomes =
            futures_util::future::join_all(chunk.iter().map(|d| attempt(queue, pacing, d))).await;
        for (delivery, outcome) in chunk.iter().zip(outcomes) {
            let (record, kept) = outcome?;
            if !kept {
                report.lost += 1;
                continue;
            }
            match record.next {
                NextStep::Delivered => report.delivered += 1,
                NextStep::RetryAt(_) => report.retried += 1,
                NextStep::DeadLetter => report.dead_lettered.push(DeadLetter {
                    delivery_id: delivery.delivery_id().to_owned(),
                    event_id: delivery.event_id().to_owned(),
                    endpoint_url: delivery.destination().to_owned(),
                    reason: record.error.clone().unwrap_or_default(),
                }),
            }
        }
    }
    Ok(report)
}

/// Sends one claimed delivery and records the outcome; whether the record was kept.
async fn attempt<Q: DeliveryQueue + ?Sized>(
    queue: &Q,
    pacing: &Pacing<'_>,
    delivery: &Q::Item,
) -> DomainResult<(AttemptRecord, bool)> {
    let outcome = queue.send(delivery).await;
    let own_limit = delivery.max_attempts().map(|max_attempts| DispatchConfig {
        max_attempts,
        ..pacing.config.clone()
    });
    let record = next_step(
        &outcome,
        delivery.attempts(),
        own_limit.as_ref().unwrap_or(pacing.config),
        pacing.clock.now(),
        (pacing.jitter)(),
    );
    let kept = queue
        .record(delivery.delivery_id(), &pacing.config.worker_id, &record)
        .await?;
    Ok((record, kept))
}

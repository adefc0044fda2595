//! One pass of an outbox dispatcher, shared by webhooks and email (DESIGN section 8): route new
//! outbox events into delivery rows, claim a batch of due deliveries under a lease, send them a
//! few at a time, and record each outcome with the retry schedule of
//! [`crate::webhooks::next_step`]; on shutdown, deliveries claimed and not yet sent are released
//! so that a clean restart sends nothing twice.
//!
//! What differs between the channels (which rows an event becomes, how one is sent) is the
//! [`DeliveryQueue`] a channel implements over its store and sender.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::authz::Caller;
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::store::StoreResult;
use crate::webhooks::{AttemptRecord, DeadLetter, DispatchConfig, NextStep, SendOutcome};

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
    let record = crate::webhooks::next_step(
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

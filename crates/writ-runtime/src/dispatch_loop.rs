//! The task loop shared by the outbox dispatchers (webhooks, email): run passes of
//! [`writ_domain::dispatch::run_pass`] until shutdown, sleeping until the next delivery is due
//! (at most `max_idle`, since events are written on any replica without a signal to this task).
//!
//! Shutdown: the sends in flight when it is asked finish and are recorded; deliveries claimed
//! and not yet sent are released, so a clean restart sends nothing twice. After a SIGKILL the
//! leases run out and another (or the restarted) process resends them.
//!
//! A panic in a pass is caught, logged, and followed by the next pass after the error pause:
//! the loop never dies of one delivery (what the pass held is dropped, its leases run out).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use futures_util::FutureExt;
use time::OffsetDateTime;
use writ_domain::clock::Clock;
use writ_domain::dispatch::{Pacing, PassReport};
use writ_domain::error::{DomainError, DomainResult};
use writ_domain::jobs::panic_message;
use writ_domain::store::StoreResult;
use writ_domain::webhooks::DispatchConfig;

use crate::job_worker::WorkerTiming;
use crate::redact;

/// One channel's passes, as the loop drives them.
#[async_trait]
pub trait Passes: Send + Sync {
    /// For the log: "webhook", "email", "callout".
    const CHANNEL: &'static str;
    /// How the channel claims, retries and gives up.
    fn config(&self) -> &DispatchConfig;
    fn clock(&self) -> &dyn Clock;
    fn timing(&self) -> &WorkerTiming;
    async fn pass(&self, pacing: &Pacing<'_>) -> DomainResult<PassReport>;
    async fn next_due(&self) -> StoreResult<Option<OffsetDateTime>>;
}

/// A uniform draw from [0, 1) for jitter, from the operating system's generator (through
/// UUIDv4, which the workspace already uses) rather than a new dependency.
pub fn jitter() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() >> 75; // 53 random bits
    // Exact: 53 bits fit an f64's mantissa.
    #[expect(clippy::cast_precision_loss, reason = "53 bits convert exactly")]
    let value = bits as f64;
    value / (1u64 << 53) as f64
}

/// Runs `passes` until `shutdown` resolves.
pub async fn run<P: Passes>(passes: P, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let (clock, timing) = (passes.clock(), passes.timing());
    let batch_size = passes.config().batch_size;
    let stopping = Arc::new(AtomicBool::new(false));
    let stop_flag = stopping.clone();
    let is_stopping = move || stop_flag.load(Ordering::SeqCst);
    loop {
        let pacing = Pacing {
            config: passes.config(),
            clock,
            jitter: &jitter,
            stopping: &is_stopping,
        };
        let pass = AssertUnwindSafe(passes.pass(&pacing))
            .catch_unwind()
            .map(|caught| {
                caught.unwrap_or_else(|panic| {
                    Err(DomainError::Internal(format!(
                        "the pass panicked: {}",
                        panic_message(panic.as_ref())
                    )))
                })
            });
        tokio::pin!(pass);
        let mut stop_now = false;
        let result = tokio::select! {
            result = &mut pass => result,
            () = &mut shutdown => {
                // Finish what is in flight; the pass releases what it has not sent.
                stopping.store(true, Ordering::SeqCst);
                stop_now = true;
                pass.await
            }
        };
        let pause = match result {
            Ok(report) => {
                for dead in &report.dead_lettered {
                    // Endpoint URLs carry secrets in their query (a Logic Apps `sig=`) or
                    // credentials: only the redacted form is logged.
                    tracing::warn!(
                        delivery.id = %dead.delivery_id,
                        event.id = %dead.event_id,
                        destination = %redact::url_for_log(&dead.endpoint_url),
                        reason = %redact::urls_in_text(&dead.reason),
                        "{} delivery {} dead-lettered", P::CHANNEL, dead.delivery_id
                    );
                }
                if report.claimed > 0 || report.routed > 0 {
                    // The counts only: the dead letters (with their URLs) are logged above.
                    tracing::debug!(
                        routed = report.routed,
                        claimed = report.claimed,
                        delivered = report.delivered,
                        retried = report.retried,
                        released = report.released,
                        lost = report.lost,
                        dead_lettered = report.dead_lettered.len(),
                        "{} pass",
                        P::CHANNEL
                    );
                }
                if stop_now {
                    return;
                }
                if report.claimed >= batch_size || report.routed >= batch_size {
                    continue;
                }
                idle_wait(&passes, clock, timing).await
            }
            Err(error) => {
                tracing::warn!(
                    error = %redact::urls_in_text(&error.operator_detail()),
                    "{} pass failed", P::CHANNEL
                );
                if stop_now {
                    return;
                }
                timing.error_pause
            }
        };
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

async fn idle_wait<P: Passes>(passes: &P, clock: &dyn Clock, timing: &WorkerTiming) -> StdDuration {
    match passes.next_due().await {
        // At least a moment: work that is due but held by another replica's open transaction
        // must not make this loop spin.
        Ok(Some(due)) => StdDuration::try_from(due - clock.now())
            .unwrap_or(StdDuration::ZERO)
            .clamp(StdDuration::from_millis(20), timing.max_idle),
        Ok(None) => timing.max_idle,
        Err(error) => {
            tracing::warn!(%error, "could not read the next {} delivery's due time", P::CHANNEL);
            timing.error_pause
        }
    }
}

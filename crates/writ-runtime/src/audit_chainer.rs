//! The audit chainer's runtime (DESIGN section 9): a task of `writ serve` that links committed
//! audit records into the chain ([`writ_domain::audit_chain::chain_pending`]) in batches, then
//! waits a short interval. Every replica runs one; the chain head's compare-and-set makes them
//! agree on one order, so a replica that loses a race simply tries again on its next pass.
//! A pass that panics is logged and rolled back (its transaction is dropped); the next pass
//! follows after the interval.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use futures_util::FutureExt;
use writ_domain::audit_chain::{AuditKey, chain_pending};
use writ_domain::jobs::panic_message;
use writ_domain::store::Store;

/// Records linked per transaction.
pub const BATCH: u32 = 1000;

pub struct AuditChainer {
    pub store: Arc<dyn Store>,
    pub key: Arc<AuditKey>,
    /// The wait after a pass that found nothing (more) to link: the chain's lag at most, in
    /// steady state.
    pub interval: StdDuration,
}

impl AuditChainer {
    /// Runs until `shutdown` resolves; a pass in progress is finished (or rolled back) first.
    /// A last pass after the signal links what the process committed before it stopped.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let full = self.pass().await;
            if full {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
        self.pass().await;
    }

    /// One pass; `true` when the batch was full (more may be waiting).
    async fn pass(&self) -> bool {
        let pass = AssertUnwindSafe(chain_pending(self.store.as_ref(), &self.key, BATCH))
            .catch_unwind()
            .await;
        let Ok(pass) = pass.map_err(|panic| {
            tracing::error!(
                panic = %panic_message(panic.as_ref()),
                "audit chain pass panicked; the chainer goes on"
            );
        }) else {
            return false;
        };
        match pass {
            Ok(linked) => {
                if linked > 0 {
                    tracing::debug!(audit.linked = linked, "audit records linked");
                }
                linked >= BATCH as usize
            }
            Err(error) => {
                tracing::warn!(error = %error.operator_detail(), "audit chain pass failed");
                false
            }
        }
    }
}

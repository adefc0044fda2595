//! The audit chainer's runtime (DESIGN section 9): a task of `writ serve` that links committed
//! audit records into the chain ([`writ_domain::audit_chain::chain_pending`]) in batches, then
//! waits a short interval. Every replica runs one; the chain head's compare-and-set makes them
//! agree on one order, so a replica that loses a race simply tries again on its next pass.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use writ_domain::audit_chain::{AuditKey, chain_pending};
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
        match chain_pending(self.store.as_ref(), &self.key, BATCH).await {
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

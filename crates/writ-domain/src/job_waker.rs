//! The signal from a committed transaction that wrote a job to this process's job worker: the
//! HTTP handlers wake it, the background runtime (`writ_runtime::job_worker`) waits on it. It
//! lives in the domain so that the two crates share it without depending on each other.

use std::sync::Arc;

use tokio::sync::Notify;

/// Wakes the worker of this process after a transaction that wrote a job commits. Cloning
/// shares the signal; a wake with no worker waiting is kept for its next wait, so none is lost.
#[derive(Debug, Clone, Default)]
pub struct JobWaker(Arc<Notify>);

impl JobWaker {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    /// Resolves at the next wake (or at once, for a wake kept since the last wait).
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

//! The job worker's runtime (DESIGN section 7): a task that runs passes of
//! [`writ_domain::jobs::run_due_jobs`], sleeps until the next job is due, and wakes early when
//! this process commits new work. Other replicas' new work is found by the bounded idle wait,
//! and their dead workers' jobs when the lease runs out.
//!
//! The worker never dies of one job: a job's panic is caught around that job by
//! [`run_due_jobs`] (which parks it), and a panic anywhere else in a pass is caught here, logged,
//! and followed by the next pass after the error pause.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use futures_util::FutureExt;
use writ_domain::clock::Clock;
use writ_domain::jobs::{JobHandler, WorkerConfig, panic_message, run_due_jobs};
use writ_domain::store::Store;

/// The signal the HTTP handlers wake the worker with (shared through the domain).
pub use writ_domain::job_waker::JobWaker;

/// How long the worker waits when it has nothing to do, and after a failed pass.
#[derive(Debug, Clone, Copy)]
pub struct WorkerTiming {
    /// The longest sleep: how late another replica's new work may be noticed.
    pub max_idle: StdDuration,
    /// The pause after a pass that failed (the database was unreachable).
    pub error_pause: StdDuration,
}

impl Default for WorkerTiming {
    fn default() -> Self {
        Self {
            max_idle: StdDuration::from_secs(5),
            error_pause: StdDuration::from_secs(1),
        }
    }
}

/// Everything a worker runs with.
pub struct JobWorker {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub handler: Arc<dyn JobHandler>,
    pub config: WorkerConfig,
    pub timing: WorkerTiming,
    pub waker: JobWaker,
}

impl JobWorker {
    /// Runs until `shutdown` resolves. A job being run when it does is finished first, so a
    /// SIGTERM never leaves work half done; SIGKILL leaves the lease to run out instead.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let passes = futures_util::future::join_all(
            (0..self.config.parallel_passes.max(1)).map(|_| self.passes(stopped.clone())),
        );
        tokio::pin!(passes, shutdown);
        tokio::select! {
            _ = &mut passes => return,
            () = &mut shutdown => {}
        }
        let _ = stop.send(true);
        passes.await;
    }

    /// One loop of passes, until `stopped` turns true (between passes).
    async fn passes(&self, mut stopped: tokio::sync::watch::Receiver<bool>) {
        // The claim grows while passes come back full (a backlog) and falls back after one
        // that was not.
        let mut config = self.config.clone();
        loop {
            let started = std::time::Instant::now();
            let pass = AssertUnwindSafe(run_due_jobs(
                self.store.as_ref(),
                self.handler.as_ref(),
                &config,
                self.clock.now(),
            ))
            .catch_unwind()
            .await;
            let pause = match pass {
                Err(panic) => {
                    tracing::error!(
                        panic = %panic_message(panic.as_ref()),
                        "a job pass panicked; the worker goes on"
                    );
                    self.timing.error_pause
                }
                Ok(Ok(report)) => {
                    let claimed = report.completed + report.retried + report.parked;
                    if claimed > 0 {
                        tracing::debug!(
                            ?report,
                            claim = config.batch_size,
                            duration_ms = started.elapsed().as_millis(),
                            "job pass"
                        );
                    }
                    if claimed >= config.batch_size {
                        // A full batch: more may be due already.
                        config.batch_size = config
                            .batch_size
                            .saturating_mul(2)
                            .min(self.config.max_batch_size.max(self.config.batch_size));
                        continue;
                    }
                    config.batch_size = self.config.batch_size;
                    self.idle_wait().await
                }
                Ok(Err(error)) => {
                    tracing::warn!(error = %error.operator_detail(), "job pass failed");
                    self.timing.error_pause
                }
            };
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => return,
                () = self.waker.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn idle_wait(&self) -> StdDuration {
        match self.store.next_job_due().await {
            Ok(Some(due)) => {
                let until = due - self.clock.now();
                StdDuration::try_from(until)
                    .unwrap_or(StdDuration::ZERO)
                    .min(self.timing.max_idle)
            }
            Ok(None) => self.timing.max_idle,
            Err(error) => {
                tracing::warn!(%error, "could not read the next job's due time");
                self.timing.error_pause
            }
        }
    }
}

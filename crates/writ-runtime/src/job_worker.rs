//! The job worker's runtime (DESIGN section 7): a task that runs passes of
//! [`writ_domain::jobs::run_due_jobs`], sleeps until the next job is due, and wakes early when
//! this process commits new work. Other replicas' new work is found by the bounded idle wait,
//! and their dead workers' jobs when the lease runs out. Of a worker's loops of passes, one
//! answers the wakes and the others join only for a backlog or work due later ([`Role`]), so
//! that steady requests make one pass at a time per replica, not one per loop.
//!
//! The worker never dies of one job: a job's panic is caught around that job by
//! [`run_due_jobs`] (which parks it), and a panic anywhere else in a pass is caught here, logged,
//! and followed by the next pass after the error pause.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use futures_util::FutureExt;
use time::OffsetDateTime;
use writ_domain::clock::Clock;
use writ_domain::error::DomainResult;
use writ_domain::jobs::{
    ClaimedJob, JobHandler, PassReport, WorkerConfig, WriteTurn, claim_due_jobs, panic_message,
    run_claimed_jobs,
};
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
        let backlog = tokio::sync::Notify::new();
        let passes =
            futures_util::future::join_all((0..self.config.parallel_passes.max(1)).map(|index| {
                let role = if index == 0 {
                    Role::Woken
                } else {
                    Role::Backlog
                };
                self.passes(role, &backlog, stopped.clone())
            }));
        tokio::pin!(passes, shutdown);
        tokio::select! {
            _ = &mut passes => return,
            () = &mut shutdown => {}
        }
        let _ = stop.send(true);
        passes.await;
    }

    /// One loop of passes, until `stopped` turns true (between passes).
    ///
    /// While claims come back full (a backlog: a storm of expiries at one instant), the passes
    /// are pipelined: batch `k+1` is claimed once batch `k-1` has committed, then batch `k`
    /// writes while batch `k+1` reads ([`WriteTurn`]). On SQLite's one writer that makes its
    /// work claim, write, claim, write, with each batch's reads beside the write before it
    /// instead of between the two. A batch claimed ahead is leased like any other: a crash
    /// leaves its jobs to be claimed again when the lease runs out.
    ///
    /// Only the first loop answers this process's wakes ([`Role`]); the others join when a
    /// claim comes back full, or at the due time of work scheduled for later.
    async fn passes(
        &self,
        role: Role,
        backlog: &tokio::sync::Notify,
        stopped: tokio::sync::watch::Receiver<bool>,
    ) {
        // The claim grows while passes come back full (a backlog) and falls back after one
        // that was not.
        let mut config = self.config.clone();
        // The batch claimed last, reading (or waiting for its turn to write), when the pass
        // goes on to claim the next.
        let mut ahead: Option<Running> = None;
        loop {
            let now = self.clock.now();
            let claim = AssertUnwindSafe(claim_due_jobs(self.store.as_ref(), &config, now))
                .catch_unwind()
                .await;
            // The batch before this claim writes now, beside this one's reads.
            let previous = ahead.take().map(Running::write);
            let (current, failed) = match claim {
                Ok(Ok(jobs)) => (
                    (!jobs.is_empty()).then(|| self.start(jobs, &config, now)),
                    false,
                ),
                Ok(Err(error)) => {
                    tracing::warn!(error = %error.operator_detail(), "job claim failed");
                    (None, true)
                }
                Err(panic) => {
                    tracing::error!(
                        panic = %panic_message(panic.as_ref()),
                        "a job claim panicked; the worker goes on"
                    );
                    (None, true)
                }
            };
            let mut ran_well = true;
            if let Some(previous) = previous {
                ran_well &= previous.finish().await;
            }
            if let Some(current) = current {
                if current.claimed >= config.batch_size as usize && !*stopped.borrow() {
                    // A backlog: every loop of this worker helps to work it off.
                    backlog.notify_waiters();
                    // A full batch: more may be due already; claimed while this one reads.
                    config.batch_size = config
                        .batch_size
                        .saturating_mul(2)
                        .min(self.config.max_batch_size.max(self.config.batch_size));
                    ahead = Some(current);
                    continue;
                }
                ran_well &= current.write().finish().await;
            }
            config.batch_size = self.config.batch_size;
            // Listening for a backlog from here on, so that a loop finding one while this one
            // reads the next due time is not missed (`notify_waiters` keeps no permit).
            let found_backlog = backlog.notified();
            tokio::pin!(found_backlog);
            found_backlog.as_mut().enable();
            let pause = if failed || !ran_well {
                self.timing.error_pause
            } else {
                match role {
                    // Work committed during this pass: claim it now, without asking the
                    // database when the next job is due.
                    Role::Woken
                        if !*stopped.borrow() && self.waker.notified().now_or_never().is_some() =>
                    {
                        continue;
                    }
                    Role::Woken => self.idle_wait().await,
                    // Work due already is the woken loop's (it is awake, or about to be):
                    // a second claim beside it would split the same few jobs into two
                    // passes, each paying a pass's statements and commits. Work due later
                    // (a storm of expiries at one instant) is every loop's.
                    Role::Backlog => match self.idle_wait().await {
                        StdDuration::ZERO => self.timing.max_idle,
                        pause => pause,
                    },
                }
            };
            let mut stopped = stopped.clone();
            let woken = async {
                match role {
                    Role::Woken => self.waker.notified().await,
                    Role::Backlog => found_backlog.await,
                }
            };
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => return,
                () = woken => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Runs a claimed batch on its own task, its writes waiting for its turn.
    fn start(&self, jobs: Vec<ClaimedJob>, config: &WorkerConfig, now: OffsetDateTime) -> Running {
        let (turn_sender, mut turn) = WriteTurn::channel();
        let claimed = jobs.len();
        let store = self.store.clone();
        let handler = self.handler.clone();
        let config = config.clone();
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let report = run_claimed_jobs(
                store.as_ref(),
                handler.as_ref(),
                &config,
                jobs,
                now,
                &mut turn,
            )
            .await;
            (report, config.batch_size, started.elapsed())
        });
        Running {
            task,
            turn: Some(turn_sender),
            claimed,
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

/// What wakes a loop of passes early, besides the due time of the next job.
///
/// Before issue 20 part R every loop answered the wakes, so that with requests arriving
/// steadily each of a worker's loops claimed the few jobs committed since the last claim: on
/// PostgreSQL three passes per replica at once, and twice that with two replicas, each pass's
/// fixed cost (19 statements, 2 commits) shared by a handful of jobs. One loop now answers the
/// wakes and claims again straight after a pass while wakes came in during it; the others wait
/// for a backlog (a claim that came back full) or for work due at a later instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Claims after a wake of this process (new work committed) and when work falls due.
    Woken,
    /// Claims when a loop of this worker finds a backlog, and when work falls due later.
    Backlog,
}

/// A claimed batch running on its own task.
struct Running {
    task: tokio::task::JoinHandle<(DomainResult<PassReport>, u32, StdDuration)>,
    /// Dropped (sent) when the batch may write.
    turn: Option<tokio::sync::oneshot::Sender<()>>,
    claimed: usize,
}

impl Running {
    /// Gives the batch its turn to write.
    fn write(mut self) -> Self {
        if let Some(turn) = self.turn.take() {
            let _ = turn.send(());
        }
        self
    }

    /// Waits for the batch to end (its turn given first) and logs what it did; false if it
    /// failed as a whole (the database was unreachable) or panicked outside a job.
    async fn finish(self) -> bool {
        let Running { task, .. } = self.write();
        match task.await {
            Ok((Ok(report), claim, duration)) => {
                tracing::debug!(
                    ?report,
                    claim,
                    duration_ms = duration.as_millis(),
                    "job pass"
                );
                true
            }
            Ok((Err(error), _, _)) => {
                tracing::warn!(error = %error.operator_detail(), "job pass failed");
                false
            }
            Err(error) => {
                match error.try_into_panic() {
                    Ok(panic) => tracing::error!(
                        panic = %panic_message(panic.as_ref()),
                        "a job pass panicked; the worker goes on"
                    ),
                    Err(error) => tracing::error!(%error, "a job pass was cancelled"),
                }
                false
            }
        }
    }
}

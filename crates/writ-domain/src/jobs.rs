//! The job queue's domain half (DESIGN section 7): asynchronous and timed work is data, a row
//! written in the same transaction as the change that causes it, so that nothing is lost between
//! a commit and a worker noticing it. Workers claim due rows with a lease, run them, and delete
//! them (done) or push their due time back (retry with backoff). A worker that dies leaves its
//! lease to run out, and another worker claims the row again; handlers are therefore idempotent.
//!
//! Writ keeps its own queue rather than a crate such as `apalis` or `sqlxmq`: those are bound to
//! one database (PostgreSQL) and to their own schema and transactions, while Writ's jobs must be
//! written by the same `StoreTx` as their cause on both SQLite and PostgreSQL, and the domain must
//! take `now` from the injected clock so that tests move time by hand.
//!
//! This module owns the job vocabulary, the backoff rule and one pass of a worker
//! ([`run_due_jobs`]); sleeping and waking (tokio) belong to the runtime (`writ-runtime`).
//!
//! **One job never stops the others.** A handler's panic is caught around that job (or that
//! batch) alone: unwinding drops whatever the handler held, its transaction included, so the
//! transaction rolls back and SQLite's writer lock is released, and the job is parked with the
//! panic's message. A job whose error says retrying cannot help ([`DomainError::OutOfRange`]:
//! stored data past what Writ represents) is parked at once too; any other error is retried
//! with backoff and parked after [`WorkerConfig::max_attempts`]. A parked job keeps its error,
//! is logged at `ERROR`, is no longer claimed, and `reprocess` releases it.
//!
//! **Administrators read the queue** (`GET /writ/v1/jobs`, [`list_jobs`] and [`get_job`]): every
//! queued, leased and parked job with its error, so that a parked job is found without the logs.
//! The readers are those of the delivery lists (Global Administrator and Identity Governance
//! Administrator; not Global Reader). `lastError` is shown to them verbatim: it is the operator
//! detail the `ERROR` log line carries (the domain error's message, for an internal error the
//! database's error text, or a panic's message), these administrators are the people who act
//! on it (`reprocess`), and it holds no secret: no job calls out of Writ (webhooks, email and
//! custom extensions have their own queues), a job's data is entitlement data these readers
//! read anyway, and the database's error texts name constraints and types, not the connection
//! string.

use std::panic::AssertUnwindSafe;

use async_trait::async_trait;
use futures_util::FutureExt;
use time::{Duration, OffsetDateTime};

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
pub use crate::model::job::{ClaimedJob, JobKind, JobState, NewJob, QueuedJob};
use crate::query::{ListQuery, Page};
use crate::store::Store;

/// `GET /writ/v1/jobs`: the job queue, in id (enqueue) order unless `$orderby` says otherwise;
/// administrators only (see the module doc on what a row shows).
pub async fn list_jobs(
    store: &dyn Store,
    caller: &Caller,
    query: &ListQuery,
) -> DomainResult<Page<QueuedJob>> {
    crate::dispatch::require_delivery_reader(caller, "jobs")?;
    Ok(store.list_jobs(query).await?)
}

/// `GET /writ/v1/jobs/{id}`: administrators only (403 before 404 for anyone else). A completed
/// job is deleted, so it is a 404 like one that never was.
pub async fn get_job(store: &dyn Store, caller: &Caller, id: &str) -> DomainResult<QueuedJob> {
    crate::dispatch::require_delivery_reader(caller, "jobs")?;
    store
        .job(id)
        .await?
        .ok_or_else(|| DomainError::not_found("job", id))
}

/// How a worker claims: who it is, how long its lease lasts, how many jobs at once.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub worker_id: String,
    pub lease: Duration,
    pub batch_size: u32,
    /// The largest claim: while passes come back full (a backlog, a storm of expiries at one
    /// instant), the worker doubles its claim up to this, so that a batch's fixed costs (the
    /// claim's commit, the reads, the transaction's commit) are shared by more jobs.
    pub max_batch_size: u32,
    /// How many passes a worker runs side by side. On PostgreSQL their claims take disjoint
    /// jobs (`FOR UPDATE SKIP LOCKED`, then the lease) and their transactions run at once; on
    /// SQLite their writes queue on the one writer while their reads overlap.
    pub parallel_passes: usize,
    /// How many of a batch's jobs run at once. Their subjects are distinct work and every state
    /// change is a compare-and-set, so running them together is safe; it overlaps their reads.
    /// Kept well below the connection pool's size: a job holding a transaction also reads.
    pub concurrency: usize,
    /// After this many failed attempts a job is parked (kept, with its error, for `reprocess`)
    /// instead of retried.
    pub max_attempts: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            worker_id: new_object_id(),
            lease: Duration::seconds(60),
            batch_size: 100,
            max_batch_size: 1000,
            parallel_passes: 1,
            concurrency: 4,
            max_attempts: 12,
        }
    }
}

/// The wait before attempt `attempts + 1`: exponential from 1 s, capped at 15 minutes. Jitter is
/// not needed here because retries of different jobs are already spread by their causes; the
/// webhook sender, which hits one endpoint with many events, adds its own.
pub fn retry_delay(attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(10);
    let seconds = 1i64 << exponent;
    Duration::seconds(seconds.min(15 * 60))
}

/// Runs one job. Returning an error schedules a retry; handlers must be idempotent because a job
/// whose worker died after the work but before the delete runs again.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn handle(&self, job: &ClaimedJob, now: OffsetDateTime) -> DomainResult<()>;

    /// Runs several jobs of one kind together, completing them (as `worker`, whose leases they
    /// are) in the same transaction as their work: one commit for the lot instead of two per
    /// job, which is what a storm of expiries at one instant needs. `Ok(false)`: this kind is not
    /// batched. An error runs the jobs one by one instead, so one bad job does not hold up the
    /// others.
    async fn handle_batch(
        &self,
        _jobs: &[ClaimedJob],
        _worker: &str,
        _now: OffsetDateTime,
    ) -> DomainResult<bool> {
        Ok(false)
    }

    /// [`handle_batch`](Self::handle_batch), writing only once `turn` comes: a handler that
    /// reads before it writes does its reads first, so that the worker's pipeline overlaps
    /// them with the previous batch's writes ([`WriteTurn`]). The default waits for the turn
    /// and then handles the batch as `handle_batch` does. Nothing may be held while waiting
    /// for the turn that the next claim needs (a write transaction: SQLite's one writer).
    async fn handle_batch_in_turn(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: OffsetDateTime,
        turn: &mut WriteTurn,
    ) -> DomainResult<bool> {
        turn.wait().await;
        self.handle_batch(jobs, worker, now).await
    }

    /// Whether a lone job of this kind also goes through [`JobHandler::handle_batch`]: its work
    /// and its completion then share one transaction and one commit (instead of one each), as
    /// a request's delivery wants (issue 20, part Q). `false` unless the handler says so.
    fn batches_alone(&self, _kind: JobKind) -> bool {
        false
    }
}

/// When a claimed batch may begin writing. The worker's pipeline (`writ-runtime`'s job worker)
/// reads batch `k+1` while batch `k` writes, and claims batch `k+2` between the two writes: a
/// batch's turn comes when the batch before it has committed and the next claim is taken. So
/// on SQLite, whose one writer serves waiting transactions in the order they asked, the next
/// claim never queues behind a batch whose reads finished early, and the writer goes from one
/// batch's write to the next claim to the next batch's write without waiting for reads.
/// A turn whose sender is dropped (the worker stopped, its claim failed) has come.
#[derive(Debug, Default)]
pub struct WriteTurn(Option<tokio::sync::oneshot::Receiver<()>>);

impl WriteTurn {
    /// A turn that has come already (no pipeline: a pass that claims and runs alone).
    pub fn now() -> Self {
        Self(None)
    }

    /// A turn that comes when the sender sends or is dropped.
    pub fn channel() -> (tokio::sync::oneshot::Sender<()>, Self) {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        (sender, Self(Some(receiver)))
    }

    /// Waits until the turn has come; at once after the first wait.
    pub async fn wait(&mut self) {
        if let Some(receiver) = self.0.take() {
            // Sent or dropped: either way the turn has come.
            let _ = receiver.await;
        }
    }
}

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub completed: u32,
    pub retried: u32,
    pub parked: u32,
}

/// One pass of a worker at `now`: claim a batch of due jobs (committed, so other workers skip
/// them), run each, then delete it or schedule its retry. Returns what happened; the caller
/// loops while a pass claimed a full batch, and otherwise sleeps until
/// [`JobStore::next_job_due`](crate::store::JobStore::next_job_due) or a wake-up.
pub async fn run_due_jobs(
    store: &dyn Store,
    handler: &dyn JobHandler,
    config: &WorkerConfig,
    now: OffsetDateTime,
) -> DomainResult<PassReport> {
    let jobs = claim_due_jobs(store, config, now).await?;
    run_claimed_jobs(store, handler, config, jobs, now, &mut WriteTurn::now()).await
}

/// The first half of a pass: claims up to `config.batch_size` due jobs for
/// `config.worker_id`, leased until `now + config.lease`, and commits the claim.
pub async fn claim_due_jobs(
    store: &dyn Store,
    config: &WorkerConfig,
    now: OffsetDateTime,
) -> DomainResult<Vec<ClaimedJob>> {
    let lease_until = crate::instant::add(now, config.lease)?;
    let mut tx = store.begin().await?;
    let jobs = tx
        .claim_jobs(&config.worker_id, now, lease_until, config.batch_size)
        .await?;
    tx.commit().await?;
    Ok(jobs)
}

/// The second half of a pass: runs claimed `jobs` (a batched kind together, the rest one by
/// one), writing nothing before `turn` comes (a batch may read before it).
pub async fn run_claimed_jobs(
    store: &dyn Store,
    handler: &dyn JobHandler,
    config: &WorkerConfig,
    jobs: Vec<ClaimedJob>,
    now: OffsetDateTime,
    turn: &mut WriteTurn,
) -> DomainResult<PassReport> {
    let mut report = PassReport::default();
    // Jobs of a kind the handler batches run together first; the rest, and any batch that
    // failed, one by one.
    let mut single = Vec::with_capacity(jobs.len());
    let mut by_kind: Vec<(JobKind, Vec<ClaimedJob>)> = Vec::new();
    for job in jobs {
        match job.kind {
            Some(kind) => match by_kind.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, group)) => group.push(job),
                None => by_kind.push((kind, vec![job])),
            },
            None => single.push(job),
        }
    }
    for (kind, group) in by_kind {
        // A batch that fails or panics runs again job by job, so that one bad job is retried or
        // parked alone and the others of the batch complete.
        if (group.len() > 1 || handler.batches_alone(kind))
            && match AssertUnwindSafe(handler.handle_batch_in_turn(
                &group,
                &config.worker_id,
                now,
                turn,
            ))
            .catch_unwind()
            .await
            {
                Ok(handled) => handled.unwrap_or(false),
                Err(panic) => {
                    tracing::error!(
                        job.kind = kind.as_str(),
                        jobs = group.len(),
                        panic = %panic_message(panic.as_ref()),
                        "a batch of jobs panicked; running its jobs one by one"
                    );
                    false
                }
            }
        {
            report.completed += u32::try_from(group.len()).unwrap_or(u32::MAX);
        } else {
            single.extend(group);
        }
    }
    let jobs = single;
    // Jobs run one by one write at once (and a batch that failed before its turn came).
    if !jobs.is_empty() {
        turn.wait().await;
    }
    for chunk in jobs.chunks(config.concurrency.max(1)) {
        let outcomes = futures_util::future::join_all(
            chunk
                .iter()
                .map(|job| run_one(store, handler, config, job, now)),
        )
        .await;
        for outcome in outcomes {
            match outcome? {
                Outcome::Completed => report.completed += 1,
                Outcome::Retried => report.retried += 1,
                Outcome::Parked => report.parked += 1,
            }
        }
    }
    Ok(report)
}

enum Outcome {
    Completed,
    Retried,
    Parked,
}

/// Runs one claimed job and records its outcome (deleted, retried later, or parked).
async fn run_one(
    store: &dyn Store,
    handler: &dyn JobHandler,
    config: &WorkerConfig,
    job: &ClaimedJob,
    now: OffsetDateTime,
) -> DomainResult<Outcome> {
    let outcome = match job.kind {
        Some(_) => match AssertUnwindSafe(handler.handle(job, now))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome.map_err(Failure::Error),
            Err(panic) => Err(Failure::Panic(panic_message(panic.as_ref()))),
        },
        None => Err(Failure::Error(DomainError::Internal(format!(
            "job kind {:?} is unknown to this build",
            job.kind_name
        )))),
    };
    let retry_at = crate::instant::add(now, retry_delay(job.attempts)).ok();
    let mut tx = store.begin().await?;
    let recorded = match outcome {
        Ok(()) => {
            tx.complete_job(&job.id, &config.worker_id).await?;
            Outcome::Completed
        }
        Err(failure) => match retry_at {
            Some(due) if failure.retryable() && job.attempts < config.max_attempts => {
                tx.retry_job(&job.id, &config.worker_id, due, &failure.detail())
                    .await?;
                Outcome::Retried
            }
            _ => {
                tracing::error!(
                    job.id = %job.id,
                    job.kind = %job.kind_name,
                    job.subject = %job.subject_id,
                    job.attempts = job.attempts,
                    error = %failure.detail(),
                    "job parked: it is no longer retried until reprocessed"
                );
                tx.park_job(&job.id, &config.worker_id, now, &failure.detail())
                    .await?;
                Outcome::Parked
            }
        },
    };
    tx.commit().await?;
    Ok(recorded)
}

/// Why a job did not complete.
enum Failure {
    Error(DomainError),
    /// The handler panicked: a bug, which running the job again would meet again.
    Panic(String),
}

impl Failure {
    /// Whether another attempt may succeed: not after a panic, nor for data out of range.
    fn retryable(&self) -> bool {
        !matches!(
            self,
            Failure::Panic(_) | Failure::Error(DomainError::OutOfRange(_))
        )
    }

    /// The error kept on the job, for operators.
    fn detail(&self) -> String {
        match self {
            Failure::Error(error) => error.operator_detail(),
            Failure::Panic(message) => format!("the job's handler panicked: {message}"),
        }
    }
}

/// The text of a panic's payload (`panic!` with a literal or a formatted message), for logs.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_and_caps_at_fifteen_minutes() {
        assert_eq!(retry_delay(1), Duration::seconds(1));
        assert_eq!(retry_delay(2), Duration::seconds(2));
        assert_eq!(retry_delay(5), Duration::seconds(16));
        assert_eq!(retry_delay(11), Duration::seconds(15 * 60));
        assert_eq!(retry_delay(40), Duration::seconds(15 * 60));
    }

    #[test]
    fn kinds_round_trip_by_name_and_unknown_names_are_refused() {
        for kind in [
            JobKind::ProcessRequest,
            JobKind::DeliverAssignment,
            JobKind::ExpireAssignment,
            JobKind::ApprovalTimeout,
            JobKind::ApprovalEscalation,
            JobKind::ExpiryNotice,
            JobKind::CalloutTimeout,
            JobKind::LifecycleSweep,
        ] {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
            assert!(JobKind::NAMES.contains(&kind.as_str()));
        }
        assert_eq!(JobKind::NAMES.len(), 8);
        for name in JobKind::NAMES {
            assert!(JobKind::parse(name).is_some(), "{name}");
        }
        assert_eq!(JobKind::parse("sendPigeon"), None);
    }

    #[test]
    fn a_job_state_is_parked_before_leased_before_queued() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let mut job = QueuedJob {
            id: "j".into(),
            kind_name: "processRequest".into(),
            subject_id: "r".into(),
            due_at: at,
            attempts: 0,
            lease_owner: None,
            lease_until: None,
            last_error: None,
            parked_at: None,
        };
        assert_eq!(job.state(), JobState::Queued);
        job.lease_owner = Some("w".into());
        job.lease_until = Some(at);
        assert_eq!(job.state(), JobState::Leased);
        job.parked_at = Some(at);
        assert_eq!(job.state(), JobState::Parked);
        for state in [JobState::Queued, JobState::Leased, JobState::Parked] {
            assert!(JobState::NAMES.contains(&state.as_str()));
        }
    }

    #[test]
    fn dedupe_key_names_kind_subject_and_instant() {
        let at = OffsetDateTime::UNIX_EPOCH + Duration::seconds(5);
        let a = NewJob::new(JobKind::ProcessRequest, "r1", at);
        let b = NewJob::new(JobKind::ProcessRequest, "r1", at);
        assert_ne!(a.id, b.id);
        assert_eq!(a.dedupe_key, b.dedupe_key);
        assert_ne!(
            a.dedupe_key,
            NewJob::new(JobKind::ExpireAssignment, "r1", at).dedupe_key
        );
    }
}

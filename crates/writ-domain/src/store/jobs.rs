//! The jobs-and-deliveries capability of the storage port: the durable job queue, and the way to
//! the webhook, email and callout queues.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;

/// The job queue's reads, and the delivery queues (webhooks, email, callouts) on the same
/// database.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// The webhook deliveries' storage (a queue of its own: see `deliveries`), on the same
    /// database.
    fn webhooks(&self) -> &dyn WebhookStore;
    /// The custom extension callouts' queue (claimed, retried and dead-lettered like webhooks).
    fn callout_queue(&self) -> &dyn CalloutQueueStore;
    /// The email deliveries' storage (a queue of its own: see `deliveries`), on the same
    /// database.
    fn email(&self) -> &dyn EmailStore;
    /// When a worker next has something to do: the earliest due time of a job that is not
    /// parked, or the end of its lease when it is leased past that.
    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>>;
    /// The queued and parked jobs about one request or assignment, oldest due first.
    async fn jobs_about(&self, subject_id: &str) -> StoreResult<Vec<QueuedJob>>;
    /// Every job (queued, leased or parked) in id order unless `$orderby` says otherwise;
    /// `$filter` on `id`, `state`, `kind`, `subjectId`, `attempts`, `leaseOwner` and the instants.
    async fn list_jobs(&self, query: &ListQuery) -> StoreResult<Page<QueuedJob>>;
    /// One job by id.
    async fn job(&self, id: &str) -> StoreResult<Option<QueuedJob>>;
}

/// The job queue's writes: enqueue, claim, complete, retry, park.
#[async_trait]
pub trait JobStoreTx: Send {
    /// Deletes the jobs `worker` still holds the leases of; returns how many.
    async fn complete_jobs(&mut self, ids: &[String], worker: &str) -> StoreResult<u64>;
    /// Writes a job unless one with the same dedupe key is queued; `false` when it was.
    async fn enqueue_job(&mut self, job: &NewJob) -> StoreResult<bool>;
    /// [`enqueue_job`](Self::enqueue_job) at the commit, with the transaction's audit records
    /// and events (the SQL store writes them in one statement on PostgreSQL), for a job whose
    /// dedupe key nothing else in the transaction touches: a new request's first job. This
    /// default writes it at once.
    async fn enqueue_job_at_commit(&mut self, job: &NewJob) -> StoreResult<()> {
        self.enqueue_job(job).await.map(|_| ())
    }
    /// [`enqueue_job`](Self::enqueue_job) for several jobs (a batch of deliveries' expiries and
    /// notices): the SQL store writes them in one statement; this default, one by one.
    async fn enqueue_jobs(&mut self, jobs: &[NewJob]) -> StoreResult<()> {
        for job in jobs {
            self.enqueue_job(job).await?;
        }
        Ok(())
    }
    /// Leases up to `limit` jobs due at `now` that are neither parked nor leased by a live
    /// lease, to `worker` until `lease_until`, counting the attempt. Jobs another transaction
    /// is claiming are skipped, not waited for.
    async fn claim_jobs(
        &mut self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>>;
    /// Deletes a job `worker` still holds the lease of; `false` when the lease was lost.
    async fn complete_job(&mut self, id: &str, worker: &str) -> StoreResult<bool>;
    /// Releases the lease and makes the job due again at `due_at`, keeping the error.
    async fn retry_job(
        &mut self,
        id: &str,
        worker: &str,
        due_at: OffsetDateTime,
        error: &str,
    ) -> StoreResult<bool>;
    /// Stops retrying a job: it stays, with its error, until reprocessed.
    async fn park_job(
        &mut self,
        id: &str,
        worker: &str,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<bool>;
    /// Makes the parked jobs about a subject due again with a fresh attempt count: at their own
    /// due time, which has passed (a handler may read it), or at `now` if that is earlier.
    async fn unpark_jobs(&mut self, subject_id: &str, now: OffsetDateTime) -> StoreResult<u64>;
}

//! The job queue's SQL (DESIGN section 7): enqueue, claim with a lease, complete, retry, park,
//! and the administrators' read of the queue (`/writ/v1/jobs`).
//! One SQL body serves both backends except the claim, where PostgreSQL adds `FOR UPDATE SKIP
//! LOCKED` so that replicas claiming at once take disjoint rows without waiting on each other;
//! SQLite has one writer (the store's writer lock), so its claims are serial already.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, FromRow, Row};
use time::OffsetDateTime;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::jobs::{ClaimedJob, JobKind, NewJob, QueuedJob};
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{StoreError, StoreResult};

use crate::connect::Backend;
use crate::error::ResultExt;
use crate::list::{ListSpec, list};
use crate::rows::decode;
use crate::schema;

pub(crate) async fn enqueue<'e, E>(executor: E, job: &NewJob) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query(
        "INSERT INTO jobs (id, kind, subject_id, due_at, scheduled_at, dedupe_key) \
         VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(job.id.clone())
    .bind(job.kind.as_str())
    .bind(job.subject_id.clone())
    .bind(to_micros(job.due_at))
    .bind(job.dedupe_key.clone())
    .execute(executor)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

// The claim in two halves, so that both backends' statements are static strings.
macro_rules! claim_sql {
    () => {
        "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs WHERE parked_at IS NULL AND due_at <= $3 \
         AND (lease_until IS NULL OR lease_until <= $3) ORDER BY due_at, id LIMIT $4"
    };
}
macro_rules! claim_returning {
    () => {
        ") RETURNING id, kind, subject_id, due_at, scheduled_at, attempts"
    };
}

pub(crate) async fn claim<'e, E>(
    executor: E,
    backend: Backend,
    worker: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<ClaimedJob>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = match backend {
        Backend::Postgres => concat!(claim_sql!(), " FOR UPDATE SKIP LOCKED", claim_returning!()),
        Backend::Sqlite => concat!(claim_sql!(), claim_returning!()),
    };
    let rows = sqlx::query(sql)
        .bind(worker.to_owned())
        .bind(to_micros(lease_until))
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .fetch_all(executor)
        .await
        .store()?;
    let mut jobs = rows
        .iter()
        .map(|row| {
            let r = ClaimedJobRow::from_row(row).store()?;
            let due_at = from_micros(r.due_at);
            Ok(ClaimedJob {
                id: r.id,
                kind: JobKind::parse(&r.kind),
                kind_name: r.kind,
                subject_id: r.subject_id,
                due_at,
                // A row written by a build before schema version 23 has none: not yet retried
                // by this build, its due time is still the instant it was scheduled for.
                scheduled_at: r.scheduled_at.map_or(due_at, from_micros),
                attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    // RETURNING keeps no order; run the oldest work first.
    jobs.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
    Ok(jobs)
}

pub(crate) async fn complete<'e, E>(executor: E, id: &str, worker: &str) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
        .bind(id.to_owned())
        .bind(worker.to_owned())
        .execute(executor)
        .await
        .store()?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn retry<'e, E>(
    executor: E,
    id: &str,
    worker: &str,
    due_at: OffsetDateTime,
    error: &str,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query(
        "UPDATE jobs SET due_at = $3, lease_owner = NULL, lease_until = NULL, last_error = $4 \
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id.to_owned())
    .bind(worker.to_owned())
    .bind(to_micros(due_at))
    .bind(error.to_owned())
    .execute(executor)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn park<'e, E>(
    executor: E,
    id: &str,
    worker: &str,
    now: OffsetDateTime,
    error: &str,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query(
        "UPDATE jobs SET parked_at = $3, lease_owner = NULL, lease_until = NULL, last_error = $4 \
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id.to_owned())
    .bind(worker.to_owned())
    .bind(to_micros(now))
    .bind(error.to_owned())
    .execute(executor)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

/// Releases the parked jobs about `subject_id`: due at once with a fresh attempt count. A job
/// keeps its due time when that has passed (it always has: a job is parked when it runs), so
/// released jobs run oldest first; only a later one, from a clock that went back, is brought
/// forward to `now`. `scheduled_at`, which handlers read, is never changed.
pub(crate) async fn unpark<'e, E>(
    executor: E,
    subject_id: &str,
    now: OffsetDateTime,
) -> StoreResult<u64>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query(
        "UPDATE jobs SET parked_at = NULL, attempts = 0, \
         due_at = CASE WHEN due_at <= $2 THEN due_at ELSE $2 END \
         WHERE subject_id = $1 AND parked_at IS NOT NULL",
    )
    .bind(subject_id.to_owned())
    .bind(to_micros(now))
    .execute(executor)
    .await
    .store()?;
    Ok(done.rows_affected())
}

/// When a worker next has something to do: the earliest of each unparked job's due time, or
/// its lease's end when it is leased past that.
///
/// Read through the `(due_at, id)` index in two bounded steps, not as one `MIN` over the
/// table: the queue holds every assignment's future expiry and notices (tens of thousands of
/// rows on a busy deployment), and a worker asks after every pass that did not fill, so a scan
/// of them all was most of a pass's database time (issue 20 part R). First the earliest job
/// that is not leased past its due time, found at the front of the index after the few leased
/// ones in flight. Then the earliest lease end among the leased jobs due no later than that:
/// a leased job due later ends its lease later still (`lease_until > due_at`), so it cannot be
/// earlier.
pub(crate) async fn next_due(pool: &AnyPool) -> StoreResult<Option<OffsetDateTime>> {
    let free: Option<i64> = sqlx::query(
        "SELECT due_at FROM jobs WHERE parked_at IS NULL \
         AND (lease_until IS NULL OR lease_until <= due_at) ORDER BY due_at, id LIMIT 1",
    )
    .fetch_optional(pool)
    .await
    .store()?
    .map(|row| row.try_get("due_at"))
    .transpose()
    .store()?;
    let leased: Option<i64> = sqlx::query(
        "SELECT MIN(lease_until) AS next FROM jobs WHERE parked_at IS NULL AND due_at <= $1 \
         AND lease_until > due_at",
    )
    .bind(free.unwrap_or(i64::MAX))
    .fetch_one(pool)
    .await
    .store()?
    .try_get("next")
    .store()?;
    let next = match (free, leased) {
        (Some(free), Some(leased)) => Some(free.min(leased)),
        (free, leased) => free.or(leased),
    };
    Ok(next.map(from_micros))
}

/// The columns of a [`QueuedJob`], on the row alias `t`.
const QUEUED_COLUMNS: &str = "t.id, t.kind, t.subject_id, t.due_at, t.attempts, t.lease_owner, \
     t.lease_until, t.last_error, t.parked_at";

#[derive(FromRow)]
struct QueuedJobRow {
    id: String,
    kind: String,
    subject_id: String,
    due_at: i64,
    attempts: i64,
    lease_owner: Option<String>,
    lease_until: Option<i64>,
    last_error: Option<String>,
    parked_at: Option<i64>,
}

impl TryFrom<QueuedJobRow> for QueuedJob {
    type Error = StoreError;

    fn try_from(r: QueuedJobRow) -> StoreResult<Self> {
        Ok(QueuedJob {
            id: r.id,
            kind_name: r.kind,
            subject_id: r.subject_id,
            due_at: from_micros(r.due_at),
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            lease_owner: r.lease_owner,
            lease_until: r.lease_until.map(from_micros),
            last_error: r.last_error,
            parked_at: r.parked_at.map(from_micros),
        })
    }
}

fn queued_row(row: &AnyRow) -> StoreResult<QueuedJob> {
    decode::<QueuedJobRow, _>(row)
}

pub(crate) async fn about<'e, E>(executor: E, subject_id: &str) -> StoreResult<Vec<QueuedJob>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {QUEUED_COLUMNS} FROM jobs t WHERE t.subject_id = $1 ORDER BY t.due_at, t.id"
    )))
    .bind(subject_id.to_owned())
    .fetch_all(executor)
    .await
    .store()?;
    rows.iter().map(queued_row).collect()
}

/// `GET /writ/v1/jobs`: a page of the queue over the `$filter` schema [`schema::JOB`].
pub(crate) async fn list_queued(pool: &AnyPool, query: &ListQuery) -> StoreResult<Page<QueuedJob>> {
    list(
        pool,
        ListSpec {
            schema: &schema::JOB,
            from: "jobs t",
            columns: QUEUED_COLUMNS,
            base_where: None,
        },
        query,
        queued_row,
    )
    .await
}

pub(crate) async fn by_id(pool: &AnyPool, id: &str) -> StoreResult<Option<QueuedJob>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {QUEUED_COLUMNS} FROM jobs t WHERE t.id = $1"
    )))
    .bind(id.to_owned())
    .fetch_optional(pool)
    .await
    .store()?;
    row.as_ref().map(queued_row).transpose()
}

/// A job as a worker claims it.
#[derive(FromRow)]
struct ClaimedJobRow {
    id: String,
    kind: String,
    subject_id: String,
    due_at: i64,
    scheduled_at: Option<i64>,
    attempts: i64,
}

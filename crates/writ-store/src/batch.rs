//! Set-wise writes for work done in batches (expiry storms): one statement per table for a whole
//! batch — `UPDATE … WHERE id IN (…)`, `DELETE … WHERE holder IN (…)`, multi-row `INSERT`s — in
//! the caller's transaction. A batch's ids are bound as one JSON array ([`id_set`]); inserts bind
//! at most [`MAX_PARAMETERS`] values per statement, below both backends' limits, by splitting
//! the rows into chunks.

use sqlx::{Any, Row, Transaction};
use time::OffsetDateTime;
use writ_domain::audit::OutboxEvent;
use writ_domain::clock::to_micros;
use writ_domain::entitlement::AssignmentRequest;
use writ_domain::store::StoreResult;

use crate::connect::Backend;
use crate::error::ResultExt;
use crate::tx::json;

/// Values bound per statement at most (SQLite allows 32,766; PostgreSQL 65,535).
const MAX_PARAMETERS: usize = 30_000;

/// Rows per multi-row `INSERT`. The cost per row of one statement grows with its length past
/// ~100 rows (measured on SQLite: 100 rows of requests in 7 ms, 500 in 130–280 ms), so longer
/// batches are written in statements of this many rows.
const ROWS_PER_INSERT: usize = 50;

type Tx = Transaction<'static, Any>;

/// The tables of grants held per holder (what an assignment delivered), for the writes that
/// touch all of a holder's grants.
pub(crate) const GRANT_TABLES: [&str; 5] = [
    "group_members",
    "group_owners",
    "app_role_assignments",
    "oauth2_permission_grants",
    "role_assignments",
];

/// `(SELECT …)`: the ids of the JSON array bound at `$param`, for `… IN {id_set}`. One statement
/// text whatever the batch's size, so it is prepared once; and PostgreSQL plans a list of 1,000
/// placeholders as a scan of the whole table (measured: 0.4 s per 1,000 expiries for the reads
/// of a batch over 100,000 assignments), where a set from a function is joined id by id
/// through the index.
pub(crate) fn id_set(backend: Backend, param: usize) -> String {
    match backend {
        Backend::Postgres => format!("(SELECT jsonb_array_elements_text(${param}::jsonb))"),
        Backend::Sqlite => format!("(SELECT value FROM json_each(${param}))"),
    }
}

/// The value bound for an [`id_set`].
pub(crate) fn id_array(ids: &[String]) -> StoreResult<String> {
    json(&ids)
}

/// `$first, …` for `n` values.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(…), (…)` for `rows` rows of `columns` values each.
fn value_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * columns + 1, columns)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A bound value of a row, in the column order of the statement.
pub(crate) enum Value {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

pub(crate) async fn insert_rows(
    tx: &mut Tx,
    head: &str,
    columns: usize,
    rows: Vec<Vec<Value>>,
) -> StoreResult<()> {
    for chunk in rows.chunks((MAX_PARAMETERS / columns).clamp(1, ROWS_PER_INSERT)) {
        let sql = format!("{head} VALUES {}", value_rows(chunk.len(), columns));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for value in row {
                query = match value {
                    Value::Text(v) => query.bind(v.clone()),
                    Value::OptText(v) => query.bind(v.clone()),
                    Value::Int(v) => query.bind(*v),
                    Value::OptInt(v) => query.bind(*v),
                };
            }
        }
        query.execute(&mut **tx).await.store()?;
    }
    Ok(())
}

/// Records the listed assignments that have not ended and are due at `now` as expired at their
/// end; returns the ids changed (another transaction may have ended or extended some).
pub(crate) async fn expire_due_assignments(
    tx: &mut Tx,
    backend: Backend,
    ids: &[String],
    now: OffsetDateTime,
) -> StoreResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE assignments SET state = 'expired', status = 'Expired', expired_at = end_at \
         WHERE id IN {} AND state <> 'expired' AND end_at IS NOT NULL AND end_at <= $1 \
         RETURNING id",
        id_set(backend, 2)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to_micros(now))
        .bind(id_array(ids)?)
        .fetch_all(&mut **tx)
        .await
        .store()?;
    rows.iter().map(|row| row.try_get("id").store()).collect()
}

/// Deletes every grant these holders hold, table by table.
pub(crate) async fn release_grants_of(
    tx: &mut Tx,
    backend: Backend,
    holders: &[String],
) -> StoreResult<u64> {
    if holders.is_empty() {
        return Ok(0);
    }
    let holders = id_array(holders)?;
    let mut released = 0;
    for table in GRANT_TABLES {
        let sql = format!("DELETE FROM {table} WHERE holder IN {}", id_set(backend, 1));
        released += sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holders.clone())
            .execute(&mut **tx)
            .await
            .store()?
            .rows_affected();
    }
    Ok(released)
}

/// The extensions still in progress of these assignments.
pub(crate) async fn open_updates_for(
    tx: &mut Tx,
    backend: Backend,
    assignment_ids: &[String],
) -> StoreResult<Vec<AssignmentRequest>> {
    if assignment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {} FROM assignment_requests t WHERE t.assignment_id IN {} \
         AND t.request_type IN ('userUpdate', 'adminUpdate') \
         AND t.state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering')",
        crate::assignments::REQUEST_COLUMNS,
        id_set(backend, 1)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id_array(assignment_ids)?)
        .fetch_all(&mut **tx)
        .await
        .store()?
        .iter()
        .map(crate::assignments::request)
        .collect()
}

pub(crate) async fn insert_assignment_requests(
    tx: &mut Tx,
    requests: &[AssignmentRequest],
) -> StoreResult<()> {
    let mut rows = Vec::with_capacity(requests.len());
    for r in requests {
        rows.push(vec![
            Value::Text(r.id.clone()),
            Value::Text(r.request_type.as_str().to_owned()),
            Value::Text(r.state.as_str().to_owned()),
            Value::Text(r.status.clone()),
            Value::Text(r.catalog_id.clone()),
            Value::Text(r.access_package_id.clone()),
            Value::OptText(r.policy_id.clone()),
            Value::OptText(r.assignment_id.clone()),
            Value::Text(r.target_id.clone()),
            Value::Text(crate::assignments::kind_name(r.target_kind).to_owned()),
            Value::Text(r.requestor_id.clone()),
            Value::Text(crate::assignments::kind_name(r.requestor_kind).to_owned()),
            Value::OptText(r.justification.clone()),
            Value::Text(json(&r.schedule)?),
            Value::Int(to_micros(r.created_date_time)),
            Value::OptInt(r.completed_date_time.map(to_micros)),
            Value::Text(json(&r.answers)?),
            Value::OptText(r.parameters.as_ref().map(json).transpose()?),
        ]);
    }
    insert_rows(
        tx,
        "INSERT INTO assignment_requests (id, request_type, state, status, catalog_id, \
         access_package_id, policy_id, assignment_id, target_id, target_type, requestor_id, \
         requestor_type, justification, schedule, created_at, completed_at, answers, \
         parameters)",
        18,
        rows,
    )
    .await
}

pub(crate) async fn enqueue_events(tx: &mut Tx, events: &[OutboxEvent]) -> StoreResult<()> {
    let mut rows = Vec::with_capacity(events.len());
    for e in events {
        rows.push(vec![
            Value::Text(e.id.clone()),
            Value::Text(e.event_type.clone()),
            Value::Int(to_micros(e.occurred_at)),
            Value::Text(json(&e.data)?),
            Value::Text(json(&e.recipients)?),
        ]);
    }
    insert_rows(
        tx,
        "INSERT INTO outbox_events (id, event_type, occurred_at, data, recipients)",
        5,
        rows,
    )
    .await
}

/// Deletes the jobs `worker` still holds the leases of; returns how many.
pub(crate) async fn complete_jobs(
    tx: &mut Tx,
    backend: Backend,
    ids: &[String],
    worker: &str,
) -> StoreResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "DELETE FROM jobs WHERE lease_owner = $1 AND id IN {}",
        id_set(backend, 2)
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(worker.to_owned())
        .bind(id_array(ids)?)
        .execute(&mut **tx)
        .await
        .store()?
        .rows_affected())
}

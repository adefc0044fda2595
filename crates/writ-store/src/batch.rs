//! Set-wise writes for work done in batches (expiry storms): one statement per table for a whole
//! batch — `UPDATE … WHERE id IN (…)`, `DELETE … WHERE holder IN (…)`, `INSERT … SELECT` — in
//! the caller's transaction. A batch's ids are bound as one JSON array ([`id_set`]), and so are
//! the rows of an insert ([`insert_rows`]): one bound value per statement, whatever its size.

use sqlx::{Any, Row, Transaction};
use time::OffsetDateTime;
use writ_domain::audit::OutboxEvent;
use writ_domain::clock::to_micros;
use writ_domain::entitlement::AssignmentRequest;
use writ_domain::store::StoreResult;

use crate::connect::Backend;
use crate::error::ResultExt;
use crate::tx::json;

/// Rows per `INSERT … SELECT` at most: bounds the JSON text of one statement (~2 MB for audit
/// records), well past a claim of the worker (1,000).
pub(crate) const ROWS_PER_INSERT: usize = 5_000;

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
///
/// On PostgreSQL the set goes through an array and `unnest`: the planner guesses 10 rows for
/// the `unnest` of an array it cannot see, where it guesses 100 for a JSON function. With 100,
/// a join id by id through the index looked dearer than a scan of a table of up to some tens of
/// thousands of rows, so a delivery pass of a few requests read all of `assignment_requests`
/// and `jobs` (8.7 ms for 5 ids among 5,000 requests; issue 20 part R).
pub(crate) fn id_set(backend: Backend, param: usize) -> String {
    match backend {
        Backend::Postgres => {
            format!("(SELECT unnest(ARRAY(SELECT jsonb_array_elements_text(${param}::jsonb))))")
        }
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

/// A bound value of a row, in the column order of the statement.
pub(crate) enum Value {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
}

impl Value {
    fn json(&self) -> serde_json::Value {
        match self {
            Value::Text(v) => serde_json::Value::from(v.as_str()),
            Value::OptText(v) => v.as_deref().map_or(serde_json::Value::Null, Into::into),
            Value::Int(v) => serde_json::Value::from(*v),
            Value::OptInt(v) => v.map_or(serde_json::Value::Null, Into::into),
        }
    }

    fn is_int(&self) -> bool {
        matches!(self, Value::Int(_) | Value::OptInt(_))
    }
}

/// `SELECT …` of the columns of each row of the JSON array of arrays bound at `$1`, in order:
/// text as text, integers as integers (both backends read JSON `null` as SQL `NULL`), named
/// `c0`, `c1`, ….
pub(crate) fn json_rows_select(backend: Backend, kinds: &[bool]) -> String {
    json_rows_select_at(backend, kinds, 1)
}

/// [`json_rows_select`] of the array bound at `$param`, for a statement that reads several.
pub(crate) fn json_rows_select_at(backend: Backend, kinds: &[bool], param: usize) -> String {
    let columns: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, int)| match (backend, int) {
            (Backend::Sqlite, _) => format!("json_extract(r.value, '$[{i}]') AS c{i}"),
            (Backend::Postgres, false) => format!("r.value ->> {i} AS c{i}"),
            (Backend::Postgres, true) => format!("(r.value ->> {i})::bigint AS c{i}"),
        })
        .collect();
    let from = match backend {
        // `jsonb_each`, not `json_each`: each row is an array, which `json_each` hands over as
        // JSON text re-serialized from its parse, for every `json_extract` of the row to parse
        // again; `jsonb_each` hands over the parsed (binary) array, which `json_extract` reads
        // as it is. Measured on the storm: a batch's `systemRemove` rows 37–53 → 24–27 ms and
        // its audit records 22–32 → 14–19 ms per ~900 (`docs/benchmarks.md`, "Rows read as
        // JSONB").
        Backend::Sqlite => format!("jsonb_each(${param}) r"),
        // Through an array for the planner's guess of 10 rows, as in `id_set`: an `UPDATE …
        // FROM` joined over a guess of 100 scanned the whole table.
        Backend::Postgres => {
            format!("unnest(ARRAY(SELECT jsonb_array_elements(${param}::jsonb))) AS r (value)")
        }
    };
    format!("SELECT {} FROM {from}", columns.join(", "))
}

/// The value bound for a [`json_rows_select`]: the rows as a JSON array of arrays.
pub(crate) fn json_rows(rows: &[Vec<Value>]) -> StoreResult<String> {
    let array: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| serde_json::Value::Array(row.iter().map(Value::json).collect()))
        .collect();
    serde_json::to_string(&array).map_err(|e| writ_domain::store::StoreError::Other(e.to_string()))
}

/// Inserts `rows` (each `columns` values) with `head` (`INSERT INTO t (…)`) as one
/// `INSERT … SELECT` over a JSON array bound as one value, instead of a multi-row `VALUES` list
/// binding every cell: sqlx binds each parameter of a SQLite statement by looking its name up
/// (`sqlite3_bind_parameter_name`, a linear scan of the statement's parameters), so a statement
/// of 50 rows of 18 columns cost ~400,000 steps to bind — 22 % of the storm's CPU in the profile
/// of `docs/benchmarks.md` ("Issue 20 — the storm, profiled"). One statement text per table,
/// whatever the number of rows, so each is prepared once.
pub(crate) async fn insert_rows(
    tx: &mut Tx,
    backend: Backend,
    head: &str,
    columns: usize,
    rows: Vec<Vec<Value>>,
) -> StoreResult<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    if first.len() != columns || rows.iter().any(|row| row.len() != columns) {
        return Err(writ_domain::store::StoreError::Other(format!(
            "a row of {head} has not {columns} values"
        )));
    }
    let kinds: Vec<bool> = first.iter().map(Value::is_int).collect();
    let sql = format!("{head} {}", json_rows_select(backend, &kinds));
    execute_over_rows(tx, &sql, &rows).await?;
    Ok(())
}

/// Runs `sql`, whose one parameter is a [`json_rows`] array read by a [`json_rows_select`], over
/// `rows` in chunks of at most [`ROWS_PER_INSERT`]; returns the rows it affected.
pub(crate) async fn execute_over_rows(
    tx: &mut Tx,
    sql: &str,
    rows: &[Vec<Value>],
) -> StoreResult<u64> {
    let mut affected = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        affected += sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(json_rows(chunk)?)
            .execute(&mut **tx)
            .await
            .store()?
            .rows_affected();
    }
    Ok(affected)
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
    backend: Backend,
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
        backend,
        "INSERT INTO assignment_requests (id, request_type, state, status, catalog_id, \
         access_package_id, policy_id, assignment_id, target_id, target_type, requestor_id, \
         requestor_type, justification, schedule, created_at, completed_at, answers, \
         parameters)",
        18,
        rows,
    )
    .await
}

/// The head of the outbox's insert, for [`event_rows`].
pub(crate) const EVENTS_INSERT: &str =
    "INSERT INTO outbox_events (id, event_type, occurred_at, data, recipients)";
/// Which of [`event_rows`]' columns are integers.
pub(crate) const EVENT_KINDS: [bool; 5] = [false, false, true, false, false];

/// The rows of `events` for [`EVENTS_INSERT`].
pub(crate) fn event_rows(events: &[OutboxEvent]) -> StoreResult<Vec<Vec<Value>>> {
    events
        .iter()
        .map(|e| {
            Ok(vec![
                Value::Text(e.id.clone()),
                Value::Text(e.event_type.clone()),
                Value::Int(to_micros(e.occurred_at)),
                Value::Text(json(&e.data)?),
                Value::Text(json(&e.recipients)?),
            ])
        })
        .collect()
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

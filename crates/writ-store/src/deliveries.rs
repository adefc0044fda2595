//! The SQL shared by the outbox's delivery tables, `webhook_deliveries` and `email_deliveries`
//! (DESIGN section 8): routing unrouted outbox events into pending rows, claiming due rows with a
//! lease, recording an attempt, releasing unsent claims, and the next due time. The tables have
//! the same columns except the destination (`endpoint_url`, `recipient_id`) and each has its own
//! "routed" column on `outbox_events`, so one body serves both; PostgreSQL adds `FOR UPDATE SKIP
//! LOCKED` so that replicas take disjoint rows, SQLite's writes are serial already.

use sqlx::any::AnyRow;
use sqlx::{Any, FromRow};
use time::OffsetDateTime;
use writ_domain::audit::{OutboxEvent, Recipient};
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::ids::new_object_id;
use writ_domain::store::{StoreError, StoreResult};
use writ_domain::webhooks::{AttemptRecord, DeliveryProgress, DeliveryState, NextStep};

use crate::batch::{Value, id_array, id_set, json_rows, json_rows_select, placeholders};
use crate::connect::Backend;
use crate::error::ResultExt;
use crate::rows::{decode, micros_opt};
use crate::store::SqlStore;

/// Rows per multi-row statement: 6 values each, far below both backends' parameter limits.
const CHUNK: usize = 500;

/// One delivery table. The names are constants of this crate, never input, so they may be
/// formatted into SQL.
pub(crate) struct Table {
    pub name: &'static str,
    /// The destination column, unique with `event_id`.
    pub destination: &'static str,
    /// The `outbox_events` column set when an event was routed to this table (`None`: rows
    /// are written directly, not routed from the outbox).
    pub routed: Option<&'static str>,
}

/// A claimed row with its event.
pub(crate) struct ClaimedRow {
    pub id: String,
    pub destination: String,
    pub attempts: u32,
    pub event: OutboxEvent,
}

/// Where a delivery row stands, as administrators list it: from its `state`, `attempts`,
/// `last_status`, `last_error`, `last_attempt_at`, `next_attempt_at`, `created_at`,
/// `delivered_at` and `dead_lettered_at`.
/// Where a delivery row stands, as administrators list it (flattened into each table's row).
#[derive(FromRow)]
pub(crate) struct ProgressRow {
    state: String,
    attempts: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_attempt_at: Option<i64>,
    next_attempt_at: Option<i64>,
    created_at: i64,
    delivered_at: Option<i64>,
    dead_lettered_at: Option<i64>,
}

impl TryFrom<ProgressRow> for DeliveryProgress {
    type Error = StoreError;

    fn try_from(r: ProgressRow) -> StoreResult<Self> {
        Ok(DeliveryProgress {
            state: DeliveryState::parse(&r.state),
            state_name: r.state,
            attempts: clamp_count(r.attempts),
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: r.last_error,
            last_attempt_at: micros_opt(r.last_attempt_at),
            next_attempt_at: micros_opt(r.next_attempt_at),
            created_at: from_micros(r.created_at),
            delivered_at: micros_opt(r.delivered_at),
            dead_lettered_at: micros_opt(r.dead_lettered_at),
        })
    }
}

/// A count column as a `u32`, saturating.
pub(crate) fn clamp_count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn skip_locked(store: &SqlStore) -> &'static str {
    match store.backend_kind() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Other(e.to_string())
}

#[derive(FromRow)]
pub(crate) struct OutboxEventRow {
    id: String,
    event_type: String,
    occurred_at: i64,
    data: String,
    recipients: String,
}

impl TryFrom<OutboxEventRow> for OutboxEvent {
    type Error = StoreError;

    fn try_from(r: OutboxEventRow) -> StoreResult<Self> {
        Ok(OutboxEvent {
            data: serde_json::from_str(&r.data).map_err(json_error)?,
            recipients: serde_json::from_str(&r.recipients).map_err(json_error)?,
            id: r.id,
            event_type: r.event_type,
            occurred_at: from_micros(r.occurred_at),
        })
    }
}

pub(crate) fn event_row(row: &AnyRow) -> StoreResult<OutboxEvent> {
    decode::<OutboxEventRow, _>(row)
}

/// An outbox event as routing reads it.
#[derive(FromRow)]
struct RoutedEventRow {
    id: String,
    event_type: String,
    recipients: String,
}

/// A delivery row as a claim returns it.
#[derive(FromRow)]
struct LeasedRow {
    id: String,
    event_id: String,
    destination: String,
    attempts: i64,
}

/// Routes up to `limit` events not routed to `table` yet, oldest first: a pending row due at
/// `now` per destination `fan_out` names for the event (its type and recipients), and the
/// events marked routed, in one transaction. Returns how many events were routed.
pub(crate) async fn route(
    store: &SqlStore,
    table: &Table,
    now: OffsetDateTime,
    limit: u32,
    fan_out: &(dyn Fn(&str, &[Recipient]) -> Vec<String> + Send + Sync),
) -> StoreResult<u32> {
    let mut raw = store.begin_raw().await?;
    let sql = format!(
        "SELECT id, event_type, recipients FROM outbox_events WHERE {} IS NULL \
         ORDER BY occurred_at, id LIMIT $1{}",
        routed_column(table)?,
        skip_locked(store)
    );
    let events = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(limit))
        .fetch_all(&mut *raw.tx)
        .await
        .store()?;
    if events.is_empty() {
        raw.tx.commit().await.store()?;
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(events.len());
    // (event id, event type, destination)
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for row in &events {
        let RoutedEventRow {
            id: event_id,
            event_type,
            recipients,
        } = RoutedEventRow::from_row(row).store()?;
        let recipients: Vec<Recipient> = serde_json::from_str(&recipients).map_err(json_error)?;
        for destination in fan_out(&event_type, &recipients) {
            rows.push((event_id.clone(), event_type.clone(), destination));
        }
        ids.push(event_id);
    }
    let backend = store.backend_kind();
    insert(&mut raw.tx, backend, table, &rows, now).await?;
    let sql = format!(
        "UPDATE outbox_events SET {} = $1 WHERE id IN {}",
        routed_column(table)?,
        id_set(backend, 2)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to_micros(now))
        .bind(id_array(&ids)?)
        .execute(&mut *raw.tx)
        .await
        .store()?;
    raw.tx.commit().await.store()?;
    Ok(u32::try_from(ids.len()).unwrap_or(u32::MAX))
}

/// The pending rows, one statement per [`CHUNK`] bound as one JSON array
/// ([`json_rows_select`]: binding six values per row made a statement of 500 rows quadratic to
/// bind on SQLite).
async fn insert(
    tx: &mut sqlx::Transaction<'static, Any>,
    backend: Backend,
    table: &Table,
    rows: &[(String, String, String)],
    due_at: OffsetDateTime,
) -> StoreResult<()> {
    // `WHERE true`: SQLite reads `ON CONFLICT` after a bare `SELECT … FROM` as a join's `ON`.
    let sql = format!(
        "INSERT INTO {table} (id, event_id, event_type, {destination}, created_at, \
         next_attempt_at, state, attempts) \
         SELECT s.*, 'pending', 0 FROM ({select}) s WHERE true \
         ON CONFLICT (event_id, {destination}) DO NOTHING",
        table = table.name,
        destination = table.destination,
        select = json_rows_select(backend, &[false, false, false, false, true, true]),
    );
    for chunk in rows.chunks(CHUNK) {
        let values: Vec<Vec<Value>> = chunk
            .iter()
            .map(|(event_id, event_type, destination)| {
                vec![
                    Value::Text(new_object_id()),
                    Value::Text(event_id.clone()),
                    Value::Text(event_type.clone()),
                    Value::Text(destination.clone()),
                    Value::Int(to_micros(due_at)),
                    Value::Int(to_micros(due_at)),
                ]
            })
            .collect();
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(json_rows(&values)?)
            .execute(&mut **tx)
            .await
            .store()?;
    }
    Ok(())
}

/// Leases up to `limit` due pending rows of `table` to `worker` until `lease_until`, counting
/// the attempt, in `raw`'s transaction; returns the `returning` columns of each.
pub(crate) async fn lease(
    raw: &mut sqlx::Transaction<'static, Any>,
    store: &SqlStore,
    table: &Table,
    returning: &str,
    worker: &str,
    (now, lease_until): (OffsetDateTime, OffsetDateTime),
    limit: u32,
) -> StoreResult<Vec<AnyRow>> {
    let sql = format!(
        "UPDATE {table} SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM {table} WHERE state = 'pending' \
         AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
         ORDER BY next_attempt_at, id LIMIT $4{skip}) \
         RETURNING {returning}",
        table = table.name,
        skip = skip_locked(store)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(worker.to_owned())
        .bind(to_micros(lease_until))
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .fetch_all(&mut **raw)
        .await
        .store()
}

/// Leases up to `limit` due pending rows to `worker` until `lease_until`, counting the attempt;
/// returned oldest event first.
pub(crate) async fn claim(
    store: &SqlStore,
    table: &Table,
    worker: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u32,
) -> StoreResult<Vec<ClaimedRow>> {
    let mut raw = store.begin_raw().await?;
    let returning = format!(
        "id, event_id, {} AS destination, attempts",
        table.destination
    );
    let rows = lease(
        &mut raw.tx,
        store,
        table,
        &returning,
        worker,
        (now, lease_until),
        limit,
    )
    .await?;
    if rows.is_empty() {
        // Ended here, not by dropping it: the claim's UPDATE took the write lock.
        raw.tx.commit().await.store()?;
        return Ok(Vec::new());
    }
    let mut leased = Vec::with_capacity(rows.len());
    for row in &rows {
        let r = LeasedRow::from_row(row).store()?;
        leased.push((r.id, r.event_id, r.destination, clamp_count(r.attempts)));
    }
    let mut event_ids: Vec<String> = leased.iter().map(|(_, e, _, _)| e.clone()).collect();
    event_ids.sort();
    event_ids.dedup();
    let sql = format!(
        "SELECT id, event_type, occurred_at, data, recipients FROM outbox_events \
         WHERE id IN ({})",
        placeholders(1, event_ids.len())
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &event_ids {
        query = query.bind(id.clone());
    }
    let events = query
        .fetch_all(&mut *raw.tx)
        .await
        .store()?
        .iter()
        .map(event_row)
        .collect::<StoreResult<Vec<_>>>()?;
    raw.tx.commit().await.store()?;
    let mut claimed: Vec<ClaimedRow> = leased
        .into_iter()
        .filter_map(|(id, event_id, destination, attempts)| {
            // The foreign key cascades deletes, so the event exists while the row does.
            events
                .iter()
                .find(|e| e.id == event_id)
                .map(|event| ClaimedRow {
                    id,
                    destination,
                    attempts,
                    event: event.clone(),
                })
        })
        .collect();
    // RETURNING keeps no order; send the oldest events first.
    claimed.sort_by(|a, b| {
        a.event
            .occurred_at
            .cmp(&b.event.occurred_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(claimed)
}

/// Records an attempt of a row `worker` still leases and releases the lease; `false` when the
/// lease was lost.
pub(crate) async fn record(
    store: &SqlStore,
    table: &Table,
    id: &str,
    worker: &str,
    record: &AttemptRecord,
) -> StoreResult<bool> {
    let at = to_micros(record.at);
    let (state, next, delivered, dead) = match record.next {
        NextStep::Delivered => (DeliveryState::Delivered, None, Some(at), None),
        NextStep::RetryAt(due) => (DeliveryState::Pending, Some(to_micros(due)), None, None),
        NextStep::DeadLetter => (DeliveryState::DeadLettered, None, None, Some(at)),
    };
    let sql = format!(
        "UPDATE {} SET state = $3, next_attempt_at = $4, lease_owner = NULL, \
         lease_until = NULL, last_status = $5, last_error = $6, last_attempt_at = $7, \
         delivered_at = $8, dead_lettered_at = $9 \
         WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        table.name
    );
    let mut raw = store.begin_raw().await?;
    let done = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .bind(worker.to_owned())
        .bind(state.as_str())
        .bind(next)
        .bind(record.status.map(i64::from))
        .bind(record.error.clone())
        .bind(at)
        .bind(delivered)
        .bind(dead)
        .execute(&mut *raw.tx)
        .await
        .store()?;
    raw.tx.commit().await.store()?;
    Ok(done.rows_affected() == 1)
}

/// Gives rows `worker` leases back unsent, uncounting their attempt.
pub(crate) async fn release(
    store: &SqlStore,
    table: &Table,
    ids: &[String],
    worker: &str,
) -> StoreResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut raw = store.begin_raw().await?;
    let mut released = 0;
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "UPDATE {} SET lease_owner = NULL, lease_until = NULL, attempts = attempts - 1 \
             WHERE lease_owner = $1 AND state = 'pending' AND id IN ({})",
            table.name,
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(worker.to_owned());
        for id in chunk {
            query = query.bind(id.clone());
        }
        released += query.execute(&mut *raw.tx).await.store()?.rows_affected();
    }
    raw.tx.commit().await.store()?;
    Ok(released)
}

fn routed_column(table: &Table) -> StoreResult<&'static str> {
    table
        .routed
        .ok_or_else(|| StoreError::Other(format!("{} is not routed from the outbox", table.name)))
}

/// The earliest of: an unrouted event (for a routed table), a pending row's next attempt (or
/// its lease's end).
pub(crate) async fn next_due(
    store: &SqlStore,
    table: &Table,
) -> StoreResult<Option<OffsetDateTime>> {
    let next_event = match table.routed {
        Some(routed) => {
            format!("(SELECT MIN(occurred_at) FROM outbox_events WHERE {routed} IS NULL)")
        }
        None => "CAST(NULL AS BIGINT)".to_owned(),
    };
    let sql = format!(
        "SELECT (SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at \
         THEN lease_until ELSE next_attempt_at END) FROM {} \
         WHERE state = 'pending') AS next_delivery, \
         {next_event} AS next_event",
        table.name
    );
    // (next_delivery, next_event), in the order of the select list.
    let (delivery, event) =
        sqlx::query_as::<_, (Option<i64>, Option<i64>)>(sqlx::AssertSqlSafe(sql))
            .fetch_one(store.pool())
            .await
            .store()?;
    Ok(match (delivery, event) {
        (Some(a), Some(b)) => Some(from_micros(a.min(b))),
        (a, b) => a.or(b).map(from_micros),
    })
}

//! The audit log's SQL: appending records (with the derived columns and target rows that make
//! `auditLogs/directoryAudits` filters indexed), reading them back as Graph lists, and the chain:
//! the head row advanced by compare-and-set, unlinked records, links, and the chain-ordered read
//! that `writ audit verify` and `writ audit export` walk.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, Executor, FromRow, Row, Transaction};
use writ_domain::audit::{AuditRecord, AuditScope, OutboxEvent};
use writ_domain::audit_chain::{AuditLink, ChainHead, ChainedAudit};
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::jobs::NewJob;
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{StoreError, StoreResult};
use writ_odata::SqlValue;

use crate::batch::{
    EVENT_KINDS, EVENTS_INSERT, ROWS_PER_INSERT, Value, event_rows, execute_over_rows, insert_rows,
    json_rows, json_rows_select_at, placeholders,
};
use crate::connect::Backend;
use crate::delivery_batch::{job_rows, jobs_insert};
use crate::error::ResultExt;
use crate::list::{ListSpec, list};
use crate::schema;
use crate::tx::json;

type Tx = Transaction<'static, Any>;

const COLUMNS: &str = "t.id, t.activity_at, t.category, t.activity, t.operation_type, t.result, \
     t.result_reason, t.initiated_by, t.on_behalf_of, t.catalog_id, t.target_resources, \
     t.additional_details, t.request_id";

const AUDIT_INSERT: &str = "INSERT INTO audit_log (id, activity_at, category, activity, \
     operation_type, result, result_reason, initiated_by, initiated_by_id, initiated_by_user_id, \
     initiated_by_app_id, on_behalf_of, catalog_id, target_resources, additional_details, \
     request_id)";
const AUDIT_KINDS: [bool; 16] = [
    false, true, false, false, false, false, false, false, false, false, false, false, false,
    false, false, false,
];
const TARGETS_INSERT: &str = "INSERT INTO audit_log_targets (audit_id, target_id)";
const TARGET_KINDS: [bool; 2] = [false, false];

/// [`Appends::write`]'s one statement on PostgreSQL, built once: it runs at every commit that
/// appended anything.
static APPENDS_ON_POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let backend = Backend::Postgres;
    format!(
        "WITH audits AS ({AUDIT_INSERT} {}), targets AS ({TARGETS_INSERT} {}), \
         events AS ({EVENTS_INSERT} {}) {}",
        json_rows_select_at(backend, &AUDIT_KINDS, 1),
        json_rows_select_at(backend, &TARGET_KINDS, 2),
        json_rows_select_at(backend, &EVENT_KINDS, 3),
        jobs_insert(backend, 4),
    )
});

/// What a transaction appended to the audit log and the outbox, and the jobs it queued to be
/// written with them, as the rows their inserts take, written together just before its commit
/// ([`Appends::write`]).
#[derive(Default)]
pub(crate) struct Appends {
    audits: Vec<Vec<Value>>,
    targets: Vec<Vec<Value>>,
    events: Vec<Vec<Value>>,
    jobs: Vec<Vec<Value>>,
}

impl Appends {
    pub(crate) fn is_empty(&self) -> bool {
        self.audits.is_empty() && self.events.is_empty() && self.jobs.is_empty()
    }

    pub(crate) fn add_jobs(&mut self, jobs: &[NewJob]) {
        self.jobs.extend(job_rows(jobs));
    }

    /// Adds the `audit_log` rows of `records` and their `audit_log_targets` rows (each target
    /// once per record).
    pub(crate) fn add_audits(&mut self, records: &[AuditRecord]) -> StoreResult<()> {
        for r in records {
            let by_kind = |kind: &str| {
                (r.initiated_by.kind == kind)
                    .then(|| r.initiated_by.id.clone())
                    .flatten()
            };
            self.audits.push(vec![
                Value::Text(r.id.clone()),
                Value::Int(to_micros(r.activity_date_time)),
                Value::Text(r.category.clone()),
                Value::Text(r.activity_display_name.clone()),
                Value::Text(r.operation_type.clone()),
                Value::Text(r.result.clone()),
                Value::OptText(r.result_reason.clone()),
                Value::Text(json(&r.initiated_by)?),
                Value::OptText(r.initiated_by.id.clone()),
                Value::OptText(by_kind("user")),
                Value::OptText(by_kind("app")),
                Value::OptText(r.on_behalf_of.clone()),
                Value::OptText(r.catalog_id.clone()),
                Value::Text(json(&r.target_resources)?),
                Value::Text(json(&r.additional_details)?),
                Value::OptText(r.request_id.clone()),
            ]);
            let mut seen: Vec<&str> = Vec::new();
            for target in &r.target_resources {
                if !seen.contains(&target.id.as_str()) {
                    seen.push(&target.id);
                    self.targets.push(vec![
                        Value::Text(r.id.clone()),
                        Value::Text(target.id.clone()),
                    ]);
                }
            }
        }
        Ok(())
    }

    pub(crate) fn add_events(&mut self, events: &[OutboxEvent]) -> StoreResult<()> {
        self.events.extend(event_rows(events)?);
        Ok(())
    }

    /// Inserts what was added, and empties it. On PostgreSQL the inserts are one statement
    /// (data-modifying `WITH` clauses; the target rows' foreign key is checked at the
    /// statement's end, when the records are in), so a transaction pays one round trip for them
    /// instead of up to four: on the request path, 3 of its 12 (`docs/benchmarks.md`, "Appends
    /// at the commit"). SQLite cannot put an insert in `WITH`, and its statements cost no round
    /// trip; there, and for more rows than one statement takes, they are written one table at a
    /// time.
    pub(crate) async fn write(&mut self, tx: &mut Tx, backend: Backend) -> StoreResult<()> {
        let Appends {
            audits,
            targets,
            events,
            jobs,
        } = std::mem::take(self);
        let fits = [&audits, &targets, &events, &jobs]
            .iter()
            .all(|rows| rows.len() <= ROWS_PER_INSERT);
        if backend != Backend::Postgres || !fits {
            insert_rows(tx, backend, AUDIT_INSERT, AUDIT_KINDS.len(), audits).await?;
            insert_rows(tx, backend, TARGETS_INSERT, TARGET_KINDS.len(), targets).await?;
            insert_rows(tx, backend, EVENTS_INSERT, EVENT_KINDS.len(), events).await?;
            if !jobs.is_empty() {
                execute_over_rows(tx, &jobs_insert(backend, 1), &jobs).await?;
            }
            return Ok(());
        }
        sqlx::query(sqlx::AssertSqlSafe(APPENDS_ON_POSTGRES.as_str()))
            .bind(json_rows(&audits)?)
            .bind(json_rows(&targets)?)
            .bind(json_rows(&events)?)
            .bind(json_rows(&jobs)?)
            .execute(&mut **tx)
            .await
            .store()?;
        Ok(())
    }
}

/// An `audit_log` row as stored. The text columns are read as optional so that a record that no
/// longer reads is reported by the column at fault (for `verify`) rather than failing the page.
#[derive(FromRow)]
struct AuditRow {
    id: Option<String>,
    activity_at: i64,
    category: Option<String>,
    activity: Option<String>,
    operation_type: Option<String>,
    result: Option<String>,
    result_reason: Option<String>,
    initiated_by: String,
    on_behalf_of: Option<String>,
    catalog_id: Option<String>,
    target_resources: String,
    additional_details: String,
    request_id: Option<String>,
}

fn required(column: &str, value: Option<String>) -> Result<String, String> {
    value.ok_or_else(|| format!("audit_log.{column} is NULL"))
}

fn parse_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("audit_log.{column}: {e}"))
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = String;

    fn try_from(r: AuditRow) -> Result<Self, String> {
        Ok(AuditRecord {
            id: required("id", r.id)?,
            activity_date_time: from_micros(r.activity_at),
            category: required("category", r.category)?,
            activity_display_name: required("activity", r.activity)?,
            operation_type: required("operation_type", r.operation_type)?,
            result: required("result", r.result)?,
            result_reason: r.result_reason,
            initiated_by: parse_json("initiated_by", &r.initiated_by)?,
            on_behalf_of: r.on_behalf_of,
            catalog_id: r.catalog_id,
            target_resources: parse_json("target_resources", &r.target_resources)?,
            additional_details: parse_json("additional_details", &r.additional_details)?,
            request_id: r.request_id,
        })
    }
}

/// A row as a record; the error names what no longer reads (for `verify`, which reports it).
fn try_record(row: &AnyRow) -> Result<AuditRecord, String> {
    AuditRow::from_row(row)
        .map_err(|e| format!("audit_log: {e}"))?
        .try_into()
}

fn record(row: &AnyRow) -> StoreResult<AuditRecord> {
    try_record(row).map_err(StoreError::Other)
}

/// Oldest first, for tests.
pub(crate) async fn all(pool: &AnyPool, limit: u32) -> StoreResult<Vec<AuditRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log t ORDER BY t.activity_at, t.id LIMIT $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .store()?;
    rows.iter().map(record).collect()
}

pub(crate) async fn by_id(pool: &AnyPool, id: &str) -> StoreResult<Option<AuditRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log t WHERE t.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(pool)
        .await
        .store()?;
    row.as_ref().map(record).transpose()
}

/// The condition that keeps a list within the reader's scope, with its parameters from `$1`.
fn scope_condition(scope: &AuditScope) -> Option<(String, Vec<SqlValue>)> {
    match scope {
        AuditScope::All => None,
        AuditScope::EntitlementManagement => Some((
            "t.category = $1".to_owned(),
            vec![SqlValue::Text(
                writ_domain::audit::ENTITLEMENT_MANAGEMENT.to_owned(),
            )],
        )),
        AuditScope::Catalogs { all: true, .. } => Some(("t.catalog_id IS NOT NULL".into(), vec![])),
        AuditScope::Catalogs { all: false, ids } => Some((
            format!("t.catalog_id IN ({})", placeholders(1, ids.len().max(1))),
            if ids.is_empty() {
                // Never true: a catalog id is never NULL inside IN.
                vec![SqlValue::Null]
            } else {
                ids.iter().cloned().map(SqlValue::Text).collect()
            },
        )),
    }
}

pub(crate) async fn list_records(
    pool: &AnyPool,
    query: &ListQuery,
    scope: &AuditScope,
) -> StoreResult<Page<AuditRecord>> {
    list(
        pool,
        ListSpec {
            schema: &schema::DIRECTORY_AUDIT,
            from: "audit_log t",
            columns: COLUMNS,
            base_where: scope_condition(scope),
        },
        query,
        record,
    )
    .await
}

async fn head<'e>(executor: impl Executor<'e, Database = Any>) -> StoreResult<ChainHead> {
    let row = sqlx::query("SELECT seq, mac FROM audit_chain_head WHERE id = 1")
        .fetch_optional(executor)
        .await
        .store()?;
    match row {
        Some(row) => {
            let (seq, mac) = <(i64, String)>::from_row(&row).store()?;
            Ok(ChainHead { seq, mac })
        }
        // The migration writes the row; without it there is no chain to speak of yet.
        None => Ok(ChainHead::default()),
    }
}

pub(crate) async fn chain_head(pool: &AnyPool) -> StoreResult<ChainHead> {
    head(pool).await
}

pub(crate) async fn chain_head_in(tx: &mut Tx) -> StoreResult<ChainHead> {
    head(&mut **tx).await
}

pub(crate) async fn unchained(tx: &mut Tx, limit: u32) -> StoreResult<Vec<AuditRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_log t WHERE t.chain_seq IS NULL \
         ORDER BY t.activity_at, t.id LIMIT $1"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::from(limit))
        .fetch_all(&mut **tx)
        .await
        .store()?;
    rows.iter().map(record).collect()
}

pub(crate) async fn advance(tx: &mut Tx, from: &ChainHead, to: &ChainHead) -> StoreResult<bool> {
    // On PostgreSQL a racing chainer's UPDATE waits for the first to commit, then finds the
    // head moved and changes nothing; on SQLite the single writer serializes them.
    let changed = sqlx::query(
        "UPDATE audit_chain_head SET seq = $1, mac = $2 WHERE id = 1 AND seq = $3 AND mac = $4",
    )
    .bind(to.seq)
    .bind(to.mac.clone())
    .bind(from.seq)
    .bind(from.mac.clone())
    .execute(&mut **tx)
    .await
    .store()?
    .rows_affected();
    Ok(changed == 1)
}

pub(crate) async fn seal(tx: &mut Tx, links: &[AuditLink]) -> StoreResult<()> {
    for link in links {
        let changed = sqlx::query(
            "UPDATE audit_log SET chain_seq = $1, chain_mac = $2 WHERE id = $3 AND chain_seq IS NULL",
        )
        .bind(link.seq)
        .bind(link.mac.clone())
        .bind(link.id.clone())
        .execute(&mut **tx)
        .await
        .store()?
        .rows_affected();
        if changed != 1 {
            // The head moved under our compare-and-set, so this cannot happen unless the row
            // was deleted or linked outside the chainer; roll back rather than leave a gap.
            return Err(StoreError::Other(format!(
                "audit record {} could not be linked",
                link.id
            )));
        }
    }
    Ok(())
}

pub(crate) async fn chained(
    pool: &AnyPool,
    after: Option<&(i64, String)>,
    limit: u32,
) -> StoreResult<Vec<ChainedAudit>> {
    let select = format!("SELECT {COLUMNS}, t.chain_seq, t.chain_mac FROM audit_log t");
    let rows = match after {
        Some((seq, id)) => {
            let sql = format!(
                "{select} WHERE t.chain_seq IS NOT NULL \
                 AND (t.chain_seq > $1 OR (t.chain_seq = $1 AND t.id > $2)) \
                 ORDER BY t.chain_seq, t.id LIMIT $3"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(*seq)
                .bind(id.clone())
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        }
        None => {
            let sql = format!(
                "{select} WHERE t.chain_seq IS NOT NULL ORDER BY t.chain_seq, t.id LIMIT $1"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        }
    }
    .store()?;
    rows.iter()
        .map(|row| {
            let link = ChainLinkRow::from_row(row).store()?;
            Ok(ChainedAudit {
                id: link.id,
                seq: link.chain_seq,
                mac: link.chain_mac,
                record: try_record(row),
            })
        })
        .collect()
}

/// A linked record's place in the chain (its record is read apart, and may not read).
#[derive(FromRow)]
struct ChainLinkRow {
    id: String,
    chain_seq: i64,
    chain_mac: Option<String>,
}

pub(crate) async fn unchained_count(pool: &AnyPool) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE chain_seq IS NULL")
        .fetch_one(pool)
        .await
        .store()?;
    row.try_get("n").store()
}

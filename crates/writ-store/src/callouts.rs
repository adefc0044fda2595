//! Custom extension callouts (DESIGN section 8, schema version 20): the rows a stage writes,
//! their callback compare-and-set, the reads for `resume` and for the
//! `customExtensionCalloutInstances` of requests and assignments, and the dispatcher's queue over
//! the delivery SQL shared with webhooks and email ([`crate::deliveries`]).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, FromRow};
use time::OffsetDateTime;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::entitlement::{
    CallbackState, Callout, CalloutQueueStore, CalloutStage, ClaimedCallout,
};
use writ_domain::store::{StoreError, StoreResult};
use writ_domain::webhooks::{AttemptRecord, DeliveryState};

use crate::batch::placeholders;
use crate::deliveries::{self, Table, clamp_count};
use crate::error::ResultExt;
use crate::rows::decode;
use crate::store::SqlStore;

const TABLE: Table = Table {
    name: "custom_extension_callouts",
    destination: "endpoint_url",
    routed: None,
};

const COLUMNS: &str = "id, request_id, assignment_id, custom_extension_id, catalog_id, stage, \
     waits, callback_state, callback_detail, endpoint_url, token_audience, timeout_ms, \
     max_attempts, payload, state, attempts, last_error, created_at, callback_at";

fn invalid(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!(
        "custom_extension_callouts holds an unknown {what} '{value}'"
    ))
}

#[derive(FromRow)]
struct CalloutRow {
    id: String,
    request_id: Option<String>,
    assignment_id: Option<String>,
    custom_extension_id: String,
    catalog_id: String,
    stage: String,
    callback_state: String,
    callback_detail: Option<String>,
    endpoint_url: String,
    token_audience: Option<String>,
    timeout_ms: i64,
    max_attempts: i64,
    payload: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: i64,
    callback_at: Option<i64>,
}

impl TryFrom<CalloutRow> for Callout {
    type Error = StoreError;

    fn try_from(r: CalloutRow) -> StoreResult<Self> {
        Ok(Callout {
            stage: CalloutStage::parse(&r.stage).ok_or_else(|| invalid("stage", &r.stage))?,
            callback_state: CallbackState::parse(&r.callback_state)
                .ok_or_else(|| invalid("callback state", &r.callback_state))?,
            payload: serde_json::from_str(&r.payload)
                .map_err(|e| StoreError::Other(e.to_string()))?,
            delivery_state: DeliveryState::parse(&r.state)
                .ok_or_else(|| invalid("state", &r.state))?,
            id: r.id,
            request_id: r.request_id,
            assignment_id: r.assignment_id,
            custom_extension_id: r.custom_extension_id,
            catalog_id: r.catalog_id,
            callback_detail: r.callback_detail,
            endpoint_url: r.endpoint_url,
            token_audience: r.token_audience,
            timeout_ms: clamp_count(r.timeout_ms),
            max_attempts: clamp_count(r.max_attempts),
            attempts: clamp_count(r.attempts),
            last_error: r.last_error,
            created_at: from_micros(r.created_at),
            callback_at: r.callback_at.map(from_micros),
        })
    }
}

fn callout_row(row: &AnyRow) -> StoreResult<Callout> {
    decode::<CalloutRow, _>(row)
}

/// A callout as the dispatcher claims it.
#[derive(FromRow)]
struct ClaimedCalloutRow {
    id: String,
    endpoint_url: String,
    token_audience: Option<String>,
    timeout_ms: i64,
    max_attempts: i64,
    attempts: i64,
    payload: String,
}

pub(crate) async fn insert(
    tx: &mut sqlx::Transaction<'static, Any>,
    c: &Callout,
) -> StoreResult<()> {
    let payload =
        serde_json::to_string(&c.payload).map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "INSERT INTO custom_extension_callouts (id, request_id, assignment_id, \
         custom_extension_id, catalog_id, stage, waits, callback_state, callback_detail, \
         endpoint_url, token_audience, timeout_ms, max_attempts, payload, state, attempts, \
         next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, $16, $16)",
    )
    .bind(c.id.clone())
    .bind(c.request_id.clone())
    .bind(c.assignment_id.clone())
    .bind(c.custom_extension_id.clone())
    .bind(c.catalog_id.clone())
    .bind(c.stage.as_str())
    .bind(i64::from(c.callback_state == CallbackState::Waiting))
    .bind(c.callback_state.as_str())
    .bind(c.callback_detail.clone())
    .bind(c.endpoint_url.clone())
    .bind(c.token_audience.clone())
    .bind(i64::from(c.timeout_ms))
    .bind(i64::from(c.max_attempts))
    .bind(payload)
    .bind(c.delivery_state.as_str())
    .bind(to_micros(c.created_at))
    .execute(&mut **tx)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn set_callback(
    tx: &mut sqlx::Transaction<'static, Any>,
    id: &str,
    from: CallbackState,
    to: CallbackState,
    detail: Option<&str>,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE custom_extension_callouts SET callback_state = $3, callback_detail = $4, \
         callback_at = $5 WHERE id = $1 AND callback_state = $2",
    )
    .bind(id.to_owned())
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(detail.map(str::to_owned))
    .bind(to_micros(at))
    .execute(&mut **tx)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

impl SqlStore {
    pub(crate) async fn callout_by_id(&self, id: &str) -> StoreResult<Option<Callout>> {
        let sql = format!("SELECT {COLUMNS} FROM custom_extension_callouts WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_owned())
            .fetch_optional(self.pool())
            .await
            .store()?
            .as_ref()
            .map(callout_row)
            .transpose()
    }

    pub(crate) async fn callouts_of_holders(&self, ids: &[String]) -> StoreResult<Vec<Callout>> {
        let mut out = Vec::new();
        // Two uses of each id (request or assignment), far below the parameter limits.
        for chunk in ids.chunks(200) {
            let list = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT {COLUMNS} FROM custom_extension_callouts \
                 WHERE request_id IN ({list}) OR assignment_id IN ({list}) \
                 ORDER BY created_at, id"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.clone());
            }
            for row in query.fetch_all(self.pool()).await.store()? {
                out.push(callout_row(&row)?);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl CalloutQueueStore for SqlStore {
    async fn claim_callouts(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedCallout>> {
        let mut raw = self.begin_raw().await?;
        let rows = deliveries::lease(
            &mut raw.tx,
            self,
            &TABLE,
            "id, endpoint_url, token_audience, timeout_ms, max_attempts, attempts, payload",
            worker,
            (now, lease_until),
            limit,
        )
        .await?;
        raw.tx.commit().await.store()?;
        rows.iter()
            .map(|row| {
                let r = ClaimedCalloutRow::from_row(row).store()?;
                Ok(ClaimedCallout {
                    id: r.id,
                    endpoint_url: r.endpoint_url,
                    token_audience: r.token_audience,
                    timeout_ms: clamp_count(r.timeout_ms),
                    max_attempts: clamp_count(r.max_attempts),
                    attempts: clamp_count(r.attempts),
                    body: r.payload,
                })
            })
            .collect()
    }

    async fn record_callout_attempt(
        &self,
        id: &str,
        worker: &str,
        record: &AttemptRecord,
    ) -> StoreResult<bool> {
        deliveries::record(self, &TABLE, id, worker, record).await
    }

    async fn release_callouts(&self, ids: &[String], worker: &str) -> StoreResult<u64> {
        deliveries::release(self, &TABLE, ids, worker).await
    }

    async fn next_callout_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        deliveries::next_due(self, &TABLE).await
    }
}

//! The webhook deliveries' SQL (DESIGN section 8): routing outbox events to endpoints, claiming
//! due deliveries with a lease, recording attempts, and the administrators' list. Like the job
//! queue, one SQL body serves both backends except the two claims, where PostgreSQL adds `FOR
//! UPDATE SKIP LOCKED` so that replicas take disjoint rows; SQLite's claims are serial already
//! (one writer).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};
use time::OffsetDateTime;
use writ_domain::audit::OutboxEvent;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::ids::new_object_id;
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{StoreError, StoreResult};
use writ_domain::webhooks::{
    AttemptRecord, ClaimedDelivery, DeliveryState, NewDelivery, NextStep, WebhookDelivery,
    WebhookEndpoint, WebhookStore,
};

use crate::batch::placeholders;
use crate::connect::Backend;
use crate::error::ResultExt;
use crate::list::{ListSpec, list};
use crate::schema;
use crate::store::SqlStore;

/// Rows per multi-row statement: 6 values each, far below both backends' parameter limits.
const CHUNK: usize = 500;

macro_rules! unrouted_sql {
    () => {
        "SELECT id, event_type FROM outbox_events WHERE webhooks_routed_at IS NULL \
         ORDER BY occurred_at, id LIMIT $1"
    };
}

macro_rules! claim_sql {
    () => {
        "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2, \
         attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE state = 'pending' \
         AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
         ORDER BY next_attempt_at, id LIMIT $4"
    };
}
macro_rules! claim_returning {
    () => {
        ") RETURNING id, event_id, endpoint_url, attempts"
    };
}

const DELIVERY_COLUMNS: &str = "t.id, t.event_id, t.event_type, t.endpoint_url, t.state, \
     t.attempts, t.last_status, t.last_error, t.last_attempt_at, t.next_attempt_at, \
     t.created_at, t.delivered_at, t.dead_lettered_at";

fn count(row: &AnyRow, column: &str) -> StoreResult<u32> {
    let n: i64 = row.try_get(column).store()?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn instant(row: &AnyRow, column: &str) -> StoreResult<Option<OffsetDateTime>> {
    Ok(row
        .try_get::<Option<i64>, _>(column)
        .store()?
        .map(from_micros))
}

fn delivery_row(row: &AnyRow) -> StoreResult<WebhookDelivery> {
    let state_name: String = row.try_get("state").store()?;
    Ok(WebhookDelivery {
        id: row.try_get("id").store()?,
        event_id: row.try_get("event_id").store()?,
        event_type: row.try_get("event_type").store()?,
        endpoint_url: row.try_get("endpoint_url").store()?,
        state: DeliveryState::parse(&state_name),
        state_name,
        attempts: count(row, "attempts")?,
        last_status: row
            .try_get::<Option<i64>, _>("last_status")
            .store()?
            .and_then(|s| u16::try_from(s).ok()),
        last_error: row.try_get("last_error").store()?,
        last_attempt_at: instant(row, "last_attempt_at")?,
        next_attempt_at: instant(row, "next_attempt_at")?,
        created_at: from_micros(row.try_get("created_at").store()?),
        delivered_at: instant(row, "delivered_at")?,
        dead_lettered_at: instant(row, "dead_lettered_at")?,
    })
}

fn event_row(row: &AnyRow) -> StoreResult<OutboxEvent> {
    let data: String = row.try_get("data").store()?;
    let recipients: String = row.try_get("recipients").store()?;
    Ok(OutboxEvent {
        id: row.try_get("id").store()?,
        event_type: row.try_get("event_type").store()?,
        occurred_at: from_micros(row.try_get("occurred_at").store()?),
        data: serde_json::from_str(&data).map_err(|e| StoreError::Other(e.to_string()))?,
        recipients: serde_json::from_str(&recipients)
            .map_err(|e| StoreError::Other(e.to_string()))?,
    })
}

async fn insert_deliveries(
    tx: &mut sqlx::Transaction<'static, Any>,
    deliveries: &[NewDelivery],
) -> StoreResult<()> {
    for chunk in deliveries.chunks(CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({}, 'pending', 0)", placeholders(i * 6 + 1, 6)))
            .collect();
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, event_id, event_type, endpoint_url, created_at, \
             next_attempt_at, state, attempts) VALUES {} \
             ON CONFLICT (event_id, endpoint_url) DO NOTHING",
            rows.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for d in chunk {
            query = query
                .bind(d.id.clone())
                .bind(d.event_id.clone())
                .bind(d.event_type.clone())
                .bind(d.endpoint_url.clone())
                .bind(to_micros(d.due_at))
                .bind(to_micros(d.due_at));
        }
        query.execute(&mut **tx).await.store()?;
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn route_webhook_events(
        &self,
        endpoints: &[WebhookEndpoint],
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<u32> {
        let mut raw = self.begin_raw().await?;
        let sql = match self.backend_kind() {
            Backend::Postgres => concat!(unrouted_sql!(), " FOR UPDATE SKIP LOCKED"),
            Backend::Sqlite => unrouted_sql!(),
        };
        let events = sqlx::query(sql)
            .bind(i64::from(limit))
            .fetch_all(&mut *raw.tx)
            .await
            .store()?;
        if events.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(events.len());
        let mut deliveries = Vec::new();
        for row in &events {
            let event_id: String = row.try_get("id").store()?;
            let event_type: String = row.try_get("event_type").store()?;
            for endpoint in endpoints.iter().filter(|e| e.wants(&event_type)) {
                deliveries.push(NewDelivery {
                    id: new_object_id(),
                    event_id: event_id.clone(),
                    event_type: event_type.clone(),
                    endpoint_url: endpoint.url.clone(),
                    due_at: now,
                });
            }
            ids.push(event_id);
        }
        insert_deliveries(&mut raw.tx, &deliveries).await?;
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "UPDATE outbox_events SET webhooks_routed_at = $1 WHERE id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_micros(now));
            for id in chunk {
                query = query.bind(id.clone());
            }
            query.execute(&mut *raw.tx).await.store()?;
        }
        raw.tx.commit().await.store()?;
        Ok(u32::try_from(ids.len()).unwrap_or(u32::MAX))
    }

    async fn claim_webhook_deliveries(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let mut raw = self.begin_raw().await?;
        let sql = match self.backend_kind() {
            Backend::Postgres => {
                concat!(claim_sql!(), " FOR UPDATE SKIP LOCKED", claim_returning!())
            }
            Backend::Sqlite => concat!(claim_sql!(), claim_returning!()),
        };
        let rows = sqlx::query(sql)
            .bind(worker.to_owned())
            .bind(to_micros(lease_until))
            .bind(to_micros(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *raw.tx)
            .await
            .store()?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut leased = Vec::with_capacity(rows.len());
        for row in &rows {
            leased.push((
                row.try_get::<String, _>("id").store()?,
                row.try_get::<String, _>("event_id").store()?,
                row.try_get::<String, _>("endpoint_url").store()?,
                count(row, "attempts")?,
            ));
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
        let mut claimed: Vec<ClaimedDelivery> = leased
            .into_iter()
            .filter_map(|(id, event_id, endpoint_url, attempts)| {
                // The foreign key cascades deletes, so the event exists while the row does.
                events
                    .iter()
                    .find(|e| e.id == event_id)
                    .map(|event| ClaimedDelivery {
                        id,
                        endpoint_url,
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

    async fn record_webhook_attempt(
        &self,
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
        let mut raw = self.begin_raw().await?;
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = $3, next_attempt_at = $4, lease_owner = NULL, \
             lease_until = NULL, last_status = $5, last_error = $6, last_attempt_at = $7, \
             delivered_at = $8, dead_lettered_at = $9 \
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
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

    async fn release_webhook_deliveries(&self, ids: &[String], worker: &str) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut raw = self.begin_raw().await?;
        let mut released = 0;
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL, \
                 attempts = attempts - 1 \
                 WHERE lease_owner = $1 AND state = 'pending' AND id IN ({})",
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

    async fn next_webhook_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        let row = sqlx::query(
            "SELECT (SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at \
             THEN lease_until ELSE next_attempt_at END) FROM webhook_deliveries \
             WHERE state = 'pending') AS next_delivery, \
             (SELECT MIN(occurred_at) FROM outbox_events WHERE webhooks_routed_at IS NULL) \
             AS next_event",
        )
        .fetch_one(self.pool())
        .await
        .store()?;
        let delivery: Option<i64> = row.try_get("next_delivery").store()?;
        let event: Option<i64> = row.try_get("next_event").store()?;
        Ok(match (delivery, event) {
            (Some(a), Some(b)) => Some(from_micros(a.min(b))),
            (a, b) => a.or(b).map(from_micros),
        })
    }

    async fn list_webhook_deliveries(
        &self,
        query: &ListQuery,
    ) -> StoreResult<Page<WebhookDelivery>> {
        list(
            self.pool(),
            ListSpec {
                schema: &schema::WEBHOOK_DELIVERY,
                from: "webhook_deliveries t",
                columns: DELIVERY_COLUMNS,
                base_where: None,
            },
            query,
            delivery_row,
        )
        .await
    }
}

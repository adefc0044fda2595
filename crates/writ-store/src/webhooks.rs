//! The webhook deliveries (DESIGN section 8): the [`WebhookStore`] over the delivery SQL shared
//! with email ([`crate::deliveries`]), one row per (event, endpoint URL) that wants the event,
//! and the administrators' list.

use async_trait::async_trait;
use sqlx::FromRow;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{StoreError, StoreResult};
use writ_domain::webhooks::{
    AttemptRecord, ClaimedDelivery, WebhookDelivery, WebhookEndpoint, WebhookStore,
};

use crate::deliveries::{self, Table};
use crate::list::{ListSpec, list};
use crate::rows::decode;
use crate::schema;
use crate::store::SqlStore;

const TABLE: Table = Table {
    name: "webhook_deliveries",
    destination: "endpoint_url",
    routed: Some("webhooks_routed_at"),
};

const DELIVERY_COLUMNS: &str = "t.id, t.event_id, t.event_type, t.endpoint_url, t.state, \
     t.attempts, t.last_status, t.last_error, t.last_attempt_at, t.next_attempt_at, \
     t.created_at, t.delivered_at, t.dead_lettered_at";

#[derive(FromRow)]
struct WebhookDeliveryRow {
    id: String,
    event_id: String,
    event_type: String,
    endpoint_url: String,
    #[sqlx(flatten)]
    progress: deliveries::ProgressRow,
}

impl TryFrom<WebhookDeliveryRow> for WebhookDelivery {
    type Error = StoreError;

    fn try_from(r: WebhookDeliveryRow) -> StoreResult<Self> {
        Ok(WebhookDelivery {
            id: r.id,
            event_id: r.event_id,
            event_type: r.event_type,
            endpoint_url: r.endpoint_url,
            progress: r.progress.try_into()?,
        })
    }
}

fn delivery_row(row: &AnyRow) -> StoreResult<WebhookDelivery> {
    decode::<WebhookDeliveryRow, _>(row)
}

#[async_trait]
impl WebhookStore for SqlStore {
    async fn route_webhook_events(
        &self,
        endpoints: &[WebhookEndpoint],
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<u32> {
        let fan_out = |event_type: &str, _: &[writ_domain::audit::Recipient]| {
            endpoints
                .iter()
                .filter(|e| e.wants(event_type))
                .map(|e| e.url.clone())
                .collect()
        };
        deliveries::route(self, &TABLE, now, limit, &fan_out).await
    }

    async fn claim_webhook_deliveries(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let rows = deliveries::claim(self, &TABLE, worker, now, lease_until, limit).await?;
        Ok(rows
            .into_iter()
            .map(|row| ClaimedDelivery {
                id: row.id,
                endpoint_url: row.destination,
                attempts: row.attempts,
                event: row.event,
            })
            .collect())
    }

    async fn record_webhook_attempt(
        &self,
        id: &str,
        worker: &str,
        record: &AttemptRecord,
    ) -> StoreResult<bool> {
        deliveries::record(self, &TABLE, id, worker, record).await
    }

    async fn release_webhook_deliveries(&self, ids: &[String], worker: &str) -> StoreResult<u64> {
        deliveries::release(self, &TABLE, ids, worker).await
    }

    async fn next_webhook_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        deliveries::next_due(self, &TABLE).await
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

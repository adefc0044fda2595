//! The email deliveries (DESIGN section 8): the [`EmailStore`] over the delivery SQL shared with
//! webhooks ([`crate::deliveries`]), one row per (event, recipient with a mail), the display
//! names a message is written with, and the administrators' list.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::FromRow;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use writ_domain::audit::Recipient;
use writ_domain::email::{ClaimedEmail, EmailDelivery, EmailStore};
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{StoreError, StoreResult};
use writ_domain::webhooks::AttemptRecord;

use crate::batch::placeholders;
use crate::deliveries::{self, Table};
use crate::error::ResultExt;
use crate::list::{ListSpec, list};
use crate::rows::decode;
use crate::schema;
use crate::store::SqlStore;

const TABLE: Table = Table {
    name: "email_deliveries",
    destination: "recipient_id",
    routed: Some("email_routed_at"),
};

/// The tables whose display names a message may show: agents and other service principals,
/// users (human targets), access packages.
const NAMED: &[&str] = &["service_principals", "users", "access_packages"];

/// The delivery and its event's recipients (for the address), on `t` and `e`.
const DELIVERY_FROM: &str = "email_deliveries t JOIN outbox_events e ON e.id = t.event_id";
const DELIVERY_COLUMNS: &str = "t.id, t.event_id, t.event_type, t.recipient_id, t.state, \
     t.attempts, t.last_status, t.last_error, t.last_attempt_at, t.next_attempt_at, \
     t.created_at, t.delivered_at, t.dead_lettered_at, e.recipients";

#[derive(FromRow)]
struct EmailDeliveryRow {
    id: String,
    event_id: String,
    event_type: String,
    recipient_id: String,
    recipients: String,
    #[sqlx(flatten)]
    progress: deliveries::ProgressRow,
}

impl TryFrom<EmailDeliveryRow> for EmailDelivery {
    type Error = StoreError;

    fn try_from(r: EmailDeliveryRow) -> StoreResult<Self> {
        // The address is the event's; an unreadable list only loses the address, not the row.
        let recipient_mail = serde_json::from_str::<Vec<Recipient>>(&r.recipients)
            .ok()
            .and_then(|all| all.into_iter().find(|p| p.id == r.recipient_id))
            .and_then(|p| p.mail);
        Ok(EmailDelivery {
            id: r.id,
            event_id: r.event_id,
            event_type: r.event_type,
            recipient_id: r.recipient_id,
            recipient_mail,
            progress: r.progress.try_into()?,
        })
    }
}

fn delivery_row(row: &AnyRow) -> StoreResult<EmailDelivery> {
    decode::<EmailDeliveryRow, _>(row)
}

#[async_trait]
impl EmailStore for SqlStore {
    async fn route_email_events(
        &self,
        event_types: &[&str],
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<u32> {
        let fan_out = |event_type: &str, recipients: &[Recipient]| {
            if !event_types.contains(&event_type) {
                return Vec::new();
            }
            let mut ids: Vec<String> = recipients
                .iter()
                .filter(|r| r.mail.as_deref().is_some_and(|m| !m.trim().is_empty()))
                .map(|r| r.id.clone())
                .collect();
            // One message per recipient even if the resolver listed one twice.
            ids.sort();
            ids.dedup();
            ids
        };
        deliveries::route(self, &TABLE, now, limit, &fan_out).await
    }

    async fn claim_email_deliveries(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedEmail>> {
        let rows = deliveries::claim(self, &TABLE, worker, now, lease_until, limit).await?;
        Ok(rows
            .into_iter()
            .map(|row| ClaimedEmail {
                id: row.id,
                recipient_id: row.destination,
                attempts: row.attempts,
                event: row.event,
            })
            .collect())
    }

    async fn record_email_attempt(
        &self,
        id: &str,
        worker: &str,
        record: &AttemptRecord,
    ) -> StoreResult<bool> {
        deliveries::record(self, &TABLE, id, worker, record).await
    }

    async fn release_email_deliveries(&self, ids: &[String], worker: &str) -> StoreResult<u64> {
        deliveries::release(self, &TABLE, ids, worker).await
    }

    async fn next_email_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        deliveries::next_due(self, &TABLE).await
    }

    async fn display_names(&self, ids: &[String]) -> StoreResult<HashMap<String, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let parts: Vec<String> = NAMED
            .iter()
            .map(|table| {
                format!(
                    "SELECT id, display_name FROM {table} WHERE id IN ({})",
                    placeholders(1, ids.len())
                )
            })
            .collect();
        let mut query = sqlx::query(sqlx::AssertSqlSafe(parts.join(" UNION ALL ")));
        for id in ids {
            query = query.bind(id.clone());
        }
        let rows = query.fetch_all(self.pool()).await.store()?;
        let mut names = HashMap::with_capacity(rows.len());
        for row in &rows {
            // (id, display_name), in the order of the select list.
            let (id, name) = <(String, Option<String>)>::from_row(row).store()?;
            if let Some(name) = name {
                names.insert(id, name);
            }
        }
        Ok(names)
    }

    async fn list_email_deliveries(&self, query: &ListQuery) -> StoreResult<Page<EmailDelivery>> {
        list(
            self.pool(),
            ListSpec {
                schema: &schema::EMAIL_DELIVERY,
                from: DELIVERY_FROM,
                columns: DELIVERY_COLUMNS,
                base_where: None,
            },
            query,
            delivery_row,
        )
        .await
    }

    async fn email_delivery(&self, id: &str) -> StoreResult<Option<EmailDelivery>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE t.id = $1"
        )))
        .bind(id.to_owned())
        .fetch_optional(self.pool())
        .await
        .store()?;
        row.as_ref().map(delivery_row).transpose()
    }
}

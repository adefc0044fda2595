//! The email deliveries (DESIGN section 8): the [`EmailStore`] over the delivery SQL shared with
//! webhooks ([`crate::deliveries`]), one row per (event, recipient with a mail), and the display
//! names a message is written with.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::Row;
use time::OffsetDateTime;
use writ_domain::audit::Recipient;
use writ_domain::email::{ClaimedEmail, EmailStore};
use writ_domain::store::StoreResult;
use writ_domain::webhooks::AttemptRecord;

use crate::batch::placeholders;
use crate::deliveries::{self, Table};
use crate::error::ResultExt;
use crate::store::SqlStore;

const TABLE: Table = Table {
    name: "email_deliveries",
    destination: "recipient_id",
    routed: Some("email_routed_at"),
};

/// The tables whose display names a message may show: agents and other service principals,
/// users (human targets), access packages.
const NAMED: &[&str] = &["service_principals", "users", "access_packages"];

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
            let name: Option<String> = row.try_get("display_name").store()?;
            if let Some(name) = name {
                names.insert(row.try_get::<String, _>("id").store()?, name);
            }
        }
        Ok(names)
    }
}

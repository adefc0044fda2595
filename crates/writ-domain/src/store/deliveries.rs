//! The delivery queues' part of the storage port: the webhook, email and custom extension callout
//! queues ([`WebhookStore`], [`EmailStore`], [`CalloutQueueStore`]), reached through
//! [`JobStore`]'s `webhooks()`, `email()` and `callout_queue()` on the same database. They
//! exchange plain data of the model (`model::{webhook, email, callout, delivery}`); the
//! dispatchers that drive them are the services' (`webhooks`, `email`, `entitlement::callouts`).

use std::collections::HashMap;

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;

/// The webhook deliveries' storage, what the webhook dispatcher (`webhooks`) needs. Each call
/// is its own transaction.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Routes up to `limit` events not routed yet, oldest first: writes a pending delivery due
    /// at `now` for each endpoint that wants the event (none twice for one event and URL) and
    /// marks the events routed, in one transaction. Events another replica is routing are
    /// skipped. Returns how many events were routed.
    async fn route_webhook_events(
        &self,
        endpoints: &[WebhookEndpoint],
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<u32>;

    /// Leases up to `limit` pending deliveries due at `now` and not leased by a live lease, to
    /// `worker` until `lease_until`, counting the attempt; oldest due first.
    async fn claim_webhook_deliveries(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;

    /// Records an attempt of a delivery `worker` still holds the lease of and releases the
    /// lease; `false` when the lease was lost (the record is then dropped).
    async fn record_webhook_attempt(
        &self,
        id: &str,
        worker: &str,
        record: &AttemptRecord,
    ) -> StoreResult<bool>;

    /// Gives leased deliveries back unsent (a shutdown), uncounting their attempt.
    async fn release_webhook_deliveries(&self, ids: &[String], worker: &str) -> StoreResult<u64>;

    /// When the dispatcher next has something to do: now-ish if an event waits to be routed,
    /// else the earliest next attempt of a pending delivery (or its lease's end).
    async fn next_webhook_due(&self) -> StoreResult<Option<OffsetDateTime>>;

    /// Deliveries, newest first unless `$orderby` says otherwise; `$filter` on `state`,
    /// `eventType`, `eventId`, `endpointUrl` and the instants.
    async fn list_webhook_deliveries(
        &self,
        query: &ListQuery,
    ) -> StoreResult<Page<WebhookDelivery>>;
}

/// The email deliveries' storage, what the email dispatcher (`email`) needs. Each call is its
/// own transaction.
#[async_trait]
pub trait EmailStore: Send + Sync {
    /// Routes up to `limit` events not routed to email yet, oldest first: a pending delivery
    /// due at `now` per recipient with a `mail` of each event whose type is in `event_types`
    /// (none twice for one event and recipient), marking the events routed in the same
    /// transaction.
    async fn route_email_events(
        &self,
        event_types: &[&str],
        now: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<u32>;

    /// Leases up to `limit` due pending deliveries to `worker` until `lease_until`.
    async fn claim_email_deliveries(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedEmail>>;

    /// Records an attempt under `worker`'s lease; `false` when the lease was lost.
    async fn record_email_attempt(
        &self,
        id: &str,
        worker: &str,
        record: &AttemptRecord,
    ) -> StoreResult<bool>;

    /// Gives leased deliveries back unsent (a shutdown), uncounting their attempt.
    async fn release_email_deliveries(&self, ids: &[String], worker: &str) -> StoreResult<u64>;

    /// When the email dispatcher next has something to do.
    async fn next_email_due(&self) -> StoreResult<Option<OffsetDateTime>>;

    /// Display names of the given directory objects and access packages, by id; ids not found
    /// (deleted since the event) are absent.
    async fn display_names(&self, ids: &[String]) -> StoreResult<HashMap<String, String>>;

    /// Deliveries in id order unless `$orderby` says otherwise; `$filter` on `id`, `state`,
    /// `eventId`, `eventType`, `recipientId` and the instants.
    async fn list_email_deliveries(&self, query: &ListQuery) -> StoreResult<Page<EmailDelivery>>;

    /// One delivery by id.
    async fn email_delivery(&self, id: &str) -> StoreResult<Option<EmailDelivery>>;
}

/// The custom extension callouts' queue, what the callout dispatcher (`entitlement::callouts`)
/// needs: callout rows are written in the transaction that reaches their stage
/// ([`EntitlementStoreTx`]), then claimed, retried and dead-lettered here like webhooks.
#[async_trait]
pub trait CalloutQueueStore: Send + Sync {
    async fn claim_callouts(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedCallout>>;
    async fn record_callout_attempt(
        &self,
        id: &str,
        worker: &str,
        record: &AttemptRecord,
    ) -> StoreResult<bool>;
    async fn release_callouts(&self, ids: &[String], worker: &str) -> StoreResult<u64>;
    async fn next_callout_due(&self) -> StoreResult<Option<OffsetDateTime>>;
}

-- Writ schema, version 17: webhook deliveries (DESIGN section 8). Each outbox event is routed
-- once to the configured endpoints that want it: one delivery row per (event, endpoint URL),
-- written with the event's `webhooks_routed_at` in one transaction. Workers claim due pending
-- deliveries with a lease, as they claim jobs, and record each attempt: `delivered` after a
-- 2xx, `pending` with a later `next_attempt_at` to retry, `deadLettered` to give up.

-- Events written before webhooks existed are not replayed to an endpoint configured later.
ALTER TABLE outbox_events ADD COLUMN webhooks_routed_at BIGINT;
UPDATE outbox_events SET webhooks_routed_at = occurred_at;
CREATE INDEX outbox_events_webhooks_unrouted ON outbox_events (occurred_at, id)
    WHERE webhooks_routed_at IS NULL;

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    endpoint_url TEXT NOT NULL,
    -- pending, delivered, deadLettered
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- When a pending delivery is next due; NULL once it is delivered or dead-lettered.
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    last_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    dead_lettered_at BIGINT,
    -- An event goes to one URL once, however often routing is repeated.
    UNIQUE (event_id, endpoint_url)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (state, created_at, id);

-- Writ schema, version 19: notification email (DESIGN section 8). Each outbox event is routed
-- once to email: one delivery row per (event, recipient with a mail) for the event types that
-- are mailed, written with the event's `email_routed_at` in one transaction. Workers claim,
-- retry and dead-letter them as they do webhook deliveries (version 17); `last_status` holds
-- the SMTP server's reply code.

-- Events written before email existed are not mailed when an SMTP server is configured later.
ALTER TABLE outbox_events ADD COLUMN email_routed_at BIGINT;
UPDATE outbox_events SET email_routed_at = occurred_at;
CREATE INDEX outbox_events_email_unrouted ON outbox_events (occurred_at, id)
    WHERE email_routed_at IS NULL;

CREATE TABLE email_deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    -- The recipient's directory id; the address is the event's (its `recipients`).
    recipient_id TEXT NOT NULL,
    -- pending, delivered, deadLettered
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    last_attempt_at BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    dead_lettered_at BIGINT,
    -- A recipient gets an event once, however often routing is repeated.
    UNIQUE (event_id, recipient_id)
);
CREATE INDEX email_deliveries_due ON email_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX email_deliveries_state ON email_deliveries (state, created_at, id);

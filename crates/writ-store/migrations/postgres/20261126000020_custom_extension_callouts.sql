-- Writ schema, version 20: calls to custom workflow extensions (DESIGN section 8). A policy's
-- `customExtensionStageSettings` make one callout row per stage reached, written in the
-- transaction of the change that reached it with the payload as it will be sent, so a resend
-- after a crash carries the same body and stage-instance id. Workers claim, retry and
-- dead-letter the rows as they do webhook deliveries (version 17).

CREATE TABLE custom_extension_callouts (
    -- Graph's customExtensionStageInstanceId: random, 128 bits, the secret `resume` must carry.
    id TEXT PRIMARY KEY,
    -- Request stages name the request; assignment stages (and the removal) the assignment.
    request_id TEXT REFERENCES assignment_requests (id) ON DELETE CASCADE,
    assignment_id TEXT,
    custom_extension_id TEXT NOT NULL,
    catalog_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    -- 1: launch and wait (the request holds at `WaitingForCallback`).
    waits BIGINT NOT NULL,
    -- none, waiting, received, timedOut, failed
    callback_state TEXT NOT NULL,
    callback_detail TEXT,
    endpoint_url TEXT NOT NULL,
    -- The audience of the callout's token (`azureAdTokenAuthentication.resourceId`), if any.
    token_audience TEXT,
    timeout_ms BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    payload TEXT NOT NULL,
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
    callback_at BIGINT
);
CREATE INDEX custom_extension_callouts_due ON custom_extension_callouts (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX custom_extension_callouts_request ON custom_extension_callouts (request_id, created_at);
CREATE INDEX custom_extension_callouts_assignment
    ON custom_extension_callouts (assignment_id, created_at);

-- Writ schema (issue 16, DESIGN section 14): browser sessions and device authorizations.
--
-- A browser session is known by the SHA-256 hash of its 256-bit random id (the cookie's value
-- never reaches the database). It ends when idle or old (`identity::sessions` decides), when its
-- user signs out, or at its next use once the user is disabled or deleted (the cascade below
-- removes it with the user at once).
CREATE TABLE browser_sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- Wrong user codes entered at /devicelogin in this session (bounded there).
    code_failures BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX browser_sessions_user ON browser_sessions (user_id);
CREATE INDEX browser_sessions_last_seen ON browser_sessions (last_seen_at);

-- A device authorization (RFC 8628): the device code and the user code are both stored as
-- SHA-256 hashes (the user code normalized first). `state` is pending, approved, denied or spent.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    interval_secs BIGINT NOT NULL,
    last_polled_at BIGINT,
    state TEXT NOT NULL,
    user_id TEXT REFERENCES directory_objects (id) ON DELETE CASCADE,
    auth_time BIGINT,
    decided_at BIGINT
);
CREATE INDEX device_codes_expires ON device_codes (expires_at);

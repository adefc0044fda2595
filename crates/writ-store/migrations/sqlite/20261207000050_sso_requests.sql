-- Writ schema (issue 16, DESIGN section 14): single sign-on round trips in flight.
--
-- Between sending a browser to the upstream OpenID provider and its callback, Writ keeps the
-- request's `state`, `nonce` and PKCE verifier. The row is found by the SHA-256 hash of a 256-bit
-- random id that only the browser's cookie holds, and `sealed` is those three values encrypted
-- (AES-256-GCM) under a key derived from that id: the database alone can neither find a browser's
-- row nor finish its sign-in. A callback deletes the row it uses (once); expired rows are swept.
CREATE TABLE sso_requests (
    id_hash TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    return_to TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_requests_expires ON sso_requests (expires_at);

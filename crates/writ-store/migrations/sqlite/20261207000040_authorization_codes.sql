-- Writ schema (issue 16, DESIGN section 14): authorization codes of the `authorize` endpoint
-- (RFC 6749 section 4.1, PKCE RFC 7636).
--
-- A code is a 256-bit random value stored only as its SHA-256 hash. It is bound to the client,
-- the exact redirect URI, the person, the scope, the OpenID `nonce`, the PKCE challenge (itself
-- the S256 hash of the verifier), the time the person signed in and the session (by the hash the
-- session row is found by; not a foreign key: the code outlives a sign-out by its 60 s at most,
-- and the grant checks the user, not the session). `redeemed_at` is set once, by the grant that
-- spends it; a second redemption finds it set and revokes what the first issued, named by
-- `token_family` (the refresh token family recorded at issue, when there is one).
CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time BIGINT NOT NULL,
    session_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    redeemed_at BIGINT,
    token_family TEXT
);
CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);

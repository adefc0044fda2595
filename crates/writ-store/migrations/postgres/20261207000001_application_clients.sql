-- Writ schema (issue 16): applications as OAuth clients. `client_settings` holds Graph's
-- `publicClient`, `spa` and `web` registrations as one JSON document (the domain's
-- `ClientRegistration`); rows written before this version have none (`{}`).
ALTER TABLE applications ADD COLUMN client_settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE applications ADD COLUMN is_fallback_public_client BOOLEAN NOT NULL DEFAULT FALSE;

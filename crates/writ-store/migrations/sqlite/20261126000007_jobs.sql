-- Writ schema, version 7: the job queue (DESIGN section 7). A job is written in the transaction
-- of its cause; workers claim due rows with a lease, delete them when done, push `due_at` back
-- to retry, and park them (kept, with the error) after too many attempts.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    -- One queued job per cause: enqueueing the same work twice writes one row.
    dedupe_key TEXT NOT NULL UNIQUE,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT,
    last_error TEXT,
    parked_at BIGINT
);
CREATE INDEX jobs_due ON jobs (due_at) WHERE parked_at IS NULL;
CREATE INDEX jobs_subject ON jobs (subject_id);

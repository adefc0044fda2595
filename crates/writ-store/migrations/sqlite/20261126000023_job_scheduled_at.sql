-- Writ schema, version 23 (issue 14): the instant a job was scheduled for, which a failed attempt
-- does not move (it moves `due_at` to the retry instant). The `expiryNotice` handler finds its
-- lead time by it (`end - lead = scheduled_at`); matched by `due_at`, a retried notice found no
-- lead time and was dropped. Written at enqueue. Nullable so that a row written without it (by a
-- build before version 23) reads as its `due_at`.
ALTER TABLE jobs ADD COLUMN scheduled_at BIGINT;
UPDATE jobs SET scheduled_at = due_at;
-- A notice queued before this version that already failed has lost its instant from `due_at`;
-- its dedupe key (`kind:subject:micros`, `NewJob::new`) still names it. Read once here, only
-- where the key has exactly that form.
UPDATE jobs
SET scheduled_at = CAST(substr(dedupe_key, length(kind) + length(subject_id) + 3) AS INTEGER)
WHERE kind = 'expiryNotice' AND last_error IS NOT NULL
    AND substr(dedupe_key, 1, length(kind) + length(subject_id) + 2) = kind || ':' || subject_id || ':'
    AND length(dedupe_key) - length(kind) - length(subject_id) - 2 BETWEEN 1 AND 18
    AND substr(dedupe_key, length(kind) + length(subject_id) + 3) NOT GLOB '*[^0-9]*';

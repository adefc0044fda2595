-- Writ schema, version 18: the claim takes due jobs `ORDER BY due_at, id`; with the index on
-- `due_at` alone, many jobs due at one instant (an expiry storm) were sorted in full by id on
-- every claim. Ending the index in `id` makes each claim a range read of its first rows.
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (due_at, id) WHERE parked_at IS NULL;

-- Writ schema, version 30 (issue 20, the expiry storm): two index entries that every expiry
-- wrote and no read looks up.
--
-- * `outbox_events_pending` indexed `dispatched_at`, which nothing writes or reads any more since
--   the webhook and email routers mark their own columns (migrations 17 and 19, each with its
--   partial index of unrouted events); every event wrote one entry of NULL into it.
-- * `audit_log_chain_seq` holds every record's `chain_seq`, NULL until the chainer links it, so
--   each record wrote a NULL entry at its change and moved it when linked. The reads by
--   sequence compare with a value or say `chain_seq IS NOT NULL` (the chained walk of `writ
--   audit verify` and `export`), which implies the partial index's condition on both
--   databases; it stays unique, the second guard of the chain's one order.
DROP INDEX outbox_events_pending;
DROP INDEX audit_log_chain_seq;
CREATE UNIQUE INDEX audit_log_chain_seq ON audit_log (chain_seq) WHERE chain_seq IS NOT NULL;

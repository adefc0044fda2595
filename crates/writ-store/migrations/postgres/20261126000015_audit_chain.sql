-- Writ schema, version 15: the audit log becomes readable and tamper-evident (issue 8).
--
-- * `initiated_by_user_id`, `initiated_by_app_id` (the initiator's id by kind, derived from
--   `initiated_by`) and `catalog_id` are columns so that `initiatedBy/user/id`,
--   `initiatedBy/app/servicePrincipalId` and the catalog-scoped readers' restriction are indexed
--   conditions rather than JSON lookups.
-- * `audit_log_targets` lists each record's target ids, so that
--   `targetResources/any(t: t/id eq '…')` is an indexed `EXISTS`; it is derived from
--   `target_resources` (which the chain seals) and written in the same transaction.
-- * `audit_chain_head` is the one row the chainer advances by compare-and-set, so replicas
--   sharing a database link records in one order; `chain_seq` is unique as a second guard.
ALTER TABLE audit_log ADD COLUMN initiated_by_user_id TEXT;
ALTER TABLE audit_log ADD COLUMN initiated_by_app_id TEXT;
ALTER TABLE audit_log ADD COLUMN catalog_id TEXT;
UPDATE audit_log SET
    initiated_by_user_id = CASE WHEN (initiated_by::json) ->> 'kind' = 'user' THEN initiated_by_id END,
    initiated_by_app_id = CASE WHEN (initiated_by::json) ->> 'kind' = 'app' THEN initiated_by_id END;

CREATE UNIQUE INDEX audit_log_chain_seq ON audit_log (chain_seq);
CREATE INDEX audit_log_unchained ON audit_log (activity_at, id) WHERE chain_seq IS NULL;
CREATE INDEX audit_log_catalog ON audit_log (catalog_id, activity_at, id);
CREATE INDEX audit_log_user ON audit_log (initiated_by_user_id, activity_at, id);
CREATE INDEX audit_log_app ON audit_log (initiated_by_app_id, activity_at, id);

CREATE TABLE audit_log_targets (
    audit_id TEXT NOT NULL REFERENCES audit_log (id) ON DELETE CASCADE,
    target_id TEXT NOT NULL,
    PRIMARY KEY (audit_id, target_id)
);
CREATE INDEX audit_log_targets_target ON audit_log_targets (target_id, audit_id);
INSERT INTO audit_log_targets (audit_id, target_id)
    SELECT DISTINCT a.id, t.value ->> 'id'
    FROM audit_log a, json_array_elements(a.target_resources::json) t (value)
    WHERE t.value ->> 'id' IS NOT NULL;

CREATE TABLE audit_chain_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    mac TEXT NOT NULL
);
INSERT INTO audit_chain_head (id, seq, mac) VALUES (1, 0, '');

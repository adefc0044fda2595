-- Writ schema, version 21: the audit log's indexes by initiating user and by initiating app hold
-- only the records that have one. A record names a user or an app, never both, and the system's
-- own records (every expiry) name neither, so each record wrote one or two entries of NULL that
-- no read looks up: a filter `initiatedBy/user/id eq '…'` compares with a value, which implies
-- the column is not null, and both databases use a partial index for it.
DROP INDEX audit_log_user;
DROP INDEX audit_log_app;
CREATE INDEX audit_log_user ON audit_log (initiated_by_user_id, activity_at, id)
    WHERE initiated_by_user_id IS NOT NULL;
CREATE INDEX audit_log_app ON audit_log (initiated_by_app_id, activity_at, id)
    WHERE initiated_by_app_id IS NOT NULL;

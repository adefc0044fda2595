-- Writ schema, version 10: every kind of grant an access package delivers is held per holder
-- (DESIGN section 5, invariants 2 and 3). Group ownership and directory role assignments gain the
-- `holder` (`direct` for administrators' own assignments, else the assignment id) and the end
-- time that every deciding read filters on; delivered delegated grants are unique per holder so
-- a retried delivery finds what an earlier attempt applied. Releasing a holder's grants is a
-- lookup by holder in each table, hence the holder indexes.
ALTER TABLE group_owners ADD COLUMN holder TEXT NOT NULL DEFAULT 'direct';
ALTER TABLE group_owners ALTER COLUMN holder DROP DEFAULT;
ALTER TABLE group_owners ADD COLUMN ends_at BIGINT;
ALTER TABLE group_owners DROP CONSTRAINT group_owners_pkey;
ALTER TABLE group_owners ADD PRIMARY KEY (group_id, owner_id, holder);
CREATE INDEX group_owners_holder ON group_owners (holder);

ALTER TABLE role_assignments ADD COLUMN holder TEXT NOT NULL DEFAULT 'direct';
ALTER TABLE role_assignments ALTER COLUMN holder DROP DEFAULT;
ALTER TABLE role_assignments
    DROP CONSTRAINT role_assignments_role_definition_id_principal_id_directory__key;
ALTER TABLE role_assignments ADD CONSTRAINT role_assignments_held
    UNIQUE (role_definition_id, principal_id, directory_scope_id, holder);
CREATE INDEX role_assignments_holder ON role_assignments (holder);

CREATE UNIQUE INDEX oauth2_permission_grants_held
    ON oauth2_permission_grants (client_id, principal_id, resource_id, scope, holder)
    WHERE holder <> 'direct';
CREATE INDEX oauth2_permission_grants_holder ON oauth2_permission_grants (holder);
CREATE INDEX group_members_holder ON group_members (holder);
CREATE INDEX app_role_assignments_holder ON app_role_assignments (holder);

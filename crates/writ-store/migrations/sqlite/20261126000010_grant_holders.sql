-- Writ schema, version 10: every kind of grant an access package delivers is held per holder
-- (DESIGN section 5, invariants 2 and 3). Group ownership and directory role assignments gain the
-- `holder` (`direct` for administrators' own assignments, else the assignment id) and the end
-- time that every deciding read filters on; delivered delegated grants are unique per holder so
-- a retried delivery finds what an earlier attempt applied. Releasing a holder's grants is a
-- lookup by holder in each table, hence the holder indexes.
CREATE TABLE group_owners_v10 (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    ends_at BIGINT,
    PRIMARY KEY (group_id, owner_id, holder)
);
INSERT INTO group_owners_v10 (group_id, owner_id, holder, ends_at)
    SELECT group_id, owner_id, 'direct', NULL FROM group_owners;
DROP TABLE group_owners;
ALTER TABLE group_owners_v10 RENAME TO group_owners;
CREATE INDEX group_owners_owner ON group_owners (owner_id);
CREATE INDEX group_owners_holder ON group_owners (holder);

CREATE TABLE role_assignments_v10 (
    id TEXT PRIMARY KEY,
    role_definition_id TEXT NOT NULL,
    principal_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    directory_scope_id TEXT NOT NULL,
    holder TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ends_at BIGINT,
    UNIQUE (role_definition_id, principal_id, directory_scope_id, holder)
);
INSERT INTO role_assignments_v10 (id, role_definition_id, principal_id, directory_scope_id,
    holder, created_at, ends_at)
    SELECT id, role_definition_id, principal_id, directory_scope_id, 'direct', created_at, ends_at
    FROM role_assignments;
DROP TABLE role_assignments;
ALTER TABLE role_assignments_v10 RENAME TO role_assignments;
CREATE INDEX role_assignments_principal ON role_assignments (principal_id);
CREATE INDEX role_assignments_holder ON role_assignments (holder);

CREATE UNIQUE INDEX oauth2_permission_grants_held
    ON oauth2_permission_grants (client_id, principal_id, resource_id, scope, holder)
    WHERE holder <> 'direct';
CREATE INDEX oauth2_permission_grants_holder ON oauth2_permission_grants (holder);
CREATE INDEX group_members_holder ON group_members (holder);
CREATE INDEX app_role_assignments_holder ON app_role_assignments (holder);

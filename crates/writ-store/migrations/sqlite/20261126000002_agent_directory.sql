-- Writ schema, version 2: applications and service principals in full, Agent ID (blueprints,
-- blueprint principals, agent identities, agent users), sponsors, owners, app role assignments,
-- delegated permission grants, and credentials that a service principal (an agent identity) can
-- hold itself.

ALTER TABLE applications ADD COLUMN kind TEXT NOT NULL DEFAULT 'application';
ALTER TABLE applications ADD COLUMN description TEXT;
ALTER TABLE applications ADD COLUMN app_roles TEXT NOT NULL DEFAULT '[]';
ALTER TABLE applications ADD COLUMN oauth2_permission_scopes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE applications ADD COLUMN identifier_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE applications ADD COLUMN sign_in_audience TEXT NOT NULL DEFAULT 'AzureADMyOrg';
ALTER TABLE applications ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE INDEX applications_display_name ON applications (display_name, id);

ALTER TABLE service_principals ADD COLUMN kind TEXT NOT NULL DEFAULT 'servicePrincipal';
ALTER TABLE service_principals ADD COLUMN description TEXT;
ALTER TABLE service_principals ADD COLUMN agent_identity_blueprint_id TEXT;
ALTER TABLE service_principals ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
CREATE INDEX service_principals_display_name ON service_principals (display_name, id);
CREATE INDEX service_principals_blueprint ON service_principals (agent_identity_blueprint_id);

ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN identity_parent_id TEXT REFERENCES service_principals (id);
CREATE INDEX users_identity_parent ON users (identity_parent_id);

-- Credentials owned by an application or, for agent identities, by the service principal itself.
CREATE TABLE password_credentials (
    key_id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    hint TEXT NOT NULL,
    display_name TEXT,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL
);
CREATE INDEX password_credentials_owner ON password_credentials (owner_id);
INSERT INTO password_credentials (key_id, owner_id, secret_hash, hint, display_name, start_at, end_at)
    SELECT key_id, application_id, secret_hash, hint, display_name, start_at, end_at FROM client_secrets;
DROP TABLE client_secrets;

-- Sponsors of agent identities, blueprints, blueprint principals, users and agent users.
CREATE TABLE sponsors (
    object_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    sponsor_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    PRIMARY KEY (object_id, sponsor_id)
);
CREATE INDEX sponsors_sponsor ON sponsors (sponsor_id);

-- Owners of applications and service principals (groups keep group_owners).
CREATE TABLE object_owners (
    object_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    PRIMARY KEY (object_id, owner_id)
);
CREATE INDEX object_owners_owner ON object_owners (owner_id);

-- App role assignments, one row per holder (`direct` for administrators' assignments), ending at
-- `ends_at` when a package delivered them.
CREATE TABLE app_role_assignments (
    id TEXT PRIMARY KEY,
    app_role_id TEXT NOT NULL,
    principal_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL REFERENCES service_principals (id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    ends_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (principal_id, resource_id, app_role_id, holder)
);
CREATE INDEX app_role_assignments_resource ON app_role_assignments (resource_id);

CREATE TABLE oauth2_permission_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES service_principals (id) ON DELETE CASCADE,
    consent_type TEXT NOT NULL,
    principal_id TEXT REFERENCES directory_objects (id) ON DELETE CASCADE,
    resource_id TEXT NOT NULL REFERENCES service_principals (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    holder TEXT NOT NULL,
    ends_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth2_permission_grants_client ON oauth2_permission_grants (client_id);

-- Writ schema, version 3: entitlement-management catalogs, their resources (with the roles and
-- scopes discovered from the directory), access packages and the resource roles they grant, and
-- catalog-scoped administrative role assignments.

CREATE TABLE catalogs (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    description TEXT,
    catalog_type TEXT NOT NULL,
    state TEXT NOT NULL,
    is_externally_visible INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX catalogs_display_name ON catalogs (display_name, id);

-- Entitlement-management roles: `catalog_id` NULL means every catalog (appScopeId '/').
CREATE TABLE em_role_assignments (
    id TEXT PRIMARY KEY,
    role_definition_id TEXT NOT NULL,
    principal_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    catalog_id TEXT REFERENCES catalogs (id) ON DELETE CASCADE,
    app_scope_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (role_definition_id, principal_id, app_scope_id)
);
CREATE INDEX em_role_assignments_principal ON em_role_assignments (principal_id);
CREATE INDEX em_role_assignments_catalog ON em_role_assignments (catalog_id);

CREATE TABLE catalog_resources (
    id TEXT PRIMARY KEY,
    catalog_id TEXT NOT NULL REFERENCES catalogs (id) ON DELETE CASCADE,
    origin_system TEXT NOT NULL,
    origin_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    UNIQUE (catalog_id, origin_system, origin_id)
);

CREATE TABLE resource_roles (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES catalog_resources (id) ON DELETE CASCADE,
    catalog_id TEXT NOT NULL REFERENCES catalogs (id) ON DELETE CASCADE,
    origin_system TEXT NOT NULL,
    origin_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    role_type TEXT,
    -- For app roles: the member types they can be assigned to (JSON), to refuse undeliverable ones.
    allowed_member_types TEXT NOT NULL,
    UNIQUE (resource_id, origin_id)
);
CREATE INDEX resource_roles_catalog ON resource_roles (catalog_id);

CREATE TABLE resource_scopes (
    id TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES catalog_resources (id) ON DELETE CASCADE,
    catalog_id TEXT NOT NULL REFERENCES catalogs (id) ON DELETE CASCADE,
    origin_system TEXT NOT NULL,
    origin_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    is_root_scope INTEGER NOT NULL,
    UNIQUE (resource_id, origin_id)
);
CREATE INDEX resource_scopes_catalog ON resource_scopes (catalog_id);

CREATE TABLE resource_requests (
    id TEXT PRIMARY KEY,
    catalog_id TEXT NOT NULL,
    resource_id TEXT,
    request_type TEXT NOT NULL,
    state TEXT NOT NULL,
    origin_system TEXT NOT NULL,
    origin_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE access_packages (
    id TEXT PRIMARY KEY,
    catalog_id TEXT NOT NULL REFERENCES catalogs (id),
    display_name TEXT NOT NULL,
    description TEXT,
    is_hidden INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX access_packages_catalog ON access_packages (catalog_id, id);
CREATE INDEX access_packages_display_name ON access_packages (display_name, id);

-- The resource roles a package grants; the id is Graph's `{roleId}_{scopeId}`. Roles and scopes
-- are not cascaded away: a resource in use cannot be removed.
CREATE TABLE package_role_scopes (
    package_id TEXT NOT NULL REFERENCES access_packages (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES resource_roles (id),
    scope_id TEXT NOT NULL REFERENCES resource_scopes (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (package_id, id)
);
CREATE INDEX package_role_scopes_role ON package_role_scopes (role_id);

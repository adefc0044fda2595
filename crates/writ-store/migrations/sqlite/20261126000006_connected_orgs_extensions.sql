-- Writ schema, version 6: connected organizations with their internal and external sponsors, and
-- the custom workflow extensions of catalogs (stored and validated; called out to later).

CREATE TABLE connected_organizations (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    description TEXT,
    state TEXT NOT NULL,
    identity_sources TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX connected_organizations_display_name ON connected_organizations (display_name, id);

CREATE TABLE connected_organization_sponsors (
    organization_id TEXT NOT NULL REFERENCES connected_organizations (id) ON DELETE CASCADE,
    sponsor_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    -- `internal` or `external`.
    kind TEXT NOT NULL,
    PRIMARY KEY (organization_id, sponsor_id, kind)
);

CREATE TABLE custom_extensions (
    id TEXT PRIMARY KEY,
    catalog_id TEXT NOT NULL REFERENCES catalogs (id) ON DELETE CASCADE,
    -- The Graph type: accessPackageAssignmentRequestWorkflowExtension or
    -- accessPackageAssignmentWorkflowExtension.
    kind TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    settings TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    modified_by TEXT,
    modified_at BIGINT NOT NULL
);
CREATE INDEX custom_extensions_catalog ON custom_extensions (catalog_id, id);

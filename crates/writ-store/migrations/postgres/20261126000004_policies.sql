-- Writ schema, version 4: access package assignment policies. Nested settings (subject sets,
-- approval stages, questions, expiration) are one validated JSON document; the principals the
-- document names are indexed in policy_subjects so that deleting a principal can take it out of
-- every policy in the same transaction.

CREATE TABLE assignment_policies (
    id TEXT PRIMARY KEY,
    access_package_id TEXT NOT NULL REFERENCES access_packages (id) ON DELETE CASCADE,
    catalog_id TEXT NOT NULL REFERENCES catalogs (id),
    display_name TEXT NOT NULL,
    description TEXT,
    allowed_target_scope TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX assignment_policies_package ON assignment_policies (access_package_id, id);
CREATE INDEX assignment_policies_catalog ON assignment_policies (catalog_id);

CREATE TABLE policy_subjects (
    policy_id TEXT NOT NULL REFERENCES assignment_policies (id) ON DELETE CASCADE,
    object_id TEXT NOT NULL,
    PRIMARY KEY (policy_id, object_id)
);
CREATE INDEX policy_subjects_object ON policy_subjects (object_id);

-- Writ schema, version 1: the directory, credentials, roles, settings, idempotency, audit, outbox.
-- SQLite: booleans are INTEGER 0/1 (the Any driver reads SQLite BOOLEAN columns poorly).
-- Instants are BIGINT microseconds since the Unix epoch (UTC); nested data is JSON text.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Every object of the directory, whatever its type: one id space, one place to look a type up.
CREATE TABLE directory_objects (
    id TEXT PRIMARY KEY,
    object_type TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY REFERENCES directory_objects (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    user_principal_name TEXT NOT NULL,
    mail_nickname TEXT NOT NULL,
    account_enabled INTEGER NOT NULL,
    given_name TEXT,
    surname TEXT,
    mail TEXT,
    job_title TEXT,
    department TEXT,
    office_location TEXT,
    mobile_phone TEXT,
    business_phones TEXT NOT NULL,
    employee_id TEXT,
    company_name TEXT,
    usage_location TEXT,
    preferred_language TEXT,
    user_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    manager_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    password_hash TEXT,
    force_change_password INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_upn ON users (lower(user_principal_name));
CREATE INDEX users_display_name ON users (display_name, id);
CREATE INDEX users_created_at ON users (created_at, id);
CREATE INDEX users_manager ON users (manager_id);

CREATE TABLE groups (
    id TEXT PRIMARY KEY REFERENCES directory_objects (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    description TEXT,
    mail_nickname TEXT NOT NULL,
    mail_enabled INTEGER NOT NULL,
    security_enabled INTEGER NOT NULL,
    is_unified INTEGER NOT NULL,
    mail TEXT,
    visibility TEXT,
    is_assignable_to_role INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX groups_display_name ON groups (display_name, id);
CREATE INDEX groups_created_at ON groups (created_at, id);

-- A membership per holder: `direct` for members/$ref, an assignment's grant for packages, so that
-- removing one holder never removes membership that another still holds. `ends_at` is filtered on
-- by every read that decides access.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    holder TEXT NOT NULL,
    ends_at BIGINT,
    PRIMARY KEY (group_id, member_id, holder)
);
CREATE INDEX group_members_member ON group_members (member_id);

CREATE TABLE group_owners (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, owner_id)
);
CREATE INDEX group_owners_owner ON group_owners (owner_id);

CREATE TABLE applications (
    id TEXT PRIMARY KEY REFERENCES directory_objects (id) ON DELETE CASCADE,
    app_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE service_principals (
    id TEXT PRIMARY KEY REFERENCES directory_objects (id) ON DELETE CASCADE,
    app_id TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    account_enabled INTEGER NOT NULL,
    service_principal_type TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE client_secrets (
    key_id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    hint TEXT NOT NULL,
    display_name TEXT,
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL
);
CREATE INDEX client_secrets_application ON client_secrets (application_id);

CREATE TABLE role_assignments (
    id TEXT PRIMARY KEY,
    role_definition_id TEXT NOT NULL,
    principal_id TEXT NOT NULL REFERENCES directory_objects (id) ON DELETE CASCADE,
    directory_scope_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ends_at BIGINT,
    UNIQUE (role_definition_id, principal_id, directory_scope_id)
);
CREATE INDEX role_assignments_principal ON role_assignments (principal_id);

CREATE TABLE idempotency_keys (
    principal_id TEXT NOT NULL,
    route TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status INTEGER,
    response_body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (principal_id, route, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Appended in the transaction of the change it records. `chain_seq` and `chain_mac` are filled
-- after commit by the chainer, which gives all replicas one order.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    activity_at BIGINT NOT NULL,
    category TEXT NOT NULL,
    activity TEXT NOT NULL,
    operation_type TEXT NOT NULL,
    result TEXT NOT NULL,
    result_reason TEXT,
    initiated_by TEXT NOT NULL,
    initiated_by_id TEXT,
    on_behalf_of TEXT,
    target_resources TEXT NOT NULL,
    additional_details TEXT NOT NULL,
    request_id TEXT,
    chain_seq BIGINT,
    chain_mac TEXT
);
CREATE INDEX audit_log_activity_at ON audit_log (activity_at, id);

CREATE TABLE outbox_events (
    id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    data TEXT NOT NULL,
    recipients TEXT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX outbox_events_pending ON outbox_events (dispatched_at, occurred_at);

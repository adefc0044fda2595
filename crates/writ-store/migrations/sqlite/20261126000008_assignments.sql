-- Writ schema, version 8: assignment requests and assignments (DESIGN section 5). Neither refers
-- to its target or package by foreign key: history is kept for the retention period after the
-- target is deleted (invariant 6), so the rows name ids rather than depend on them.
CREATE TABLE assignment_requests (
    id TEXT PRIMARY KEY,
    request_type TEXT NOT NULL,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    catalog_id TEXT NOT NULL,
    access_package_id TEXT NOT NULL,
    policy_id TEXT,
    assignment_id TEXT,
    target_id TEXT NOT NULL,
    target_type TEXT NOT NULL,
    requestor_id TEXT NOT NULL,
    requestor_type TEXT NOT NULL,
    justification TEXT,
    -- The requested schedule as Graph's entitlementManagementSchedule JSON.
    schedule TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX assignment_requests_created ON assignment_requests (created_at, id);
CREATE INDEX assignment_requests_target ON assignment_requests (target_id, access_package_id);
CREATE INDEX assignment_requests_catalog ON assignment_requests (catalog_id);

CREATE TABLE assignments (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    status TEXT NOT NULL,
    catalog_id TEXT NOT NULL,
    access_package_id TEXT NOT NULL,
    policy_id TEXT NOT NULL,
    target_id TEXT NOT NULL,
    target_type TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    -- NULL: no end (only for policies with `noExpiration`, never for agents).
    end_at BIGINT,
    expired_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX assignments_target ON assignments (target_id, access_package_id);
CREATE INDEX assignments_catalog ON assignments (catalog_id);
CREATE INDEX assignments_created ON assignments (created_at, id);

-- At most one open request and one live assignment per target and package, also under
-- concurrent creates on PostgreSQL (the check before the insert gives the named 400; these give
-- the loser of a race a 409).
CREATE UNIQUE INDEX assignment_requests_one_open ON assignment_requests (target_id, access_package_id)
    WHERE state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering')
    AND request_type IN ('userAdd', 'adminAdd');
CREATE UNIQUE INDEX assignments_one_live ON assignments (target_id, access_package_id)
    WHERE state <> 'expired';

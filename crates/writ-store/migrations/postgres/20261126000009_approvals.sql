-- Writ schema, version 9: approval stages of assignment requests (DESIGN section 5). A stage's
-- approvers are resolved when it starts and kept, so the decision is checked against them and
-- again against the policy at decision time.
CREATE TABLE approval_stages (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    stage_index BIGINT NOT NULL,
    status TEXT NOT NULL,
    review_result TEXT NOT NULL,
    -- JSON array of the user ids that may decide this stage.
    approver_ids TEXT NOT NULL,
    used_fallback INTEGER NOT NULL,
    started_at BIGINT,
    reviewed_by TEXT,
    reviewed_by_name TEXT,
    reviewed_at BIGINT,
    justification TEXT,
    UNIQUE (request_id, stage_index)
);

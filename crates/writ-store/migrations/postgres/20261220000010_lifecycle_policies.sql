-- Lifecycle policies for agent identities (issue 19, DESIGN section 17; Graph's
-- agentIdentityLifecyclePolicy). The rules, enforcement action and notification schedule are one
-- validated JSON document; the columns are what is ordered on. At most ten policies exist.
CREATE TABLE lifecycle_policies (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    priority INTEGER NOT NULL,
    is_enabled BOOLEAN NOT NULL,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX lifecycle_policies_priority ON lifecycle_policies (priority, created_at, id);

-- Each agent identity's lifecycle record: its last attestation, the current non-compliance
-- (since when, notices sent, disabled when) and when the sweep must look at it again. Written
-- by compare-and-set on version; deleted with the agent.
CREATE TABLE agent_lifecycles (
    agent_id TEXT PRIMARY KEY REFERENCES directory_objects (id) ON DELETE CASCADE,
    last_attested_at BIGINT,
    non_compliant_since BIGINT,
    notices_sent INTEGER NOT NULL,
    disabled_at BIGINT,
    next_check_at BIGINT,
    version BIGINT NOT NULL
);
CREATE INDEX agent_lifecycles_next_check ON agent_lifecycles (next_check_at, agent_id);

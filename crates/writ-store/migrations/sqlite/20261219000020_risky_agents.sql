-- Compromised agents (issue 19, DESIGN section 17): the risk state an administrator confirmed for
-- an agent identity or agent user, Graph's `riskyAgent`. One row per agent that ever had one; it
-- outlives the agent (Graph's `isDeleted`), so no foreign key: the agent's name is kept as it was
-- when the state last changed. Every request of an agent reads its row (a compromised agent's
-- tokens are refused), by primary key.
CREATE TABLE risky_agents (
    id TEXT PRIMARY KEY,
    identity_type TEXT NOT NULL,
    agent_display_name TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    risk_state TEXT NOT NULL,
    risk_detail TEXT NOT NULL,
    risk_last_updated_at BIGINT NOT NULL
);
CREATE INDEX risky_agents_updated ON risky_agents (risk_last_updated_at, id);

-- Writ schema, version 12: escalation of approval stages (DESIGN section 5). After a stage's
-- `durationBeforeEscalation` its escalation approvers are resolved and kept apart from the
-- primary ones, so each is checked again at decision time against the subject sets it came from.
-- JSON array of the user ids of the escalation approvers; empty until the stage escalates.
ALTER TABLE approval_stages ADD COLUMN escalation_approver_ids TEXT NOT NULL DEFAULT '[]';
-- The escalation approvers resolved to nobody, so the fallback escalation approvers apply.
ALTER TABLE approval_stages ADD COLUMN escalation_used_fallback INTEGER NOT NULL DEFAULT 0;
-- When the stage escalated; NULL while it has not.
ALTER TABLE approval_stages ADD COLUMN escalated_at BIGINT;

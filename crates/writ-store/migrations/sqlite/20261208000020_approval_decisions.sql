-- Writ schema (issue 17, part B): the portal's history of an approver's decisions reads the stages
-- one person decided, newest first, a page at a time.
CREATE INDEX approval_stages_reviewed_by ON approval_stages (reviewed_by, reviewed_at, id);

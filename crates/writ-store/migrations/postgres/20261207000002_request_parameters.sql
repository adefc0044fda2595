-- Writ schema (issue 16): Graph's `parameters` of an assignment request
-- (`accessPackageAssignmentRequestParameters`, a JSON object), as the requestor sent them;
-- null when none were sent, and for every request written before this version.
ALTER TABLE assignment_requests ADD COLUMN parameters TEXT;

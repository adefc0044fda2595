-- Writ schema, version 14: requests by requestor (`filterByCurrentUser(on='createdBy' |
-- 'targetOrRequestor' | 'requestForOthers')`, the subjects list) and open extensions by
-- assignment are looked up by index, not scanned.
CREATE INDEX assignment_requests_requestor ON assignment_requests (requestor_id, created_at, id);
CREATE INDEX assignment_requests_assignment ON assignment_requests (assignment_id);

-- Writ schema, version 13: at most one extension (`userUpdate`/`adminUpdate`) in progress per
-- assignment, also under concurrent creates (the check before the insert gives the named 400;
-- this gives the loser of a race a 409).
CREATE UNIQUE INDEX assignment_requests_one_open_update ON assignment_requests (assignment_id)
    WHERE state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering')
    AND request_type IN ('userUpdate', 'adminUpdate');

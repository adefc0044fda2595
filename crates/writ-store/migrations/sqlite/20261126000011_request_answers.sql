-- Writ schema, version 11: the answers a request gave to its policy's questions (DESIGN section
-- 5), kept with the request as a JSON array like its schedule.
ALTER TABLE assignment_requests ADD COLUMN answers TEXT NOT NULL DEFAULT '[]';

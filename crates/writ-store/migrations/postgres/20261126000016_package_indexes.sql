-- Writ schema, version 16: a package's assignments and requests (`$filter=accessPackage/id eq …`,
-- the commonest list of all) and a catalog's (what a catalog-scoped reader lists) are read by
-- index in page order. Lists page by `id`, so each index ends in it: a page is a range read, not
-- a scan of the table followed by a sort. Measured with 1,000,000 assignments in
-- docs/benchmarks.md.
CREATE INDEX assignments_package ON assignments (access_package_id, id);
CREATE INDEX assignment_requests_package ON assignment_requests (access_package_id, id);
DROP INDEX assignments_catalog;
CREATE INDEX assignments_catalog ON assignments (catalog_id, id);
DROP INDEX assignment_requests_catalog;
CREATE INDEX assignment_requests_catalog ON assignment_requests (catalog_id, id);

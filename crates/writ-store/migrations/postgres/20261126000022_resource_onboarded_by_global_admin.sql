-- Writ schema, version 30 (issue 14): whether the last onboarding or refresh of a catalog resource
-- was made by a Global Administrator. Delivery of a role-assignable group's roles (membership and
-- ownership, which carry the group's directory roles) requires it, so such a group onboarded
-- before Writ reserved it to Global Administrators (false here) delivers nothing until a Global
-- Administrator refreshes the resource (docs/admin-guide.md).
ALTER TABLE catalog_resources ADD COLUMN onboarded_by_global_admin BOOLEAN NOT NULL DEFAULT FALSE;

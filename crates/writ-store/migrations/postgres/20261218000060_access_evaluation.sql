-- Access evaluation (issue 18, DESIGN section 16): the packages that would grant a resource role
-- are found by the role's and the resource's origin, and a principal's delegated grants by the
-- principal.
CREATE INDEX catalog_resources_origin ON catalog_resources (origin_id);
CREATE INDEX resource_roles_origin ON resource_roles (origin_id);
CREATE INDEX oauth2_permission_grants_principal ON oauth2_permission_grants (principal_id);

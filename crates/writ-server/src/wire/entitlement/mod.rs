//! The wire types of entitlement management (`/identityGovernance/entitlementManagement`,
//! `/roleManagement/entitlementManagement`): Graph's `accessPackage*` entities and the bodies
//! that create or change them, one module per area.

pub mod catalogs;

use super::{NamedSchema, collect};

/// The component schemas of the entitlement wire types.
pub fn schemas() -> Vec<NamedSchema> {
    let mut s = Vec::new();
    collect::<catalogs::AccessPackageCatalog>(&mut s);
    collect::<catalogs::AccessPackage>(&mut s);
    collect::<catalogs::AccessPackageResource>(&mut s);
    collect::<catalogs::AccessPackageResourceRole>(&mut s);
    collect::<catalogs::AccessPackageResourceScope>(&mut s);
    collect::<catalogs::AccessPackageResourceRequest>(&mut s);
    collect::<catalogs::AccessPackageResourceRoleScope>(&mut s);
    s
}

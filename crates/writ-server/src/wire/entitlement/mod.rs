//! The wire types of entitlement management (`/identityGovernance/entitlementManagement`,
//! `/roleManagement/entitlementManagement`): Graph's `accessPackage*` entities and the bodies
//! that create or change them, one module per area.

pub mod catalogs;
pub mod organizations;
pub mod policies;
pub mod request_bodies;
pub mod requests;
pub mod roles;

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
    collect::<catalogs::AccessPackageResourceRequestBody>(&mut s);
    collect::<catalogs::AccessPackageResourceRoleScopeBody>(&mut s);
    collect::<policies::AccessPackageAssignmentPolicy>(&mut s);
    collect::<policies::AccessPackageAssignmentRequestRequirements>(&mut s);
    collect::<policies::AccessPackageAssignmentPolicyBody>(&mut s);
    collect::<requests::AccessPackageAssignmentRequest>(&mut s);
    collect::<requests::AccessPackageAssignment>(&mut s);
    collect::<requests::AccessPackageSubject>(&mut s);
    collect::<requests::Approval>(&mut s);
    collect::<requests::ApprovalStage>(&mut s);
    collect::<request_bodies::AccessPackageAssignmentRequestBody>(&mut s);
    collect::<request_bodies::ApprovalStageBody>(&mut s);
    collect::<request_bodies::ResumePostRequestBody>(&mut s);
    collect::<request_bodies::AccessPackageAssignmentRequestCallbackData>(&mut s);
    collect::<organizations::ConnectedOrganization>(&mut s);
    collect::<organizations::EntitlementManagementSettings>(&mut s);
    collect::<organizations::CustomCalloutExtension>(&mut s);
    collect::<organizations::CustomCalloutExtensionBody>(&mut s);
    collect::<roles::UnifiedRoleDefinition>(&mut s);
    collect::<roles::UnifiedRoleAssignment>(&mut s);
    s
}

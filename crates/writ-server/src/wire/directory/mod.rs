//! The directory half of Writ's Graph wire types: one serde type per entity (and request body)
//! of `/users`, `/groups`, `/applications`, `/servicePrincipals`, direct grants,
//! `/roleManagement/directory`, `/auditLogs` and `/directoryObjects`, built from the domain's
//! types, deriving the OpenAPI schema that [`schemas`] lists.

pub mod application;
pub mod directory_audit;
pub mod directory_object;
pub mod grants;
pub mod group;
pub mod input;
pub mod lifecycle;
pub mod risky_agent;
pub mod role_management;
pub mod service_principal;
pub mod user;

use serde::{Deserialize, Deserializer};

use super::{NamedSchema, collect};

pub use application::{ApiApplication, AppRole, Application, PasswordCredential, PermissionScope};
pub use directory_audit::DirectoryAudit;
pub use directory_object::DirectoryObject;
pub use grants::{AppRoleAssignment, OAuth2PermissionGrant};
pub use group::Group;
pub use role_management::{UnifiedRoleAssignment, UnifiedRoleDefinition};
pub use service_principal::ServicePrincipal;
pub use user::User;

/// Reads a property that is present (possibly `null`) into `Some`, so an `Option<Option<T>>`
/// tells "absent" (the kind of object does not have it) from "`null`" when read back.
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// The component schemas of every directory entity and body, each once.
pub fn schemas() -> Vec<NamedSchema> {
    let mut schemas = Vec::new();
    collect::<User>(&mut schemas);
    collect::<Group>(&mut schemas);
    collect::<Application>(&mut schemas);
    collect::<PasswordCredential>(&mut schemas);
    collect::<ServicePrincipal>(&mut schemas);
    collect::<DirectoryObject>(&mut schemas);
    collect::<AppRoleAssignment>(&mut schemas);
    collect::<OAuth2PermissionGrant>(&mut schemas);
    collect::<UnifiedRoleDefinition>(&mut schemas);
    collect::<UnifiedRoleAssignment>(&mut schemas);
    collect::<DirectoryAudit>(&mut schemas);
    collect::<user::UserBody>(&mut schemas);
    collect::<user::RevokeSignInSessionsResponse>(&mut schemas);
    collect::<group::GroupBody>(&mut schemas);
    collect::<application::ApplicationBody>(&mut schemas);
    collect::<application::AddPasswordBody>(&mut schemas);
    collect::<application::RemovePasswordBody>(&mut schemas);
    collect::<service_principal::ServicePrincipalBody>(&mut schemas);
    collect::<grants::AppRoleAssignmentBody>(&mut schemas);
    collect::<grants::OAuth2PermissionGrantBody>(&mut schemas);
    collect::<role_management::UnifiedRoleAssignmentBody>(&mut schemas);
    collect::<directory_object::ReferenceBody>(&mut schemas);
    collect::<risky_agent::RiskyAgent>(&mut schemas);
    collect::<risky_agent::RiskyAgentIdsBody>(&mut schemas);
    collect::<lifecycle::LifecyclePolicy>(&mut schemas);
    collect::<lifecycle::LifecyclePolicyBody>(&mut schemas);
    collect::<lifecycle::WireComplianceIssue>(&mut schemas);
    collect::<lifecycle::AgentIdentityLifecycle>(&mut schemas);
    let mut seen = std::collections::HashSet::new();
    schemas.retain(|(name, _)| seen.insert(name.clone()));
    schemas
}

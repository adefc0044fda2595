//! `/identityGovernance/entitlementManagement` and `/roleManagement/entitlementManagement`:
//! the handlers of catalogs, resources, packages, policies, requests and catalog roles (their
//! wire form is `crate::wire::entitlement`).

pub mod assignments;
pub mod catalogs;
pub mod current_user;
pub mod organizations;
pub mod packages;
pub mod policies;
pub mod resources;
pub mod roles;
pub mod subjects;

pub const BASE: &str = "identityGovernance/entitlementManagement";

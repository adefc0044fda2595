//! `/identityGovernance/entitlementManagement` and `/roleManagement/entitlementManagement`:
//! the wire form of catalogs, resources, packages and catalog roles, and their handlers.

pub mod assignments;
pub mod catalogs;
pub mod current_user;
pub mod organizations;
pub mod packages;
pub mod policies;
pub mod resources;
pub mod roles;
pub mod subjects;

use serde_json::{Map, Value};
use writ_domain::entitlement::{
    AccessPackage, Catalog, CatalogResource, PackageRoleScope, ResourceRequest, ResourceRole,
    ResourceScope,
};

use super::{datetime, opt};

pub const BASE: &str = "identityGovernance/entitlementManagement";

pub fn catalog_json(c: &Catalog) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(c.id.clone()));
    m.insert("displayName".into(), Value::from(c.display_name.clone()));
    m.insert("description".into(), opt(&c.description));
    m.insert("catalogType".into(), Value::from(c.catalog_type.clone()));
    m.insert("state".into(), Value::from(c.state.clone()));
    m.insert(
        "isExternallyVisible".into(),
        Value::from(c.is_externally_visible),
    );
    m.insert("createdDateTime".into(), datetime(c.created_date_time));
    m.insert("modifiedDateTime".into(), datetime(c.modified_date_time));
    m
}

pub fn resource_json(r: &CatalogResource) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(r.id.clone()));
    m.insert("displayName".into(), Value::from(r.display_name.clone()));
    m.insert("description".into(), opt(&r.description));
    m.insert("originId".into(), Value::from(r.origin_id.clone()));
    m.insert("originSystem".into(), Value::from(r.origin_system.clone()));
    m.insert("attributes".into(), Value::Array(Vec::new()));
    m.insert("createdDateTime".into(), datetime(r.created_date_time));
    m.insert("modifiedDateTime".into(), datetime(r.modified_date_time));
    m
}

pub fn role_json(r: &ResourceRole) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(r.id.clone()));
    m.insert("displayName".into(), Value::from(r.display_name.clone()));
    m.insert("description".into(), opt(&r.description));
    m.insert("originId".into(), Value::from(r.origin_id.clone()));
    m.insert("originSystem".into(), Value::from(r.origin_system.clone()));
    m.insert("type".into(), opt(&r.role_type));
    m
}

pub fn scope_json(s: &ResourceScope) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(s.id.clone()));
    m.insert("displayName".into(), Value::from(s.display_name.clone()));
    m.insert("description".into(), opt(&s.description));
    m.insert("originId".into(), Value::from(s.origin_id.clone()));
    m.insert("originSystem".into(), Value::from(s.origin_system.clone()));
    m.insert("isRootScope".into(), Value::from(s.is_root_scope));
    m
}

pub fn request_json(r: &ResourceRequest) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(r.id.clone()));
    m.insert("requestType".into(), Value::from(r.request_type.clone()));
    m.insert("state".into(), Value::from(r.state.clone()));
    m.insert("createdDateTime".into(), datetime(r.created_date_time));
    m
}

pub fn package_json(p: &AccessPackage) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(p.id.clone()));
    m.insert("displayName".into(), Value::from(p.display_name.clone()));
    m.insert("description".into(), opt(&p.description));
    m.insert("isHidden".into(), Value::from(p.is_hidden));
    m.insert("createdDateTime".into(), datetime(p.created_date_time));
    m.insert("modifiedDateTime".into(), datetime(p.modified_date_time));
    m
}

/// A role scope with its role and scope (and their resource when asked).
pub fn role_scope_json(
    rs: &PackageRoleScope,
    role: &ResourceRole,
    scope: &ResourceScope,
    with_role: bool,
    with_scope: bool,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(rs.id.clone()));
    m.insert("createdDateTime".into(), datetime(rs.created_date_time));
    if with_role {
        m.insert("role".into(), Value::Object(role_json(role)));
    }
    if with_scope {
        m.insert("scope".into(), Value::Object(scope_json(scope)));
    }
    m
}

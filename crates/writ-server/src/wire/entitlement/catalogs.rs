//! Catalogs, their resources (with roles and scopes), resource requests, access packages and the
//! resource role scopes a package grants; the bodies that create and update catalogs and
//! packages, request a resource and add a role scope to a package.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use writ_domain::entitlement::{
    AccessPackage as Package, Catalog, CatalogInput, CatalogResource, PackageRoleScope,
    ResourceRequest, ResourceRequestInput, ResourceRole, ResourceScope, RoleScopeInput,
};
use writ_domain::patch::Patch;

use crate::error::{ApiError, ApiResult};
use crate::wire::body::WireBody;
use crate::wire::instant;

/// `accessPackageCatalog`; `accessPackages` only when expanded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageCatalog)]
pub struct AccessPackageCatalog {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `userManaged`, or `serviceDefault` for the built-in General catalog.
    pub catalog_type: String,
    /// `published` or `unpublished`.
    pub state: String,
    pub is_externally_visible: bool,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub modified_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_packages: Option<Vec<AccessPackage>>,
}

impl From<&Catalog> for AccessPackageCatalog {
    fn from(c: &Catalog) -> Self {
        Self {
            id: c.id.clone(),
            display_name: c.display_name.clone(),
            description: c.description.clone(),
            catalog_type: c.catalog_type.clone(),
            state: c.state.clone(),
            is_externally_visible: c.is_externally_visible,
            created_date_time: instant(c.created_date_time),
            modified_date_time: instant(c.modified_date_time),
            access_packages: None,
        }
    }
}

/// `accessPackageResource`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResource)]
pub struct AccessPackageResource {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub origin_id: String,
    /// `AadGroup`, `AadApplication` or `DirectoryRole`.
    pub origin_system: String,
    /// Always empty: Writ's resources carry no attributes.
    pub attributes: Vec<serde_json::Value>,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub modified_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<AccessPackageResourceRole>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<AccessPackageResourceScope>>,
}

impl From<&CatalogResource> for AccessPackageResource {
    fn from(r: &CatalogResource) -> Self {
        Self {
            id: r.id.clone(),
            display_name: r.display_name.clone(),
            description: r.description.clone(),
            origin_id: r.origin_id.clone(),
            origin_system: r.origin_system.clone(),
            attributes: Vec::new(),
            created_date_time: instant(r.created_date_time),
            modified_date_time: instant(r.modified_date_time),
            roles: None,
            scopes: None,
        }
    }
}

/// `accessPackageResourceRole`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceRole)]
pub struct AccessPackageResourceRole {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub origin_id: String,
    pub origin_system: String,
    /// Graph's role type (`active`, `eligible`, `application`, `delegated`); none for groups.
    #[serde(rename = "type")]
    pub role_type: Option<String>,
    /// The resource, when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub resource: Option<Box<AccessPackageResource>>,
}

impl From<&ResourceRole> for AccessPackageResourceRole {
    fn from(r: &ResourceRole) -> Self {
        Self {
            id: r.id.clone(),
            display_name: r.display_name.clone(),
            description: r.description.clone(),
            origin_id: r.origin_id.clone(),
            origin_system: r.origin_system.clone(),
            role_type: r.role_type.clone(),
            resource: None,
        }
    }
}

/// `accessPackageResourceScope`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceScope)]
pub struct AccessPackageResourceScope {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub origin_id: String,
    pub origin_system: String,
    pub is_root_scope: bool,
    /// The resource, when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub resource: Option<Box<AccessPackageResource>>,
}

impl From<&ResourceScope> for AccessPackageResourceScope {
    fn from(s: &ResourceScope) -> Self {
        Self {
            id: s.id.clone(),
            display_name: s.display_name.clone(),
            description: s.description.clone(),
            origin_id: s.origin_id.clone(),
            origin_system: s.origin_system.clone(),
            is_root_scope: s.is_root_scope,
            resource: None,
        }
    }
}

/// `accessPackageResourceRequest`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceRequest)]
pub struct AccessPackageResourceRequest {
    pub id: String,
    /// `adminAdd`, `adminUpdate` or `adminRemove`.
    pub request_type: String,
    /// `delivered` once applied.
    pub state: String,
    #[schema(format = DateTime)]
    pub created_date_time: String,
}

impl From<&ResourceRequest> for AccessPackageResourceRequest {
    fn from(r: &ResourceRequest) -> Self {
        Self {
            id: r.id.clone(),
            request_type: r.request_type.clone(),
            state: r.state.clone(),
            created_date_time: instant(r.created_date_time),
        }
    }
}

/// `accessPackage`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackage)]
pub struct AccessPackage {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_hidden: bool,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub modified_date_time: String,
    /// The catalog, when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub catalog: Option<Box<AccessPackageCatalog>>,
    /// The roles it grants, when expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_role_scopes: Option<Vec<AccessPackageResourceRoleScope>>,
}

impl From<&Package> for AccessPackage {
    fn from(p: &Package) -> Self {
        Self {
            id: p.id.clone(),
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            is_hidden: p.is_hidden,
            created_date_time: instant(p.created_date_time),
            modified_date_time: instant(p.modified_date_time),
            catalog: None,
            resource_role_scopes: None,
        }
    }
}

/// `accessPackageResourceRoleScope`: a role (in a scope) a package grants; `role` and `scope`
/// when expanded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceRoleScope)]
pub struct AccessPackageResourceRoleScope {
    pub id: String,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<AccessPackageResourceRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<AccessPackageResourceScope>,
}

impl AccessPackageResourceRoleScope {
    /// The role scope, with its role and scope when `with_role` / `with_scope`.
    pub fn new(
        rs: &PackageRoleScope,
        role: &ResourceRole,
        scope: &ResourceScope,
        with_role: bool,
        with_scope: bool,
    ) -> Self {
        Self {
            id: rs.id.clone(),
            created_date_time: instant(rs.created_date_time),
            role: with_role.then(|| AccessPackageResourceRole::from(role)),
            scope: with_scope.then(|| AccessPackageResourceScope::from(scope)),
        }
    }
}

/// The body that creates (POST) or updates (PATCH) a catalog.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogBody {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<bool>)]
    pub is_externally_visible: Patch<bool>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub state: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub catalog_type: Patch<String>,
}

impl WireBody for CatalogBody {
    const GRAPH_TYPE: &'static str = "accessPackageCatalog";
}

impl From<CatalogBody> for CatalogInput {
    fn from(b: CatalogBody) -> Self {
        Self {
            display_name: b.display_name,
            description: b.description,
            is_externally_visible: b.is_externally_visible,
            state: b.state,
            catalog_type: b.catalog_type,
        }
    }
}

/// The body that creates (POST) or updates (PATCH) an access package; `catalog` (`{"id": …}`)
/// only on create.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessPackageBody {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<bool>)]
    pub is_hidden: Patch<bool>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub catalog: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl WireBody for AccessPackageBody {
    const GRAPH_TYPE: &'static str = "accessPackage";
}

/// A string property `name` of the nested object `parent`, if present.
fn nested_str<'a>(
    object: &'a Map<String, Value>,
    name: &str,
    parent: &str,
) -> ApiResult<Option<&'a str>> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_request(format!(
            "property '{parent}.{name}' must be a string"
        ))),
    }
}

/// The body that adds a role scope to a package, as Graph's docs show it: the role by `id`, or
/// by `originId` and `resource.id`; the scope by `id` or `originId`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceRoleScopeBody)]
pub struct AccessPackageResourceRoleScopeBody {
    /// `accessPackageResourceRole`: `id`, or `originId` with `resource.id`; required.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub role: Patch<Map<String, Value>>,
    /// `accessPackageResourceScope`: `id` or `originId`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub scope: Patch<Map<String, Value>>,
}

impl WireBody for AccessPackageResourceRoleScopeBody {
    const GRAPH_TYPE: &'static str = "accessPackageResourceRoleScope";
}

impl AccessPackageResourceRoleScopeBody {
    /// The domain's input: the ids the role and scope are named by.
    pub fn into_input(self) -> ApiResult<RoleScopeInput> {
        let role = match self.role {
            Patch::Value(r) => r,
            _ => return Err(ApiError::bad_request("property 'role' is required")),
        };
        let scope = match self.scope {
            Patch::Value(s) => Some(s),
            _ => None,
        };
        let resource_id = match role.get("resource") {
            Some(Value::Object(r)) => nested_str(r, "id", "role.resource")?.map(str::to_owned),
            None | Some(Value::Null) => None,
            Some(_) => {
                return Err(ApiError::bad_request(
                    "property 'role.resource' must be an object",
                ));
            }
        };
        Ok(RoleScopeInput {
            role_id: nested_str(&role, "id", "role")?.map(str::to_owned),
            role_origin_id: nested_str(&role, "originId", "role")?.map(str::to_owned),
            role_resource_id: resource_id,
            scope_id: match &scope {
                Some(s) => nested_str(s, "id", "scope")?.map(str::to_owned),
                None => None,
            },
            scope_origin_id: match &scope {
                Some(s) => nested_str(s, "originId", "scope")?.map(str::to_owned),
                None => None,
            },
        })
    }
}

/// The body that requests a resource into a catalog: `{requestType, catalog: {id}, resource:
/// {originId, originSystem, …}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageResourceRequestBody)]
pub struct AccessPackageResourceRequestBody {
    /// `adminAdd`, `adminUpdate` or `adminRemove`; required.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub request_type: Patch<String>,
    /// `{"id": …}`; required.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub catalog: Patch<Map<String, Value>>,
    /// `accessPackageResource`: `originSystem` and `originId` required, `displayName` and
    /// `description` optional; required.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub resource: Patch<Map<String, Value>>,
    /// Not read or stored, and taken whatever its JSON type.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub justification: Patch<Value>,
}

impl WireBody for AccessPackageResourceRequestBody {
    const GRAPH_TYPE: &'static str = "accessPackageResourceRequest";
    // `justification` was never read, so never type-checked: a value of any type is still
    // taken (the schema says what Graph means it to be, a string).
    const UNCHECKED: &'static [&'static str] = &["justification"];
}

impl AccessPackageResourceRequestBody {
    /// The domain's input: the request type, the catalog and the resource's origin.
    pub fn into_input(self) -> ApiResult<ResourceRequestInput> {
        let request_type = match self.request_type {
            Patch::Value(t) => t,
            _ => return Err(ApiError::bad_request("property 'requestType' is required")),
        };
        let catalog = match self.catalog {
            Patch::Value(c) => c,
            _ => return Err(ApiError::bad_request("property 'catalog' is required")),
        };
        let catalog_id = nested_str(&catalog, "id", "catalog")?
            .ok_or_else(|| ApiError::bad_request("property 'catalog.id' is required"))?
            .to_owned();
        let resource = match self.resource {
            Patch::Value(r) => r,
            _ => return Err(ApiError::bad_request("property 'resource' is required")),
        };
        for key in resource.keys() {
            if !matches!(
                key.as_str(),
                "originId"
                    | "originSystem"
                    | "displayName"
                    | "description"
                    | "@odata.type"
                    | "id"
                    | "attributes"
            ) {
                return Err(ApiError::bad_request(format!(
                    "resource.{key} is not supported in a resource request"
                )));
            }
        }
        Ok(ResourceRequestInput {
            request_type,
            catalog_id,
            origin_system: nested_str(&resource, "originSystem", "resource")?
                .ok_or_else(|| {
                    ApiError::bad_request("property 'resource.originSystem' is required")
                })?
                .to_owned(),
            origin_id: nested_str(&resource, "originId", "resource")?
                .ok_or_else(|| ApiError::bad_request("property 'resource.originId' is required"))?
                .to_owned(),
            display_name: nested_str(&resource, "displayName", "resource")?.map(str::to_owned),
            description: nested_str(&resource, "description", "resource")?.map(str::to_owned),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::json_input::JsonObject;
    use crate::wire::body::read;

    fn body(value: Value) -> JsonObject {
        JsonObject {
            fields: value.as_object().cloned().unwrap_or_default(),
            raw: Default::default(),
        }
    }

    #[test]
    fn a_resource_request_takes_any_justification_and_names_what_is_missing() {
        let convert = |value: Value| {
            read::<AccessPackageResourceRequestBody>(&body(value))
                .and_then(AccessPackageResourceRequestBody::into_input)
                .map_err(|e| e.message)
        };
        let input = convert(json!({
            "requestType": "adminAdd", "justification": 5, "catalog": {"id": "c"},
            "resource": {"originId": "g", "originSystem": "AadGroup"},
        }))
        .unwrap();
        assert_eq!(
            (input.catalog_id.as_str(), input.origin_id.as_str()),
            ("c", "g")
        );
        assert_eq!(
            convert(json!({"requestType": "adminAdd", "catalog": {"id": "c"}})).unwrap_err(),
            "property 'resource' is required"
        );
        assert_eq!(
            convert(json!({"requestType": "adminAdd", "catalog": {}, "resource": {}})).unwrap_err(),
            "property 'catalog.id' is required"
        );
    }

    #[test]
    fn a_role_scope_names_its_role_and_scope_by_id_or_origin() {
        let convert = |value: Value| {
            read::<AccessPackageResourceRoleScopeBody>(&body(value))
                .and_then(AccessPackageResourceRoleScopeBody::into_input)
                .map_err(|e| e.message)
        };
        let input = convert(json!({
            "role": {"originId": "Member_g", "resource": {"id": "r"}},
            "scope": {"originId": "g"},
        }))
        .unwrap();
        assert_eq!(input.role_origin_id.as_deref(), Some("Member_g"));
        assert_eq!(input.role_resource_id.as_deref(), Some("r"));
        assert_eq!(input.scope_origin_id.as_deref(), Some("g"));
        assert_eq!(
            convert(json!({"scope": {}})).unwrap_err(),
            "property 'role' is required"
        );
        assert_eq!(
            convert(json!({"role": {"resource": "r"}})).unwrap_err(),
            "property 'role.resource' must be an object"
        );
    }
}

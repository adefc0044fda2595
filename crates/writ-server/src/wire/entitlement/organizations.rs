//! Connected organizations, entitlement-management settings and custom workflow extensions, and
//! the bodies that create or update them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use writ_domain::entitlement::{
    ConnectedOrganization as Organization, CustomExtension, CustomExtensionInput, EmSettings,
    ExtensionSettings,
};

use writ_domain::patch::Patch;

use crate::error::{ApiError, ApiResult};
use crate::wire::body::WireBody;
use crate::wire::{instant, json};

/// `connectedOrganization`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = connectedOrganization)]
pub struct ConnectedOrganization {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `configured` or `proposed`.
    pub state: String,
    /// `identitySource[]` by `@odata.type` (`azureActiveDirectoryTenant`,
    /// `domainIdentitySource`, `externalDomainFederation`).
    #[schema(value_type = Vec<Object>)]
    pub identity_sources: Value,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub modified_date_time: String,
}

impl From<&Organization> for ConnectedOrganization {
    fn from(o: &Organization) -> Self {
        Self {
            id: o.id.clone(),
            display_name: o.display_name.clone(),
            description: o.description.clone(),
            state: o.state.clone(),
            identity_sources: json(&o.identity_sources),
            created_date_time: instant(o.created_date_time),
            modified_date_time: instant(o.modified_date_time),
        }
    }
}

/// `entitlementManagementSettings` (one per tenant, id `settings`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = entitlementManagementSettings)]
pub struct EntitlementManagementSettings {
    pub id: String,
    /// An ISO 8601 duration.
    pub duration_until_external_user_deleted_after_blocked: String,
    /// `none`, `blockSignIn`, `blockSignInAndDelete`.
    pub external_user_lifecycle_action: String,
}

impl From<&EmSettings> for EntitlementManagementSettings {
    fn from(s: &EmSettings) -> Self {
        Self {
            id: "settings".to_owned(),
            duration_until_external_user_deleted_after_blocked: s
                .duration_until_external_user_deleted_after_blocked
                .clone(),
            external_user_lifecycle_action: s.external_user_lifecycle_action.clone(),
        }
    }
}

/// `customCalloutExtension`: an `accessPackageAssignmentRequestWorkflowExtension` or an
/// `accessPackageAssignmentWorkflowExtension` (by `@odata.type`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = customCalloutExtension)]
pub struct CustomCalloutExtension {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `httpRequestEndpoint` (by `@odata.type`), with its `targetUrl`.
    #[schema(value_type = Object)]
    pub endpoint_configuration: Value,
    /// `azureAdPopTokenAuthentication` or `azureAdTokenAuthentication` (by `@odata.type`).
    #[schema(value_type = Option<Object>)]
    pub authentication_configuration: Value,
    /// `customExtensionClientConfiguration`: `maximumRetries`, `timeoutInMilliseconds`.
    #[schema(value_type = Option<Object>)]
    pub client_configuration: Value,
    /// `customExtensionCallbackConfiguration`: `timeoutDuration`; present for "launch and wait".
    #[schema(value_type = Option<Object>)]
    pub callback_configuration: Value,
    pub created_by: Option<String>,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    pub last_modified_by: Option<String>,
    #[schema(format = DateTime)]
    pub last_modified_date_time: String,
}

impl From<&CustomExtension> for CustomCalloutExtension {
    fn from(x: &CustomExtension) -> Self {
        let s = &x.settings;
        Self {
            odata_type: format!("#microsoft.graph.{}", x.kind),
            id: x.id.clone(),
            display_name: x.display_name.clone(),
            description: x.description.clone(),
            endpoint_configuration: json(&s.endpoint_configuration),
            authentication_configuration: json(&s.authentication_configuration),
            client_configuration: json(&s.client_configuration),
            callback_configuration: json(&s.callback_configuration),
            created_by: x.created_by.clone(),
            created_date_time: instant(x.created_date_time),
            last_modified_by: x.modified_by.clone(),
            last_modified_date_time: instant(x.modified_date_time),
        }
    }
}

/// The body that updates the settings (PATCH).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsBody {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub duration_until_external_user_deleted_after_blocked: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub external_user_lifecycle_action: Patch<String>,
}

impl WireBody for SettingsBody {
    const GRAPH_TYPE: &'static str = "entitlementManagementSettings";
}

/// The body that creates (POST) or updates (PATCH) a connected organization;
/// `identitySources` is read by the domain's model of Graph's `identitySource` types.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedOrganizationBody {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub state: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub identity_sources: Patch<Value>,
}

impl WireBody for ConnectedOrganizationBody {
    const GRAPH_TYPE: &'static str = "connectedOrganization";
}

/// The body that creates (POST) or updates (PATCH) a custom workflow extension
/// (`customCalloutExtension`, or the derived type its `@odata.type` names). The four
/// configurations are read by the domain's model of them, over the stored ones on PATCH.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = customCalloutExtensionBody)]
pub struct CustomCalloutExtensionBody {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    /// `customExtensionEndpointConfiguration` (`logicAppTriggerEndpointConfiguration`,
    /// `httpRequestEndpoint`), by `@odata.type`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub endpoint_configuration: Patch<Value>,
    /// `customExtensionAuthenticationConfiguration`, by `@odata.type`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub authentication_configuration: Patch<Value>,
    /// `customExtensionClientConfiguration`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub client_configuration: Patch<Value>,
    /// `customExtensionCallbackConfiguration`: present, the extension waits for a callback.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub callback_configuration: Patch<Value>,
}

impl WireBody for CustomCalloutExtensionBody {
    const GRAPH_TYPE: &'static str = "customCalloutExtension";
    // The domain's model reads the configurations, merged over the stored ones (as before this
    // type, with its message for a value of the wrong type).
    const UNCHECKED: &'static [&'static str] = &[
        "endpointConfiguration",
        "authenticationConfiguration",
        "clientConfiguration",
        "callbackConfiguration",
    ];
}

impl CustomCalloutExtensionBody {
    /// The domain's input; `kind` is the type the body's `@odata.type` names, `base` on PATCH
    /// the stored configuration, which the body's configurations update.
    pub fn into_input(
        self,
        kind: Option<String>,
        base: Option<&ExtensionSettings>,
    ) -> ApiResult<CustomExtensionInput> {
        let configurations = [
            ("endpointConfiguration", self.endpoint_configuration),
            (
                "authenticationConfiguration",
                self.authentication_configuration,
            ),
            ("clientConfiguration", self.client_configuration),
            ("callbackConfiguration", self.callback_configuration),
        ];
        let settings = if configurations.iter().any(|(_, v)| !v.is_absent()) {
            let mut object = match base.map(serde_json::to_value) {
                Some(Ok(Value::Object(stored))) => stored,
                _ => Map::new(),
            };
            for (key, value) in configurations {
                let mut value = match value {
                    Patch::Absent => continue,
                    Patch::Null => Value::Null,
                    Patch::Value(v) => v,
                };
                // Client and callback configurations are plain complex types: drop the type tag
                // clients add (e.g. accessPackageRequestApprovalStageCallbackConfiguration).
                if matches!(key, "clientConfiguration" | "callbackConfiguration")
                    && let Some(obj) = value.as_object_mut()
                {
                    obj.remove("@odata.type");
                }
                object.insert(key.to_owned(), value);
            }
            Some(
                serde_json::from_value::<ExtensionSettings>(Value::Object(object)).map_err(
                    |e| {
                        ApiError::bad_request(format!(
                            "the extension's configuration is not valid: {e}"
                        ))
                    },
                )?,
            )
        } else {
            None
        };
        Ok(CustomExtensionInput {
            kind,
            display_name: self.display_name,
            description: self.description,
            settings,
        })
    }
}

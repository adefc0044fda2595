//! Connected organizations, entitlement-management settings and custom workflow extensions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where a connected organization's users come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type", deny_unknown_fields)]
pub enum IdentitySource {
    #[serde(
        rename = "#microsoft.graph.azureActiveDirectoryTenant",
        rename_all = "camelCase"
    )]
    AzureActiveDirectoryTenant {
        tenant_id: String,
        #[serde(default)]
        display_name: Option<String>,
    },
    #[serde(
        rename = "#microsoft.graph.domainIdentitySource",
        rename_all = "camelCase"
    )]
    DomainIdentitySource {
        domain_name: String,
        #[serde(default)]
        display_name: Option<String>,
    },
    #[serde(
        rename = "#microsoft.graph.externalDomainFederation",
        rename_all = "camelCase"
    )]
    ExternalDomainFederation {
        domain_name: String,
        #[serde(default)]
        issuer_uri: Option<String>,
        #[serde(default)]
        display_name: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectedOrganization {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `configured` or `proposed`.
    pub state: String,
    pub identity_sources: Vec<IdentitySource>,
    pub created_date_time: OffsetDateTime,
    pub modified_date_time: OffsetDateTime,
}

/// `entitlementManagement/settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmSettings {
    pub duration_until_external_user_deleted_after_blocked: String,
    pub external_user_lifecycle_action: String,
}

impl Default for EmSettings {
    fn default() -> Self {
        Self {
            duration_until_external_user_deleted_after_blocked: "P30D".into(),
            external_user_lifecycle_action: "none".into(),
        }
    }
}

/// A custom workflow extension's configuration (Graph's shapes, validated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type", deny_unknown_fields)]
pub enum EndpointConfiguration {
    #[serde(
        rename = "#microsoft.graph.httpRequestEndpoint",
        rename_all = "camelCase"
    )]
    HttpRequestEndpoint { target_url: String },
    #[serde(
        rename = "#microsoft.graph.logicAppTriggerEndpointConfiguration",
        rename_all = "camelCase"
    )]
    LogicAppTrigger {
        #[serde(default)]
        logic_app_workflow_name: Option<String>,
        #[serde(default)]
        resource_group_name: Option<String>,
        #[serde(default)]
        subscription_id: Option<String>,
        url: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type", deny_unknown_fields)]
pub enum AuthenticationConfiguration {
    #[serde(
        rename = "#microsoft.graph.azureAdTokenAuthentication",
        rename_all = "camelCase"
    )]
    AzureAdToken { resource_id: String },
    #[serde(rename = "#microsoft.graph.azureAdPopTokenAuthentication")]
    AzureAdPopToken {},
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConfiguration {
    #[serde(default)]
    pub maximum_retries: Option<i32>,
    #[serde(default)]
    pub timeout_in_milliseconds: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallbackConfiguration {
    #[serde(default)]
    pub timeout_duration: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionSettings {
    pub endpoint_configuration: EndpointConfiguration,
    #[serde(default)]
    pub authentication_configuration: Option<AuthenticationConfiguration>,
    #[serde(default)]
    pub client_configuration: Option<ClientConfiguration>,
    /// Present: "launch and wait" (the request waits for `resume` or the timeout).
    #[serde(default)]
    pub callback_configuration: Option<CallbackConfiguration>,
}

pub const REQUEST_EXTENSION: &str = "accessPackageAssignmentRequestWorkflowExtension";
pub const ASSIGNMENT_EXTENSION: &str = "accessPackageAssignmentWorkflowExtension";

#[derive(Debug, Clone, PartialEq)]
pub struct CustomExtension {
    pub id: String,
    pub catalog_id: String,
    /// [`REQUEST_EXTENSION`] or [`ASSIGNMENT_EXTENSION`].
    pub kind: String,
    pub display_name: String,
    pub description: Option<String>,
    pub settings: ExtensionSettings,
    pub created_by: Option<String>,
    pub created_date_time: OffsetDateTime,
    pub modified_by: Option<String>,
    pub modified_date_time: OffsetDateTime,
}

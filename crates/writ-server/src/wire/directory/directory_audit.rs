//! `directoryAudit`: an audit record as Graph's `/auditLogs/directoryAudits` returns it (also
//! what `writ audit export` writes).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::audit::{AuditRecord, ENTITLEMENT_MANAGEMENT};

use crate::wire::instant;

/// The user who made a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = userIdentity)]
pub struct UserIdentity {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
    /// Always `null`: Writ does not record addresses in the audit log.
    pub ip_address: Option<String>,
}

/// The application (service principal) that made a change, or Writ itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = appIdentity)]
pub struct AppIdentity {
    pub app_id: Option<String>,
    pub display_name: Option<String>,
    pub service_principal_id: Option<String>,
    pub service_principal_name: Option<String>,
}

/// Who made a change: exactly one of `user` and `app` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = auditActivityInitiator)]
pub struct AuditActivityInitiator {
    pub app: Option<AppIdentity>,
    pub user: Option<UserIdentity>,
}

/// A property a change touched; Writ records which, not their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = modifiedProperty)]
pub struct ModifiedProperty {
    pub display_name: String,
    /// Always `null`.
    pub old_value: Option<String>,
    /// Always `null`.
    pub new_value: Option<String>,
}

/// An object a change touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = targetResource)]
pub struct TargetResource {
    pub id: String,
    pub display_name: Option<String>,
    /// `User`, `Group`, `Application`, `ServicePrincipal`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub user_principal_name: Option<String>,
    pub modified_properties: Vec<ModifiedProperty>,
}

/// A key and its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = keyValue)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One audited change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = directoryAudit)]
pub struct DirectoryAudit {
    pub id: String,
    /// `UserManagement`, `GroupManagement`, `ApplicationManagement`, `RoleManagement`,
    /// `EntitlementManagement`.
    pub category: String,
    /// The request that made the change.
    pub correlation_id: Option<String>,
    #[schema(format = DateTime)]
    pub activity_date_time: String,
    pub activity_display_name: String,
    /// `Entitlement Management` or `Core Directory`.
    pub logged_by_service: String,
    /// `Add`, `Update`, `Delete`, `Assign`, `Unassign`.
    pub operation_type: String,
    pub result: String,
    pub result_reason: String,
    pub initiated_by: AuditActivityInitiator,
    pub target_resources: Vec<TargetResource>,
    pub additional_details: Vec<KeyValue>,
}

fn initiated_by(record: &AuditRecord) -> AuditActivityInitiator {
    let actor = &record.initiated_by;
    match actor.kind.as_str() {
        "user" => AuditActivityInitiator {
            app: None,
            user: Some(UserIdentity {
                id: actor.id.clone(),
                display_name: actor.display_name.clone(),
                user_principal_name: actor.login_name.clone(),
                ip_address: None,
            }),
        },
        // `app` (a service principal, agent identities included) and `system` (Writ itself,
        // which Entra also reports as an app with no service principal of its own).
        _ => AuditActivityInitiator {
            app: Some(AppIdentity {
                app_id: if actor.kind == "app" {
                    actor.login_name.clone()
                } else {
                    None
                },
                display_name: actor.display_name.clone(),
                service_principal_id: actor.id.clone(),
                service_principal_name: actor.display_name.clone(),
            }),
            user: None,
        },
    }
}

impl From<&AuditRecord> for DirectoryAudit {
    fn from(record: &AuditRecord) -> Self {
        Self {
            id: record.id.clone(),
            category: record.category.clone(),
            correlation_id: record.request_id.clone(),
            activity_date_time: instant(record.activity_date_time),
            activity_display_name: record.activity_display_name.clone(),
            logged_by_service: if record.category == ENTITLEMENT_MANAGEMENT {
                "Entitlement Management"
            } else {
                "Core Directory"
            }
            .to_owned(),
            operation_type: record.operation_type.clone(),
            result: record.result.clone(),
            result_reason: record.result_reason.clone().unwrap_or_default(),
            initiated_by: initiated_by(record),
            target_resources: record
                .target_resources
                .iter()
                .map(|t| TargetResource {
                    id: t.id.clone(),
                    display_name: t.display_name.clone(),
                    kind: t.kind.clone(),
                    user_principal_name: t.user_principal_name.clone(),
                    modified_properties: t
                        .modified_properties
                        .iter()
                        .map(|name| ModifiedProperty {
                            display_name: name.clone(),
                            old_value: None,
                            new_value: None,
                        })
                        .collect(),
                })
                .collect(),
            additional_details: record
                .additional_details
                .iter()
                .map(|(key, value)| KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

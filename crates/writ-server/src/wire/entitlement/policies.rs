//! Assignment policies and the body that creates, replaces or updates one. The nested settings
//! keep the shape the domain's policy model gives them (its serde types are Graph's, tagged by
//! `@odata.type` where Graph's are polymorphic); the schema names their Graph types, and a
//! body's settings are read by that model.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use writ_domain::entitlement::PolicyInput;
use writ_domain::entitlement::policy_model::AssignmentPolicy;
use writ_domain::patch::Patch;

use super::catalogs::{AccessPackage, AccessPackageCatalog};
use crate::error::{ApiError, ApiResult};
use crate::wire::body::WireBody;
use crate::wire::{instant, json};

/// `accessPackageAssignmentPolicy`; `accessPackage` and `catalog` only when expanded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAssignmentPolicy)]
pub struct AccessPackageAssignmentPolicy {
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `notSpecified`, `specificDirectoryUsers`, `specificConnectedOrganizationUsers`,
    /// `specificDirectoryServicePrincipals`, `allMemberUsers`, `allDirectoryUsers`,
    /// `allDirectoryServicePrincipals`, `allConfiguredConnectedOrganizationUsers`,
    /// `allExternalUsers`, `unknownFutureValue`.
    pub allowed_target_scope: String,
    /// `subjectSet[]`, each tagged by `@odata.type` (`#microsoft.graph.singleUser`, …).
    #[schema(value_type = Vec<Object>)]
    pub specific_allowed_targets: Value,
    /// `expirationPattern`.
    #[schema(value_type = Object)]
    pub expiration: Value,
    /// `accessPackageAssignmentRequestorSettings`.
    #[schema(value_type = Object)]
    pub requestor_settings: Value,
    /// `accessPackageAssignmentApprovalSettings`, with its `stages`.
    #[schema(value_type = Object)]
    pub request_approval_settings: Value,
    /// `accessPackageNotificationSettings`.
    #[schema(value_type = Object)]
    pub notification_settings: Value,
    /// `accessPackageQuestion[]`: text-input and multiple-choice questions by `@odata.type`.
    #[schema(value_type = Vec<Object>)]
    pub questions: Value,
    /// `customExtensionStageSetting[]`.
    #[schema(value_type = Vec<Object>)]
    pub custom_extension_stage_settings: Value,
    /// Always `null`.
    #[schema(value_type = Option<Object>)]
    pub automatic_request_settings: Option<Value>,
    /// Always `null`.
    #[schema(value_type = Option<Object>)]
    pub review_settings: Option<Value>,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub modified_date_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_package: Option<AccessPackage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<AccessPackageCatalog>,
}

impl From<&AssignmentPolicy> for AccessPackageAssignmentPolicy {
    fn from(p: &AssignmentPolicy) -> Self {
        let s = &p.settings;
        Self {
            id: p.id.clone(),
            display_name: p.display_name.clone(),
            description: p.description.clone(),
            allowed_target_scope: p.allowed_target_scope.clone(),
            specific_allowed_targets: json(&s.specific_allowed_targets),
            expiration: json(&s.expiration),
            requestor_settings: json(&s.requestor_settings),
            request_approval_settings: json(&s.request_approval_settings),
            notification_settings: json(&s.notification_settings),
            questions: json(&s.questions),
            custom_extension_stage_settings: json(&s.custom_extension_stage_settings),
            automatic_request_settings: None,
            review_settings: None,
            created_date_time: instant(p.created_date_time),
            modified_date_time: instant(p.modified_date_time),
            access_package: None,
            catalog: None,
        }
    }
}

/// `accessPackageAssignmentRequestRequirements`: what the caller must give when it requests
/// through one policy (`getApplicablePolicyRequirements`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAssignmentRequestRequirements)]
pub struct AccessPackageAssignmentRequestRequirements {
    pub policy_id: String,
    pub policy_display_name: String,
    pub policy_description: Option<String>,
    pub is_approval_required_for_add: bool,
    pub is_approval_required_for_update: bool,
    pub is_requestor_justification_required: bool,
    pub allow_custom_assignment_schedule: bool,
    /// `accessPackageQuestion[]`, by `@odata.type`.
    #[schema(value_type = Vec<Object>)]
    pub questions: Value,
    /// `entitlementManagementSchedule` with the policy's `expiration` only.
    #[schema(value_type = Object)]
    pub schedule: Value,
}

impl From<&AssignmentPolicy> for AccessPackageAssignmentRequestRequirements {
    fn from(p: &AssignmentPolicy) -> Self {
        let s = &p.settings;
        let approval = &s.request_approval_settings;
        Self {
            policy_id: p.id.clone(),
            policy_display_name: p.display_name.clone(),
            policy_description: p.description.clone(),
            is_approval_required_for_add: approval.is_approval_required_for_add,
            is_approval_required_for_update: approval.is_approval_required_for_update,
            is_requestor_justification_required: approval.is_requestor_justification_required,
            allow_custom_assignment_schedule: s.requestor_settings.allow_custom_assignment_schedule,
            questions: json(&s.questions),
            schedule: serde_json::json!({ "expiration": json(&s.expiration) }),
        }
    }
}

/// The body that creates (POST), replaces (PUT) or updates (PATCH) an assignment policy. The
/// settings are read by the domain's policy model (its messages:
/// `property 'expiration' is not valid: …`); `accessPackage` and `catalog` are `{"id": …}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAssignmentPolicyBody)]
pub struct AccessPackageAssignmentPolicyBody {
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    /// One of the policy's `allowedTargetScope` values (`notSpecified`, `specificDirectoryUsers`,
    /// `allDirectoryServicePrincipals`, …).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<String>)]
    pub allowed_target_scope: Patch<String>,
    /// `subjectSet[]`, each tagged by `@odata.type`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub specific_allowed_targets: Patch<Value>,
    /// `expirationPattern`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub expiration: Patch<Value>,
    /// `accessPackageAssignmentRequestorSettings`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub requestor_settings: Patch<Value>,
    /// `accessPackageAssignmentApprovalSettings`, with its `stages`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub request_approval_settings: Patch<Value>,
    /// `accessPackageNotificationSettings`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub notification_settings: Patch<Value>,
    /// `accessPackageQuestion[]`, by `@odata.type`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub questions: Patch<Value>,
    /// `customExtensionStageSetting[]`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub custom_extension_stage_settings: Patch<Value>,
    /// `accessPackageAutomaticRequestSettings`: only `requestAccessForAllowedTargets` is read
    /// (`true` is refused as not supported); any other value reads as `false`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub automatic_request_settings: Patch<Value>,
    /// `accessPackageAssignmentReviewSettings`: only `isEnabled` is read (`true` is refused as
    /// not supported); any other value reads as `false`.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub review_settings: Patch<Value>,
    /// `{"id": …}`: the package the policy governs (on create).
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub access_package: Patch<Map<String, Value>>,
    /// `{"id": …}`: must be the package's catalog.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    #[schema(value_type = Option<Object>)]
    pub catalog: Patch<Map<String, Value>>,
}

impl WireBody for AccessPackageAssignmentPolicyBody {
    const GRAPH_TYPE: &'static str = "accessPackageAssignmentPolicy";
    // The domain's serde model reads the settings (as before this type, a derived struct reads
    // from an array too); the two unsupported settings read any value, as not enabled.
    const UNCHECKED: &'static [&'static str] = &[
        "expiration",
        "requestorSettings",
        "requestApprovalSettings",
        "notificationSettings",
        "automaticRequestSettings",
        "reviewSettings",
    ];
}

/// Arrays whose items are polymorphic (`@odata.type` chooses the type).
const POLYMORPHIC: &[&str] = &[
    "specificAllowedTargets",
    "onBehalfRequestors",
    "primaryApprovers",
    "fallbackPrimaryApprovers",
    "escalationApprovers",
    "fallbackEscalationApprovers",
    "questions",
];

/// Drops the annotations clients add to non-polymorphic objects (`@odata.type` of complex
/// types) and the `isBackup` flag some documents put on subject sets, which Graph v1.0 does not
/// declare.
fn normalize(value: &mut Value, polymorphic_item: bool) {
    match value {
        Value::Object(map) => {
            if polymorphic_item {
                map.remove("isBackup");
            } else {
                map.remove("@odata.type");
            }
            for (key, inner) in map.iter_mut() {
                match inner {
                    Value::Array(items) if POLYMORPHIC.contains(&key.as_str()) => {
                        for item in items.iter_mut() {
                            normalize(item, true);
                        }
                    }
                    other => normalize(other, false),
                }
            }
        }
        Value::Array(items) => {
            for item in items.iter_mut() {
                normalize(item, false);
            }
        }
        _ => {}
    }
}

/// A setting read by the domain's model: absent is `None`, `null` is refused.
fn typed<T: DeserializeOwned>(value: Patch<Value>, name: &str) -> ApiResult<Option<T>> {
    match value {
        Patch::Absent => Ok(None),
        Patch::Null => Err(ApiError::bad_request(format!(
            "property '{name}' cannot be null"
        ))),
        Patch::Value(mut value) => {
            match &mut value {
                Value::Array(items) if POLYMORPHIC.contains(&name) => {
                    for item in items.iter_mut() {
                        normalize(item, true);
                    }
                }
                other => normalize(other, false),
            }
            serde_json::from_value(value)
                .map(Some)
                .map_err(|e| ApiError::bad_request(format!("property '{name}' is not valid: {e}")))
        }
    }
}

/// Whether an optional settings value is present with `flag` true.
fn enabled(value: &Patch<Value>, flag: &str) -> bool {
    match value {
        Patch::Value(v) => v.get(flag).and_then(Value::as_bool).unwrap_or(false),
        Patch::Absent | Patch::Null => false,
    }
}

/// The `id` of a `{"id": …}` reference named `name`, if the body has one.
fn reference(value: Patch<Map<String, Value>>, name: &str) -> ApiResult<Option<String>> {
    match value {
        Patch::Value(object) => object
            .get("id")
            .and_then(Value::as_str)
            .map(|id| Some(id.to_owned()))
            .ok_or_else(|| ApiError::bad_request(format!("property '{name}.id' must be a string"))),
        Patch::Absent | Patch::Null => Ok(None),
    }
}

impl AccessPackageAssignmentPolicyBody {
    /// The domain's input, the settings read by its policy model.
    pub fn into_input(self) -> ApiResult<PolicyInput> {
        let access_package_id = reference(self.access_package, "accessPackage")?;
        let questions = typed(self.questions, "questions")?;
        Ok(PolicyInput {
            display_name: self.display_name,
            description: self.description,
            allowed_target_scope: self.allowed_target_scope,
            specific_allowed_targets: typed(
                self.specific_allowed_targets,
                "specificAllowedTargets",
            )?,
            expiration: typed(self.expiration, "expiration")?,
            requestor_settings: typed(self.requestor_settings, "requestorSettings")?,
            request_approval_settings: typed(
                self.request_approval_settings,
                "requestApprovalSettings",
            )?,
            notification_settings: typed(self.notification_settings, "notificationSettings")?,
            questions,
            custom_extension_stage_settings: typed(
                self.custom_extension_stage_settings,
                "customExtensionStageSettings",
            )?,
            automatic_requests_enabled: enabled(
                &self.automatic_request_settings,
                "requestAccessForAllowedTargets",
            ),
            reviews_enabled: enabled(&self.review_settings, "isEnabled"),
            access_package_id,
            catalog_id: reference(self.catalog, "catalog")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::json_input::JsonObject;
    use crate::wire::body::read;

    fn input(value: Value) -> Result<PolicyInput, String> {
        let body = JsonObject {
            fields: value.as_object().cloned().unwrap_or_default(),
            raw: Default::default(),
        };
        read::<AccessPackageAssignmentPolicyBody>(&body)
            .and_then(AccessPackageAssignmentPolicyBody::into_input)
            .map_err(|e| e.message)
    }

    #[test]
    fn settings_are_read_by_the_domain_model_with_its_messages() {
        let read = input(json!({
            "displayName": "P",
            "accessPackage": {"id": "p"},
            "automaticRequestSettings": "anything",
            "reviewSettings": {"isEnabled": true},
            "requestorSettings": {"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestorSettings"},
        }))
        .unwrap();
        assert_eq!(read.access_package_id.as_deref(), Some("p"));
        assert!(!read.automatic_requests_enabled);
        assert!(read.reviews_enabled);
        assert!(read.requestor_settings.is_some());
        assert!(
            input(json!({"expiration": "P1D"}))
                .unwrap_err()
                .starts_with("property 'expiration' is not valid: ")
        );
        assert_eq!(
            input(json!({"expiration": null})).unwrap_err(),
            "property 'expiration' cannot be null"
        );
        assert_eq!(
            input(json!({"catalog": {"id": 1}})).unwrap_err(),
            "property 'catalog.id' must be a string"
        );
        assert_eq!(
            input(json!({"accessPackage": "p"})).unwrap_err(),
            "property 'accessPackage' must be an object"
        );
        assert_eq!(
            input(json!({"displayName": 5})).unwrap_err(),
            "property 'displayName' must be a string"
        );
    }
}

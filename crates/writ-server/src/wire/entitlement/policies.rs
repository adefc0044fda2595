//! Assignment policies. The nested settings keep the shape the domain's policy model gives them
//! (its serde types are Graph's, tagged by `@odata.type` where Graph's are polymorphic); the
//! schema names their Graph types.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use writ_domain::entitlement::policy_model::AssignmentPolicy;

use super::catalogs::{AccessPackage, AccessPackageCatalog};
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

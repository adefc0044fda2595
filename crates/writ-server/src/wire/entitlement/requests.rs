//! Assignment requests, assignments, their subjects, schedules, answers and custom extension
//! callout instances; approvals and their stages.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::entitlement::{
    Answer, ApprovalStageRecord, Assignment, AssignmentRequest, CalloutInstance, Subject,
};

use super::catalogs::AccessPackage;
use super::policies::AccessPackageAssignmentPolicy;
use crate::wire::{instant, optional_instant};

/// The `@odata.type` of every answer Writ records.
pub const ANSWER_TYPE: &str = "#microsoft.graph.accessPackageAnswerString";

/// `expirationPattern`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = expirationPattern)]
pub struct ExpirationPattern {
    #[schema(format = DateTime)]
    pub end_date_time: Option<String>,
    /// An ISO 8601 duration.
    pub duration: Option<String>,
    /// `notSpecified`, `noExpiration`, `afterDateTime` or `afterDuration`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `entitlementManagementSchedule`; `recurrence` is always `null`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = entitlementManagementSchedule)]
pub struct EntitlementManagementSchedule {
    #[schema(format = DateTime)]
    pub start_date_time: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub recurrence: Option<serde_json::Value>,
    pub expiration: ExpirationPattern,
}

impl EntitlementManagementSchedule {
    fn new(
        start: Option<time::OffsetDateTime>,
        end: Option<time::OffsetDateTime>,
        duration: Option<&str>,
        kind: &str,
    ) -> Self {
        Self {
            start_date_time: optional_instant(start),
            recurrence: None,
            expiration: ExpirationPattern {
                end_date_time: optional_instant(end),
                duration: duration.map(str::to_owned),
                kind: kind.to_owned(),
            },
        }
    }
}

/// The question an answer answers: its type and id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageQuestion)]
pub struct AccessPackageQuestion {
    /// `#microsoft.graph.accessPackageTextInputQuestion` or
    /// `#microsoft.graph.accessPackageMultipleChoiceQuestion`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
}

/// `accessPackageAnswerString`: the answer to one of the policy's questions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAnswerString)]
pub struct AccessPackageAnswerString {
    /// Always `#microsoft.graph.accessPackageAnswerString`.
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub value: String,
    pub display_value: Option<String>,
    pub answered_question: AccessPackageQuestion,
}

impl From<&Answer> for AccessPackageAnswerString {
    fn from(a: &Answer) -> Self {
        Self {
            odata_type: ANSWER_TYPE.to_owned(),
            value: a.value.clone(),
            display_value: a.display_value.clone(),
            answered_question: AccessPackageQuestion {
                odata_type: a.question_type.clone(),
                id: a.question_id.clone(),
            },
        }
    }
}

/// `customExtensionCalloutInstance`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = customExtensionCalloutInstance)]
pub struct CustomExtensionCalloutInstance {
    pub id: String,
    pub custom_extension_id: String,
    pub detail: Option<String>,
    /// Always `null`.
    pub external_correlation_id: Option<String>,
    /// `calloutSent`, `callbackReceived`, `calloutFailed`, `callbackTimedOut` or
    /// `waitingForCallback`.
    pub status: String,
}

impl From<&CalloutInstance> for CustomExtensionCalloutInstance {
    fn from(i: &CalloutInstance) -> Self {
        Self {
            id: i.id.clone(),
            custom_extension_id: i.custom_extension_id.clone(),
            detail: i.detail.clone(),
            external_correlation_id: None,
            status: i.status.to_owned(),
        }
    }
}

/// `accessPackageSubject`: a request's target or requestor, an assignment's target.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageSubject)]
pub struct AccessPackageSubject {
    pub id: String,
    pub object_id: String,
    pub display_name: String,
    pub principal_name: Option<String>,
    pub email: Option<String>,
    /// Always `null`.
    pub on_premises_security_identifier: Option<String>,
    /// `user` or `servicePrincipal`.
    pub subject_type: String,
    /// Always `notDefined`.
    pub subject_lifecycle: String,
}

impl From<&Subject> for AccessPackageSubject {
    fn from(s: &Subject) -> Self {
        Self {
            id: s.id.clone(),
            object_id: s.id.clone(),
            display_name: s.display_name.clone(),
            principal_name: s.principal_name.clone(),
            email: s.mail.clone(),
            on_premises_security_identifier: None,
            subject_type: Subject::subject_type(s.kind).to_owned(),
            subject_lifecycle: "notDefined".to_owned(),
        }
    }
}

/// `accessPackageAssignment`; the navigation properties only when expanded (`null` when the
/// related object is gone).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAssignment)]
pub struct AccessPackageAssignment {
    pub id: String,
    /// `delivering`, `delivered`, `expired`, …
    pub state: String,
    pub status: String,
    #[schema(format = DateTime)]
    pub expired_date_time: Option<String>,
    pub schedule: EntitlementManagementSchedule,
    pub custom_extension_callout_instances: Vec<CustomExtensionCalloutInstance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AccessPackage>)]
    pub access_package: Option<Option<AccessPackage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AccessPackageAssignmentPolicy>)]
    pub assignment_policy: Option<Option<AccessPackageAssignmentPolicy>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AccessPackageSubject>)]
    pub target: Option<Option<AccessPackageSubject>>,
}

impl AccessPackageAssignment {
    /// The assignment with its callout instances.
    pub fn new(a: &Assignment, instances: &[CalloutInstance]) -> Self {
        Self {
            id: a.id.clone(),
            state: a.state.as_str().to_owned(),
            status: a.status.clone(),
            expired_date_time: optional_instant(a.expired_date_time),
            schedule: EntitlementManagementSchedule::new(
                Some(a.start_date_time),
                a.end_date_time,
                None,
                if a.end_date_time.is_some() {
                    "afterDateTime"
                } else {
                    "noExpiration"
                },
            ),
            custom_extension_callout_instances: instances
                .iter()
                .map(CustomExtensionCalloutInstance::from)
                .collect(),
            access_package: None,
            assignment_policy: None,
            target: None,
        }
    }
}

impl From<&Assignment> for AccessPackageAssignment {
    fn from(a: &Assignment) -> Self {
        Self::new(a, &[])
    }
}

/// `accessPackageAssignmentRequest`; the navigation properties only when expanded (`null` when
/// the related object is gone).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAssignmentRequest)]
pub struct AccessPackageAssignmentRequest {
    pub id: String,
    /// `adminAdd`, `adminUpdate`, `adminRemove`, `userAdd`, `userUpdate`, `userRemove`, …
    pub request_type: String,
    /// `submitted`, `pendingApproval`, `delivering`, `delivered`, `denied`, `canceled`, …
    pub state: String,
    pub status: String,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    #[schema(format = DateTime)]
    pub completed_date_time: Option<String>,
    pub justification: Option<String>,
    pub schedule: EntitlementManagementSchedule,
    pub answers: Vec<AccessPackageAnswerString>,
    pub custom_extension_callout_instances: Vec<CustomExtensionCalloutInstance>,
    /// As the requestor sent them; `null` if none were.
    pub parameters: Option<AccessPackageAssignmentRequestParameters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AccessPackage>)]
    pub access_package: Option<Option<AccessPackage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AccessPackageAssignment>)]
    pub assignment: Option<Option<AccessPackageAssignment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<AccessPackageSubject>)]
    pub requestor: Option<Option<AccessPackageSubject>>,
}

impl AccessPackageAssignmentRequest {
    /// The request with its callout instances.
    pub fn new(r: &AssignmentRequest, instances: &[CalloutInstance]) -> Self {
        Self {
            id: r.id.clone(),
            request_type: r.request_type.as_str().to_owned(),
            state: r.state.as_str().to_owned(),
            status: r.status.clone(),
            created_date_time: instant(r.created_date_time),
            completed_date_time: optional_instant(r.completed_date_time),
            justification: r.justification.clone(),
            schedule: EntitlementManagementSchedule::new(
                r.schedule.start_date_time,
                r.schedule.expiration.end_date_time,
                r.schedule.expiration.duration.as_deref(),
                &r.schedule.expiration.kind,
            ),
            answers: r
                .answers
                .iter()
                .map(AccessPackageAnswerString::from)
                .collect(),
            custom_extension_callout_instances: instances
                .iter()
                .map(CustomExtensionCalloutInstance::from)
                .collect(),
            parameters: r
                .parameters
                .as_ref()
                .map(|p| AccessPackageAssignmentRequestParameters {
                    bypass_approval: p.bypass_approval,
                }),
            access_package: None,
            assignment: None,
            requestor: None,
        }
    }
}

/// Graph's `accessPackageAssignmentRequestParameters`, returned as sent. `bypassApproval: true`
/// (break-glass) is accepted from tenant-wide administrators only and skips approval.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = accessPackageAssignmentRequestParameters)]
pub struct AccessPackageAssignmentRequestParameters {
    pub bypass_approval: Option<bool>,
}

impl From<&AssignmentRequest> for AccessPackageAssignmentRequest {
    fn from(r: &AssignmentRequest) -> Self {
        Self::new(r, &[])
    }
}

/// `identity`: who reviewed a stage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = identity)]
pub struct Identity {
    pub id: String,
    pub display_name: String,
}

/// `approvalStage`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = approvalStage)]
pub struct ApprovalStage {
    pub id: String,
    /// `Stage 1`, `Stage 2`, …
    pub display_name: String,
    /// `NotStarted`, `InProgress`, `Completed` or `Expired`.
    pub status: String,
    /// `NotReviewed`, `Approved` or `Denied`.
    pub review_result: String,
    /// Whether the caller may decide this stage now.
    pub assigned_to_me: bool,
    pub justification: Option<String>,
    pub reviewed_by: Option<Identity>,
    #[schema(format = DateTime)]
    pub reviewed_date_time: Option<String>,
}

impl ApprovalStage {
    /// One stage; `assigned` is the stage the caller may decide now.
    pub fn new(stage: &ApprovalStageRecord, assigned: Option<&str>) -> Self {
        Self {
            id: stage.id.clone(),
            display_name: format!("Stage {}", u64::from(stage.stage_index) + 1),
            status: stage.status.clone(),
            review_result: stage.review_result.clone(),
            assigned_to_me: assigned == Some(stage.id.as_str()),
            justification: stage.justification.clone(),
            reviewed_by: stage.reviewed_by.as_ref().map(|(id, name)| Identity {
                id: id.clone(),
                display_name: name.clone(),
            }),
            reviewed_date_time: optional_instant(stage.reviewed_date_time),
        }
    }
}

/// `approval`: the approval of a request (same id), its stages inline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = approval)]
pub struct Approval {
    pub id: String,
    pub stages: Vec<ApprovalStage>,
}

impl Approval {
    pub fn new(id: &str, stages: &[ApprovalStageRecord], assigned: Option<&str>) -> Self {
        Self {
            id: id.to_owned(),
            stages: stages
                .iter()
                .map(|s| ApprovalStage::new(s, assigned))
                .collect(),
        }
    }
}

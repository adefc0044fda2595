//! The settings of an assignment policy, typed as Graph shapes them: subject sets (tagged by
//! `@odata.type`), requestor settings, approval stages, expiration, questions. One document per
//! policy, validated by `entitlement::policies` and stored as JSON.

use serde::{Deserialize, Serialize};

use super::parse_enum_field;
use crate::error::DomainResult;

/// Who: a user, a group's members, a service principal, a relationship to the target or the
/// requestor. Tagged by Graph's `@odata.type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type", deny_unknown_fields)]
pub enum SubjectSet {
    #[serde(rename = "#microsoft.graph.singleUser", rename_all = "camelCase")]
    SingleUser {
        user_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    #[serde(rename = "#microsoft.graph.groupMembers", rename_all = "camelCase")]
    GroupMembers {
        group_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    #[serde(
        rename = "#microsoft.graph.singleServicePrincipal",
        rename_all = "camelCase"
    )]
    SingleServicePrincipal {
        service_principal_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    #[serde(
        rename = "#microsoft.graph.connectedOrganizationMembers",
        rename_all = "camelCase"
    )]
    ConnectedOrganizationMembers {
        connected_organization_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    #[serde(
        rename = "#microsoft.graph.attributeRuleMembers",
        rename_all = "camelCase"
    )]
    AttributeRuleMembers {
        membership_rule: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    #[serde(rename = "#microsoft.graph.requestorManager", rename_all = "camelCase")]
    RequestorManager {
        #[serde(default = "one")]
        manager_level: i32,
    },
    #[serde(rename = "#microsoft.graph.targetManager", rename_all = "camelCase")]
    TargetManager {
        #[serde(default = "one")]
        manager_level: i32,
    },
    #[serde(rename = "#microsoft.graph.internalSponsors")]
    InternalSponsors {},
    #[serde(rename = "#microsoft.graph.externalSponsors")]
    ExternalSponsors {},
    #[serde(rename = "#microsoft.graph.targetUserSponsors")]
    TargetUserSponsors {},
    #[serde(rename = "#microsoft.graph.targetApplicationOwners")]
    TargetApplicationOwners {},
    #[serde(rename = "#microsoft.graph.targetAgentIdentitySponsorsOrOwners")]
    TargetAgentIdentitySponsorsOrOwners {},
}

fn one() -> i32 {
    1
}

impl SubjectSet {
    /// The Graph type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            SubjectSet::SingleUser { .. } => "singleUser",
            SubjectSet::GroupMembers { .. } => "groupMembers",
            SubjectSet::SingleServicePrincipal { .. } => "singleServicePrincipal",
            SubjectSet::ConnectedOrganizationMembers { .. } => "connectedOrganizationMembers",
            SubjectSet::AttributeRuleMembers { .. } => "attributeRuleMembers",
            SubjectSet::RequestorManager { .. } => "requestorManager",
            SubjectSet::TargetManager { .. } => "targetManager",
            SubjectSet::InternalSponsors {} => "internalSponsors",
            SubjectSet::ExternalSponsors {} => "externalSponsors",
            SubjectSet::TargetUserSponsors {} => "targetUserSponsors",
            SubjectSet::TargetApplicationOwners {} => "targetApplicationOwners",
            SubjectSet::TargetAgentIdentitySponsorsOrOwners {} => {
                "targetAgentIdentitySponsorsOrOwners"
            }
        }
    }

    /// The directory object the set names, if it names one.
    pub fn object_id(&self) -> Option<&str> {
        match self {
            SubjectSet::SingleUser { user_id, .. } => Some(user_id),
            SubjectSet::GroupMembers { group_id, .. } => Some(group_id),
            SubjectSet::SingleServicePrincipal {
                service_principal_id,
                ..
            } => Some(service_principal_id),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expiration {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub end_date_time: Option<time::OffsetDateTime>,
}

impl Default for Expiration {
    fn default() -> Self {
        Self {
            kind: "notSpecified".into(),
            duration: None,
            end_date_time: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RequestorSettings {
    pub allow_custom_assignment_schedule: bool,
    pub enable_on_behalf_requestors_to_add_access: bool,
    pub enable_on_behalf_requestors_to_remove_access: bool,
    pub enable_on_behalf_requestors_to_update_access: bool,
    pub enable_targets_to_self_add_access: bool,
    pub enable_targets_to_self_remove_access: bool,
    pub enable_targets_to_self_update_access: bool,
    pub on_behalf_requestors: Vec<SubjectSet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ApprovalStage {
    pub approver_information_visibility: String,
    pub duration_before_automatic_denial: Option<String>,
    pub duration_before_escalation: Option<String>,
    pub escalation_approvers: Vec<SubjectSet>,
    pub fallback_escalation_approvers: Vec<SubjectSet>,
    pub fallback_primary_approvers: Vec<SubjectSet>,
    pub is_approver_justification_required: bool,
    pub is_escalation_enabled: bool,
    pub primary_approvers: Vec<SubjectSet>,
}

impl Default for ApprovalStage {
    fn default() -> Self {
        Self {
            approver_information_visibility: "default".into(),
            duration_before_automatic_denial: None,
            duration_before_escalation: None,
            escalation_approvers: Vec::new(),
            fallback_escalation_approvers: Vec::new(),
            fallback_primary_approvers: Vec::new(),
            is_approver_justification_required: false,
            is_escalation_enabled: false,
            primary_approvers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ApprovalSettings {
    pub is_approval_required_for_add: bool,
    pub is_approval_required_for_update: bool,
    pub is_requestor_justification_required: bool,
    pub stages: Vec<ApprovalStage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct NotificationSettings {
    pub is_assignment_notification_disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalizedText {
    pub language_code: String,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerChoice {
    pub actual_value: String,
    #[serde(default)]
    pub localizations: Vec<LocalizedText>,
    #[serde(default)]
    pub text: Option<String>,
}

/// A question asked of requestors; ids are assigned by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type", deny_unknown_fields)]
pub enum Question {
    #[serde(
        rename = "#microsoft.graph.accessPackageTextInputQuestion",
        rename_all = "camelCase"
    )]
    TextInput {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        is_answer_editable: bool,
        #[serde(default)]
        is_required: bool,
        #[serde(default)]
        localizations: Vec<LocalizedText>,
        #[serde(default)]
        sequence: i32,
        text: String,
        #[serde(default)]
        is_single_line_question: bool,
        #[serde(default)]
        regex_pattern: Option<String>,
    },
    #[serde(
        rename = "#microsoft.graph.accessPackageMultipleChoiceQuestion",
        rename_all = "camelCase"
    )]
    MultipleChoice {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        is_answer_editable: bool,
        #[serde(default)]
        is_required: bool,
        #[serde(default)]
        localizations: Vec<LocalizedText>,
        #[serde(default)]
        sequence: i32,
        text: String,
        #[serde(default)]
        choices: Vec<AnswerChoice>,
        #[serde(default)]
        is_multiple_selection_allowed: bool,
    },
}

/// A reference to a custom workflow extension of the policy's catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionReference {
    pub id: String,
}

/// When a custom workflow extension is called (`customExtensionStageSettings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomExtensionStageSetting {
    #[serde(default)]
    pub id: Option<String>,
    pub stage: String,
    pub custom_extension: ExtensionReference,
}

/// The nested settings of a policy, stored as one JSON document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicySettings {
    pub specific_allowed_targets: Vec<SubjectSet>,
    pub expiration: Expiration,
    pub requestor_settings: RequestorSettings,
    pub request_approval_settings: ApprovalSettings,
    pub notification_settings: NotificationSettings,
    pub questions: Vec<Question>,
    pub custom_extension_stage_settings: Vec<CustomExtensionStageSetting>,
    /// Writ's own setting, not Graph's: read and changed through
    /// `/writ/v1/assignmentPolicies/{id}/breakGlass`, never in the policy's Graph shape, and kept
    /// by a Graph `PUT` or `PATCH` of the policy.
    #[serde(rename = "isApprovalBypassAllowed")]
    pub approval_bypass: ApprovalBypass,
}

/// Whether a tenant-wide administrator's `parameters.bypassApproval` is accepted under a policy
/// (break-glass, DESIGN section 17). Allowed unless the policy forbids it: a policy stored
/// before the setting existed allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApprovalBypass(pub bool);

impl Default for ApprovalBypass {
    fn default() -> Self {
        Self(true)
    }
}

/// An assignment policy of an access package.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentPolicy {
    pub id: String,
    pub access_package_id: String,
    pub catalog_id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub allowed_target_scope: String,
    pub settings: PolicySettings,
    pub created_date_time: time::OffsetDateTime,
    pub modified_date_time: time::OffsetDateTime,
}

/// Graph's `expirationPatternType`: how an assignment's end is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpirationKind {
    NotSpecified,
    NoExpiration,
    AfterDateTime,
    AfterDuration,
}

impl ExpirationKind {
    pub const ALL: [ExpirationKind; 4] = [
        ExpirationKind::NotSpecified,
        ExpirationKind::NoExpiration,
        ExpirationKind::AfterDateTime,
        ExpirationKind::AfterDuration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExpirationKind::NotSpecified => "notSpecified",
            ExpirationKind::NoExpiration => "noExpiration",
            ExpirationKind::AfterDateTime => "afterDateTime",
            ExpirationKind::AfterDuration => "afterDuration",
        }
    }

    /// The kind as stored (exactly as written); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The kind a client wrote in `field`, in any case; a `400` naming the field otherwise.
    pub fn parse_field(text: &str, field: &str) -> DomainResult<Self> {
        parse_enum_field(&Self::ALL, Self::as_str, text, field)
    }

    /// Whether the pattern gives an end (`afterDuration`, `afterDateTime`): access for agents
    /// is always time-bound.
    pub fn is_time_bound(self) -> bool {
        matches!(
            self,
            ExpirationKind::AfterDuration | ExpirationKind::AfterDateTime
        )
    }
}

impl Expiration {
    /// The pattern's kind; `None` for a string that is none of Graph's (a request's schedule is
    /// not canonicalized, and such a pattern gives no end).
    pub fn expiration_kind(&self) -> Option<ExpirationKind> {
        ExpirationKind::parse(&self.kind)
    }

    /// Whether the pattern is of `kind`.
    pub fn is(&self, kind: ExpirationKind) -> bool {
        self.kind == kind.as_str()
    }
}

/// Graph's `allowedTargetScope`, with Writ's evolvable agent scope (DESIGN section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetScope {
    NotSpecified,
    SpecificDirectoryUsers,
    SpecificConnectedOrganizationUsers,
    SpecificDirectoryServicePrincipals,
    AllMemberUsers,
    AllDirectoryUsers,
    AllDirectoryServicePrincipals,
    AllConfiguredConnectedOrganizationUsers,
    AllExternalUsers,
    AllDirectoryAgentIdentities,
}

impl TargetScope {
    pub const ALL: [TargetScope; 10] = [
        TargetScope::NotSpecified,
        TargetScope::SpecificDirectoryUsers,
        TargetScope::SpecificConnectedOrganizationUsers,
        TargetScope::SpecificDirectoryServicePrincipals,
        TargetScope::AllMemberUsers,
        TargetScope::AllDirectoryUsers,
        TargetScope::AllDirectoryServicePrincipals,
        TargetScope::AllConfiguredConnectedOrganizationUsers,
        TargetScope::AllExternalUsers,
        TargetScope::AllDirectoryAgentIdentities,
    ];

    /// Every scope's name, in declaration order.
    pub const NAMES: &'static [&'static str] = &[
        "notSpecified",
        "specificDirectoryUsers",
        "specificConnectedOrganizationUsers",
        "specificDirectoryServicePrincipals",
        "allMemberUsers",
        "allDirectoryUsers",
        "allDirectoryServicePrincipals",
        "allConfiguredConnectedOrganizationUsers",
        "allExternalUsers",
        "allDirectoryAgentIdentities",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetScope::NotSpecified => "notSpecified",
            TargetScope::SpecificDirectoryUsers => "specificDirectoryUsers",
            TargetScope::SpecificConnectedOrganizationUsers => "specificConnectedOrganizationUsers",
            TargetScope::SpecificDirectoryServicePrincipals => "specificDirectoryServicePrincipals",
            TargetScope::AllMemberUsers => "allMemberUsers",
            TargetScope::AllDirectoryUsers => "allDirectoryUsers",
            TargetScope::AllDirectoryServicePrincipals => "allDirectoryServicePrincipals",
            TargetScope::AllConfiguredConnectedOrganizationUsers => {
                "allConfiguredConnectedOrganizationUsers"
            }
            TargetScope::AllExternalUsers => "allExternalUsers",
            TargetScope::AllDirectoryAgentIdentities => "allDirectoryAgentIdentities",
        }
    }

    /// The scope as stored (exactly as written); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The scope a client wrote in `field`, in any case; a `400` naming the field otherwise.
    pub fn parse_field(text: &str, field: &str) -> DomainResult<Self> {
        parse_enum_field(&Self::ALL, Self::as_str, text, field)
    }

    /// The `specific*` scopes, which take `specificAllowedTargets`.
    pub fn is_specific(self) -> bool {
        matches!(
            self,
            TargetScope::SpecificDirectoryUsers
                | TargetScope::SpecificConnectedOrganizationUsers
                | TargetScope::SpecificDirectoryServicePrincipals
        )
    }
}

impl AssignmentPolicy {
    /// The policy's `allowedTargetScope`; `None` for a string that is none of Writ's (never
    /// written: the scope is canonicalized when the policy is).
    pub fn target_scope(&self) -> Option<TargetScope> {
        TargetScope::parse(&self.allowed_target_scope)
    }
}

impl CustomExtensionStageSetting {
    /// The stage the setting names; `None` for a string that is none of Graph's (never written:
    /// the stage is canonicalized when the policy is).
    pub fn callout_stage(&self) -> Option<super::callout::CalloutStage> {
        super::callout::CalloutStage::parse(&self.stage)
    }
}

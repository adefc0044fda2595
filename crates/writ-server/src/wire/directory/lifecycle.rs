//! Lifecycle policies for agent identities (`identityGovernance.agentIdentityLifecyclePolicy`,
//! under `/identityGovernance/lifecycleWorkflows/lifecyclePolicies`) and an agent identity's
//! lifecycle state (`identityGovernance.agentIdentityLifecycle`), in Graph's shapes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use writ_domain::directory::lifecycle_policies::{AgentLifecycle, ComplianceIssue};
use writ_domain::model::{AGENT_POLICY_TYPE, LifecyclePolicy as DomainPolicy, RuleType};

use crate::wire::instant;

/// A lifecycle policy. `priority` is Writ's: the enabled policy with the lowest number governs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = agentIdentityLifecyclePolicy)]
pub struct LifecyclePolicy {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub is_enabled: bool,
    pub priority: i32,
    pub grace_period_in_days: i32,
    /// `disableOnlyEnforcementAction` or `disableThenDeleteEnforcementAction`
    /// (`deletionGracePeriodInDays`).
    #[schema(value_type = Object)]
    pub enforcement_action: Value,
    /// `periodicAttestationRule`, `sponsorPresenceRule`, `inactivityRule`.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Value>,
    /// `additionalFallbackRecipients`, `offsetsAfterNonComplianceInDays`.
    #[schema(value_type = Option<Object>)]
    pub notification_schedule: Option<Value>,
    pub created_date_time: String,
    pub last_modified_date_time: String,
}

impl From<&DomainPolicy> for LifecyclePolicy {
    fn from(p: &DomainPolicy) -> Self {
        let d = &p.document;
        Self {
            odata_type: AGENT_POLICY_TYPE.to_owned(),
            id: p.id.clone(),
            display_name: d.display_name.clone(),
            description: d.description.clone(),
            is_enabled: d.is_enabled,
            priority: d.priority,
            grace_period_in_days: d.grace_period_in_days,
            enforcement_action: json(&d.enforcement_action),
            rules: d.rules.iter().map(json).collect(),
            notification_schedule: d.notification_schedule.as_ref().map(json),
            created_date_time: instant(p.created_date_time),
            last_modified_date_time: instant(p.last_modified_date_time),
        }
    }
}

/// A domain serde type as JSON, which cannot fail for these types (`null` if it ever did).
fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The body of `POST` and `PATCH` of a lifecycle policy (every property optional on `PATCH`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = agentIdentityLifecyclePolicyBody)]
pub struct LifecyclePolicyBody {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub is_enabled: Option<bool>,
    pub priority: Option<i32>,
    pub grace_period_in_days: Option<i32>,
    #[schema(value_type = Option<Object>)]
    pub enforcement_action: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub rules: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub notification_schedule: Option<Value>,
}

/// Graph's `complianceIssue` (`attestationComplianceIssue` for the attestation rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = complianceIssue)]
pub struct WireComplianceIssue {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// The rule type: one issue per violated rule.
    pub id: String,
    /// `attestationOverdue`, `inactive` or `insufficientSponsors`.
    pub issue_code: String,
    pub description: String,
    pub governing_policy_reference_id: String,
    /// `periodicAttestationRule`, `sponsorPresenceRule` or `inactivityRule`.
    pub rule_type: String,
    /// Attestation issues only: always empty (nothing blocks an attestation in Writ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation_block_reasons: Option<Vec<String>>,
    /// Writ's: when the rule was first violated.
    pub non_compliant_since_date_time: String,
    /// Writ's: when enforcement runs unless the agent is compliant again.
    pub enforcement_date_time: String,
}

impl From<&ComplianceIssue> for WireComplianceIssue {
    fn from(i: &ComplianceIssue) -> Self {
        let attestation = i.rule_type == RuleType::PeriodicAttestation;
        Self {
            odata_type: if attestation {
                "#microsoft.graph.identityGovernance.attestationComplianceIssue"
            } else {
                "#microsoft.graph.identityGovernance.complianceIssue"
            }
            .to_owned(),
            id: i.rule_type.as_str().to_owned(),
            issue_code: i.issue_code.to_owned(),
            description: i.description.clone(),
            governing_policy_reference_id: i.governing_policy_id.clone(),
            rule_type: i.rule_type.as_str().to_owned(),
            attestation_block_reasons: attestation.then(Vec::new),
            non_compliant_since_date_time: instant(i.since),
            enforcement_date_time: instant(i.enforce_at),
        }
    }
}

/// Graph's `agentIdentityLifecycle`: `complianceIssues` always inline, the governing policy
/// when `$expand=effectiveGoverningPolicy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = agentIdentityLifecycle)]
pub struct AgentIdentityLifecycle {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    /// The agent identity's id.
    pub id: String,
    pub last_attestation_date_time: Option<String>,
    pub compliance_issues: Vec<WireComplianceIssue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_governing_policy: Option<LifecyclePolicy>,
}

impl AgentIdentityLifecycle {
    pub fn new(l: &AgentLifecycle, expand_policy: bool) -> Self {
        Self {
            odata_type: "#microsoft.graph.identityGovernance.agentIdentityLifecycle".into(),
            id: l.agent_id.clone(),
            last_attestation_date_time: l.last_attestation_date_time.map(instant),
            compliance_issues: l.compliance_issues.iter().map(Into::into).collect(),
            effective_governing_policy: if expand_policy {
                l.effective_governing_policy.as_ref().map(Into::into)
            } else {
                None
            },
        }
    }
}

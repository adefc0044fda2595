//! Graph's lifecycle policies for agent identities (`identityGovernance.agentIdentityLifecyclePolicy`,
//! DESIGN section 17) and each agent's lifecycle state (`agentIdentityLifecycle`). The policy's
//! rules, enforcement action and notification schedule are typed here in Graph's JSON shape
//! (`@odata.type` picks the derived type), stored as one validated document.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `@odata.type` of the one derived policy type Writ holds.
pub const AGENT_POLICY_TYPE: &str =
    "#microsoft.graph.identityGovernance.agentIdentityLifecyclePolicy";

fn yes() -> bool {
    true
}

/// What a policy says, as written by `POST` and `PATCH` (Graph's property names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LifecyclePolicyDocument {
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub is_enabled: bool,
    /// Writ's own: the lowest number governs (Graph orders policies in a separate
    /// `lifecyclePolicyPriorityConfiguration.orderedPolicyIds`).
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub grace_period_in_days: i32,
    pub enforcement_action: EnforcementAction,
    #[serde(default)]
    pub rules: Vec<LifecycleRule>,
    #[serde(default)]
    pub notification_schedule: Option<LifecyclePolicyNotificationSettings>,
}

/// Graph's `lifecyclePolicyEnforcementAction` derived types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type", deny_unknown_fields)]
pub enum EnforcementAction {
    /// Disable the agent identity.
    #[serde(rename = "#microsoft.graph.identityGovernance.disableOnlyEnforcementAction")]
    DisableOnly,
    /// Disable it, then delete it `deletionGracePeriodInDays` later.
    #[serde(
        rename = "#microsoft.graph.identityGovernance.disableThenDeleteEnforcementAction",
        rename_all = "camelCase"
    )]
    DisableThenDelete { deletion_grace_period_in_days: i32 },
}

/// Graph's `lifecyclePolicyRule` derived types Writ evaluates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "@odata.type", deny_unknown_fields)]
pub enum LifecycleRule {
    /// Attested by a sponsor or owner within the last `attestationIntervalInDays`.
    #[serde(
        rename = "#microsoft.graph.identityGovernance.periodicAttestationRule",
        rename_all = "camelCase"
    )]
    PeriodicAttestation {
        #[serde(default)]
        id: Option<String>,
        #[serde(default = "yes")]
        is_enabled: bool,
        #[serde(default)]
        grace_period_in_days: Option<i32>,
        attestation_interval_in_days: i32,
    },
    /// At least `minimumSponsorCount` sponsors.
    #[serde(
        rename = "#microsoft.graph.identityGovernance.sponsorPresenceRule",
        rename_all = "camelCase"
    )]
    SponsorPresence {
        #[serde(default)]
        id: Option<String>,
        #[serde(default = "yes")]
        is_enabled: bool,
        #[serde(default)]
        grace_period_in_days: Option<i32>,
        minimum_sponsor_count: i32,
    },
    /// A token issued within the last `lastActivityThresholdInDays`.
    #[serde(
        rename = "#microsoft.graph.identityGovernance.inactivityRule",
        rename_all = "camelCase"
    )]
    Inactivity {
        #[serde(default)]
        id: Option<String>,
        #[serde(default = "yes")]
        is_enabled: bool,
        #[serde(default)]
        grace_period_in_days: Option<i32>,
        last_activity_threshold_in_days: i32,
    },
}

/// Which rule: Graph's derived type name, also the compliance issue's `ruleType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    PeriodicAttestation,
    SponsorPresence,
    Inactivity,
}

impl RuleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::PeriodicAttestation => "periodicAttestationRule",
            RuleType::SponsorPresence => "sponsorPresenceRule",
            RuleType::Inactivity => "inactivityRule",
        }
    }
}

impl LifecycleRule {
    pub fn rule_type(&self) -> RuleType {
        match self {
            LifecycleRule::PeriodicAttestation { .. } => RuleType::PeriodicAttestation,
            LifecycleRule::SponsorPresence { .. } => RuleType::SponsorPresence,
            LifecycleRule::Inactivity { .. } => RuleType::Inactivity,
        }
    }

    pub fn is_enabled(&self) -> bool {
        match self {
            LifecycleRule::PeriodicAttestation { is_enabled, .. }
            | LifecycleRule::SponsorPresence { is_enabled, .. }
            | LifecycleRule::Inactivity { is_enabled, .. } => *is_enabled,
        }
    }

    pub fn grace_period_in_days(&self) -> Option<i32> {
        match self {
            LifecycleRule::PeriodicAttestation {
                grace_period_in_days,
                ..
            }
            | LifecycleRule::SponsorPresence {
                grace_period_in_days,
                ..
            }
            | LifecycleRule::Inactivity {
                grace_period_in_days,
                ..
            } => *grace_period_in_days,
        }
    }

    /// Sets the rule's id (given on write: its type's name, one rule per type).
    pub fn set_id(&mut self, value: String) {
        match self {
            LifecycleRule::PeriodicAttestation { id, .. }
            | LifecycleRule::SponsorPresence { id, .. }
            | LifecycleRule::Inactivity { id, .. } => *id = Some(value),
        }
    }
}

/// Graph's `lifecyclePolicyNotificationSettings` (the policy's `notificationSchedule`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LifecyclePolicyNotificationSettings {
    /// Mail addresses notified when the agent has no sponsor to notify.
    #[serde(default)]
    pub additional_fallback_recipients: Vec<String>,
    /// Days after the agent became non-compliant at which reminders are sent.
    #[serde(default)]
    pub offsets_after_non_compliance_in_days: Vec<i32>,
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecyclePolicy {
    pub id: String,
    pub document: LifecyclePolicyDocument,
    pub created_date_time: OffsetDateTime,
    pub last_modified_date_time: OffsetDateTime,
}

/// One agent's stored lifecycle record (`agent_lifecycles`): what the sweep and `attest` keep.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentLifecycleRecord {
    pub agent_id: String,
    pub last_attested_at: Option<OffsetDateTime>,
    /// When the current non-compliance began (the earliest violated rule's instant).
    pub non_compliant_since: Option<OffsetDateTime>,
    /// How many notices were sent for the current non-compliance (the first, then reminders).
    pub notices_sent: i32,
    /// When enforcement disabled the agent.
    pub disabled_at: Option<OffsetDateTime>,
    /// When the sweep must look at this agent again.
    pub next_check_at: Option<OffsetDateTime>,
    /// Bumped by every write: the compare-and-set's witness.
    pub version: i64,
}

/// What the sweep reads of one agent identity, set-wise.
#[derive(Debug, Clone, PartialEq)]
pub struct GovernedAgent {
    pub id: String,
    pub display_name: String,
    pub account_enabled: bool,
    pub created_at: OffsetDateTime,
    pub last_token_at: Option<OffsetDateTime>,
    /// Sponsors (users and groups) now.
    pub sponsor_count: i64,
    pub record: Option<AgentLifecycleRecord>,
}

//! Graph's `riskyAgent` (identity protection, DESIGN section 17): the risk an administrator
//! confirmed or dismissed for an agent identity or agent user. Writ detects no risk itself, so
//! every state here is an administrator's decision.

use time::OffsetDateTime;

/// Graph's `riskState`, restricted to what an administrator's action leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskState {
    /// `confirmCompromised`: tokens refused, assignments ended.
    ConfirmedCompromised,
    /// `confirmSafe`.
    ConfirmedSafe,
    /// `dismiss`.
    Dismissed,
}

impl RiskState {
    pub const ALL: [RiskState; 3] = [
        RiskState::ConfirmedCompromised,
        RiskState::ConfirmedSafe,
        RiskState::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskState::ConfirmedCompromised => "confirmedCompromised",
            RiskState::ConfirmedSafe => "confirmedSafe",
            RiskState::Dismissed => "dismissed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Graph's `riskLevel` after the action: `high` for a confirmed compromise (as Graph's
    /// `riskyUser` confirmation sets), `none` once confirmed safe or dismissed.
    pub fn risk_level(self) -> &'static str {
        match self {
            RiskState::ConfirmedCompromised => "high",
            RiskState::ConfirmedSafe | RiskState::Dismissed => "none",
        }
    }

    /// Graph's `riskDetail` naming the administrator's action.
    pub fn risk_detail(self) -> &'static str {
        match self {
            RiskState::ConfirmedCompromised => "adminConfirmedAgentCompromised",
            RiskState::ConfirmedSafe => "adminConfirmedAgentSafe",
            RiskState::Dismissed => "adminDismissedRiskForAgent",
        }
    }
}

/// The values of `riskLevel`, `riskState` and `riskDetail` Writ writes (the allow-lists of
/// `$filter`).
pub const RISK_LEVELS: &[&str] = &["high", "none"];
pub const RISK_STATES: &[&str] = &["confirmedCompromised", "confirmedSafe", "dismissed"];
pub const RISK_DETAILS: &[&str] = &[
    "adminConfirmedAgentCompromised",
    "adminConfirmedAgentSafe",
    "adminDismissedRiskForAgent",
];

/// Graph's `agentIdentityType` of the agents Writ holds.
pub const AGENT_IDENTITY_TYPES: &[&str] = &["agentIdentity", "agentUser"];

/// One agent's risk, as stored (`risky_agents`) and read back with the agent's current state.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskyAgent {
    /// The agent's object id.
    pub id: String,
    /// `agentIdentity` (a service principal) or `agentUser` (a user).
    pub identity_type: String,
    /// The agent's name now, or as it was at the last change once it is deleted.
    pub agent_display_name: String,
    pub risk_level: String,
    pub risk_state: RiskState,
    pub risk_detail: String,
    pub risk_last_updated_date_time: OffsetDateTime,
    /// Read from the agent: `false` once deleted.
    pub is_enabled: bool,
    /// The agent no longer exists.
    pub is_deleted: bool,
}

impl RiskyAgent {
    /// The row an administrator's action writes for an agent at `now`.
    pub fn decided(
        id: &str,
        identity_type: &str,
        agent_display_name: &str,
        is_enabled: bool,
        state: RiskState,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: id.to_owned(),
            identity_type: identity_type.to_owned(),
            agent_display_name: agent_display_name.to_owned(),
            risk_level: state.risk_level().to_owned(),
            risk_state: state,
            risk_detail: state.risk_detail().to_owned(),
            risk_last_updated_date_time: now,
            is_enabled,
            is_deleted: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_names_its_level_and_detail_and_parses_back() {
        for state in RiskState::ALL {
            assert_eq!(RiskState::parse(state.as_str()), Some(state));
            assert!(RISK_STATES.contains(&state.as_str()));
            assert!(RISK_LEVELS.contains(&state.risk_level()));
            assert!(RISK_DETAILS.contains(&state.risk_detail()));
        }
        assert_eq!(RiskState::ConfirmedCompromised.risk_level(), "high");
        assert_eq!(RiskState::Dismissed.risk_level(), "none");
        assert_eq!(RiskState::parse("atRisk"), None);
    }
}

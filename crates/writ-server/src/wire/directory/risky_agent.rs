//! `riskyAgent` (`/identityProtection/riskyAgents`, Graph beta's shape, served under both
//! prefixes) and the body of its three actions (`agentIds`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::model::RiskyAgent as DomainRiskyAgent;

use super::input::Field;
use crate::error::{ApiError, ApiResult};
use crate::wire::instant;

/// An agent with a risk state; `@odata.type` names the cast (`riskyAgentIdentity` or
/// `riskyAgentUser`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = riskyAgent)]
pub struct RiskyAgent {
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub id: String,
    pub agent_display_name: String,
    /// `agentIdentity` or `agentUser`.
    pub identity_type: String,
    pub is_deleted: bool,
    pub is_enabled: bool,
    /// Always `false`: Writ applies a decision in the request that makes it.
    pub is_processing: bool,
    /// `adminConfirmedAgentCompromised`, `adminConfirmedAgentSafe` or
    /// `adminDismissedRiskForAgent`.
    pub risk_detail: String,
    pub risk_last_updated_date_time: String,
    /// `high` (compromised) or `none`.
    pub risk_level: String,
    /// `confirmedCompromised`, `confirmedSafe` or `dismissed`.
    pub risk_state: String,
}

impl From<&DomainRiskyAgent> for RiskyAgent {
    fn from(r: &DomainRiskyAgent) -> Self {
        let cast = if r.identity_type == "agentUser" {
            "riskyAgentUser"
        } else {
            "riskyAgentIdentity"
        };
        Self {
            odata_type: format!("#microsoft.graph.{cast}"),
            id: r.id.clone(),
            agent_display_name: r.agent_display_name.clone(),
            identity_type: r.identity_type.clone(),
            is_deleted: r.is_deleted,
            is_enabled: r.is_enabled,
            is_processing: false,
            risk_detail: r.risk_detail.clone(),
            risk_last_updated_date_time: instant(r.risk_last_updated_date_time),
            risk_level: r.risk_level.clone(),
            risk_state: r.risk_state.as_str().to_owned(),
        }
    }
}

/// The body of `confirmCompromised`, `confirmSafe` and `dismiss`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = riskyAgentIdsBody)]
pub struct RiskyAgentIdsBody {
    /// The agents' object ids (GUIDs), at most 60.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub agent_ids: Field<Vec<String>>,
}

impl RiskyAgentIdsBody {
    pub fn agent_ids(self) -> ApiResult<Vec<String>> {
        match self.agent_ids {
            Field::Value(ids) => Ok(ids),
            _ => Err(ApiError::bad_request("property 'agentIds' is required")),
        }
    }
}

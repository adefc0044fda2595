//! Compromised agents (DESIGN section 17, Graph's `riskyAgent` under `/identityProtection`): an
//! administrator confirms an agent identity or agent user compromised, confirms it safe, or
//! dismisses its risk; the risk state is readable.
//!
//! `confirmCompromised` acts at the clock's `now`, in one transaction per call: the agent's risk
//! row, its audit record and an `agent.compromised` event for its sponsors; every live
//! assignment ended as a `systemRemove` (the deletion path: one request, audit record and event
//! each, grants released, so group memberships and app roles go at once) and its open requests
//! canceled; an agent user's refresh tokens revoked. Its tokens are refused from that instant
//! because the caller of every request and every token issued reads the risk state
//! (`identity::callers`, `identity::claims`). `confirmSafe` and `dismiss` restore sign-in and
//! leave the ended assignments ended. Deciding what is already decided changes nothing and
//! records nothing; the write is a compare-and-set, so two concurrent decisions record one.

use time::OffsetDateTime;

use super::{Directory, RequestContext};
use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::model::{Actor, AuditRecord, OutboxEvent, RiskState, RiskyAgent, UserKind};
use crate::query::{ListQuery, Page};

/// The most agents one action names.
pub const MAX_AGENT_IDS: usize = 60;

/// The category of the audit records: Graph files identity protection's under its own.
const CATEGORY: &str = "IdentityProtection";

/// The removals' justification and the canceled requests' reason.
const COMPROMISED: &str = "the agent was confirmed compromised";

/// Reading risk: administrators and readers of the whole directory (Graph's
/// `IdentityRiskyAgent.Read.All` roles: Security Reader and above).
fn may_read_risk(caller: &Caller) -> bool {
    caller.is_global_admin() || caller.is_global_reader()
}

/// Deciding risk: whoever manages agents (Global Administrator).
fn require_risk_write(caller: &Caller) -> DomainResult<()> {
    if caller.is_global_admin() {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "deciding an agent's risk requires the Global Administrator role",
        ))
    }
}

/// The ids an action names: at least one, at most [`MAX_AGENT_IDS`], each a GUID; duplicates
/// count once. Returned lowercase, as object ids are stored.
pub fn agent_ids(ids: &[String]) -> DomainResult<Vec<String>> {
    if ids.is_empty() {
        return Err(DomainError::invalid(
            "agentIds must name at least one agent",
        ));
    }
    if ids.len() > MAX_AGENT_IDS {
        return Err(DomainError::invalid(format!(
            "agentIds may name at most {MAX_AGENT_IDS} agents"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = crate::ids::parse_guid(id)
            .ok_or_else(|| DomainError::invalid(format!("agentIds: '{id}' is not a GUID")))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// An agent as an action needs it.
struct Agent {
    id: String,
    identity_type: &'static str,
    display_name: String,
    enabled: bool,
    is_user: bool,
}

impl Directory {
    /// `GET /identityProtection/riskyAgents`.
    pub async fn list_risky_agents(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<RiskyAgent>> {
        if !may_read_risk(caller) {
            return Err(DomainError::forbidden(
                "the caller may not list riskyAgents",
            ));
        }
        Ok(self.store.list_risky_agents(query).await?)
    }

    /// `GET /identityProtection/riskyAgents/{id}`: `404` for an agent without a risk state, and
    /// for a caller who may not read risk.
    pub async fn get_risky_agent(&self, caller: &Caller, id: &str) -> DomainResult<RiskyAgent> {
        if !may_read_risk(caller) {
            return Err(DomainError::not_found("riskyAgent", id));
        }
        self.store
            .risky_agent(id)
            .await?
            .ok_or_else(|| DomainError::not_found("riskyAgent", id))
    }

    /// `POST /identityProtection/riskyAgents/confirmCompromised`.
    pub async fn confirm_agents_compromised(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        agent_ids: &[String],
    ) -> DomainResult<()> {
        self.decide_risk(caller, ctx, agent_ids, RiskState::ConfirmedCompromised)
            .await
    }

    /// `POST /identityProtection/riskyAgents/confirmSafe`.
    pub async fn confirm_agents_safe(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        agent_ids: &[String],
    ) -> DomainResult<()> {
        self.decide_risk(caller, ctx, agent_ids, RiskState::ConfirmedSafe)
            .await
    }

    /// `POST /identityProtection/riskyAgents/dismiss`.
    pub async fn dismiss_agent_risk(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        agent_ids: &[String],
    ) -> DomainResult<()> {
        self.decide_risk(caller, ctx, agent_ids, RiskState::Dismissed)
            .await
    }

    async fn agent(&self, id: &str) -> DomainResult<Agent> {
        if let Some(sp) = self.store.service_principal(id).await?
            && sp.is_agent()
        {
            return Ok(Agent {
                id: sp.id,
                identity_type: "agentIdentity",
                display_name: sp.display_name,
                enabled: sp.account_enabled,
                is_user: false,
            });
        }
        match self.store.user(id).await? {
            Some(user) if user.kind == UserKind::AgentUser => Ok(Agent {
                id: user.id,
                identity_type: "agentUser",
                display_name: user.display_name,
                enabled: user.account_enabled,
                is_user: true,
            }),
            _ => Err(DomainError::not_found("agent", id)),
        }
    }

    async fn decide_risk(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        agent_ids: &[String],
        state: RiskState,
    ) -> DomainResult<()> {
        require_risk_write(caller)?;
        let ids = self::agent_ids(agent_ids)?;
        let now = self.clock.now();
        let mut agents = Vec::with_capacity(ids.len());
        for id in &ids {
            // Every id must be an agent before anything changes: the call is all or nothing.
            agents.push(self.agent(id).await?);
        }
        let sponsors = if state == RiskState::ConfirmedCompromised {
            self.store.human_sponsors_of(&ids, now).await?
        } else {
            Vec::new()
        };
        let mut previous_states = Vec::with_capacity(agents.len());
        for agent in &agents {
            previous_states.push(self.store.agent_risk_state(&agent.id).await?);
        }
        let mut tx = self.store.begin().await?;
        for (agent, previous) in agents.iter().zip(previous_states) {
            let changes = match (previous, state) {
                (Some(p), s) if p == s => false,
                // Nothing to confirm safe or dismiss on an agent never found at risk.
                (None, RiskState::ConfirmedSafe | RiskState::Dismissed) => false,
                _ => true,
            };
            if !changes {
                continue;
            }
            let risk = RiskyAgent::decided(
                &agent.id,
                agent.identity_type,
                &agent.display_name,
                agent.enabled,
                state,
                now,
            );
            if !tx.put_agent_risk(&risk, previous).await? {
                // Another decision on this agent committed in between: it is recorded there.
                continue;
            }
            let mut ended = Vec::new();
            if state == RiskState::ConfirmedCompromised {
                ended = crate::entitlement::end_assignments_for(
                    tx.as_mut(),
                    caller,
                    ctx,
                    now,
                    &agent.id,
                    COMPROMISED,
                )
                .await?;
                if agent.is_user {
                    tx.revoke_user_refresh_tokens(&agent.id, now).await?;
                }
                let recipients = sponsors
                    .iter()
                    .filter(|(object, _)| *object == agent.id)
                    .map(|(_, recipient)| recipient.clone())
                    .collect();
                tx.enqueue_event(&OutboxEvent::new(
                    "agent.compromised",
                    now,
                    compromised_data(agent, &risk, &ended, caller),
                    recipients,
                ))
                .await?;
            }
            tx.append_audit(&ctx.mark(audit(caller, ctx, agent, previous, &risk, &ended, now)))
                .await?;
        }
        Ok(tx.commit().await?)
    }
}

/// The event's data: the agent (`targetId`, as the assignment events name theirs), its new
/// risk, the assignments ended, who decided.
fn compromised_data(
    agent: &Agent,
    risk: &RiskyAgent,
    ended: &[String],
    caller: &Caller,
) -> serde_json::Value {
    serde_json::json!({
        "targetId": agent.id,
        "agentDisplayName": agent.display_name,
        "identityType": agent.identity_type,
        "riskState": risk.risk_state.as_str(),
        "riskLevel": risk.risk_level,
        "riskDetail": risk.risk_detail,
        "riskLastUpdatedDateTime": risk
            .risk_last_updated_date_time
            .format(&time::format_description::well_known::Rfc3339)
            .ok(),
        "endedAssignmentIds": ended,
        "initiatedBy": caller.id,
    })
}

fn audit(
    caller: &Caller,
    ctx: &RequestContext,
    agent: &Agent,
    previous: Option<RiskState>,
    risk: &RiskyAgent,
    ended: &[String],
    now: OffsetDateTime,
) -> AuditRecord {
    let activity = match risk.risk_state {
        RiskState::ConfirmedCompromised => "Confirm agent compromised",
        RiskState::ConfirmedSafe => "Confirm agent safe",
        RiskState::Dismissed => "Dismiss agent risk",
    };
    let kind = if agent.is_user {
        "User"
    } else {
        "ServicePrincipal"
    };
    AuditRecord::success(
        Actor::from(caller),
        now,
        CATEGORY,
        activity,
        "Update",
        ctx.request_id.as_deref(),
    )
    .target(
        &agent.id,
        kind,
        Some(&agent.display_name),
        vec!["riskState".into(), "riskLevel".into(), "riskDetail".into()],
    )
    .detail(
        "previousRiskState",
        previous.map_or("none", RiskState::as_str),
    )
    .detail("riskState", risk.risk_state.as_str())
    .detail("endedAssignments", ended.len().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids_are_bounded_guids_counted_once() {
        let a = "8E1F2C3D-0000-4000-8000-000000000001".to_owned();
        assert_eq!(
            agent_ids(&[a.clone(), a.to_lowercase()]).unwrap(),
            vec![a.to_lowercase()]
        );
        assert!(agent_ids(&[]).is_err());
        assert!(agent_ids(&["nope".into()]).is_err());
        let many: Vec<String> = (0..=MAX_AGENT_IDS)
            .map(|i| format!("8e1f2c3d-0000-4000-8000-{i:012}"))
            .collect();
        assert!(agent_ids(&many).is_err());
        assert_eq!(
            agent_ids(&many[..MAX_AGENT_IDS]).unwrap().len(),
            MAX_AGENT_IDS
        );
    }
}

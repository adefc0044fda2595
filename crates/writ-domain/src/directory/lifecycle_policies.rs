//! Agent lifecycle governance (DESIGN section 17, Graph's `identityGovernance` lifecycle
//! policies for agent identities): the last token time read as `signInActivity`; lifecycle
//! policies (create, read, update, delete); each agent identity's lifecycle state (compliance
//! issues and effective governing policy, computed at `now`); `attest`; and the sweep that sends
//! notices and enforces.
//!
//! **Which policy governs.** Every policy governs every agent identity (Graph scopes policies
//! by subject type only); of the enabled ones, the one with the lowest `priority` governs
//! (ties: the older, then the smaller id). Graph orders policies in a separate
//! `lifecyclePolicyPriorityConfiguration`; Writ keeps the order on the policy.
//!
//! **Days.** Graph counts in days. A day is [`Directory::lifecycle_day`] long: one day unless
//! the binary is started with a shorter one for tests (`lifecycle.day_length` with
//! `lifecycle.allow_short_days`), so the same rules run in seconds end to end.
//!
//! **Rules.** An attestation is due `attestationIntervalInDays` after the last one (or after the
//! agent's creation); activity is due `lastActivityThresholdInDays` after the last token issued to
//! the agent (or its creation); sponsors are counted now. A violated rule's grace period (its own
//! `gracePeriodInDays`, else the policy's) runs from the instant it was violated; as Graph says,
//! the earliest expiry among violated rules is the enforcement instant.
//!
//! **The sweep** (`lifecycleSweep` jobs, run by the job queue). Each agent's record
//! (`agent_lifecycles`) stores the instant its next check is due. A sweep reads, a page of 200 at
//! a time in one query each, the agents without a record or whose check is due, evaluates them
//! at `now`, and writes only the agents whose record changes, one transaction each: the record by
//! compare-and-set on its version, so a sweep running twice (two replicas, a retried job) changes
//! an agent once and records once; the loser finds the version moved and leaves it. Then it
//! enqueues the next sweep at the earliest next check (at most a day ahead, so agents created
//! since are seen; each agent's own next check is at most a day ahead too). An agent whose check fails is logged and skipped, the others go on, and the
//! next sweep waits a minute at least, so a persistent failure neither blocks the fleet nor
//! spins. Writing a policy makes every record due now and enqueues a sweep due now; `attest`
//! rewrites its agent's record at once; removing a sponsor makes the agent due now
//! ([`recheck_agent`]). When an agent first becomes non-compliant its sponsors and owners (or,
//! when none has a mail address, the policy's `additionalFallbackRecipients`) get
//! `agent.lifecycleNonCompliant`; each `offsetsAfterNonComplianceInDays` before the enforcement
//! instant brings an `agent.lifecycleEnforcementReminder`; at the enforcement instant the agent is
//! disabled (`accountEnabled = false`: its tokens are refused from then), its live assignments
//! ended as `systemRemove` and its open requests canceled (each with its audit record), one audit
//! record says why, and `agent.lifecycleEnforced` goes to the same recipients. Everything is
//! re-checked at run time: an agent attested (or that took a token) meanwhile is compliant and is
//! not enforced. An agent compliant again has its non-compliance cleared; one already disabled
//! stays disabled (an administrator enables it).

use std::sync::Arc;

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::{Directory, RequestContext};
use crate::authz::{Caller, PrincipalKind, roles};
use crate::error::{DomainError, DomainResult};
use crate::model::{
    AGENT_POLICY_TYPE, Actor, AgentLifecycleRecord, AuditRecord, EnforcementAction, GovernedAgent,
    JobKind, LifecyclePolicy, LifecyclePolicyDocument, LifecycleRule, NewJob, OutboxEvent,
    Recipient, RuleType,
};
use crate::store::Store;

/// Graph's limit: at most ten policies per subject type.
pub const MAX_POLICIES: i64 = 10;
/// The longest interval, threshold or grace period a policy may name, in days (ten years).
pub const MAX_DAYS: i32 = 3650;
/// Graph's bound on a rule's own grace period.
pub const MAX_RULE_GRACE_DAYS: i32 = 30;
/// Reminders and fallback recipients a policy may name.
pub const MAX_NOTIFICATION_ENTRIES: usize = 10;
/// An agent's sponsors are at most 100 (architecture: Entra's limits).
pub const MAX_SPONSOR_COUNT: i32 = 100;
/// Agents a sweep reads per query.
const SWEEP_PAGE: u32 = 200;
/// The subject of sweep jobs.
const SWEEP_SUBJECT: &str = "lifecycle";
/// Audit category of policy changes, attestations and enforcement.
const CATEGORY: &str = "LifecycleWorkflows";

/// Graph's `complianceIssue.issueCode`s Writ writes (Graph lists none; these are Writ's).
pub const ISSUE_ATTESTATION_OVERDUE: &str = "attestationOverdue";
pub const ISSUE_INACTIVE: &str = "inactive";
pub const ISSUE_TOO_FEW_SPONSORS: &str = "insufficientSponsors";

/// Who reads sign-in activity: the directory's administrators and readers (Graph asks
/// `AuditLog.Read.All` with a reader role); anyone else gets `403` for the property.
fn may_read_sign_in_activity(caller: &Caller) -> bool {
    caller.is_global_admin()
        || caller.is_global_reader()
        || caller.holds_role(roles::IDENTITY_GOVERNANCE_ADMINISTRATOR)
}

/// Who reads lifecycle policies: Global Administrator, Identity Governance Administrator (who
/// manage them) and Global Reader.
fn may_read_policies(caller: &Caller) -> bool {
    may_write_policies(caller) || caller.is_global_reader()
}

fn may_write_policies(caller: &Caller) -> bool {
    caller.is_global_admin() || caller.holds_role(roles::IDENTITY_GOVERNANCE_ADMINISTRATOR)
}

fn require_policy_write(caller: &Caller) -> DomainResult<()> {
    if may_write_policies(caller) {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "managing lifecycle policies requires the Global Administrator or Identity \
             Governance Administrator role",
        ))
    }
}

/// One compliance issue of an agent, as the rules find it at an instant.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplianceIssue {
    pub rule_type: RuleType,
    /// [`ISSUE_ATTESTATION_OVERDUE`], [`ISSUE_INACTIVE`] or [`ISSUE_TOO_FEW_SPONSORS`].
    pub issue_code: &'static str,
    pub description: String,
    /// The governing policy's id.
    pub governing_policy_id: String,
    /// When the rule was first violated.
    pub since: OffsetDateTime,
    /// When its grace period ends.
    pub enforce_at: OffsetDateTime,
}

/// An agent's lifecycle state at an instant (Graph's `agentIdentityLifecycle`).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentLifecycle {
    pub agent_id: String,
    pub last_attestation_date_time: Option<OffsetDateTime>,
    pub compliance_issues: Vec<ComplianceIssue>,
    pub effective_governing_policy: Option<LifecyclePolicy>,
}

/// `n` days of `day` each, checked.
fn days(day: Duration, n: i32) -> DomainResult<Duration> {
    day.checked_mul(n)
        .ok_or_else(|| DomainError::OutOfRange(format!("{n} days is out of range")))
}

/// The governing policy among `policies` (as the store orders them): the first enabled one.
pub fn governing(policies: &[LifecyclePolicy]) -> Option<&LifecyclePolicy> {
    policies.iter().find(|p| p.document.is_enabled)
}

/// Evaluation of one agent under a policy at `now`: its issues, and the next instant at which a
/// rule not yet violated will be (for scheduling the next check).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub issues: Vec<ComplianceIssue>,
    pub next_deadline: Option<OffsetDateTime>,
}

/// The compliance issues of `agent` under `policy` at `now`, a day being `day` long; the
/// function sponsor succession (part L) and the sweep share. Too few sponsors counts from the
/// stored start of the agent's non-compliance, if any, else from `now`.
pub fn compliance_issues(
    policy: &LifecyclePolicy,
    agent: &GovernedAgent,
    now: OffsetDateTime,
    day: Duration,
) -> DomainResult<Evaluation> {
    let doc = &policy.document;
    let mut issues = Vec::new();
    let mut next_deadline: Option<OffsetDateTime> = None;
    let record = agent.record.as_ref();
    for rule in doc.rules.iter().filter(|r| r.is_enabled()) {
        let grace = days(
            day,
            rule.grace_period_in_days()
                .unwrap_or(doc.grace_period_in_days),
        )?;
        let violated: Option<(OffsetDateTime, &'static str, String)> = match rule {
            LifecycleRule::PeriodicAttestation {
                attestation_interval_in_days,
                ..
            } => {
                let base = record
                    .and_then(|r| r.last_attested_at)
                    .unwrap_or(agent.created_at);
                let due = crate::instant::add(base, days(day, *attestation_interval_in_days)?)?;
                if now >= due {
                    Some((
                        due,
                        ISSUE_ATTESTATION_OVERDUE,
                        format!(
                            "no sponsor or owner attested the agent within {attestation_interval_in_days} days"
                        ),
                    ))
                } else {
                    next_deadline = Some(next_deadline.map_or(due, |d| d.min(due)));
                    None
                }
            }
            LifecycleRule::Inactivity {
                last_activity_threshold_in_days,
                ..
            } => {
                let base = agent.last_token_at.unwrap_or(agent.created_at);
                let due = crate::instant::add(base, days(day, *last_activity_threshold_in_days)?)?;
                if now >= due {
                    Some((
                        due,
                        ISSUE_INACTIVE,
                        format!(
                            "no token was issued to the agent within {last_activity_threshold_in_days} days"
                        ),
                    ))
                } else {
                    next_deadline = Some(next_deadline.map_or(due, |d| d.min(due)));
                    None
                }
            }
            LifecycleRule::SponsorPresence {
                minimum_sponsor_count,
                ..
            } => {
                if agent.sponsor_count < i64::from(*minimum_sponsor_count) {
                    let since = record
                        .and_then(|r| r.non_compliant_since)
                        .filter(|s| *s <= now)
                        .unwrap_or(now);
                    Some((
                        since,
                        ISSUE_TOO_FEW_SPONSORS,
                        format!(
                            "the agent has {} sponsors; the policy requires at least {minimum_sponsor_count}",
                            agent.sponsor_count
                        ),
                    ))
                } else {
                    None
                }
            }
        };
        if let Some((since, issue_code, description)) = violated {
            issues.push(ComplianceIssue {
                rule_type: rule.rule_type(),
                issue_code,
                description,
                governing_policy_id: policy.id.clone(),
                since,
                enforce_at: crate::instant::add(since, grace)?,
            });
        }
    }
    Ok(Evaluation {
        issues,
        next_deadline,
    })
}

/// Checks a policy document: bounds (checked against [`MAX_DAYS`] and Graph's limits), one rule
/// of each type, reminders within the grace period, fallback recipients that look like mail
/// addresses. Gives each rule its type's name as id.
pub fn validate(doc: &mut LifecyclePolicyDocument) -> DomainResult<()> {
    let name = doc.display_name.trim();
    if name.is_empty() || name.chars().count() > 256 {
        return Err(DomainError::invalid(
            "displayName is required and has at most 256 characters",
        ));
    }
    if doc
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1024)
    {
        return Err(DomainError::invalid(
            "description has at most 1024 characters",
        ));
    }
    if !(0..=1000).contains(&doc.priority) {
        return Err(DomainError::invalid("priority must be between 0 and 1000"));
    }
    check_days("gracePeriodInDays", doc.grace_period_in_days, 0, MAX_DAYS)?;
    if let EnforcementAction::DisableThenDelete {
        deletion_grace_period_in_days,
    } = doc.enforcement_action
    {
        check_days(
            "enforcementAction.deletionGracePeriodInDays",
            deletion_grace_period_in_days,
            0,
            MAX_DAYS,
        )?;
    }
    if doc.rules.is_empty() || doc.rules.len() > 3 {
        return Err(DomainError::invalid(
            "rules must hold one to three rules (at most one of each type)",
        ));
    }
    let mut seen: Vec<RuleType> = Vec::new();
    for rule in &mut doc.rules {
        let kind = rule.rule_type();
        if seen.contains(&kind) {
            return Err(DomainError::invalid(format!(
                "rules: at most one {} per policy",
                kind.as_str()
            )));
        }
        seen.push(kind);
        if let Some(grace) = rule.grace_period_in_days() {
            check_days(
                &format!("rules.{}.gracePeriodInDays", kind.as_str()),
                grace,
                0,
                MAX_RULE_GRACE_DAYS,
            )?;
        }
        match rule {
            LifecycleRule::PeriodicAttestation {
                attestation_interval_in_days,
                ..
            } => check_days(
                "rules.periodicAttestationRule.attestationIntervalInDays",
                *attestation_interval_in_days,
                1,
                MAX_DAYS,
            )?,
            LifecycleRule::Inactivity {
                last_activity_threshold_in_days,
                ..
            } => check_days(
                "rules.inactivityRule.lastActivityThresholdInDays",
                *last_activity_threshold_in_days,
                1,
                MAX_DAYS,
            )?,
            LifecycleRule::SponsorPresence {
                minimum_sponsor_count,
                ..
            } => check_days(
                "rules.sponsorPresenceRule.minimumSponsorCount",
                *minimum_sponsor_count,
                1,
                MAX_SPONSOR_COUNT,
            )?,
        }
        rule.set_id(kind.as_str().to_owned());
    }
    if let Some(schedule) = &mut doc.notification_schedule {
        if schedule.offsets_after_non_compliance_in_days.len() > MAX_NOTIFICATION_ENTRIES
            || schedule.additional_fallback_recipients.len() > MAX_NOTIFICATION_ENTRIES
        {
            return Err(DomainError::invalid(format!(
                "notificationSchedule holds at most {MAX_NOTIFICATION_ENTRIES} offsets and \
                 {MAX_NOTIFICATION_ENTRIES} fallback recipients"
            )));
        }
        for offset in &schedule.offsets_after_non_compliance_in_days {
            check_days(
                "notificationSchedule.offsetsAfterNonComplianceInDays",
                *offset,
                1,
                MAX_DAYS,
            )?;
        }
        schedule
            .offsets_after_non_compliance_in_days
            .sort_unstable();
        schedule.offsets_after_non_compliance_in_days.dedup();
        for address in &schedule.additional_fallback_recipients {
            let plausible = address.len() <= 254
                && address
                    .split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
                && !address.chars().any(|c| c.is_whitespace() || c.is_control());
            if !plausible {
                return Err(DomainError::invalid(format!(
                    "notificationSchedule.additionalFallbackRecipients: '{address}' is not a mail address"
                )));
            }
        }
    }
    Ok(())
}

fn check_days(property: &str, value: i32, min: i32, max: i32) -> DomainResult<()> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(DomainError::invalid(format!(
            "{property} must be between {min} and {max}"
        )))
    }
}

/// Reads a policy document from a body (Graph's properties; `@odata.type`, when given, must be
/// the agent identity policy), then validates it.
pub fn parse_document(mut body: Map<String, Value>) -> DomainResult<LifecyclePolicyDocument> {
    match body.remove("@odata.type") {
        None => {}
        Some(Value::String(t)) if t == AGENT_POLICY_TYPE => {}
        Some(other) => {
            return Err(DomainError::invalid(format!(
                "@odata.type must be '{AGENT_POLICY_TYPE}', not {other}"
            )));
        }
    }
    for read_only in ["id", "createdDateTime", "lastModifiedDateTime"] {
        if body.contains_key(read_only) {
            return Err(DomainError::invalid(format!(
                "property '{read_only}' is read-only"
            )));
        }
    }
    let mut doc: LifecyclePolicyDocument = serde_json::from_value(Value::Object(body))
        .map_err(|e| DomainError::invalid(format!("the lifecycle policy is not valid: {e}")))?;
    validate(&mut doc)?;
    Ok(doc)
}

fn document_json(doc: &LifecyclePolicyDocument) -> DomainResult<Map<String, Value>> {
    match serde_json::to_value(doc) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) | Err(_) => Err(DomainError::Internal(
            "a lifecycle policy did not serialize to an object".into(),
        )),
    }
}

fn policy_audit(
    caller: &Caller,
    ctx: &RequestContext,
    activity: &str,
    operation: &str,
    policy: &LifecyclePolicy,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord::success(
        Actor::from(caller),
        now,
        CATEGORY,
        activity,
        operation,
        ctx.request_id.as_deref(),
    )
    .target(
        &policy.id,
        "LifecyclePolicy",
        Some(&policy.document.display_name),
        Vec::new(),
    )
}

/// A sweep due at `at` (deduplicated by instant).
fn sweep_job(at: OffsetDateTime) -> NewJob {
    NewJob::new(JobKind::LifecycleSweep, SWEEP_SUBJECT, at)
}

/// Makes the agent's lifecycle check due now and enqueues a sweep, in the caller's transaction:
/// what removing a sponsor (sponsor succession, part L) calls so that "too few sponsors" is
/// found and notified at once (the notice goes out when the sweep runs, right after commit).
pub async fn recheck_agent(
    tx: &mut dyn crate::store::StoreTx,
    agent_id: &str,
    now: OffsetDateTime,
) -> DomainResult<()> {
    tx.recheck_agent_lifecycle(agent_id, now).await?;
    tx.enqueue_job(&sweep_job(now)).await?;
    Ok(())
}

/// [`recheck_agent`] for several agents in one transaction, with one sweep job: what sponsor
/// succession calls for the agents a departing sponsor leaves with fewer sponsors. An id that is
/// not a governed agent identity (a blueprint, an agent user) changes nothing.
pub(crate) async fn recheck_agents(
    tx: &mut dyn crate::store::StoreTx,
    agent_ids: &[&str],
    now: OffsetDateTime,
) -> DomainResult<()> {
    if agent_ids.is_empty() {
        return Ok(());
    }
    for agent_id in agent_ids {
        tx.recheck_agent_lifecycle(agent_id, now).await?;
    }
    tx.enqueue_job(&sweep_job(now)).await?;
    Ok(())
}

impl Directory {
    /// `signInActivity` of a user or service principal the caller has already read: the
    /// instant of the last token Writ issued to it (`None`: never).
    pub async fn sign_in_activity(
        &self,
        caller: &Caller,
        principal_id: &str,
    ) -> DomainResult<Option<OffsetDateTime>> {
        if !may_read_sign_in_activity(caller) {
            return Err(DomainError::forbidden(
                "reading signInActivity requires the Global Administrator, Global Reader or \
                 Identity Governance Administrator role",
            ));
        }
        Ok(self.store.last_token_issued(principal_id).await?)
    }

    /// `GET /identityGovernance/lifecycleWorkflows/lifecyclePolicies`, governing one first.
    pub async fn list_lifecycle_policies(
        &self,
        caller: &Caller,
    ) -> DomainResult<Vec<LifecyclePolicy>> {
        if !may_read_policies(caller) {
            return Err(DomainError::forbidden(
                "the caller may not list lifecyclePolicies",
            ));
        }
        Ok(self.store.lifecycle_policies().await?)
    }

    /// `GET …/lifecyclePolicies/{id}`: `404` for a caller who may not read policies.
    pub async fn get_lifecycle_policy(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<LifecyclePolicy> {
        if !may_read_policies(caller) {
            return Err(DomainError::not_found("lifecyclePolicy", id));
        }
        self.store
            .lifecycle_policy(id)
            .await?
            .ok_or_else(|| DomainError::not_found("lifecyclePolicy", id))
    }

    /// `POST …/lifecyclePolicies`: at most [`MAX_POLICIES`]; every agent is checked again.
    pub async fn create_lifecycle_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        body: Map<String, Value>,
    ) -> DomainResult<LifecyclePolicy> {
        require_policy_write(caller)?;
        let document = parse_document(body)?;
        let now = self.clock.now();
        let policy = LifecyclePolicy {
            id: crate::ids::new_object_id(),
            document,
            created_date_time: now,
            last_modified_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        if tx.count_lifecycle_policies().await? >= MAX_POLICIES {
            return Err(DomainError::invalid(format!(
                "at most {MAX_POLICIES} lifecycle policies may exist"
            )));
        }
        tx.insert_lifecycle_policy(&policy).await?;
        tx.append_audit(&ctx.mark(policy_audit(
            caller,
            ctx,
            "Add lifecycle policy",
            "Add",
            &policy,
            now,
        )))
        .await?;
        tx.recheck_all_agent_lifecycles(now).await?;
        tx.enqueue_job(&sweep_job(now)).await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// `PATCH …/lifecyclePolicies/{id}`: the properties given replace the stored ones (`rules`
    /// as a whole); the result is validated as a create is. A PATCH that changes nothing
    /// records nothing.
    pub async fn update_lifecycle_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        patch: Map<String, Value>,
    ) -> DomainResult<LifecyclePolicy> {
        let current = self.get_lifecycle_policy(caller, id).await?;
        require_policy_write(caller)?;
        let mut merged = document_json(&current.document)?;
        for (key, value) in patch {
            merged.insert(key, value);
        }
        let document = parse_document(merged)?;
        if document == current.document {
            return Ok(current);
        }
        let now = self.clock.now();
        let updated = LifecyclePolicy {
            document,
            last_modified_date_time: now.max(current.last_modified_date_time),
            ..current.clone()
        };
        let mut tx = self.store.begin().await?;
        if !tx
            .update_lifecycle_policy(&updated, current.last_modified_date_time)
            .await?
        {
            return Err(DomainError::Conflict(
                "the lifecycle policy was changed or deleted meanwhile; read it again".into(),
            ));
        }
        tx.append_audit(&ctx.mark(policy_audit(
            caller,
            ctx,
            "Update lifecycle policy",
            "Update",
            &updated,
            now,
        )))
        .await?;
        tx.recheck_all_agent_lifecycles(now).await?;
        tx.enqueue_job(&sweep_job(now)).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// `DELETE …/lifecyclePolicies/{id}`.
    pub async fn delete_lifecycle_policy(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let current = self.get_lifecycle_policy(caller, id).await?;
        require_policy_write(caller)?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if !tx.delete_lifecycle_policy(&current.id).await? {
            return Err(DomainError::not_found("lifecyclePolicy", id));
        }
        tx.append_audit(&ctx.mark(policy_audit(
            caller,
            ctx,
            "Delete lifecycle policy",
            "Delete",
            &current,
            now,
        )))
        .await?;
        tx.recheck_all_agent_lifecycles(now).await?;
        tx.enqueue_job(&sweep_job(now)).await?;
        Ok(tx.commit().await?)
    }

    /// The agent identity as the rules read it; `404` for anything else or an invisible one.
    async fn governed_agent(&self, caller: &Caller, id: &str) -> DomainResult<GovernedAgent> {
        caller.require_visible("agentIdentity", id)?;
        let ids = [id.to_lowercase()];
        self.store
            .governed_agents(Some(&ids), None, None, 1)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| DomainError::not_found("agentIdentity", id))
    }

    /// `GET /servicePrincipals/{id}/lifecycle`: the agent identity's lifecycle state at `now`,
    /// for whoever may read the agent.
    pub async fn agent_lifecycle(
        &self,
        caller: &Caller,
        agent_id: &str,
    ) -> DomainResult<AgentLifecycle> {
        let agent = self.governed_agent(caller, agent_id).await?;
        let policies = self.store.lifecycle_policies().await?;
        let now = self.clock.now();
        let policy = governing(&policies).cloned();
        let issues = match &policy {
            Some(policy) => compliance_issues(policy, &agent, now, self.lifecycle_day)?.issues,
            None => Vec::new(),
        };
        Ok(AgentLifecycle {
            agent_id: agent.id.clone(),
            last_attestation_date_time: agent.record.as_ref().and_then(|r| r.last_attested_at),
            compliance_issues: issues,
            effective_governing_policy: policy,
        })
    }

    /// `POST /servicePrincipals/{id}/attest`: by a sponsor or owner of the agent (an enabled
    /// human user, as DESIGN section 5 resolves them) or a Global Administrator. Records
    /// `lastAttestationDateTime = now` with one audit record, and makes the agent due for a check
    /// now so that its attestation issue (and any notice schedule) is cleared.
    pub async fn attest_agent(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        agent_id: &str,
    ) -> DomainResult<AgentLifecycle> {
        let agent = self.governed_agent(caller, agent_id).await?;
        let now = self.clock.now();
        if !caller.is_global_admin() {
            let sponsors = self
                .store
                .human_sponsors_of(std::slice::from_ref(&agent.id), now)
                .await?;
            if caller.is_agent || !sponsors.iter().any(|(_, r)| r.id == caller.id) {
                return Err(DomainError::forbidden(
                    "only a sponsor or owner of the agent, or a Global Administrator, may attest it",
                ));
            }
        }
        let previous = agent.record.clone();
        let mut record = previous.clone().unwrap_or_else(|| AgentLifecycleRecord {
            agent_id: agent.id.clone(),
            ..AgentLifecycleRecord::default()
        });
        record.last_attested_at = Some(now);
        record.next_check_at = Some(now);
        let mut tx = self.store.begin().await?;
        if !tx
            .put_agent_lifecycle(&record, previous.as_ref().map(|r| r.version))
            .await?
        {
            return Err(DomainError::Conflict(
                "the agent's lifecycle changed meanwhile; attest again".into(),
            ));
        }
        let audit = AuditRecord::success(
            Actor::from(caller),
            now,
            CATEGORY,
            "Attest agent identity",
            "Update",
            ctx.request_id.as_deref(),
        )
        .target(
            &agent.id,
            "ServicePrincipal",
            Some(&agent.display_name),
            vec!["lastAttestationDateTime".into()],
        );
        tx.append_audit(&ctx.mark(audit)).await?;
        tx.enqueue_job(&sweep_job(now)).await?;
        tx.commit().await?;
        self.agent_lifecycle(caller, &agent.id).await
    }
}

/// What one sweep did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub evaluated: u32,
    pub notified: u32,
    pub disabled: u32,
    pub deleted: u32,
    /// Agents whose check failed (logged; tried again a minute later at the earliest).
    pub failed: u32,
}

/// One pass of the lifecycle sweep at `now` (the `lifecycleSweep` job): see the module's doc.
pub async fn sweep(directory: &Directory, now: OffsetDateTime) -> DomainResult<SweepReport> {
    let store = &directory.store;
    let day = directory.lifecycle_day;
    let mut report = SweepReport::default();
    let policies = store.lifecycle_policies().await?;
    let Some(policy) = governing(&policies).cloned() else {
        return Ok(report);
    };
    let mut after: Option<String> = None;
    loop {
        let page = store
            .governed_agents(None, Some(now), after.as_deref(), SWEEP_PAGE)
            .await?;
        let full = page.len() == SWEEP_PAGE as usize;
        after = page.last().map(|a| a.id.clone());
        for agent in page {
            report.evaluated = report.evaluated.saturating_add(1);
            let id = agent.id.clone();
            if let Err(error) = evaluate_one(directory, &policy, agent, now, day, &mut report).await
            {
                // One agent's failure does not hold up the others; it is tried again later.
                tracing::error!(agent.id = %id, %error, "lifecycle check of an agent failed");
                report.failed = report.failed.saturating_add(1);
            }
        }
        if !full {
            break;
        }
    }
    let tomorrow = crate::instant::add(now, day).unwrap_or(now);
    let mut next = match store.next_lifecycle_check().await? {
        Some(at) if at > now => at.min(tomorrow),
        // A check already due (written while this pass ran): run again right away.
        Some(_) => now,
        None => tomorrow,
    };
    if report.failed > 0 {
        // A failing agent stays due: wait a minute (a day at most) rather than spin on it.
        let retry = crate::instant::add(now, Duration::MINUTE.min(day)).unwrap_or(now);
        next = next.max(retry);
    }
    let mut tx = store.begin().await?;
    tx.enqueue_job(&sweep_job(next)).await?;
    tx.commit().await?;
    Ok(report)
}

/// The recipients of an agent's lifecycle notices: its sponsors and owners with a mail address,
/// or (none having one) the policy's fallback addresses.
async fn recipients(
    store: &Arc<dyn Store>,
    policy: &LifecyclePolicy,
    agent_id: &str,
    now: OffsetDateTime,
) -> DomainResult<Vec<Recipient>> {
    let sponsors: Vec<Recipient> = store
        .human_sponsors_of(&[agent_id.to_owned()], now)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    if sponsors.iter().any(|r| r.mail.is_some()) {
        return Ok(sponsors);
    }
    let mut out = sponsors;
    if let Some(schedule) = &policy.document.notification_schedule {
        out.extend(
            schedule
                .additional_fallback_recipients
                .iter()
                .map(|address| Recipient {
                    id: address.clone(),
                    kind: "fallback".into(),
                    mail: Some(address.clone()),
                }),
        );
    }
    Ok(out)
}

fn event_data(
    agent: &GovernedAgent,
    policy: &LifecyclePolicy,
    issues: &[ComplianceIssue],
    enforce_at: Option<OffsetDateTime>,
) -> Value {
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    };
    serde_json::json!({
        "targetId": agent.id,
        "agentDisplayName": agent.display_name,
        "policyId": policy.id,
        "policyDisplayName": policy.document.display_name,
        "complianceIssues": issues.iter().map(|i| serde_json::json!({
            "ruleType": i.rule_type.as_str(),
            "issueCode": i.issue_code,
            "description": i.description,
        })).collect::<Vec<_>>(),
        "enforcementAction": match policy.document.enforcement_action {
            EnforcementAction::DisableOnly => "disable",
            EnforcementAction::DisableThenDelete { .. } => "disableThenDelete",
        },
        "enforcementDateTime": enforce_at.and_then(rfc3339),
    })
}

/// Evaluates one agent and writes what changed (see the module's doc).
async fn evaluate_one(
    directory: &Directory,
    policy: &LifecyclePolicy,
    agent: GovernedAgent,
    now: OffsetDateTime,
    day: Duration,
    report: &mut SweepReport,
) -> DomainResult<()> {
    let store = &directory.store;
    let previous = agent.record.clone();
    let mut record = previous.clone().unwrap_or_else(|| AgentLifecycleRecord {
        agent_id: agent.id.clone(),
        ..AgentLifecycleRecord::default()
    });
    let evaluation = compliance_issues(policy, &agent, now, day)?;
    let mut events: Vec<(&'static str, Option<OffsetDateTime>)> = Vec::new();
    let mut disable = false;
    let mut next_check = evaluation.next_deadline;
    let earliest = |a: Option<OffsetDateTime>, b: OffsetDateTime| Some(a.map_or(b, |a| a.min(b)));
    if evaluation.issues.is_empty() {
        // Compliant: the non-compliance (if any) is over; a disabled agent stays disabled.
        record.non_compliant_since = None;
        record.notices_sent = 0;
    } else if agent.account_enabled || record.disabled_at.is_some() {
        let since = evaluation
            .issues
            .iter()
            .map(|i| i.since)
            .min()
            .unwrap_or(now);
        let enforce_at = evaluation
            .issues
            .iter()
            .map(|i| i.enforce_at)
            .min()
            .unwrap_or(now);
        if record.non_compliant_since.is_none() {
            record.non_compliant_since = Some(since);
            record.notices_sent = 1;
            events.push(("agent.lifecycleNonCompliant", Some(enforce_at)));
        }
        if record.disabled_at.is_none() {
            // Reminders: each offset after the non-compliance began, before enforcement.
            let offsets = policy
                .document
                .notification_schedule
                .as_ref()
                .map(|s| s.offsets_after_non_compliance_in_days.clone())
                .unwrap_or_default();
            let mut reminded = false;
            for (index, offset) in offsets.iter().enumerate() {
                let at = crate::instant::add(since, days(day, *offset)?)?;
                if at >= enforce_at {
                    break;
                }
                let sent_before =
                    usize::try_from(record.notices_sent.saturating_sub(1)).unwrap_or(0) > index;
                if sent_before {
                    continue;
                }
                if at <= now {
                    record.notices_sent =
                        i32::try_from(index.saturating_add(2)).unwrap_or(i32::MAX);
                    reminded = true;
                } else {
                    next_check = earliest(next_check, at);
                    break;
                }
            }
            if reminded {
                events.push(("agent.lifecycleEnforcementReminder", Some(enforce_at)));
            }
            if now >= enforce_at {
                disable = true;
                record.disabled_at = Some(now);
                events.push(("agent.lifecycleEnforced", None));
            } else {
                next_check = earliest(next_check, enforce_at);
            }
        }
        if let (
            EnforcementAction::DisableThenDelete {
                deletion_grace_period_in_days,
            },
            Some(disabled_at),
        ) = (&policy.document.enforcement_action, record.disabled_at)
        {
            let delete_at =
                crate::instant::add(disabled_at, days(day, *deletion_grace_period_in_days)?)?;
            if now >= delete_at && !disable {
                return delete_agent(directory, policy, &agent, now, report).await;
            }
            next_check = earliest(next_check, delete_at);
        }
    }
    // Every agent is looked at again within a day whatever its rules say, so a change no hook
    // announces (an administrator enabling an agent again) is seen by the next day's sweep.
    let within_a_day = crate::instant::add(now, day).unwrap_or(now);
    record.next_check_at = Some(next_check.map_or(within_a_day, |at| at.min(within_a_day)));
    let unchanged = previous.as_ref().is_some_and(|p| {
        p.non_compliant_since == record.non_compliant_since
            && p.notices_sent == record.notices_sent
            && p.disabled_at == record.disabled_at
            && p.next_check_at == record.next_check_at
    });
    if unchanged {
        return Ok(());
    }
    let recipients = if events.is_empty() {
        Vec::new()
    } else {
        recipients(store, policy, &agent.id, now).await?
    };
    let mut tx = store.begin().await?;
    if !tx
        .put_agent_lifecycle(&record, previous.as_ref().map(|r| r.version))
        .await?
    {
        // Another sweep (or an attestation) wrote this agent first: it is recorded there.
        return Ok(());
    }
    if disable {
        let disabled = tx.disable_agent_identity(&agent.id).await?;
        let ended = crate::entitlement::end_assignments_by_system(
            tx.as_mut(),
            now,
            &agent.id,
            PrincipalKind::ServicePrincipal,
            "a lifecycle policy disabled the agent",
        )
        .await?;
        let audit = AuditRecord::success(
            Actor::system(),
            now,
            CATEGORY,
            "Disable agent identity by lifecycle policy",
            "Update",
            None,
        )
        .target(
            &agent.id,
            "ServicePrincipal",
            Some(&agent.display_name),
            vec!["accountEnabled".into()],
        )
        .detail("lifecyclePolicyId", policy.id.clone())
        .detail(
            "complianceIssues",
            evaluation
                .issues
                .iter()
                .map(|i| i.issue_code)
                .collect::<Vec<_>>()
                .join(","),
        )
        .detail("wasEnabled", disabled.to_string())
        .detail("endedAssignments", ended.len().to_string());
        tx.append_audit(&audit).await?;
        report.disabled = report.disabled.saturating_add(1);
    }
    for (event_type, enforce_at) in &events {
        tx.enqueue_event(&OutboxEvent::new(
            event_type,
            now,
            event_data(&agent, policy, &evaluation.issues, *enforce_at),
            recipients.clone(),
        ))
        .await?;
        report.notified = report.notified.saturating_add(1);
    }
    Ok(tx.commit().await?)
}

/// The second step of `disableThenDeleteEnforcementAction`: the agent is deleted through the
/// directory's deletion path (sponsorships, policies, assignments, catalog resources handled,
/// one "Delete agent identity" audit record), as the system. Already deleted (another sweep got
/// there first): nothing more to do.
async fn delete_agent(
    directory: &Directory,
    policy: &LifecyclePolicy,
    agent: &GovernedAgent,
    now: OffsetDateTime,
    report: &mut SweepReport,
) -> DomainResult<()> {
    let ctx = RequestContext::default();
    let recipients = recipients(&directory.store, policy, &agent.id, now).await?;
    match directory
        .delete_service_principal(&Caller::system(), &ctx, &agent.id)
        .await
    {
        Ok(()) => {}
        Err(DomainError::NotFound { .. }) => return Ok(()),
        Err(other) => return Err(other),
    }
    report.deleted = report.deleted.saturating_add(1);
    let mut data = event_data(agent, policy, &[], None);
    if let Some(map) = data.as_object_mut() {
        map.insert("action".into(), Value::from("deleted"));
    }
    let mut tx = directory.store.begin().await?;
    tx.enqueue_event(&OutboxEvent::new(
        "agent.lifecycleEnforced",
        now,
        data,
        recipients,
    ))
    .await?;
    Ok(tx.commit().await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(rules: Value) -> Map<String, Value> {
        match json!({
            "@odata.type": AGENT_POLICY_TYPE,
            "displayName": "Agents",
            "gracePeriodInDays": 7,
            "enforcementAction": {"@odata.type": "#microsoft.graph.identityGovernance.disableOnlyEnforcementAction"},
            "rules": rules,
        }) {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn policy(doc: LifecyclePolicyDocument, at: OffsetDateTime) -> LifecyclePolicy {
        LifecyclePolicy {
            id: "p".into(),
            document: doc,
            created_date_time: at,
            last_modified_date_time: at,
        }
    }

    #[test]
    fn documents_are_parsed_bounded_and_given_rule_ids() {
        let parsed = parse_document(doc(json!([
            {"@odata.type": "#microsoft.graph.identityGovernance.periodicAttestationRule", "attestationIntervalInDays": 90},
            {"@odata.type": "#microsoft.graph.identityGovernance.sponsorPresenceRule", "minimumSponsorCount": 2},
        ])))
        .unwrap();
        assert_eq!(parsed.rules.len(), 2);
        assert!(matches!(
            &parsed.rules[0],
            LifecycleRule::PeriodicAttestation { id: Some(id), .. } if id == "periodicAttestationRule"
        ));
        for bad in [
            json!([]),
            json!([{"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": 0}]),
            json!([{"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": 3651}]),
            json!([{"@odata.type": "#microsoft.graph.identityGovernance.sponsorPresenceRule", "minimumSponsorCount": 101}]),
            json!([{"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": 5, "gracePeriodInDays": 31}]),
            json!([{"@odata.type": "#microsoft.graph.identityGovernance.nope"}]),
            json!([{"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": 5, "extra": 1}]),
            json!([
                {"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": 5},
                {"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": 6},
            ]),
        ] {
            assert!(parse_document(doc(bad.clone())).is_err(), "{bad}");
        }
        let mut with_id = doc(
            json!([{"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": 5}]),
        );
        with_id.insert("id".into(), json!("x"));
        assert!(parse_document(with_id).is_err());
    }

    #[test]
    fn issues_begin_at_their_deadline_and_the_earliest_grace_expiry_enforces() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let day = Duration::seconds(10);
        let p = policy(
            parse_document(doc(json!([
                {"@odata.type": "#microsoft.graph.identityGovernance.periodicAttestationRule", "attestationIntervalInDays": 3},
                {"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": 5, "gracePeriodInDays": 1},
            ])))
            .unwrap(),
            t0,
        );
        let agent = GovernedAgent {
            id: "a".into(),
            display_name: "A".into(),
            account_enabled: true,
            created_at: t0,
            last_token_at: None,
            sponsor_count: 1,
            record: None,
        };
        let early = compliance_issues(&p, &agent, t0 + Duration::seconds(29), day).unwrap();
        assert!(early.issues.is_empty());
        assert_eq!(early.next_deadline, Some(t0 + Duration::seconds(30)));
        let late = compliance_issues(&p, &agent, t0 + Duration::seconds(55), day).unwrap();
        assert_eq!(late.issues.len(), 2);
        assert_eq!(late.issues[0].since, t0 + Duration::seconds(30));
        assert_eq!(late.issues[0].enforce_at, t0 + Duration::seconds(100));
        assert_eq!(late.issues[1].enforce_at, t0 + Duration::seconds(60));
    }
}

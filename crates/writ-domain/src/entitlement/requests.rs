//! Assignment requests and assignments (DESIGN sections 5 and 6): the administrator's pathways
//! (`adminAdd`, `adminRemove`), the agent's own and its sponsor's (`userAdd`, `userRemove`, under
//! policies without approval until approvals land), delivery of a package's resource roles as grants held by the
//! assignment, and expiry at the assignment's end. Grants are rows with the assignment as their
//! holder and its end as their end, so access ends at that instant for every read that decides
//! it (invariant 2), and a grant another holder also holds survives this one's end (invariant 3).
//!
//! A create records the request (`submitted`) with a `processRequest` job in one transaction;
//! the job worker delivers it. A removal takes effect in the transaction that records it.

use std::collections::HashMap;

use serde_json::json;
use time::OffsetDateTime;

use super::answers::check_answers;
use super::callouts::{self, CalloutOn};

use super::{Entitlement, bounds, delivery, require};

use crate::authz::Caller;
use crate::directory::{RequestContext, ServicePrincipalKind, UserKind};
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::jobs::JobHandler;
use crate::model::{
    Actor, Answer, Assignment, AssignmentPolicy, AssignmentRequest, AssignmentState, AuditRecord,
    Callout, CalloutStage, ClaimedJob, Expiration, JobKind, NewJob, OutboxEvent, PrincipalKind,
    Recipient, RequestSchedule, RequestState, RequestType, ResourceRole, Subject, SubjectSet,
    status_of,
};
use crate::query::{ListQuery, Page};
use crate::store::StoreTx;

const CATEGORY: &str = "EntitlementManagement";

/// Who moves a request, and what its audit record and event say.
pub(super) struct Transition<'a> {
    pub actor: Actor,
    pub request_id: Option<&'a str>,
    pub activity: &'a str,
    pub event: &'a str,
    /// Recorded as the audit record's `reason` detail.
    pub reason: Option<&'a str>,
    pub recipients: Vec<Recipient>,
}

/// Moves `request` from the state it was read in to `state` inside `tx`, with its audit record
/// and event. `None`, with nothing written, when another transaction moved it first.
pub(super) async fn transition(
    tx: &mut dyn StoreTx,
    request: &AssignmentRequest,
    state: RequestState,
    now: OffsetDateTime,
    change: Transition<'_>,
) -> DomainResult<Option<AssignmentRequest>> {
    let moved = request.moved_to(state, now);
    if !tx.update_assignment_request(&moved, request.state).await? {
        return Ok(None);
    }
    let mut record = request_audit(
        change.actor,
        change.request_id,
        now,
        change.activity,
        &moved,
        "",
    );
    if let Some(reason) = change.reason {
        record = record.detail("reason", reason);
    }
    tx.append_audit(&record).await?;
    tx.enqueue_event(&OutboxEvent::new(
        change.event,
        now,
        request_event_data(&moved),
        change.recipients,
    ))
    .await?;
    Ok(Some(moved))
}

/// A create body, as the HTTP layer read it from `requestType` and `assignment`.
#[derive(Debug, Clone, Default)]
pub struct AssignmentRequestInput {
    pub request_type: String,
    pub access_package_id: Option<String>,
    pub policy_id: Option<String>,
    pub target_id: Option<String>,
    /// For updates and removals: the assignment acted on.
    pub assignment_id: Option<String>,
    pub justification: Option<String>,
    pub schedule: Option<RequestSchedule>,
    pub answers: Vec<Answer>,
}

fn rule(message: impl Into<String>) -> DomainError {
    DomainError::invalid(message)
}

fn required(value: Option<String>, name: &str) -> DomainResult<String> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| rule(format!("property 'assignment.{name}' is required")))
}

/// Checks a custom schedule as a request writes it: its instants in the input window and its
/// duration at most [`bounds::MAX_ASSIGNMENT_DURATION`], each a `400` naming the field.
pub(super) fn check_schedule(schedule: &RequestSchedule) -> DomainResult<()> {
    if let Some(start) = schedule.start_date_time {
        crate::instant::check_input(start, "schedule.startDateTime")?;
    }
    let expiration = &schedule.expiration;
    if let Some(end) = expiration.end_date_time {
        crate::instant::check_input(end, "schedule.expiration.endDateTime")?;
    }
    if let Some(duration) = &expiration.duration {
        bounds::duration_within(
            duration,
            "schedule.expiration.duration",
            true,
            bounds::MAX_ASSIGNMENT_DURATION,
        )?;
    }
    Ok(())
}

/// When an assignment delivered at `start` under `policy` ends, with the requested schedule.
/// `agent_limit` (`WRIT_MAX_AGENT_ACCESS`, for an agent target) bounds the end from `start`.
///
/// The end is a whole second, rounded down: the API shows instants in whole seconds, and the end
/// it shows must be the instant access ends (invariant 2), never a fraction of a second before it.
pub(super) fn assignment_end(
    policy: &AssignmentPolicy,
    requested: &RequestSchedule,
    start: OffsetDateTime,
    agent_limit: Option<time::Duration>,
) -> DomainResult<Option<OffsetDateTime>> {
    let whole_second = |t: OffsetDateTime| t.replace_nanosecond(0).unwrap_or(t);
    let end_of = |pattern: &Expiration| -> DomainResult<Option<OffsetDateTime>> {
        match pattern.kind.as_str() {
            "afterDuration" => {
                let text = pattern.duration.as_deref().unwrap_or_default();
                let duration = crate::duration::parse(text)?;
                Ok(Some(whole_second(crate::instant::add(start, duration)?)))
            }
            "afterDateTime" => Ok(pattern.end_date_time.map(whole_second)),
            _ => Ok(None),
        }
    };
    let by_policy = end_of(&policy.settings.expiration)?;
    let custom = end_of(&requested.expiration)?;
    let end = match (custom, by_policy) {
        (Some(custom), Some(max)) if custom > max => Err(rule(format!(
            "the requested schedule ends after the policy's maximum ({max})"
        ))),
        (Some(custom), _) if custom <= start => {
            Err(rule("the requested schedule ends before it starts"))
        }
        (Some(custom), _) => Ok(Some(custom)),
        (None, by_policy) => Ok(by_policy),
    }?;
    if let (Some(limit), Some(at)) = (agent_limit, end) {
        let pattern = if custom.is_some() {
            ("schedule.expiration", &requested.expiration)
        } else {
            ("the policy's expiration", &policy.settings.expiration)
        };
        let field = match pattern.1.kind.as_str() {
            "afterDuration" => format!("{}.duration", pattern.0),
            _ => format!("{}.endDateTime", pattern.0),
        };
        bounds::agent_end_within(at, start, limit, &field)?;
    }
    Ok(end)
}

impl Entitlement {
    /// The user or service principal with this id, as a subject.
    pub(super) async fn subject(&self, id: &str) -> DomainResult<Option<Subject>> {
        if let Some(user) = self.store.user(id).await? {
            return Ok(Some(Subject {
                id: user.id,
                kind: PrincipalKind::User,
                is_agent: user.kind == UserKind::AgentUser,
                display_name: user.display_name,
                principal_name: Some(user.user_principal_name),
                mail: user.mail,
                identity_parent_id: user.identity_parent_id,
            }));
        }
        if let Some(sp) = self.store.service_principal(id).await? {
            return Ok(Some(Subject {
                id: sp.id,
                kind: PrincipalKind::ServicePrincipal,
                is_agent: sp.kind == ServicePrincipalKind::AgentIdentity,
                display_name: sp.display_name,
                principal_name: Some(sp.app_id),
                mail: None,
                identity_parent_id: None,
            }));
        }
        Ok(None)
    }

    /// The package a request names; `400` when it does not exist.
    async fn requested_package(&self, package_id: &str) -> DomainResult<super::AccessPackage> {
        self.store
            .access_package(package_id)
            .await?
            .ok_or_else(|| rule(format!("access package '{package_id}' does not exist")))
    }

    /// The policy a request names, which must be one of the package's. Graph's documents also
    /// show requests naming only the package: that works when the package has one policy. A
    /// policy of a catalog the caller may not read is one that does not exist.
    async fn policy_of(
        &self,
        caller: &Caller,
        package: &super::AccessPackage,
        policy_id: Option<String>,
    ) -> DomainResult<AssignmentPolicy> {
        let policy = match policy_id {
            Some(policy_id) => self
                .store
                .assignment_policy(&policy_id)
                .await?
                .filter(|p| caller.catalog_rights(&p.catalog_id).read)
                .ok_or_else(|| rule(format!("assignment policy '{policy_id}' does not exist")))?,
            None => {
                let mut policies = self.store.policies_of_package(&package.id).await?;
                if policies.len() != 1 {
                    return Err(rule("property 'assignment.assignmentPolicyId' is required"));
                }
                policies.remove(0)
            }
        };
        if policy.access_package_id != package.id {
            return Err(rule(format!(
                "assignment policy '{}' belongs to another access package",
                policy.id
            )));
        }
        Ok(policy)
    }

    /// The user or service principal a request targets; `400` when there is none, or when the
    /// caller may not see it (an agent sees only itself), alike.
    async fn target(&self, caller: &Caller, target_id: &str) -> DomainResult<Subject> {
        let missing = || {
            rule(format!(
                "target '{target_id}' is not a user or service principal of the directory"
            ))
        };
        if !caller.can_see_object(target_id) {
            return Err(missing());
        }
        self.subject(target_id).await?.ok_or_else(missing)
    }

    /// Human users to notify about a target: its sponsors as DESIGN section 5 resolves them
    /// (`Store::human_sponsors_of`), with a mailbox or not (the notifier decides the channel).
    pub(super) async fn sponsor_recipients(&self, target_id: &str) -> DomainResult<Vec<Recipient>> {
        let now = self.clock.now();
        Ok(self
            .store
            .human_sponsors_of(&[target_id.to_owned()], now)
            .await?
            .into_iter()
            .map(|(_, recipient)| recipient)
            .collect())
    }

    /// The recipients of a request's events (decisions, delivery, extension, removal): its
    /// requestor — a user with its mailbox, or the agent or application itself — and the
    /// target's sponsors.
    pub(super) async fn request_recipients(
        &self,
        target_id: &str,
        requestor_id: &str,
        requestor_kind: PrincipalKind,
    ) -> DomainResult<Vec<Recipient>> {
        let mut recipients = self.sponsor_recipients(target_id).await?;
        if recipients.iter().any(|r| r.id == requestor_id) {
            return Ok(recipients);
        }
        let requestor = match requestor_kind {
            PrincipalKind::User => self.store.user(requestor_id).await?.map(|user| Recipient {
                id: user.id,
                kind: "user".into(),
                mail: user.mail,
            }),
            PrincipalKind::ServicePrincipal => Some(Recipient {
                id: requestor_id.to_owned(),
                kind: "servicePrincipal".into(),
                mail: None,
            }),
        };
        recipients.extend(requestor);
        Ok(recipients)
    }

    /// `POST …/assignmentRequests`.
    pub async fn create_assignment_request(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<AssignmentRequest> {
        let request_type = RequestType::parse(&input.request_type).ok_or_else(|| {
            rule(format!(
                "requestType '{}' is not a valid accessPackageRequestType",
                input.request_type
            ))
        })?;
        match request_type {
            RequestType::AdminAdd => self.admin_add(caller, ctx, input).await,
            RequestType::AdminRemove => self.admin_remove(caller, ctx, input).await,
            RequestType::UserAdd => self.user_add(caller, ctx, input).await,
            RequestType::UserRemove => self.user_remove(caller, ctx, input).await,
            RequestType::UserUpdate | RequestType::AdminUpdate => {
                self.request_update(caller, ctx, input, request_type).await
            }
            RequestType::SystemRemove => Err(DomainError::forbidden(
                "systemRemove requests are made by Writ itself",
            )),
        }
    }

    async fn admin_add(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<AssignmentRequest> {
        let package = self
            .requested_package(&required(input.access_package_id, "accessPackageId")?)
            .await?;
        // admin* types are for the catalog's administrators: anyone else is refused outright
        // (DESIGN section 5), whether or not it can see the catalog.
        require(
            caller
                .catalog_rights(&package.catalog_id)
                .manage_assignments,
            "assigning access packages",
        )?;
        let policy_id = required(input.policy_id, "assignmentPolicyId")?;
        let policy = self.policy_of(caller, &package, Some(policy_id)).await?;
        let target = self
            .target(caller, &required(input.target_id, "targetId")?)
            .await?;
        let self_assignment = self.refuse_self_or_own_agent(caller, &target).await?;
        let time_bound = matches!(
            policy.settings.expiration.kind.as_str(),
            "afterDuration" | "afterDateTime"
        );
        let schedule = input.schedule.unwrap_or_default();
        if target.is_agent && !time_bound && schedule.expiration.kind != "afterDateTime" {
            return Err(rule(format!(
                "access for agents is always time-bound: policy '{}' has no expiration",
                policy.display_name
            )));
        }
        if policy.allowed_target_scope != "notSpecified"
            && !self.principal_in_scope(&target, &policy).await?
        {
            return Err(rule(format!(
                "target '{}' is outside the policy's allowedTargetScope '{}'",
                target.id, policy.allowed_target_scope
            )));
        }
        let answers = check_answers(&policy.settings.questions, input.answers, false)?;
        self.record_add(
            caller,
            ctx,
            NewAdd {
                request_type: RequestType::AdminAdd,
                package: &package,
                policy: &policy,
                target: &target,
                justification: input.justification,
                schedule,
                answers,
                self_assignment,
            },
        )
        .await
    }

    /// Anti-escalation (DESIGN section 3): a catalog role is not a way to give, or prolong,
    /// access for oneself or for one's own agents (`403`). A tenant-wide administrator may; what
    /// it did is returned for the request's audit record (`selfAssignment`: `self` or
    /// `sponsoredAgent`).
    pub(super) async fn refuse_self_or_own_agent(
        &self,
        caller: &Caller,
        target: &Subject,
    ) -> DomainResult<Option<&'static str>> {
        let relation = if target.id == caller.id {
            Some("self")
        } else if target.is_agent
            // The one sponsor resolver (DESIGN section 5): sponsoring through a group, or
            // through an agent user's parent, counts as sponsoring.
            && self
                .sponsors_or_owns(caller, &target.id, self.clock.now())
                .await?
        {
            Some("sponsoredAgent")
        } else {
            None
        };
        match relation {
            Some(relation) if !caller.is_em_admin() => {
                Err(DomainError::forbidden(if relation == "self" {
                    "a catalog role does not allow assigning or extending access for oneself"
                } else {
                    "a catalog role does not allow assigning access to an agent its holder sponsors or owns"
                }))
            }
            relation => Ok(relation),
        }
    }

    /// The checks every add shares (schedule, incompatibility, no open request, no live
    /// assignment) and the transaction that records the request with its job.
    async fn record_add(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        add: NewAdd<'_>,
    ) -> DomainResult<AssignmentRequest> {
        let NewAdd {
            request_type,
            package,
            policy,
            target,
            justification,
            schedule,
            answers,
            self_assignment,
        } = add;
        let now = self.clock.now();
        check_schedule(&schedule)?;
        let start = schedule.start_date_time.unwrap_or(now);
        assignment_end(policy, &schedule, start, self.agent_limit(target))?;
        self.check_incompatible(&package.id, &target.id, now)
            .await?;

        let mut request = AssignmentRequest {
            id: new_object_id(),
            request_type,
            state: RequestState::Submitted,
            status: "Accepted".into(),
            catalog_id: package.catalog_id.clone(),
            access_package_id: package.id.clone(),
            policy_id: Some(policy.id.clone()),
            assignment_id: None,
            target_id: target.id.clone(),
            target_kind: target.kind,
            requestor_id: caller.id.clone(),
            requestor_kind: caller.kind,
            justification,
            schedule,
            answers,
            created_date_time: now,
            completed_date_time: None,
        };
        let callout = self.created_callout(policy, &mut request, now).await?;
        let mut tx = self.store.begin().await?;
        if let Some(open) = tx.open_request_for(&target.id, &package.id).await? {
            return Err(rule(format!(
                "an open request ({open}) exists for this target and access package"
            )));
        }
        if let Some(held) = tx.active_assignment_for(&target.id, &package.id).await? {
            return Err(rule(format!(
                "the target already has an assignment of this access package ({}); extend it instead",
                held.id
            )));
        }
        record_submitted(
            tx.as_mut(),
            caller,
            ctx,
            &request,
            &target.display_name,
            callout.as_ref(),
            self_assignment,
        )
        .await?;
        tx.commit().await?;
        Ok(request)
    }

    /// Ends an assignment in a transaction of its own, with the `assignmentRequestRemoved`
    /// callout its policy makes.
    pub(super) async fn end_with_callout(
        &self,
        ending: Ending<'_>,
    ) -> DomainResult<AssignmentRequest> {
        let original = ending.assignment.clone();
        let records = ending_records(ending);
        let callout = self.removed_callout(&records, &mut HashMap::new()).await?;
        let mut tx = self.store.begin().await?;
        let request = write_ending(tx.as_mut(), &original, records, callout.as_ref()).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// The `assignmentRequestRemoved` callout of an ending, if its policy makes one; `policies`
    /// caches the policies read across a batch.
    pub(super) async fn removed_callout(
        &self,
        records: &EndingRecords,
        policies: &mut HashMap<String, Option<AssignmentPolicy>>,
    ) -> DomainResult<Option<Callout>> {
        let policy_id = &records.ended.policy_id;
        if !policies.contains_key(policy_id) {
            let policy = self.store.assignment_policy(policy_id).await?;
            policies.insert(policy_id.clone(), policy);
        }
        let Some(Some(policy)) = policies.get(policy_id) else {
            return Ok(None);
        };
        self.plan_callout(
            policy,
            CalloutStage::RequestRemoved,
            CalloutOn::Assignment {
                assignment: &records.ended,
                request: Some(&records.request),
            },
            records.request.created_date_time,
        )
        .await
    }

    /// The `assignmentRequestCreated` callout of a new request, if its policy configures one; a
    /// launch-and-wait one holds the request at `WaitingForCallback`.
    pub(super) async fn created_callout(
        &self,
        policy: &AssignmentPolicy,
        request: &mut AssignmentRequest,
        now: OffsetDateTime,
    ) -> DomainResult<Option<Callout>> {
        let callout = self
            .plan_callout(
                policy,
                CalloutStage::RequestCreated,
                CalloutOn::Request(request),
                now,
            )
            .await?;
        if callouts::holds(callout.as_ref()) {
            request.status = callouts::WAITING_FOR_CALLBACK.into();
        }
        Ok(callout)
    }

    /// Whether `caller` is among the target's sponsors or owners, as the one resolver of DESIGN
    /// section 5 finds them (`Store::human_sponsors_of`: an agent identity's sponsors and human
    /// owners, an agent user's sponsors and its parent's, a user's sponsors, sponsor groups
    /// through their enabled members).
    async fn sponsors_or_owns(
        &self,
        caller: &Caller,
        target_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<bool> {
        if !caller.is_human_user() || !caller.enabled {
            return Ok(false);
        }
        Ok(self
            .store
            .human_sponsors_of(&[target_id.to_owned()], now)
            .await?
            .iter()
            .any(|(_, sponsor)| sponsor.id == caller.id))
    }

    /// Whether the policy's `onBehalfRequestors` name the caller for this target. Agents are
    /// never on-behalf requestors.
    pub(super) async fn may_act_on_behalf(
        &self,
        caller: &Caller,
        target: &Subject,
        policy: &AssignmentPolicy,
    ) -> DomainResult<bool> {
        if !caller.is_human_user() || !caller.enabled {
            return Ok(false);
        }
        let now = self.clock.now();
        for set in &policy.settings.requestor_settings.on_behalf_requestors {
            let allowed = match set {
                SubjectSet::TargetAgentIdentitySponsorsOrOwners {} => {
                    target.is_agent && self.sponsors_or_owns(caller, &target.id, now).await?
                }
                SubjectSet::SingleUser { user_id, .. } => user_id == &caller.id,
                SubjectSet::GroupMembers { group_id, .. } => {
                    self.store
                        .is_group_member(group_id, &caller.id, now)
                        .await?
                }
                SubjectSet::TargetManager { .. } => self
                    .store
                    .user(&target.id)
                    .await?
                    .is_some_and(|u| u.manager_id.as_deref() == Some(caller.id.as_str())),
                SubjectSet::TargetApplicationOwners {} => self
                    .store
                    .object_owners(&target.id)
                    .await?
                    .iter()
                    .any(|o| o.id() == caller.id),
                _ => false,
            };
            if allowed {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The requestor rule of the `userAdd` and `userUpdate` pathways (DESIGN section 5): the
    /// target itself where the policy lets targets (`for_self`: the flag and the refusal's
    /// message), else a human the policy's `onBehalfRequestors` name where `on_behalf` is set;
    /// an agent never for another principal.
    pub(super) async fn require_requestor(
        &self,
        caller: &Caller,
        target: &Subject,
        policy: &AssignmentPolicy,
        for_self: (bool, &str),
        on_behalf: bool,
    ) -> DomainResult<()> {
        if target.id == caller.id {
            let (allowed, refusal) = for_self;
            return if allowed {
                Ok(())
            } else {
                Err(DomainError::forbidden(refusal))
            };
        }
        if caller.is_agent {
            return Err(DomainError::forbidden(
                "an agent never requests access on behalf of another principal",
            ));
        }
        if !on_behalf || !self.may_act_on_behalf(caller, target, policy).await? {
            return Err(DomainError::forbidden(
                "the caller is not an allowed on-behalf requestor of this policy for this target",
            ));
        }
        Ok(())
    }

    /// Whether the caller may request access under this policy for this target: the target
    /// itself where the policy lets targets add access and the target is in its scope, or a human
    /// the policy's `onBehalfRequestors` name where it lets them add access.
    async fn may_request_under(
        &self,
        caller: &Caller,
        target: &Subject,
        policy: &AssignmentPolicy,
    ) -> DomainResult<bool> {
        let requestors = &policy.settings.requestor_settings;
        if target.id == caller.id {
            Ok(requestors.enable_targets_to_self_add_access
                && self.principal_in_scope(target, policy).await?)
        } else {
            Ok(requestors.enable_on_behalf_requestors_to_add_access
                && self.may_act_on_behalf(caller, target, policy).await?)
        }
    }

    /// The package and policy a `userAdd` names, as far as the caller may see them: a reader of
    /// the package's catalog sees them all; anyone else sees a package only through the
    /// policies under which it may request it for this target (what
    /// `filterByCurrentUser(on='allowedRequestor')` and `getApplicablePolicyRequirements` show
    /// it), and only those policies. An object the caller may not see answers exactly as one
    /// that does not exist (`400`, the same message), so requests are no existence oracle.
    async fn user_add_policy(
        &self,
        caller: &Caller,
        target: &Subject,
        package_id: &str,
        policy_id: Option<String>,
    ) -> DomainResult<(super::AccessPackage, AssignmentPolicy)> {
        let package = self.requested_package(package_id).await?;
        if caller.catalog_rights(&package.catalog_id).read {
            let policy = self.policy_of(caller, &package, policy_id).await?;
            return Ok((package, policy));
        }
        let mut usable = Vec::new();
        for policy in self.store.policies_of_package(&package.id).await? {
            if self.may_request_under(caller, target, &policy).await? {
                usable.push(policy);
            }
        }
        if usable.is_empty() {
            return Err(rule(format!(
                "access package '{package_id}' does not exist"
            )));
        }
        let policy = match policy_id {
            Some(policy_id) => usable
                .into_iter()
                .find(|p| p.id == policy_id)
                .ok_or_else(|| rule(format!("assignment policy '{policy_id}' does not exist")))?,
            None if usable.len() == 1 => usable.remove(0),
            None => return Err(rule("property 'assignment.assignmentPolicyId' is required")),
        };
        Ok((package, policy))
    }

    /// `userAdd`: the target requests for itself, or an allowed on-behalf requestor (an agent's
    /// sponsor) for it.
    async fn user_add(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<AssignmentRequest> {
        let package_id = required(input.access_package_id, "accessPackageId")?;
        let target = self
            .target(
                caller,
                &input.target_id.unwrap_or_else(|| caller.id.clone()),
            )
            .await?;
        let (package, policy) = self
            .user_add_policy(
                caller,
                &target,
                &package_id,
                input.policy_id.filter(|p| !p.is_empty()),
            )
            .await?;
        let settings = &policy.settings;
        let requestors = &settings.requestor_settings;
        self.require_requestor(
            caller,
            &target,
            &policy,
            (
                requestors.enable_targets_to_self_add_access,
                "this policy does not let targets request access for themselves",
            ),
            requestors.enable_on_behalf_requestors_to_add_access,
        )
        .await?;
        if !self.principal_in_scope(&target, &policy).await? {
            return Err(rule(format!(
                "target '{}' is outside the policy's allowedTargetScope '{}'{}",
                target.id,
                policy.allowed_target_scope,
                if target.is_agent {
                    " (access for agents is always time-bound)"
                } else {
                    ""
                }
            )));
        }
        if settings
            .request_approval_settings
            .is_requestor_justification_required
            && input
                .justification
                .as_deref()
                .is_none_or(|j| j.trim().is_empty())
        {
            return Err(rule("this policy requires a justification"));
        }
        let answers = check_answers(&settings.questions, input.answers, true)?;
        let schedule = input.schedule.unwrap_or_default();
        if (schedule.start_date_time.is_some() || schedule.expiration.kind != "notSpecified")
            && !settings.requestor_settings.allow_custom_assignment_schedule
        {
            return Err(rule("this policy does not allow a custom schedule"));
        }
        self.record_add(
            caller,
            ctx,
            NewAdd {
                request_type: RequestType::UserAdd,
                package: &package,
                policy: &policy,
                target: &target,
                justification: input.justification,
                schedule,
                answers,
                self_assignment: None,
            },
        )
        .await
    }

    /// `userRemove`: the target removes its own assignment, or an allowed on-behalf requestor
    /// removes it; it ends in this transaction.
    async fn user_remove(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<AssignmentRequest> {
        let assignment_id = required(input.assignment_id, "id")?;
        let assignment = self.visible_assignment(caller, &assignment_id).await?;
        let target = self
            .subject(&assignment.target_id)
            .await?
            .ok_or_else(|| rule(format!("assignment '{assignment_id}' does not exist")))?;
        let policy = self.store.assignment_policy(&assignment.policy_id).await?;
        let allowed = match &policy {
            None => false,
            Some(policy) if target.id == caller.id => {
                policy
                    .settings
                    .requestor_settings
                    .enable_targets_to_self_remove_access
            }
            Some(policy) => {
                policy
                    .settings
                    .requestor_settings
                    .enable_on_behalf_requestors_to_remove_access
                    && self.may_act_on_behalf(caller, &target, policy).await?
            }
        };
        if !allowed {
            return Err(DomainError::forbidden(
                "this policy does not let the caller remove this assignment",
            ));
        }
        let now = self.clock.now();
        let recipients = self
            .request_recipients(&target.id, &caller.id, caller.kind)
            .await?;
        self.end_with_callout(Ending {
            assignment,
            request_type: RequestType::UserRemove,
            expiry: false,
            actor: Actor::from(caller),
            requestor: (caller.id.clone(), caller.kind),
            request_id: ctx.request_id.as_deref(),
            justification: input.justification,
            at: now,
            target_name: &target.display_name,
            recipients,
        })
        .await
    }

    /// Refuses a target that holds a package, or is a member of a group, that this package is
    /// incompatible with.
    async fn check_incompatible(
        &self,
        package_id: &str,
        target_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let mut incompatible = self.store.incompatible_packages(package_id, true).await?;
        incompatible.extend(self.store.incompatible_packages(package_id, false).await?);
        if !incompatible.is_empty() {
            for held in self.store.active_assignments_of(target_id).await? {
                if let Some(other) = incompatible.iter().find(|p| p.id == held.access_package_id) {
                    return Err(rule(format!(
                        "the target holds access package '{}', which is incompatible with this one",
                        other.display_name
                    )));
                }
            }
        }
        for group in self.store.incompatible_groups(package_id).await? {
            if self
                .store
                .is_group_member(&group.id, target_id, now)
                .await?
            {
                return Err(rule(format!(
                    "the target is a member of group '{}', which is incompatible with this access package",
                    group.display_name
                )));
            }
        }
        Ok(())
    }

    async fn admin_remove(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<AssignmentRequest> {
        let assignment_id = required(input.assignment_id, "id")?;
        let assignment = self
            .store
            .assignment(&assignment_id)
            .await?
            .ok_or_else(|| rule(format!("assignment '{assignment_id}' does not exist")))?;
        require(
            caller
                .catalog_rights(&assignment.catalog_id)
                .manage_assignments,
            "removing assignments",
        )?;
        let now = self.clock.now();
        let target_name = self
            .subject(&assignment.target_id)
            .await?
            .map(|s| s.display_name)
            .unwrap_or_default();
        let recipients = self
            .request_recipients(&assignment.target_id, &caller.id, caller.kind)
            .await?;
        self.end_with_callout(Ending {
            assignment,
            request_type: RequestType::AdminRemove,
            expiry: false,
            actor: Actor::from(caller),
            requestor: (caller.id.clone(), caller.kind),
            request_id: ctx.request_id.as_deref(),
            justification: input.justification,
            at: now,
            target_name: &target_name,
            recipients,
        })
        .await
    }

    pub async fn get_assignment_request(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<AssignmentRequest> {
        let not_found = || DomainError::not_found("accessPackageAssignmentRequest", id);
        let request = self
            .store
            .assignment_request(id)
            .await?
            .ok_or_else(not_found)?;
        if caller.catalog_rights(&request.catalog_id).read
            || request.target_id == caller.id
            || request.requestor_id == caller.id
            || self
                .speaks_for_target(caller, &request.target_id, request.target_kind)
                .await?
        {
            Ok(request)
        } else {
            Err(not_found())
        }
    }

    /// Whether the caller is the target's manager or (DESIGN section 5's resolver) among its
    /// sponsors and owners: the parties `filterByCurrentUser(on='targetManager' |
    /// 'targetAgentIdentitySponsorOrOwner')` lists requests and assignments for, who may then
    /// read each of them too.
    async fn speaks_for_target(
        &self,
        caller: &Caller,
        target_id: &str,
        target_kind: PrincipalKind,
    ) -> DomainResult<bool> {
        if target_kind == PrincipalKind::User
            && let Some(user) = self.store.user(target_id).await?
            && user.manager_id.as_deref() == Some(caller.id.as_str())
        {
            return Ok(true);
        }
        self.sponsors_or_owns(caller, target_id, self.clock.now())
            .await
    }

    pub async fn list_assignment_requests(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<AssignmentRequest>> {
        let restriction = self.list_restriction(caller, "assignment requests")?;
        Ok(self
            .store
            .list_assignment_requests(query, restriction.as_deref(), None)
            .await?)
    }

    pub async fn get_assignment(&self, caller: &Caller, id: &str) -> DomainResult<Assignment> {
        let not_found = || DomainError::not_found("accessPackageAssignment", id);
        let assignment = self.store.assignment(id).await?.ok_or_else(not_found)?;
        if self.may_see_assignment(caller, &assignment).await? {
            Ok(assignment)
        } else {
            Err(not_found())
        }
    }

    /// Whether the caller may see an assignment (DESIGN section 3): its catalog's readers, its
    /// target, and the target's manager, sponsors and owners.
    async fn may_see_assignment(
        &self,
        caller: &Caller,
        assignment: &Assignment,
    ) -> DomainResult<bool> {
        Ok(caller.catalog_rights(&assignment.catalog_id).read
            || assignment.target_id == caller.id
            || self
                .speaks_for_target(caller, &assignment.target_id, assignment.target_kind)
                .await?)
    }

    /// The assignment a `userUpdate` or `userRemove` names; `400` when there is none, or when the
    /// caller may not see it, alike (no existence oracle; the `admin*` types refuse a caller
    /// without the catalog's rights outright). Besides those who may read it, an on-behalf
    /// requestor its policy names for its target sees it: the policy shares it with them.
    pub(super) async fn visible_assignment(
        &self,
        caller: &Caller,
        assignment_id: &str,
    ) -> DomainResult<Assignment> {
        let missing = || rule(format!("assignment '{assignment_id}' does not exist"));
        let assignment = self
            .store
            .assignment(assignment_id)
            .await?
            .ok_or_else(missing)?;
        if self.may_see_assignment(caller, &assignment).await? {
            return Ok(assignment);
        }
        let (Some(policy), Some(target)) = (
            self.store.assignment_policy(&assignment.policy_id).await?,
            self.subject(&assignment.target_id).await?,
        ) else {
            return Err(missing());
        };
        if self.may_act_on_behalf(caller, &target, &policy).await? {
            Ok(assignment)
        } else {
            Err(missing())
        }
    }

    pub async fn list_assignments(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<Assignment>> {
        let restriction = self.list_restriction(caller, "assignments")?;
        Ok(self
            .store
            .list_assignments(query, restriction.as_deref(), None)
            .await?)
    }

    /// `GET …/assignments/additionalAccess(accessPackageId=…, incompatibleAccessPackageId=…)`:
    /// the package's live assignments whose targets also hold the other package (or, without
    /// it, any package incompatible with this one) — the holders to review when packages are
    /// made incompatible after the fact.
    pub async fn additional_access(
        &self,
        caller: &Caller,
        package_id: &str,
        other_package_id: Option<&str>,
        query: &ListQuery,
    ) -> DomainResult<Page<Assignment>> {
        let package = self
            .store
            .access_package(package_id)
            .await?
            .filter(|p| caller.catalog_rights(&p.catalog_id).read)
            .ok_or_else(|| DomainError::not_found("accessPackage", package_id))?;
        let others: Vec<String> = match other_package_id {
            Some(other) => {
                // Whether the targets hold the other package is the other catalog's to tell.
                self.store
                    .access_package(other)
                    .await?
                    .filter(|p| caller.catalog_rights(&p.catalog_id).read)
                    .ok_or_else(|| DomainError::not_found("accessPackage", other))?;
                vec![other.to_owned()]
            }
            None => {
                let mut ids: Vec<String> = self
                    .store
                    .incompatible_packages(&package.id, true)
                    .await?
                    .into_iter()
                    .chain(self.store.incompatible_packages(&package.id, false).await?)
                    .map(|p| p.id)
                    .collect();
                ids.sort();
                ids.dedup();
                ids
            }
        };
        if others.is_empty() {
            return Ok(Page {
                items: Vec::new(),
                next_skiptoken: None,
                count: query.count.then_some(0),
            });
        }
        Ok(self
            .store
            .list_additional_access(query, &package.id, &others)
            .await?)
    }

    /// `…/assignmentRequests/filterByCurrentUser(on=…)` and `…/assignments/filterByCurrentUser(on=…)`
    /// for `target` and `createdBy`: the caller's own, whatever its catalog rights.
    pub async fn list_own_requests(
        &self,
        caller: &Caller,
        party: crate::store::Party,
        query: &ListQuery,
    ) -> DomainResult<Page<AssignmentRequest>> {
        Ok(self
            .store
            .list_assignment_requests(query, None, Some((party, &caller.id)))
            .await?)
    }

    pub async fn list_own_assignments(
        &self,
        caller: &Caller,
        party: crate::store::Party,
        query: &ListQuery,
    ) -> DomainResult<Page<Assignment>> {
        Ok(self
            .store
            .list_assignments(query, None, Some((party, &caller.id)))
            .await?)
    }

    /// The package, policy, subject or assignment a request or assignment names, for
    /// `$expand`: the caller was already allowed to see the object that names it.
    pub async fn related_package(&self, id: &str) -> DomainResult<Option<super::AccessPackage>> {
        Ok(self.store.access_package(id).await?)
    }

    pub async fn related_policy(&self, id: &str) -> DomainResult<Option<AssignmentPolicy>> {
        Ok(self.store.assignment_policy(id).await?)
    }

    pub async fn related_subject(&self, id: &str) -> DomainResult<Option<Subject>> {
        self.subject(id).await
    }

    pub async fn related_assignment(&self, id: &str) -> DomainResult<Option<Assignment>> {
        Ok(self.store.assignment(id).await?)
    }

    /// Runs a job of the request lifecycle. Idempotent: a job whose work is already done (the
    /// request moved on, the assignment was extended or removed) does nothing.
    pub async fn run_job(&self, job: &ClaimedJob, now: OffsetDateTime) -> DomainResult<()> {
        match job.kind {
            Some(JobKind::ProcessRequest) => self.process_request(&job.subject_id, now).await,
            Some(JobKind::ExpireAssignment) => self.expire_assignment(&job.subject_id, now).await,
            Some(JobKind::DeliverAssignment) => self.redeliver(&job.subject_id, None, now).await,
            Some(JobKind::ApprovalTimeout) => self.time_out_approval(&job.subject_id, now).await,
            Some(JobKind::ApprovalEscalation) => self.escalate_approval(&job.subject_id, now).await,
            Some(JobKind::CalloutTimeout) => self.time_out_callout(&job.subject_id, now).await,
            Some(JobKind::ExpiryNotice) => {
                self.send_expiry_notice(&job.id, &job.subject_id, job.scheduled_at, now)
                    .await
            }
            None => Err(DomainError::Internal(format!(
                "no handler for job kind {:?}",
                job.kind_name
            ))),
        }
    }

    async fn process_request(&self, request_id: &str, now: OffsetDateTime) -> DomainResult<()> {
        let Some(plan) = self.next_step(request_id, now, &mut HashMap::new()).await? else {
            return Ok(());
        };
        let mut tx = self.store.begin().await?;
        if write_delivery(tx.as_mut(), plan, now).await? {
            tx.commit().await?;
        }
        // Otherwise another worker finished it first; the grants are dropped with the rollback.
        Ok(())
    }

    /// Runs a batch of `processRequest` jobs: each request that is due for delivery is
    /// delivered in one transaction with the batch's job completions (one commit for the batch
    /// rather than two per request, DESIGN section 7); every other step (approval, schedule,
    /// failure, update) runs as it would alone. An error rolls the deliveries back, and the jobs
    /// then run one by one, each reading afresh.
    pub(super) async fn process_request_batch(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let mut roles = HashMap::new();
        let mut plans = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Some(plan) = self.next_step(&job.subject_id, now, &mut roles).await? {
                plans.push(plan);
            }
        }
        let job_ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let mut tx = self.store.begin().await?;
        for plan in plans {
            if !write_delivery(tx.as_mut(), plan, now).await? {
                return Err(DomainError::Conflict(
                    "a request of the batch was processed by another worker".into(),
                ));
            }
        }
        if tx.complete_jobs(&job_ids, worker).await? != job_ids.len() as u64 {
            return Err(DomainError::Conflict(
                "the lease of a job of the batch was lost".into(),
            ));
        }
        Ok(tx.commit().await?)
    }

    /// Takes a `processRequest` job's step when it is anything but a delivery (approval,
    /// schedule, update, reprocess, failure: each writes its own transaction), and returns the
    /// delivery to write otherwise. `roles` caches each package's roles across a batch.
    async fn next_step(
        &self,
        request_id: &str,
        now: OffsetDateTime,
        roles: &mut HashMap<String, Vec<(ResourceRole, Option<super::CatalogResource>)>>,
    ) -> DomainResult<Option<DeliveryPlan>> {
        let Some(request) = self.store.assignment_request(request_id).await? else {
            return Ok(None);
        };
        if request.status == callouts::WAITING_FOR_CALLBACK {
            // Held by a launch-and-wait custom extension: `resume` (or its timeout) moves it.
            return Ok(None);
        }
        if !matches!(
            request.state,
            RequestState::Submitted | RequestState::Scheduled | RequestState::Delivering
        ) || !matches!(
            request.request_type,
            RequestType::AdminAdd
                | RequestType::UserAdd
                | RequestType::AdminUpdate
                | RequestType::UserUpdate
        ) {
            return Ok(None);
        }
        let policy = match &request.policy_id {
            Some(id) => self.store.assignment_policy(id).await?,
            None => None,
        };
        let Some(policy) = policy else {
            self.fail_request(request, now, "the assignment policy was deleted")
                .await?;
            return Ok(None);
        };
        if matches!(
            request.request_type,
            RequestType::AdminUpdate | RequestType::UserUpdate
        ) {
            self.process_update(request, &policy, now).await?;
            return Ok(None);
        }
        if request.state == RequestState::Submitted
            && super::approvals::needs_approval(&request, &policy)
        {
            self.begin_approval(request, &policy, now).await?;
            return Ok(None);
        }
        if let Some(assignment_id) = request.assignment_id.clone() {
            // A reprocessed request: its assignment exists and keeps its schedule.
            self.redeliver(&assignment_id, Some(request), now).await?;
            return Ok(None);
        }
        let start = request.schedule.start_date_time.unwrap_or(now).max(now);
        if start > now {
            let mut tx = self.store.begin().await?;
            if request.state == RequestState::Scheduled {
                // This job ran before and committed the scheduling, but the process died before
                // the job was deleted: the state stays and nothing is recorded again. The job at
                // the start was written with the scheduling (enqueueing it again is a no-op).
                tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &request.id, start))
                    .await?;
                tx.commit().await?;
                return Ok(None);
            }
            let scheduled = request.moved_to(RequestState::Scheduled, now);
            if tx
                .update_assignment_request(&scheduled, request.state)
                .await?
            {
                tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &request.id, start))
                    .await?;
                tx.append_audit(&request_audit(
                    Actor::system(),
                    None,
                    now,
                    "Schedule access package assignment request",
                    &scheduled,
                    "",
                ))
                .await?;
            }
            tx.commit().await?;
            return Ok(None);
        }
        let target = self.subject(&request.target_id).await?;
        let Some(target) = target else {
            self.fail_request(request, now, "the target no longer exists")
                .await?;
            return Ok(None);
        };
        // WRIT_MAX_AGENT_ACCESS again at delivery: the policy or the setting may have changed
        // since the request was made.
        let end = match assignment_end(&policy, &request.schedule, start, self.agent_limit(&target))
        {
            Ok(end) => end,
            Err(error) => {
                self.fail_request(request, now, &error.to_string()).await?;
                return Ok(None);
            }
        };
        let roles = match roles.get(&request.access_package_id) {
            Some(roles) => roles.clone(),
            None => {
                let found = self.roles_to_deliver(&request.access_package_id).await?;
                roles.insert(request.access_package_id.clone(), found.clone());
                found
            }
        };
        let recipients = self
            .request_recipients(&target.id, &request.requestor_id, request.requestor_kind)
            .await?;

        let assignment_id = new_object_id();
        let notices =
            super::notices::notice_jobs(&assignment_id, end, now, &self.expiry_notice_lead_times);
        let granted_callout = if policy.settings.custom_extension_stage_settings.is_empty() {
            None
        } else {
            let granted = Assignment {
                id: assignment_id.clone(),
                state: AssignmentState::Delivered,
                status: "Delivered".into(),
                catalog_id: request.catalog_id.clone(),
                access_package_id: request.access_package_id.clone(),
                policy_id: policy.id.clone(),
                target_id: target.id.clone(),
                target_kind: target.kind,
                start_date_time: start,
                end_date_time: end,
                expired_date_time: None,
                created_date_time: now,
            };
            let delivered = request.moved_to(RequestState::Delivered, now);
            self.plan_callout(
                &policy,
                CalloutStage::RequestGranted,
                CalloutOn::Assignment {
                    assignment: &granted,
                    request: Some(&delivered),
                },
                now,
            )
            .await?
        };
        Ok(Some(DeliveryPlan {
            assignment_id,
            notices,
            granted_callout,
            request,
            policy_id: policy.id.clone(),
            start,
            end,
            roles,
            target,
            recipients,
        }))
    }

    pub(super) async fn fail_request(
        &self,
        request: AssignmentRequest,
        now: OffsetDateTime,
        reason: &str,
    ) -> DomainResult<()> {
        let mut tx = self.store.begin().await?;
        transition(
            tx.as_mut(),
            &request,
            RequestState::DeliveryFailed,
            now,
            Transition {
                actor: Actor::system(),
                request_id: None,
                activity: "Fulfill access package assignment request",
                event: "delivery.failed",
                reason: Some(reason),
                recipients: Vec::new(),
            },
        )
        .await?;
        Ok(tx.commit().await?)
    }

    /// The package's roles, each with the catalog resource it belongs to (`None` when the
    /// resource has left the catalog since).
    pub(super) async fn roles_to_deliver(
        &self,
        package_id: &str,
    ) -> DomainResult<Vec<(ResourceRole, Option<super::CatalogResource>)>> {
        let mut out = Vec::new();
        for role in self.package_roles(package_id).await? {
            let resource = self.store.catalog_resource(&role.resource_id).await?;
            out.push((role, resource));
        }
        Ok(out)
    }
}

/// A request due for delivery, with everything its transaction writes read beforehand.
struct DeliveryPlan {
    assignment_id: String,
    /// The assignment's expiry notices still ahead.
    notices: Vec<NewJob>,
    /// The `assignmentRequestGranted` callout, written when the delivery succeeds.
    granted_callout: Option<Callout>,
    request: AssignmentRequest,
    policy_id: String,
    start: OffsetDateTime,
    end: Option<OffsetDateTime>,
    roles: Vec<(ResourceRole, Option<super::CatalogResource>)>,
    target: Subject,
    recipients: Vec<Recipient>,
}

/// Writes a delivery into `tx`: the assignment, its grants, the request's new state, the audit
/// record, the event and the expiry job. `false` when the request had moved on meanwhile (the
/// caller must then not commit: the grants written here belong to no assignment).
async fn write_delivery(
    tx: &mut dyn StoreTx,
    plan: DeliveryPlan,
    now: OffsetDateTime,
) -> DomainResult<bool> {
    let DeliveryPlan {
        assignment_id,
        notices,
        granted_callout,
        request,
        policy_id,
        start,
        end,
        roles,
        target,
        recipients,
    } = plan;
    let mut assignment = Assignment {
        id: assignment_id,
        state: AssignmentState::Delivering,
        status: "Delivering".into(),
        catalog_id: request.catalog_id.clone(),
        access_package_id: request.access_package_id.clone(),
        policy_id,
        target_id: target.id.clone(),
        target_kind: target.kind,
        start_date_time: start,
        end_date_time: end,
        expired_date_time: None,
        created_date_time: now,
    };
    let report =
        delivery::deliver_roles(tx, &roles, &target, &assignment.id, end, now, &[]).await?;
    let (assignment_state, state) = report.outcome();
    let failures = report.failures;
    assignment.state = assignment_state;
    assignment.status = status_of(state).into();
    tx.insert_assignment(&assignment).await?;
    let mut delivered = request.moved_to(state, now);
    delivered.assignment_id = Some(assignment.id.clone());
    if !tx
        .update_assignment_request(&delivered, request.state)
        .await?
    {
        return Ok(false);
    }
    let mut record = request_audit(
        Actor::system(),
        None,
        now,
        "Fulfill access package assignment request",
        &delivered,
        &target.display_name,
    )
    .detail("assignmentId", assignment.id.clone());
    if !failures.is_empty() {
        record = record.detail("deliveryFailures", failures.join("; "));
    }
    tx.append_audit(&record).await?;
    tx.enqueue_event(&OutboxEvent::new(
        if failures.is_empty() {
            "assignment.delivered"
        } else {
            "delivery.failed"
        },
        now,
        assignment_event_data(&assignment, Some(&delivered.id)),
        recipients,
    ))
    .await?;
    if let Some(end) = end {
        tx.enqueue_job(&NewJob::new(JobKind::ExpireAssignment, &assignment.id, end))
            .await?;
    }
    for notice in &notices {
        tx.enqueue_job(notice).await?;
    }
    if state != RequestState::DeliveryFailed {
        callouts::write_callout(tx, granted_callout.as_ref()).await?;
    }
    Ok(true)
}

#[async_trait::async_trait]
impl JobHandler for Entitlement {
    async fn handle(&self, job: &ClaimedJob, now: OffsetDateTime) -> DomainResult<()> {
        self.run_job(job, now).await
    }

    async fn handle_batch(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: OffsetDateTime,
    ) -> DomainResult<bool> {
        match jobs.first().and_then(|j| j.kind) {
            Some(JobKind::ExpireAssignment) => {
                self.expire_batch(jobs, worker, now).await?;
                Ok(true)
            }
            Some(JobKind::ProcessRequest) => {
                self.process_request_batch(jobs, worker, now).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Deleting a principal ends its assignments (`systemRemove`) and cancels its open requests, in
/// the deleting transaction, before the principal's grant rows cascade away.
pub(crate) async fn end_assignments_of(
    tx: &mut dyn StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    principal_id: &str,
) -> DomainResult<()> {
    for assignment in tx.live_assignments_of(principal_id).await? {
        let requestor = (caller.id.clone(), caller.kind);
        let ending = Ending {
            assignment,
            request_type: RequestType::SystemRemove,
            expiry: false,
            actor: Actor::from(caller),
            requestor,
            request_id: ctx.request_id.as_deref(),
            justification: Some("the target was deleted".into()),
            at: now,
            target_name: "",
            recipients: Vec::new(),
        };
        end_assignment(tx, ending).await?;
    }
    for request in tx.open_requests_of(principal_id).await? {
        transition(
            tx,
            &request,
            RequestState::Canceled,
            now,
            Transition {
                actor: Actor::from(caller),
                request_id: ctx.request_id.as_deref(),
                activity: "Cancel access package assignment request",
                event: "request.canceled",
                reason: Some("the target was deleted"),
                recipients: Vec::new(),
            },
        )
        .await?;
    }
    Ok(())
}

/// What an add request records, once its pathway's own checks passed.
struct NewAdd<'a> {
    request_type: RequestType,
    package: &'a super::AccessPackage,
    policy: &'a AssignmentPolicy,
    target: &'a Subject,
    justification: Option<String>,
    schedule: RequestSchedule,
    answers: Vec<Answer>,
    /// A tenant-wide administrator assigning itself or an agent it sponsors (audited as such).
    self_assignment: Option<&'static str>,
}

/// How an assignment ends: by removal now, or by expiry at its end instant.
pub(super) struct Ending<'a> {
    pub assignment: Assignment,
    pub request_type: RequestType,
    /// Ended by reaching its end instant (status `Expired`), not removed (`Removed`).
    pub expiry: bool,
    pub actor: Actor,
    pub requestor: (String, PrincipalKind),
    pub request_id: Option<&'a str>,
    pub justification: Option<String>,
    pub at: OffsetDateTime,
    pub target_name: &'a str,
    pub recipients: Vec<Recipient>,
}

/// Ends an assignment inside `tx`: marks it expired (status `Removed` or `Expired`), releases
/// the grants it holds, and records the removal request, its audit record and its event.
/// What ending an assignment writes: the assignment as ended, the removal request that records
/// it, the request's audit record and the assignment's event.
pub(super) struct EndingRecords {
    pub ended: Assignment,
    pub request: AssignmentRequest,
    pub audit: AuditRecord,
    pub event: OutboxEvent,
}

/// The records of an ending, built and not yet written.
pub(super) fn ending_records(ending: Ending<'_>) -> EndingRecords {
    let Ending {
        assignment,
        request_type,
        expiry,
        actor,
        requestor,
        request_id,
        justification,
        at,
        target_name,
        recipients,
    } = ending;
    let mut ended = assignment;
    ended.state = AssignmentState::Expired;
    ended.status = if expiry { "Expired" } else { "Removed" }.into();
    ended.expired_date_time = Some(at);
    let request = AssignmentRequest {
        id: new_object_id(),
        request_type,
        state: RequestState::Delivered,
        status: "Delivered".into(),
        catalog_id: ended.catalog_id.clone(),
        access_package_id: ended.access_package_id.clone(),
        policy_id: Some(ended.policy_id.clone()),
        assignment_id: Some(ended.id.clone()),
        target_id: ended.target_id.clone(),
        target_kind: ended.target_kind,
        requestor_id: requestor.0,
        requestor_kind: requestor.1,
        justification,
        schedule: RequestSchedule::default(),
        answers: Vec::new(),
        created_date_time: at,
        completed_date_time: Some(at),
    };
    let audit = request_audit(
        actor,
        request_id,
        at,
        if expiry {
            "Access package assignment expired"
        } else {
            "Remove access package assignment"
        },
        &request,
        target_name,
    )
    .detail("assignmentId", ended.id.clone());
    let event = OutboxEvent::new(
        if expiry {
            "assignment.expired"
        } else {
            "assignment.removed"
        },
        at,
        assignment_event_data(&ended, Some(&request.id)),
        recipients,
    );
    EndingRecords {
        ended,
        request,
        audit,
        event,
    }
}

pub(super) async fn end_assignment(
    tx: &mut dyn StoreTx,
    ending: Ending<'_>,
) -> DomainResult<AssignmentRequest> {
    let original = ending.assignment.clone();
    write_ending(tx, &original, ending_records(ending), None).await
}

/// Writes an assignment's end (read as `original`) into `tx`: the ended assignment, its grants
/// released, an open extension closed, the recording request, its audit record and event, and
/// the `assignmentRequestRemoved` callout its policy makes, if any.
pub(super) async fn write_ending(
    tx: &mut dyn StoreTx,
    original: &Assignment,
    records: EndingRecords,
    callout: Option<&Callout>,
) -> DomainResult<AssignmentRequest> {
    let already_ended =
        || DomainError::Conflict(format!("assignment '{}' has already ended", original.id));
    if original.state == AssignmentState::Expired {
        return Err(already_ended());
    }
    let at = records
        .ended
        .expired_date_time
        .unwrap_or(records.request.created_date_time);
    let expiry = records.ended.status == "Expired";
    if !tx.update_assignment(&records.ended, original).await? {
        return Err(already_ended());
    }
    delivery::revoke_all(tx, &original.id).await?;
    super::extensions::close_open_update(
        tx,
        original,
        at,
        if expiry {
            super::extensions::UpdateClosed::Expired
        } else {
            super::extensions::UpdateClosed::Removed
        },
    )
    .await?;
    tx.insert_assignment_request(&records.request).await?;
    tx.append_audit(&records.audit).await?;
    tx.enqueue_event(&records.event).await?;
    callouts::write_callout(tx, callout).await?;
    Ok(records.request)
}

/// One audit record for a request's change. The target is named as the principal acted for
/// (invariant 4).
/// Records a request as submitted in `tx`: the row, its audit record (initiated by the caller),
/// its `request.created` event and the `processRequest` job due at once. Every create
/// (`userAdd`, `adminAdd`, `userUpdate`, `adminUpdate`) goes through here.
///
/// `self_assignment` (`self`, `sponsoredAgent`) marks a tenant-wide administrator's request for
/// itself or an agent it sponsors, which DESIGN section 3 allows and audits.
pub(super) async fn record_submitted(
    tx: &mut dyn StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    request: &AssignmentRequest,
    target_name: &str,
    callout: Option<&Callout>,
    self_assignment: Option<&str>,
) -> DomainResult<()> {
    let now = request.created_date_time;
    tx.insert_assignment_request(request).await?;
    callouts::write_callout(tx, callout).await?;
    let mut record = request_audit(
        Actor::from(caller),
        ctx.request_id.as_deref(),
        now,
        "Create access package assignment request",
        request,
        target_name,
    );
    if let Some(relation) = self_assignment {
        record = record.detail("selfAssignment", relation);
    }
    tx.append_audit(&record).await?;
    tx.enqueue_event(&OutboxEvent::new(
        "request.created",
        now,
        request_event_data(request),
        Vec::new(),
    ))
    .await?;
    // A request held by its callout moves on when the extension resumes it.
    if !callouts::holds(callout) {
        tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &request.id, now))
            .await?;
    }
    Ok(())
}

pub(super) fn request_audit(
    actor: Actor,
    request_id: Option<&str>,
    now: OffsetDateTime,
    activity: &str,
    request: &AssignmentRequest,
    target_name: &str,
) -> AuditRecord {
    let mut record = AuditRecord::success(actor, now, CATEGORY, activity, "Update", request_id)
        .target(
            &request.id,
            "AccessPackageAssignmentRequest",
            None,
            vec!["state".into()],
        )
        .target(
            &request.target_id,
            request.target_kind.type_name(),
            (!target_name.is_empty()).then_some(target_name),
            Vec::new(),
        )
        .detail("requestType", request.request_type.as_str())
        .detail("state", request.state.as_str())
        .detail("accessPackageId", request.access_package_id.clone())
        .detail("onBehalfOf", request.target_id.clone())
        .in_catalog(&request.catalog_id);
    record.on_behalf_of = Some(request.target_id.clone());
    record
}

pub(super) fn request_event_data(request: &AssignmentRequest) -> serde_json::Value {
    json!({
        "requestId": request.id,
        "requestType": request.request_type.as_str(),
        "state": request.state.as_str(),
        "accessPackageId": request.access_package_id,
        "targetId": request.target_id,
    })
}

pub(super) fn assignment_event_data(
    assignment: &Assignment,
    request_id: Option<&str>,
) -> serde_json::Value {
    json!({
        "assignmentId": assignment.id,
        "requestId": request_id,
        "state": assignment.state.as_str(),
        "accessPackageId": assignment.access_package_id,
        "targetId": assignment.target_id,
        "endDateTime": assignment.end_date_time.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()),
    })
}

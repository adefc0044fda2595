//! Approval of assignment requests (DESIGN section 5): stages in order, approvers resolved when a
//! stage starts (subject sets expanded to enabled human users, the requestor and the target
//! removed, the fallback approvers when none remain, denial when still none), the decision
//! checked again against the policy at decision time, one decision per stage (compare-and-set:
//! the loser of a race gets `409`), and `cancel` while a request is open. A stage's timers
//! (automatic denial, escalation) are armed here when it starts and run in [`super::timeouts`];
//! once a stage escalated, its escalation approvers decide it as its primary ones do.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use time::OffsetDateTime;

use super::Entitlement;
use super::callouts::CalloutOn;
use super::records;

use super::records::{Transition, request_audit, request_event_data, transition};
use super::timeouts::arm_stage_timers;

use crate::authz::Caller;
use crate::directory::{DirectoryObject, RequestContext, UserKind};
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{
    Actor, ApprovalStage, ApprovalStageRecord, AssignmentPolicy, AssignmentRequest, CalloutStage,
    JobKind, NewJob, OutboxEvent, Recipient, RequestState, RequestStatus, SubjectSet,
};

use crate::query::ListQuery;
use crate::store::DirectoryStore;

use crate::model::stage_status::{COMPLETED, IN_PROGRESS, NOT_STARTED};

/// The subject sets that made `approver_id` an approver of `stage`: the primary ones (or their
/// fallback, when the stage started with it) if it was started with that approver, the
/// escalation ones (or their fallback) if it was escalated to them.
fn approver_lists<'a>(
    approver_id: &str,
    stage: &ApprovalStageRecord,
    settings: &'a ApprovalStage,
) -> Vec<&'a Vec<SubjectSet>> {
    let mut lists = Vec::with_capacity(2);
    if stage.approver_ids.iter().any(|a| a == approver_id) {
        lists.push(if stage.used_fallback {
            &settings.fallback_primary_approvers
        } else {
            &settings.primary_approvers
        });
    }
    if stage
        .escalation_approver_ids
        .iter()
        .any(|a| a == approver_id)
    {
        lists.push(if stage.escalation_used_fallback {
            &settings.fallback_escalation_approvers
        } else {
            &settings.escalation_approvers
        });
    }
    lists
}

fn find_stage<'a>(
    stages: &'a [ApprovalStageRecord],
    stage_id: &str,
) -> DomainResult<&'a ApprovalStageRecord> {
    stages
        .iter()
        .find(|s| s.id == stage_id)
        .ok_or_else(|| DomainError::not_found("approvalStage", stage_id))
}

impl ApprovalStageRecord {
    /// Whether `id` was named an approver of this stage: resolved when it started, or among the
    /// escalation approvers added since.
    pub fn lists_approver(&self, id: &str) -> bool {
        self.approver_ids.iter().any(|a| a == id)
            || self.escalation_approver_ids.iter().any(|a| a == id)
    }
}

/// A decision on a stage, as sent in `PATCH …/stages/{id}`.
#[derive(Debug, Clone)]
pub struct StageDecision {
    pub review_result: String,
    pub justification: Option<String>,
}

/// User ids of the current members of a group (the first 999: approver groups are small).
async fn member_ids(
    store: &dyn DirectoryStore,
    group_id: &str,
    now: OffsetDateTime,
) -> DomainResult<Vec<String>> {
    let page = store
        .list_group_members(
            group_id,
            now,
            &ListQuery {
                top: 999,
                ..ListQuery::default()
            },
        )
        .await?;
    Ok(page
        .items
        .iter()
        .filter(|o| matches!(o, DirectoryObject::User(_)))
        .map(|o| o.id().to_owned())
        .collect())
}

/// Expands approver subject sets for a request into enabled human users, without its
/// requestor and target. A rule of the directory alone, so it takes only that capability.
pub(crate) async fn resolve_approvers(
    store: &dyn DirectoryStore,
    sets: &[SubjectSet],
    requestor_id: &str,
    target_id: &str,
    now: OffsetDateTime,
) -> DomainResult<Vec<Recipient>> {
    let mut ids: Vec<String> = Vec::new();
    for set in sets {
        match set {
            SubjectSet::SingleUser { user_id, .. } => ids.push(user_id.clone()),
            SubjectSet::GroupMembers { group_id, .. } => {
                ids.extend(member_ids(store, group_id, now).await?)
            }
            SubjectSet::TargetAgentIdentitySponsorsOrOwners {}
            | SubjectSet::TargetUserSponsors {} => ids.extend(
                store
                    .human_sponsors_of(&[target_id.to_owned()], now)
                    .await?
                    .into_iter()
                    .map(|(_, recipient)| recipient.id),
            ),
            SubjectSet::RequestorManager { .. } => {
                if let Some(manager) = store.user(requestor_id).await?.and_then(|u| u.manager_id) {
                    ids.push(manager);
                }
            }
            // Connected-organization sponsors apply to external requestors, which Writ
            // does not have.
            _ => {}
        }
    }
    ids.sort();
    ids.dedup();
    let mut out = Vec::new();
    for id in ids {
        if id == requestor_id || id == target_id {
            continue;
        }
        if let Some(user) = store.user(&id).await?
            && user.account_enabled
            && user.kind == UserKind::User
        {
            out.push(Recipient {
                id: user.id,
                kind: "user".into(),
                mail: user.mail,
            });
        }
    }
    Ok(out)
}

impl Entitlement {
    /// [`resolve_approvers`] for a request, on this store.
    async fn resolve_approvers(
        &self,
        sets: &[SubjectSet],
        request: &AssignmentRequest,
        now: OffsetDateTime,
    ) -> DomainResult<Vec<Recipient>> {
        resolve_approvers(
            self.store.as_ref(),
            sets,
            &request.requestor_id,
            &request.target_id,
            now,
        )
        .await
    }

    /// A stage's approvers: the primary ones, or the fallback ones when none remain.
    async fn stage_approvers(
        &self,
        stage: &ApprovalStage,
        request: &AssignmentRequest,
        now: OffsetDateTime,
    ) -> DomainResult<(Vec<Recipient>, bool)> {
        let primary = self
            .resolve_approvers(&stage.primary_approvers, request, now)
            .await?;
        if !primary.is_empty() {
            return Ok((primary, false));
        }
        let fallback = self
            .resolve_approvers(&stage.fallback_primary_approvers, request, now)
            .await?;
        Ok((fallback, true))
    }

    /// A stage's escalation approvers: the escalation ones, or the fallback escalation ones when
    /// none remain (`true`).
    pub(super) async fn escalation_approvers(
        &self,
        stage: &ApprovalStage,
        request: &AssignmentRequest,
        now: OffsetDateTime,
    ) -> DomainResult<(Vec<Recipient>, bool)> {
        let escalation = self
            .resolve_approvers(&stage.escalation_approvers, request, now)
            .await?;
        if !escalation.is_empty() {
            return Ok((escalation, false));
        }
        let fallback = self
            .resolve_approvers(&stage.fallback_escalation_approvers, request, now)
            .await?;
        Ok((fallback, true))
    }

    /// Moves a submitted request into approval: its stages are written, the first started.
    pub(super) async fn begin_approval(
        &self,
        request: AssignmentRequest,
        policy: &AssignmentPolicy,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let stages = &policy.settings.request_approval_settings.stages;
        let Some(first) = stages.first() else {
            return Ok(());
        };
        let (approvers, used_fallback) = self.stage_approvers(first, &request, now).await?;
        let mut tx = self.store.begin().await?;
        if approvers.is_empty() {
            transition(
                tx.as_mut(),
                &request,
                RequestState::Denied,
                now,
                Transition {
                    actor: Actor::system(),
                    request_id: None,
                    activity: "Deny access package assignment request",
                    event: "request.denied",
                    reason: Some("no approver could be resolved for stage 1"),
                    recipients: Vec::new(),
                },
            )
            .await?;
            return Ok(tx.commit().await?);
        }
        let pending = request.moved_to(RequestState::PendingApproval, now);
        if !tx
            .update_assignment_request(&pending, request.state)
            .await?
        {
            return Ok(());
        }
        for (index, _) in stages.iter().enumerate() {
            let started = index == 0;
            tx.insert_approval_stage(&ApprovalStageRecord {
                id: new_object_id(),
                request_id: request.id.clone(),
                stage_index: u32::try_from(index).unwrap_or(u32::MAX),
                status: if started { IN_PROGRESS } else { NOT_STARTED }.into(),
                review_result: "NotReviewed".into(),
                approver_ids: if started {
                    approvers.iter().map(|a| a.id.clone()).collect()
                } else {
                    Vec::new()
                },
                used_fallback: started && used_fallback,
                started_date_time: started.then_some(now),
                escalation_approver_ids: Vec::new(),
                escalation_used_fallback: false,
                escalated_date_time: None,
                reviewed_by: None,
                reviewed_date_time: None,
                justification: None,
            })
            .await?;
        }
        arm_stage_timers(tx.as_mut(), &request.id, first, now).await?;
        tx.append_audit(
            &request_audit(
                Actor::system(),
                None,
                now,
                "Start approval of access package assignment request",
                &pending,
                "",
            )
            .detail("approvers", approvers.len().to_string()),
        )
        .await?;
        tx.enqueue_event(&OutboxEvent::new(
            "request.pendingApproval",
            now,
            request_event_data(&pending),
            Vec::new(),
        ))
        .await?;
        tx.enqueue_event(&OutboxEvent::new(
            "approval.stageAssigned",
            now,
            json!({"requestId": pending.id, "stage": 1, "accessPackageId": pending.access_package_id, "targetId": pending.target_id}),
            approvers,
        ))
        .await?;
        Ok(tx.commit().await?)
    }

    /// Whether the caller may see a request's approval: those who may see the request, and its
    /// approvers.
    fn may_see_approval(
        caller: &Caller,
        request: &AssignmentRequest,
        stages: &[ApprovalStageRecord],
    ) -> bool {
        caller.catalog_rights(&request.catalog_id).read
            || request.requestor_id == caller.id
            || request.target_id == caller.id
            || stages.iter().any(|s| s.lists_approver(&caller.id))
    }

    /// `GET accessPackageAssignmentApprovals/{id}`: the request's stages, `404` for a caller who
    /// may not see them.
    pub async fn approval(
        &self,
        caller: &Caller,
        request_id: &str,
    ) -> DomainResult<Vec<ApprovalStageRecord>> {
        let not_found = || DomainError::not_found("approval", request_id);
        let request = self
            .store
            .assignment_request(request_id)
            .await?
            .ok_or_else(not_found)?;
        let stages = self.store.approval_stages(request_id).await?;
        if stages.is_empty() || !Self::may_see_approval(caller, &request, &stages) {
            return Err(not_found());
        }
        Ok(stages)
    }

    /// `GET accessPackageAssignmentApprovals/{id}/stages/{stageId}`.
    pub async fn approval_stage(
        &self,
        caller: &Caller,
        request_id: &str,
        stage_id: &str,
    ) -> DomainResult<ApprovalStageRecord> {
        let stages = self.approval(caller, request_id).await?;
        Ok(find_stage(&stages, stage_id)?.clone())
    }

    /// The stage of request `request_id` in progress that the caller may decide now (Graph's
    /// `assignedToMe`), checked as a decision would be: a sponsor removed since the stage
    /// started is no longer asked.
    pub async fn stage_assigned_to(
        &self,
        caller: &Caller,
        request_id: &str,
    ) -> DomainResult<Option<String>> {
        let Some(request) = self.store.assignment_request(request_id).await? else {
            return Ok(None);
        };
        self.decidable_stage(&caller.id, &request, self.clock.now())
            .await
    }

    /// The id of the stage of `request` in progress that `approver_id` may decide now.
    pub(super) async fn decidable_stage(
        &self,
        approver_id: &str,
        request: &AssignmentRequest,
        now: OffsetDateTime,
    ) -> DomainResult<Option<String>> {
        let stages = self.store.approval_stages(&request.id).await?;
        let Some(stage) = stages.iter().find(|s| s.status == IN_PROGRESS) else {
            return Ok(None);
        };
        let policy = match &request.policy_id {
            Some(id) => self.store.assignment_policy(id).await?,
            None => None,
        };
        let index = usize::try_from(stage.stage_index).unwrap_or(usize::MAX);
        let Some(settings) = policy
            .as_ref()
            .and_then(|p| p.settings.request_approval_settings.stages.get(index))
        else {
            return Ok(None);
        };
        Ok(self
            .is_current_approver(approver_id, request, stage, settings, now)
            .await?
            .then(|| stage.id.clone()))
    }

    /// [`Self::decidable_stage`] for a page of requests, read set-wise: the stages of every
    /// request in one query, each policy, group and requestor's manager once, the targets'
    /// sponsors in one query. The approvers lists and `filterByCurrentUser(on='approver')` check
    /// a hundred requests at a time; one by one that was several queries a request.
    ///
    /// The rule is [`Self::is_current_approver`]'s, asked of one person: `approver_id` is among
    /// the approvers the in-progress stage was started (or escalated) with and, resolved again at
    /// `now` from the subject sets they came from, still one (an enabled human user, neither the
    /// requestor nor the target).
    pub(super) async fn decidable_stages(
        &self,
        approver_id: &str,
        requests: &[AssignmentRequest],
        now: OffsetDateTime,
    ) -> DomainResult<Vec<Option<String>>> {
        let mut undecided = vec![None; requests.len()];
        let approver_is_a_person = self
            .store
            .user(approver_id)
            .await?
            .is_some_and(|u| u.account_enabled && u.kind == UserKind::User);
        if !approver_is_a_person || requests.is_empty() {
            return Ok(undecided);
        }
        let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
        // The first stage in progress of each request (the store answers in stage order).
        let mut in_progress: HashMap<String, ApprovalStageRecord> = HashMap::new();
        for stage in self.store.approval_stages_of_requests(&ids).await? {
            if stage.status == IN_PROGRESS {
                in_progress.entry(stage.request_id.clone()).or_insert(stage);
            }
        }
        let mut policies: HashMap<String, Option<AssignmentPolicy>> = HashMap::new();
        let mut groups: HashMap<String, bool> = HashMap::new();
        let mut managers: HashMap<String, Option<String>> = HashMap::new();
        let mut sponsored: Option<HashSet<String>> = None;
        for (request, out) in requests.iter().zip(undecided.iter_mut()) {
            if approver_id == request.requestor_id || approver_id == request.target_id {
                continue;
            }
            let Some(stage) = in_progress.get(&request.id) else {
                continue;
            };
            let Some(policy_id) = &request.policy_id else {
                continue;
            };
            if !policies.contains_key(policy_id) {
                let policy = self.store.assignment_policy(policy_id).await?;
                policies.insert(policy_id.clone(), policy);
            }
            let index = usize::try_from(stage.stage_index).unwrap_or(usize::MAX);
            let Some(settings) = policies
                .get(policy_id)
                .and_then(Option::as_ref)
                .and_then(|p| p.settings.request_approval_settings.stages.get(index))
            else {
                continue;
            };
            'lists: for sets in approver_lists(approver_id, stage, settings) {
                for set in sets {
                    let names_approver = match set {
                        SubjectSet::SingleUser { user_id, .. } => user_id == approver_id,
                        SubjectSet::GroupMembers { group_id, .. } => {
                            if !groups.contains_key(group_id) {
                                let member = member_ids(self.store.as_ref(), group_id, now)
                                    .await?
                                    .iter()
                                    .any(|m| m == approver_id);
                                groups.insert(group_id.clone(), member);
                            }
                            groups.get(group_id).copied().unwrap_or(false)
                        }
                        SubjectSet::TargetAgentIdentitySponsorsOrOwners {}
                        | SubjectSet::TargetUserSponsors {} => {
                            if sponsored.is_none() {
                                let targets: Vec<String> =
                                    requests.iter().map(|r| r.target_id.clone()).collect();
                                sponsored = Some(
                                    self.store
                                        .human_sponsors_of(&targets, now)
                                        .await?
                                        .into_iter()
                                        .filter(|(_, sponsor)| sponsor.id == approver_id)
                                        .map(|(target, _)| target)
                                        .collect(),
                                );
                            }
                            sponsored
                                .as_ref()
                                .is_some_and(|targets| targets.contains(&request.target_id))
                        }
                        SubjectSet::RequestorManager { .. } => {
                            if !managers.contains_key(&request.requestor_id) {
                                let manager = self
                                    .store
                                    .user(&request.requestor_id)
                                    .await?
                                    .and_then(|u| u.manager_id);
                                managers.insert(request.requestor_id.clone(), manager);
                            }
                            managers
                                .get(&request.requestor_id)
                                .is_some_and(|m| m.as_deref() == Some(approver_id))
                        }
                        // As in `resolve_approvers`: no other subject set names an approver.
                        _ => false,
                    };
                    if names_approver {
                        *out = Some(stage.id.clone());
                        break 'lists;
                    }
                }
            }
        }
        Ok(undecided)
    }

    /// Whether `approver_id` is still an approver of `stage`: the approvers it was started with
    /// (primary, or fallback when those were used), or the escalation approvers it was given
    /// (escalation, or fallback escalation), resolved again at `now` from the subject sets they
    /// came from, so a sponsor removed since is not one.
    async fn is_current_approver(
        &self,
        approver_id: &str,
        request: &AssignmentRequest,
        stage: &ApprovalStageRecord,
        settings: &ApprovalStage,
        now: OffsetDateTime,
    ) -> DomainResult<bool> {
        for sets in approver_lists(approver_id, stage, settings) {
            if self
                .resolve_approvers(sets, request, now)
                .await?
                .iter()
                .any(|r| r.id == approver_id)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `PATCH accessPackageAssignmentApprovals/{id}/stages/{stageId}`.
    pub async fn decide_stage(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        request_id: &str,
        stage_id: &str,
        decision: StageDecision,
    ) -> DomainResult<()> {
        let stages = self.approval(caller, request_id).await?;
        let not_found = || DomainError::not_found("approvalStage", stage_id);
        let stage = find_stage(&stages, stage_id)?.clone();
        let request = self
            .store
            .assignment_request(request_id)
            .await?
            .ok_or_else(not_found)?;
        if caller.is_agent || !caller.is_human_user() {
            return Err(DomainError::forbidden("an agent never approves"));
        }
        if caller.id == request.requestor_id || caller.id == request.target_id {
            return Err(DomainError::forbidden(
                "the requestor and the target cannot decide their own request",
            ));
        }
        if !stage.lists_approver(&caller.id) {
            return Err(DomainError::forbidden(
                "the caller is not an approver of this stage",
            ));
        }
        if stage.status != IN_PROGRESS || request.state != RequestState::PendingApproval {
            return Err(DomainError::Conflict(
                "this stage is not awaiting a decision".into(),
            ));
        }
        let approve = match decision.review_result.to_ascii_lowercase().as_str() {
            "approve" => true,
            "deny" => false,
            other => {
                return Err(DomainError::invalid(format!(
                    "reviewResult '{other}' is not valid: use 'Approve' or 'Deny'"
                )));
            }
        };
        let policy = match &request.policy_id {
            Some(id) => self.store.assignment_policy(id).await?,
            None => None,
        }
        .ok_or_else(|| DomainError::Conflict("the request's policy was deleted".into()))?;
        let settings = &policy.settings.request_approval_settings.stages;
        let index = usize::try_from(stage.stage_index).unwrap_or(usize::MAX);
        let stage_settings = settings
            .get(index)
            .ok_or_else(|| DomainError::Conflict("the policy's stages changed".into()))?;
        if stage_settings.is_approver_justification_required
            && decision
                .justification
                .as_deref()
                .is_none_or(|j| j.trim().is_empty())
        {
            return Err(DomainError::invalid(
                "this stage requires a justification from the approver",
            ));
        }
        let now = self.clock.now();
        // The right is checked again now: a sponsor removed since the stage started cannot
        // decide it.
        if !self
            .is_current_approver(&caller.id, &request, &stage, stage_settings, now)
            .await?
        {
            return Err(DomainError::forbidden(
                "the caller is no longer an approver of this stage",
            ));
        }
        let next = if approve {
            match (settings.get(index + 1), stages.get(index + 1)) {
                (Some(next_settings), Some(next_stage)) => Some((
                    next_stage.clone(),
                    next_settings,
                    self.stage_approvers(next_settings, &request, now).await?,
                )),
                _ => None,
            }
        } else {
            None
        };
        let decision_recipients = self
            .request_recipients(
                &request.target_id,
                &request.requestor_id,
                request.requestor_kind,
            )
            .await?;
        let approved = request.moved_to(RequestState::Delivering, now);
        let approved_callout = if approve && next.is_none() {
            self.plan_callout(
                &policy,
                CalloutStage::RequestApproved,
                CalloutOn::Request(&approved),
                now,
            )
            .await?
        } else {
            None
        };

        let mut tx = self.store.begin().await?;
        let mut decided = stage.clone();
        decided.status = COMPLETED.into();
        decided.review_result = if approve { "Approved" } else { "Denied" }.into();
        decided.reviewed_by = Some((caller.id.clone(), caller.display_name.clone()));
        decided.reviewed_date_time = Some(now);
        decided.justification = decision.justification;
        if !tx.update_approval_stage(&decided, IN_PROGRESS).await? {
            return Err(DomainError::Conflict(
                "another approver decided this stage first".into(),
            ));
        }
        let actor = Actor::from(caller);
        let (updated, activity, event, recipients) = match next {
            Some((mut next_stage, next_settings, (approvers, used_fallback)))
                if !approvers.is_empty() =>
            {
                next_stage.status = IN_PROGRESS.into();
                next_stage.approver_ids = approvers.iter().map(|a| a.id.clone()).collect();
                next_stage.used_fallback = used_fallback;
                next_stage.started_date_time = Some(now);
                tx.update_approval_stage(&next_stage, NOT_STARTED).await?;
                arm_stage_timers(tx.as_mut(), &request.id, next_settings, now).await?;
                // Still pending approval, now of a stage that has not escalated: written even
                // though the state stays, so an escalation of the decided stage does not linger
                // in the status (and a request canceled meanwhile fails the compare-and-set).
                (
                    request.moved_to(RequestState::PendingApproval, now),
                    "Approve stage of access package assignment request",
                    "approval.stageAssigned",
                    approvers,
                )
            }
            Some(_) => (
                request.moved_to(RequestState::Denied, now),
                "Deny access package assignment request",
                "request.denied",
                decision_recipients,
            ),
            None if approve => {
                records::write_callout(tx.as_mut(), approved_callout.as_ref()).await?;
                let mut approved = approved;
                if records::holds(approved_callout.as_ref()) {
                    // Delivered once the extension resumes it.
                    approved.status = RequestStatus::WaitingForCallback.as_str().into();
                } else {
                    tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &request.id, now))
                        .await?;
                }
                (
                    approved,
                    "Approve access package assignment request",
                    "request.approved",
                    decision_recipients,
                )
            }
            None => (
                request.moved_to(RequestState::Denied, now),
                "Deny access package assignment request",
                "request.denied",
                decision_recipients,
            ),
        };
        if !tx
            .update_assignment_request(&updated, request.state)
            .await?
        {
            return Err(DomainError::Conflict(
                "the request changed while it was being decided".into(),
            ));
        }
        tx.append_audit(
            &request_audit(
                actor,
                ctx.request_id.as_deref(),
                now,
                activity,
                &updated,
                "",
            )
            .detail("stage", (stage.stage_index + 1).to_string()),
        )
        .await?;
        tx.enqueue_event(&OutboxEvent::new(
            event,
            now,
            request_event_data(&updated),
            recipients,
        ))
        .await?;
        Ok(tx.commit().await?)
    }

    /// Whether `caller` may cancel `request` (once it may see it): its requestor, its target
    /// or an assignment manager of its catalog. The portal offers `cancel` by the same rule.
    pub fn may_cancel(caller: &Caller, request: &AssignmentRequest) -> bool {
        request.requestor_id == caller.id
            || request.target_id == caller.id
            || caller
                .catalog_rights(&request.catalog_id)
                .manage_assignments
    }

    /// Whether `request` is still open to `cancel` (submitted, pending approval, scheduled).
    pub fn is_cancelable(request: &AssignmentRequest) -> bool {
        matches!(
            request.state,
            RequestState::Submitted | RequestState::PendingApproval | RequestState::Scheduled
        )
    }

    /// `POST assignmentRequests/{id}/cancel`: by its requestor, its target or an assignment
    /// manager, while it is open (`409` after).
    pub async fn cancel_request(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        request_id: &str,
    ) -> DomainResult<()> {
        let request = self.get_assignment_request(caller, request_id).await?;
        if !Self::may_cancel(caller, &request) {
            return Err(DomainError::forbidden(
                "only the requestor, the target or an assignment manager cancels a request",
            ));
        }
        if !Self::is_cancelable(&request) {
            return Err(DomainError::Conflict(format!(
                "a request in state '{}' cannot be canceled",
                request.state.as_str()
            )));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let moved = transition(
            tx.as_mut(),
            &request,
            RequestState::Canceled,
            now,
            Transition {
                actor: Actor::from(caller),
                request_id: ctx.request_id.as_deref(),
                activity: "Cancel access package assignment request",
                event: "request.canceled",
                reason: None,
                recipients: Vec::new(),
            },
        )
        .await?;
        if moved.is_none() {
            return Err(DomainError::Conflict(
                "the request changed while it was being canceled".into(),
            ));
        }
        Ok(tx.commit().await?)
    }

    /// `DELETE assignmentRequests/{id}`: history is kept for the retention period (invariant 6),
    /// so a completed request is not deleted (`409`), and an open one is canceled, not deleted.
    pub async fn delete_request(&self, caller: &Caller, request_id: &str) -> DomainResult<()> {
        let request = self.get_assignment_request(caller, request_id).await?;
        if !caller
            .catalog_rights(&request.catalog_id)
            .manage_assignments
        {
            return Err(DomainError::forbidden(
                "only an assignment manager of the catalog deletes requests",
            ));
        }
        Err(DomainError::Conflict(
            if request.completed_date_time.is_some() {
                "completed requests are kept for the retention period (400 days) and cannot be deleted"
                .into()
            } else {
                "an open request is canceled (POST …/cancel), not deleted".into()
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    //! Approver resolution against the in-memory directory, without a database.

    use time::{Duration, OffsetDateTime};

    use super::resolve_approvers;
    use crate::directory::UserKind;
    use crate::entitlement::policy_model::SubjectSet;
    use crate::store::fake::{FakeDirectory, block_on};

    const NOW: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    fn single(id: &str) -> SubjectSet {
        SubjectSet::SingleUser {
            user_id: id.to_owned(),
            description: None,
        }
    }

    fn ids(directory: &FakeDirectory, sets: &[SubjectSet]) -> Vec<String> {
        block_on(resolve_approvers(
            directory,
            sets,
            "requestor",
            "target",
            NOW,
        ))
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
    }

    #[test]
    fn approvers_are_enabled_humans_other_than_the_requestor_and_target() {
        let mut directory = FakeDirectory::default();
        for id in ["alice", "requestor", "target"] {
            directory.users.push(FakeDirectory::person(id));
        }
        let mut off = FakeDirectory::person("off");
        off.account_enabled = false;
        let mut agent = FakeDirectory::person("agent");
        agent.kind = UserKind::AgentUser;
        directory.users.extend([off, agent]);
        let sets: Vec<SubjectSet> = ["alice", "requestor", "target", "off", "agent", "ghost"]
            .into_iter()
            .map(single)
            .collect();
        assert_eq!(ids(&directory, &sets), ["alice"]);
    }

    #[test]
    fn group_members_count_while_their_membership_lasts() {
        let mut directory = FakeDirectory::default();
        for id in ["bob", "carol"] {
            directory.users.push(FakeDirectory::person(id));
        }
        directory.add_member("approvers", "bob", None);
        directory.add_member("approvers", "carol", Some(NOW - Duration::seconds(1)));
        let sets = [SubjectSet::GroupMembers {
            group_id: "approvers".into(),
            description: None,
        }];
        assert_eq!(ids(&directory, &sets), ["bob"]);
    }

    #[test]
    fn relationships_resolve_to_the_manager_and_the_sponsors_once_each() {
        let mut directory = FakeDirectory::default();
        let mut requestor = FakeDirectory::person("requestor");
        requestor.manager_id = Some("manager".into());
        directory.users.push(requestor);
        for id in ["manager", "sponsor"] {
            directory.users.push(FakeDirectory::person(id));
        }
        directory.human_sponsors.push((
            "target".into(),
            crate::audit::Recipient {
                id: "sponsor".into(),
                kind: "user".into(),
                mail: None,
            },
        ));
        let sets = [
            SubjectSet::RequestorManager { manager_level: 1 },
            SubjectSet::TargetAgentIdentitySponsorsOrOwners {},
            single("sponsor"),
        ];
        assert_eq!(ids(&directory, &sets), ["manager", "sponsor"]);
        assert!(ids(&directory, &[]).is_empty());
    }
}

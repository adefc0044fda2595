//! Extension (DESIGN section 5): `userUpdate` by the agent (`enableTargetsToSelfUpdateAccess`)
//! or an allowed on-behalf requestor such as its sponsor (`enableOnBehalfRequestorsToUpdateAccess`),
//! `adminUpdate` by the catalog's administrators. An extension moves the end of the same
//! assignment — by the policy's expiration counted from when it is granted, or to an allowed
//! custom end — and with it the end of every grant the assignment holds. A `userUpdate` under
//! `isApprovalRequiredForUpdate` runs the policy's stages again, and until it is approved the
//! old end stands; an extension still open when the assignment ends is `denied` with status
//! `AssignmentExpired` (or `canceled` when the assignment was removed).
//!
//! Who may extend is checked as for an add (issue 14): the target must be in the policy's scope
//! now (for `adminUpdate` too, unless the policy is `notSpecified`, as for `adminAdd`), at the
//! request and again when the extension is granted; a catalog-scoped administrator never
//! extends its own access or its own agents'; and an extension plans the package's roles again
//! as a delivery does, so a grant that may no longer be delivered is revoked, not prolonged.

use time::OffsetDateTime;

use super::answers::check_answers;

use super::records::{
    SubmitMarks, Submitted, assignment_event_data, record_submitted, request_audit,
    request_event_data,
};
use super::schedule::{assignment_end, check_schedule};
use super::{Entitlement, delivery, require};

use crate::authz::Caller;
use crate::directory::RequestContext;
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{
    Actor, Assignment, AssignmentPolicy, AssignmentRequest, AssignmentRequestInput,
    AssignmentState, AssignmentStatus, ExpirationKind, JobKind, NewJob, OutboxEvent,
    RequestSchedule, RequestState, RequestStatus, RequestType, StatusReason, Subject, TargetScope,
    status_of,
};

use crate::store::StoreTx;

const CATEGORY_ACTIVITY_EXTEND: &str = "Extend access package assignment";

fn rule(message: impl Into<String>) -> DomainError {
    DomainError::invalid(message)
}

impl Entitlement {
    /// `userUpdate` / `adminUpdate`: records the extension request (`submitted`) with its job.
    pub(super) async fn request_update(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
        request_type: RequestType,
    ) -> DomainResult<Submitted> {
        let assignment_id = input
            .assignment_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| rule("property 'assignment.id' is required"))?;
        let missing = || rule(format!("assignment '{assignment_id}' does not exist"));
        let assignment = if request_type == RequestType::AdminUpdate {
            self.store
                .assignment(&assignment_id)
                .await?
                .ok_or_else(missing)?
        } else {
            self.visible_assignment(caller, &assignment_id).await?
        };
        let target = self
            .subject(&assignment.target_id)
            .await?
            .ok_or_else(missing)?;
        let policy = self
            .store
            .assignment_policy(&assignment.policy_id)
            .await?
            .ok_or_else(|| {
                rule("the assignment's policy was deleted; it cannot be extended, only assigned again")
            })?;
        let settings = &policy.settings;
        let mut self_assignment = None;
        if request_type == RequestType::AdminUpdate {
            require(
                caller
                    .catalog_rights(&assignment.catalog_id)
                    .manage_assignments,
                "extending assignments",
            )?;
            self_assignment = self.refuse_self_or_own_agent(caller, &target).await?;
        } else {
            let requestors = &settings.requestor_settings;
            self.require_requestor(
                caller,
                &target,
                &policy,
                (
                    requestors.enable_targets_to_self_update_access,
                    "this policy does not let targets extend their own access",
                ),
                requestors.enable_on_behalf_requestors_to_update_access,
            )
            .await?;
        }
        if assignment.state == AssignmentState::Expired {
            return Err(DomainError::Conflict(
                "the assignment has ended; request the access package again instead".into(),
            ));
        }
        let requestor = request_type == RequestType::UserUpdate;
        if requestor
            && settings
                .request_approval_settings
                .is_requestor_justification_required
            && input
                .justification
                .as_deref()
                .is_none_or(|j| j.trim().is_empty())
        {
            return Err(rule("this policy requires a justification"));
        }
        let schedule = input.schedule.unwrap_or_default();
        if schedule.start_date_time.is_some() {
            return Err(rule(
                "an extension keeps the assignment's start: send only schedule.expiration",
            ));
        }
        if requestor
            && !schedule.expiration.is(ExpirationKind::NotSpecified)
            && !settings.requestor_settings.allow_custom_assignment_schedule
        {
            return Err(rule("this policy does not allow a custom schedule"));
        }
        let now = self.clock.now();
        check_schedule(&schedule)?;
        let end = new_end(&policy, &schedule, now, self.agent_limit(&target))?;
        if target.is_agent && end.is_none() {
            return Err(rule(format!(
                "access for agents is always time-bound: policy '{}' has no expiration",
                policy.display_name
            )));
        }
        if !self
            .may_extend_in_scope(&target, &policy, request_type)
            .await?
        {
            return Err(rule(out_of_scope(&target, &policy)));
        }
        let answers = check_answers(&settings.questions, input.answers, false)?;
        let bypass = self
            .plan_bypass(caller, input.parameters.as_ref(), &policy, &target.id)
            .await?;

        let mut request = AssignmentRequest {
            id: new_object_id(),
            request_type,
            state: RequestState::Submitted,
            status: RequestStatus::Accepted.as_str().into(),
            catalog_id: assignment.catalog_id.clone(),
            access_package_id: assignment.access_package_id.clone(),
            policy_id: Some(policy.id.clone()),
            assignment_id: Some(assignment.id.clone()),
            target_id: target.id.clone(),
            target_kind: target.kind,
            requestor_id: caller.id.clone(),
            requestor_kind: caller.kind,
            justification: input.justification,
            schedule,
            answers,
            parameters: input.parameters,
            created_date_time: now,
            completed_date_time: None,
        };
        let callout = self.created_callout(&policy, &mut request, now).await?;
        let mut tx = self.store.begin().await?;
        if let Some(open) = tx.open_update_for(&assignment.id).await? {
            return Err(rule(format!(
                "an open extension request ({}) exists for this assignment",
                open.id
            )));
        }
        record_submitted(
            tx.as_mut(),
            caller,
            ctx,
            &request,
            &target.display_name,
            callout.as_ref(),
            SubmitMarks {
                self_assignment,
                bypass,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Submitted::new(request, callout.as_ref()))
    }

    /// Whether the target of an extension is in the policy's scope now, as an add requires: an
    /// administrator's extension under a `notSpecified` policy (direct assignment only) reaches
    /// any principal, as `adminAdd` does.
    async fn may_extend_in_scope(
        &self,
        target: &Subject,
        policy: &AssignmentPolicy,
        request_type: RequestType,
    ) -> DomainResult<bool> {
        if request_type == RequestType::AdminUpdate
            && policy.target_scope() == Some(TargetScope::NotSpecified)
        {
            return Ok(true);
        }
        self.principal_in_scope(target, policy).await
    }

    /// The `processRequest` job of an extension: approval first when the policy asks for it,
    /// then the new end for the assignment and its grants, in one transaction.
    pub(super) async fn process_update(
        &self,
        request: AssignmentRequest,
        policy: &AssignmentPolicy,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        if request.state == RequestState::Submitted
            && super::lifecycle::needs_approval(&request, policy)
        {
            return self.begin_approval(request, policy, now).await;
        }
        let assignment = match &request.assignment_id {
            Some(id) => self.store.assignment(id).await?,
            None => None,
        };
        let Some(assignment) = assignment.filter(|a| a.state != AssignmentState::Expired) else {
            let mut tx = self.store.begin().await?;
            close_update(tx.as_mut(), &request, now, UpdateClosed::Expired).await?;
            return Ok(tx.commit().await?);
        };
        let Some(target) = self.subject(&assignment.target_id).await? else {
            return self
                .fail_request(request, now, "the target no longer exists")
                .await;
        };
        // Granted now: the target may have left the policy's scope while the extension waited
        // (for approval, say).
        if !self
            .may_extend_in_scope(&target, policy, request.request_type)
            .await?
        {
            let reason = out_of_scope(&target, policy);
            return self.fail_request(request, now, &reason).await;
        }
        let agent_limit = self.agent_limit(&target);
        let end = match new_end(policy, &request.schedule, now, agent_limit) {
            Ok(end) => end,
            Err(error) => return self.fail_request(request, now, &error.to_string()).await,
        };
        let roles = self.roles_to_deliver(&assignment.access_package_id).await?;
        let target_name = target.display_name.clone();
        let recipients = self
            .request_recipients(
                &assignment.target_id,
                &request.requestor_id,
                request.requestor_kind,
            )
            .await?;

        let mut tx = self.store.begin().await?;
        // An extension delivers the package for longer: its roles are planned again as for a
        // delivery, so a grant that may no longer be delivered (a role-assignable group no
        // Global Administrator vouched for, say) is revoked rather than prolonged.
        let (report, _) =
            delivery::replan(tx.as_mut(), &roles, &target, &assignment.id, end, now).await?;
        let mut extended = assignment.clone();
        extended.end_date_time = end;
        let (delivered_state, delivered_as) = report.outcome();
        if delivered_state != extended.state {
            extended.state = delivered_state;
            extended.status = status_of(delivered_as).into();
        }
        if extended
            .status_kind()
            .is_some_and(AssignmentStatus::is_near_expiry)
        {
            // The notices were about the old end; the new end's come again.
            extended.status = match extended.state {
                AssignmentState::PartiallyDelivered => AssignmentStatus::PartiallyDelivered,
                _ => AssignmentStatus::Delivered,
            }
            .as_str()
            .into();
        }
        if !tx.update_assignment(&extended, &assignment).await? {
            // It ended or changed since it was read: the job runs again and reads it anew.
            return Err(DomainError::Conflict(format!(
                "assignment {} changed while it was being extended",
                assignment.id
            )));
        }
        tx.set_grant_ends(&assignment.id, end).await?;
        let done = request.moved_to(RequestState::Delivered, now);
        if !tx.update_assignment_request(&done, request.state).await? {
            return Ok(());
        }
        let format = |t: Option<OffsetDateTime>| {
            t.and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "none".into())
        };
        let mut record = request_audit(
            Actor::system(),
            None,
            now,
            CATEGORY_ACTIVITY_EXTEND,
            &done,
            &target_name,
        )
        .detail("assignmentId", assignment.id.clone())
        .detail("previousEndDateTime", format(assignment.end_date_time))
        .detail("endDateTime", format(end));
        if !report.failures.is_empty() {
            record = record.detail("deliveryFailures", report.failures.join("; "));
        }
        tx.append_audit(&record).await?;
        let mut data = assignment_event_data(&extended, Some(&done.id));
        data["previousEndDateTime"] = format(assignment.end_date_time).into();
        tx.enqueue_event(&OutboxEvent::new(
            "assignment.extended",
            now,
            data,
            recipients,
        ))
        .await?;
        if let Some(end) = end {
            tx.enqueue_job(&NewJob::new(JobKind::ExpireAssignment, &assignment.id, end))
                .await?;
        }
        for notice in
            super::notices::notice_jobs(&assignment.id, end, now, &self.expiry_notice_lead_times)
        {
            tx.enqueue_job(&notice).await?;
        }
        Ok(tx.commit().await?)
    }
}

/// Why an extension of this target under this policy is refused: the target left the scope.
fn out_of_scope(target: &Subject, policy: &AssignmentPolicy) -> String {
    format!(
        "target '{}' is no longer in the policy's scope (allowedTargetScope '{}'): its assignment cannot be extended",
        target.id, policy.allowed_target_scope
    )
}

/// The end an extension granted at `now` gives: the requested custom end (within the policy's
/// maximum), else the policy's expiration counted from `now`; for an agent, at most
/// `agent_limit` (`WRIT_MAX_AGENT_ACCESS`) from `now`.
fn new_end(
    policy: &AssignmentPolicy,
    schedule: &RequestSchedule,
    now: OffsetDateTime,
    agent_limit: Option<time::Duration>,
) -> DomainResult<Option<OffsetDateTime>> {
    let end = assignment_end(policy, schedule, now, agent_limit)?;
    if end.is_some_and(|end| end <= now) {
        return Err(rule("the extension would end the assignment before now"));
    }
    Ok(end)
}

/// Why an open extension closes without being granted.
pub(super) enum UpdateClosed {
    /// Its assignment reached its end first: `denied`, status `AssignmentExpired`.
    Expired,
    /// Its assignment was removed: `canceled`.
    Removed,
}

/// Closes an open extension of an assignment that ended, inside the transaction that ends it.
pub(super) async fn close_open_update(
    tx: &mut dyn StoreTx,
    assignment: &Assignment,
    at: OffsetDateTime,
    why: UpdateClosed,
) -> DomainResult<()> {
    if let Some(open) = tx.open_update_for(&assignment.id).await? {
        close_update(tx, &open, at, why).await?;
    }
    Ok(())
}

pub(super) async fn close_update(
    tx: &mut dyn StoreTx,
    request: &AssignmentRequest,
    at: OffsetDateTime,
    why: UpdateClosed,
) -> DomainResult<()> {
    let (closed, activity, event, reason) = match why {
        UpdateClosed::Expired => (
            request.moved_to_for(RequestState::Denied, StatusReason::AssignmentEnded, at),
            "Deny access package assignment request",
            "request.denied",
            "the assignment ended before the extension was granted",
        ),
        UpdateClosed::Removed => (
            request.moved_to(RequestState::Canceled, at),
            "Cancel access package assignment request",
            "request.canceled",
            "the assignment was removed",
        ),
    };
    if !tx.update_assignment_request(&closed, request.state).await? {
        return Ok(());
    }
    tx.append_audit(
        &request_audit(Actor::system(), None, at, activity, &closed, "").detail("reason", reason),
    )
    .await?;
    tx.enqueue_event(&OutboxEvent::new(
        event,
        at,
        request_event_data(&closed),
        Vec::new(),
    ))
    .await?;
    Ok(())
}

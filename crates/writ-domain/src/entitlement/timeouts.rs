//! The timed side of approval (DESIGN sections 5 and 7): a stage's `durationBeforeAutomaticDenial`
//! and its escalation after `durationBeforeEscalation`.
//!
//! When a stage starts, its timers are written as jobs in the same transaction
//! ([`arm_stage_timers`]): an `approvalTimeout` and, with `isEscalationEnabled`, an
//! `approvalEscalation`, each about the request and due at the stage's start plus the duration.
//! A job acts on the request's stage in progress, measured against that stage's own start, so a
//! job left from an earlier stage finds a later stage's deadline not yet reached and does nothing.
//! The deadline is read from the policy as it is when the job runs: if the duration was
//! lengthened since the stage started, the job is written again for the new deadline; if the
//! setting was removed, nothing happens.
//!
//! - **Timeout**: the stage still `InProgress` at its deadline becomes `Expired` (review result
//!   `NotReviewed`: nobody reviewed it), and the request `denied` with status `TimedOut`, one
//!   audit record (the system, with the reason) and a `request.denied` event. The stage's
//!   compare-and-set on `InProgress` is the one a decision makes, so a decision racing the
//!   timeout either wins (the job then does nothing) or gets `409`.
//! - **Escalation**: the stage still `InProgress` and not yet escalated gets its escalation
//!   approvers (`escalationApprovers`, else `fallbackEscalationApprovers`; enabled human users
//!   without the requestor and the target, as for the primary ones) recorded beside its primary
//!   approvers, who may still decide; the request's status becomes `PendingApprovalEscalated`
//!   (its state stays `pendingApproval`), with an audit record and an `approval.escalated` event
//!   to the escalation approvers. When nobody resolves, that is audited (result `failure`) and
//!   the stage stays as it is.

use serde_json::json;
use time::OffsetDateTime;

use super::Entitlement;
use crate::model::stage_status::{EXPIRED, IN_PROGRESS};

use super::records::{request_audit, request_event_data};

use crate::error::DomainResult;
use crate::model::{
    Actor, ApprovalStage, ApprovalStageRecord, AssignmentRequest, JobKind, NewJob, OutboxEvent,
    RequestState, StatusReason,
};

use crate::store::StoreTx;

/// Writes the timers of a stage of `request_id` that started at `started`: the automatic denial
/// when the stage has a `durationBeforeAutomaticDenial`, the escalation when it enables
/// escalation with a positive `durationBeforeEscalation`.
pub(super) async fn arm_stage_timers(
    tx: &mut dyn StoreTx,
    request_id: &str,
    settings: &ApprovalStage,
    started: OffsetDateTime,
) -> DomainResult<()> {
    if let Some(after) = denial_after(settings)? {
        tx.enqueue_job(&NewJob::new(
            JobKind::ApprovalTimeout,
            request_id,
            crate::instant::add(started, after)?,
        ))
        .await?;
    }
    if let Some(after) = escalation_after(settings)? {
        tx.enqueue_job(&NewJob::new(
            JobKind::ApprovalEscalation,
            request_id,
            crate::instant::add(started, after)?,
        ))
        .await?;
    }
    Ok(())
}

/// How long a stage may stay undecided, if it is limited.
fn denial_after(settings: &ApprovalStage) -> DomainResult<Option<time::Duration>> {
    settings
        .duration_before_automatic_denial
        .as_deref()
        .map(crate::duration::parse)
        .transpose()
        .map(|d| d.filter(|d| d.is_positive()))
}

/// How long before a stage escalates, if it does.
fn escalation_after(settings: &ApprovalStage) -> DomainResult<Option<time::Duration>> {
    if !settings.is_escalation_enabled {
        return Ok(None);
    }
    settings
        .duration_before_escalation
        .as_deref()
        .map(crate::duration::parse)
        .transpose()
        .map(|d| d.filter(|d| d.is_positive()))
}

/// The request's stage in progress with its settings, when the request still waits for it.
struct WaitingStage {
    request: AssignmentRequest,
    stage: ApprovalStageRecord,
    settings: ApprovalStage,
    started: OffsetDateTime,
}

impl Entitlement {
    /// The stage of request `request_id` awaiting a decision, with the policy's settings for it;
    /// `None` when the request is no longer pending approval (decided, canceled) or its policy or
    /// the stage's settings are gone.
    async fn waiting_stage(&self, request_id: &str) -> DomainResult<Option<WaitingStage>> {
        let Some(request) = self.store.assignment_request(request_id).await? else {
            return Ok(None);
        };
        if request.state != RequestState::PendingApproval {
            return Ok(None);
        }
        let stages = self.store.approval_stages(request_id).await?;
        let Some(stage) = stages.into_iter().find(|s| s.status == IN_PROGRESS) else {
            return Ok(None);
        };
        let Some(started) = stage.started_date_time else {
            return Ok(None);
        };
        let policy = match &request.policy_id {
            Some(id) => self.store.assignment_policy(id).await?,
            None => None,
        };
        let index = usize::try_from(stage.stage_index).unwrap_or(usize::MAX);
        let Some(settings) = policy.and_then(|p| {
            p.settings
                .request_approval_settings
                .stages
                .into_iter()
                .nth(index)
        }) else {
            return Ok(None);
        };
        Ok(Some(WaitingStage {
            request,
            stage,
            settings,
            started,
        }))
    }

    /// Runs an `approvalTimeout` job at `now`: denies the request (status `TimedOut`) if its
    /// stage in progress has been undecided for its `durationBeforeAutomaticDenial`. Idempotent:
    /// a request decided, canceled or already timed out is left alone.
    pub(super) async fn time_out_approval(
        &self,
        request_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let Some(waiting) = self.waiting_stage(request_id).await? else {
            return Ok(());
        };
        let Some(after) = denial_after(&waiting.settings)? else {
            return Ok(());
        };
        let deadline = crate::instant::add(waiting.started, after)?;
        let mut tx = self.store.begin().await?;
        if deadline > now {
            // The stage's time was lengthened since it started: wait for the new deadline.
            tx.enqueue_job(&NewJob::new(JobKind::ApprovalTimeout, request_id, deadline))
                .await?;
            return Ok(tx.commit().await?);
        }
        let WaitingStage { request, stage, .. } = waiting;
        let mut expired = stage.clone();
        expired.status = EXPIRED.into();
        if !tx.update_approval_stage(&expired, IN_PROGRESS).await? {
            // A decision came first.
            return Ok(());
        }
        let denied = request.moved_to_for(RequestState::Denied, StatusReason::TimedOut, now);
        if !tx.update_assignment_request(&denied, request.state).await? {
            // Canceled meanwhile; the stage's change is dropped with this transaction.
            return Ok(());
        }
        let duration = waiting
            .settings
            .duration_before_automatic_denial
            .unwrap_or_default();
        let reason = format!(
            "no decision within {duration} on stage {}",
            stage.stage_index + 1
        );
        tx.append_audit(
            &request_audit(
                Actor::system(),
                None,
                now,
                "Deny access package assignment request",
                &denied,
                "",
            )
            .detail("stage", (stage.stage_index + 1).to_string())
            .detail("reason", reason),
        )
        .await?;
        tx.enqueue_event(&OutboxEvent::new(
            "request.denied",
            now,
            request_event_data(&denied),
            Vec::new(),
        ))
        .await?;
        Ok(tx.commit().await?)
    }

    /// Runs an `approvalEscalation` job at `now`: adds the escalation approvers to the request's
    /// stage in progress if it has been undecided for its `durationBeforeEscalation` and has not
    /// escalated yet. Idempotent like [`Self::time_out_approval`].
    pub(super) async fn escalate_approval(
        &self,
        request_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let Some(waiting) = self.waiting_stage(request_id).await? else {
            return Ok(());
        };
        if waiting.stage.escalated_date_time.is_some() {
            return Ok(());
        }
        let Some(after) = escalation_after(&waiting.settings)? else {
            return Ok(());
        };
        let deadline = crate::instant::add(waiting.started, after)?;
        if deadline > now {
            let mut tx = self.store.begin().await?;
            tx.enqueue_job(&NewJob::new(
                JobKind::ApprovalEscalation,
                request_id,
                deadline,
            ))
            .await?;
            return Ok(tx.commit().await?);
        }
        let WaitingStage {
            request,
            stage,
            settings,
            ..
        } = waiting;
        let (approvers, used_fallback) =
            self.escalation_approvers(&settings, &request, now).await?;
        let stage_number = (stage.stage_index + 1).to_string();
        let mut tx = self.store.begin().await?;
        if approvers.is_empty() {
            let mut record = request_audit(
                Actor::system(),
                None,
                now,
                "Escalate approval of access package assignment request",
                &request,
                "",
            )
            .detail("stage", stage_number)
            .detail("reason", "no escalation approver could be resolved");
            record.result = "failure".into();
            record.result_reason = Some("no escalation approver could be resolved".into());
            tx.append_audit(&record).await?;
            return Ok(tx.commit().await?);
        }
        let ids: Vec<String> = approvers.iter().map(|a| a.id.clone()).collect();
        if !tx
            .escalate_approval_stage(&stage.id, &ids, used_fallback, now)
            .await?
        {
            // Decided, or escalated by another worker, first.
            return Ok(());
        }
        let escalated =
            request.moved_to_for(RequestState::PendingApproval, StatusReason::Escalated, now);
        if !tx
            .update_assignment_request(&escalated, request.state)
            .await?
        {
            return Ok(());
        }
        tx.append_audit(
            &request_audit(
                Actor::system(),
                None,
                now,
                "Escalate approval of access package assignment request",
                &escalated,
                "",
            )
            .detail("stage", stage_number)
            .detail("escalationApprovers", ids.join(","))
            .detail("usedFallback", used_fallback.to_string()),
        )
        .await?;
        tx.enqueue_event(&OutboxEvent::new(
            "approval.escalated",
            now,
            json!({
                "requestId": escalated.id,
                "stage": stage.stage_index + 1,
                "accessPackageId": escalated.access_package_id,
                "targetId": escalated.target_id,
            }),
            approvers,
        ))
        .await?;
        Ok(tx.commit().await?)
    }
}

//! `reprocess` (DESIGN section 6): retrying a request whose delivery failed in whole or in part,
//! and re-enforcing an assignment's grants. Both read back what the assignment holds and apply
//! only what is missing (the package's roles as they are now, so a role added to the package
//! since reaches the assignment too). The call is accepted (`202`) and recorded; the work runs on
//! the job queue like any delivery.
//!
//! Both also release the work the job queue gave up on (issue 14: a parked job is
//! `reprocess`-able): every parked job that belongs to the request or assignment, whatever its
//! state, which means the jobs about it and those about its custom extension callouts (a
//! `calloutTimeout`'s subject is the callout). Releasing changes no state: the job runs as it
//! would have, and in a final state finds nothing to do and completes, which is why a request
//! or an ended assignment with a parked job left is released too rather than refused. With
//! nothing released and nothing to retry, the call is `409`.

use time::{Duration, OffsetDateTime};

use super::records::{assignment_event_data, request_audit};
use super::{Entitlement, delivery, require};

use crate::authz::Caller;
use crate::directory::RequestContext;
use crate::error::{DomainError, DomainResult};
use crate::model::{
    Actor, Assignment, AssignmentRequest, AssignmentState, AuditRecord, JobKind, NewJob,
    OutboxEvent, RequestState, status_of,
};

use crate::store::StoreTx;

/// Graph's limit: a request is reprocessed within 14 days of its completion; after that a new
/// request is the way.
const REPROCESS_WINDOW: Duration = Duration::days(14);

impl Entitlement {
    /// `POST …/assignmentRequests/{id}/reprocess`: releases every job of the request that the
    /// queue parked, whatever the request's state, and retries a failed delivery.
    pub async fn reprocess_request(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let request = self.get_assignment_request(caller, id).await?;
        require(
            caller
                .catalog_rights(&request.catalog_id)
                .manage_assignments,
            "reprocessing assignment requests",
        )?;
        let now = self.clock.now();
        // Whether the request's delivery is retried; otherwise the conflict to answer when no
        // job of it was parked either.
        let retry = match request.state {
            RequestState::DeliveryFailed | RequestState::PartiallyDelivered => {
                if request
                    .completed_date_time
                    .is_some_and(|done| now - done > REPROCESS_WINDOW)
                {
                    Err(
                        "the request completed more than 14 days ago; submit a new request instead"
                            .to_owned(),
                    )
                } else {
                    Ok(())
                }
            }
            RequestState::Submitted
            | RequestState::PendingApproval
            | RequestState::Scheduled
            | RequestState::Delivering => Err(format!(
                "the request is still being processed ({}) and none of its jobs was given up on; nothing to retry",
                request.state.as_str()
            )),
            RequestState::Delivered | RequestState::Denied | RequestState::Canceled => {
                Err(format!(
                    "only a request in state deliveryFailed or partiallyDelivered, or one with work the job queue gave up on, is reprocessed; this one is {}",
                    request.state.as_str()
                ))
            }
        };
        let mut tx = self.store.begin().await?;
        let released = self
            .release_parked_jobs(tx.as_mut(), &request.id, now)
            .await?;
        let request = match retry {
            Ok(()) => {
                let mut delivering = request.moved_to(RequestState::Delivering, now);
                delivering.completed_date_time = None;
                if !tx
                    .update_assignment_request(&delivering, request.state)
                    .await?
                {
                    return Err(DomainError::Conflict(
                        "the request changed while it was being reprocessed".into(),
                    ));
                }
                tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &request.id, now))
                    .await?;
                delivering
            }
            // Only released: the request stays as it is, and each job does what it would have
            // done when it runs (in a final state, nothing).
            Err(_) if released > 0 => request,
            // The transaction, which changed nothing, is dropped.
            Err(conflict) => return Err(DomainError::Conflict(conflict)),
        };
        let mut record = request_audit(
            Actor::from(caller),
            ctx.request_id.as_deref(),
            now,
            "Reprocess access package assignment request",
            &request,
            "",
        );
        if released > 0 {
            record = record.detail("releasedJobs", released.to_string());
        }
        tx.append_audit(&record).await?;
        Ok(tx.commit().await?)
    }

    /// `POST …/assignments/{id}/reprocess`: releases the assignment's parked jobs and, unless it
    /// has ended, re-enforces its grants.
    pub async fn reprocess_assignment(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let assignment = self.get_assignment(caller, id).await?;
        require(
            caller
                .catalog_rights(&assignment.catalog_id)
                .manage_assignments,
            "reprocessing assignments",
        )?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        // An expiry, notice or delivery the queue gave up on is retried too.
        let released = self
            .release_parked_jobs(tx.as_mut(), &assignment.id, now)
            .await?;
        if assignment.state == AssignmentState::Expired {
            // An ended assignment is not re-delivered; a job of it left parked is still
            // released, so that it completes (it finds nothing to do) instead of staying.
            if released == 0 {
                return Err(DomainError::Conflict(
                    "the assignment has ended; an ended assignment is not reprocessed".into(),
                ));
            }
        } else {
            tx.enqueue_job(&NewJob::new(
                JobKind::DeliverAssignment,
                &assignment.id,
                now,
            ))
            .await?;
        }
        let mut record = assignment_audit(
            Actor::from(caller),
            ctx.request_id.as_deref(),
            now,
            "Reprocess access package assignment",
            &assignment,
        );
        if released > 0 {
            record = record.detail("releasedJobs", released.to_string());
        }
        tx.append_audit(&record).await?;
        Ok(tx.commit().await?)
    }

    /// Releases, in `tx`, the parked jobs that belong to the request or assignment `holder_id`:
    /// those about it (a request's `processRequest`, `approvalTimeout` and
    /// `approvalEscalation`; an assignment's `deliverAssignment`, `expireAssignment` and
    /// `expiryNotice`) and those about its custom extension callouts (`calloutTimeout`, whose
    /// subject is the callout). Returns how many were released.
    async fn release_parked_jobs(
        &self,
        tx: &mut dyn StoreTx,
        holder_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<u64> {
        let mut released = tx.unpark_jobs(holder_id, now).await?;
        // Read outside `tx`: a callout's id never changes, and a callout written after this
        // read has no job parked yet.
        for callout in self
            .store
            .callouts_of(std::slice::from_ref(&holder_id.to_owned()))
            .await?
        {
            released = released.saturating_add(tx.unpark_jobs(&callout.id, now).await?);
        }
        Ok(released)
    }

    /// The `deliverAssignment` job, and a reprocessed request that already has its assignment:
    /// applies what read-back shows missing, then records the assignment's (and the request's)
    /// new state.
    pub(super) async fn redeliver(
        &self,
        assignment_id: &str,
        request: Option<AssignmentRequest>,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        // Another re-delivery of the same assignment (a package change and a reprocess) may
        // commit between the read and the compare-and-set; reading again settles it, as every
        // step is idempotent. Past a few rounds the job retries with backoff.
        for _ in 0..3 {
            if self
                .try_redeliver(assignment_id, request.clone(), now)
                .await?
            {
                return Ok(());
            }
        }
        Err(DomainError::Conflict(format!(
            "assignment {assignment_id} kept changing while it was re-delivered"
        )))
    }

    /// One round of `redeliver`; `false` when the assignment changed under it.
    async fn try_redeliver(
        &self,
        assignment_id: &str,
        request: Option<AssignmentRequest>,
        now: OffsetDateTime,
    ) -> DomainResult<bool> {
        let Some(assignment) = self.store.assignment(assignment_id).await? else {
            return Ok(true);
        };
        if assignment.state == AssignmentState::Expired {
            if let Some(request) = request {
                self.fail_request(request, now, "the assignment has ended")
                    .await?;
            }
            return Ok(true);
        }
        let Some(target) = self.subject(&assignment.target_id).await? else {
            return Ok(true);
        };
        let roles = self.roles_to_deliver(&assignment.access_package_id).await?;
        let recipients = self.sponsor_recipients(&target.id).await?;

        let mut tx = self.store.begin().await?;
        let (report, revoked) = delivery::replan(
            tx.as_mut(),
            &roles,
            &target,
            &assignment.id,
            assignment.end_date_time,
            now,
        )
        .await?;
        let (assignment_state, state) = report.outcome();
        let mut updated = assignment.clone();
        updated.state = assignment_state;
        if assignment.state != assignment_state {
            updated.status = status_of(state).into();
        }
        if !tx.update_assignment(&updated, &assignment).await? {
            // Changed meanwhile (removed, expired, or re-delivered by another job): what this
            // transaction applied is dropped with it, and the caller reads again.
            return Ok(false);
        }
        let request_id = match &request {
            Some(request) => {
                let finished = request.moved_to(state, now);
                if !tx
                    .update_assignment_request(&finished, request.state)
                    .await?
                {
                    return Ok(true);
                }
                tx.append_audit(
                    &request_audit(
                        Actor::system(),
                        None,
                        now,
                        "Fulfill access package assignment request",
                        &finished,
                        &target.display_name,
                    )
                    .detail("assignmentId", assignment.id.clone()),
                )
                .await?;
                Some(finished.id)
            }
            None => None,
        };
        let mut record = assignment_audit(
            Actor::system(),
            None,
            now,
            "Deliver access package assignment",
            &updated,
        )
        .detail("grantsApplied", report.applied.to_string())
        .detail("grantsRevoked", revoked.to_string());
        if !report.failures.is_empty() {
            record = record.detail("deliveryFailures", report.failures.join("; "));
        }
        tx.append_audit(&record).await?;
        let event = if !report.failures.is_empty() {
            Some("delivery.failed")
        } else if assignment.state != AssignmentState::Delivered {
            Some("assignment.delivered")
        } else {
            None
        };
        if let Some(event) = event {
            tx.enqueue_event(&OutboxEvent::new(
                event,
                now,
                assignment_event_data(&updated, request_id.as_deref()),
                recipients,
            ))
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Queues a re-delivery of every live assignment of a package whose roles changed, so that
/// holders gain a role added to it and lose one removed from it, as Entra does.
pub(super) async fn reconcile_package(
    tx: &mut dyn StoreTx,
    package_id: &str,
    now: OffsetDateTime,
) -> DomainResult<()> {
    for id in tx.live_assignment_ids_of_package(package_id).await? {
        tx.enqueue_job(&NewJob::new(JobKind::DeliverAssignment, &id, now))
            .await?;
    }
    Ok(())
}

/// The audit record of a change to an assignment, naming its target as the principal acted for
/// (invariant 4).
fn assignment_audit(
    actor: Actor,
    request_id: Option<&str>,
    now: OffsetDateTime,
    activity: &str,
    assignment: &Assignment,
) -> AuditRecord {
    let mut record = AuditRecord::success(
        actor,
        now,
        "EntitlementManagement",
        activity,
        "Update",
        request_id,
    )
    .target(
        &assignment.id,
        "AccessPackageAssignment",
        None,
        vec!["state".into()],
    )
    .target(
        &assignment.target_id,
        assignment.target_kind.type_name(),
        None,
        Vec::new(),
    )
    .detail("assignmentId", assignment.id.clone())
    .detail("state", assignment.state.as_str())
    .detail("accessPackageId", assignment.access_package_id.clone())
    .detail("onBehalfOf", assignment.target_id.clone())
    .in_catalog(&assignment.catalog_id);
    record.on_behalf_of = Some(assignment.target_id.clone());
    record
}

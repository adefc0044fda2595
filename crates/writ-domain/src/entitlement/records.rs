//! What a change of a request or an assignment writes besides its own row: the move of a
//! request between states with its audit record and event ([`transition`]), a submitted
//! request's records and first job ([`record_submitted`], with an accepted break-glass's event),
//! the records of an assignment's end ([`ending_records`]), a planned callout's row and timeout
//! ([`write_callout`]), and the audit records and event data every request and assignment change
//! shares.

use serde_json::json;
use time::OffsetDateTime;

use crate::authz::Caller;
use crate::directory::RequestContext;
use crate::error::DomainResult;
use crate::ids::new_object_id;
use crate::model::{
    Actor, Assignment, AssignmentRequest, AssignmentState, AssignmentStatus, AuditRecord,
    CallbackState, Callout, CalloutInstance, JobKind, NewJob, OutboxEvent, PrincipalKind,
    Recipient, RequestSchedule, RequestState, RequestStatus, RequestType,
};
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

/// Records a request as submitted in `tx`: the row, its audit record (initiated by the caller),
/// its `request.created` event and the `processRequest` job due at once. Every create
/// (`userAdd`, `adminAdd`, `userUpdate`, `adminUpdate`) goes through here.
///
/// `marks` say what an administrator's request did that the audit record must show.
pub(super) async fn record_submitted(
    tx: &mut dyn StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    request: &AssignmentRequest,
    target_name: &str,
    callout: Option<&Callout>,
    marks: SubmitMarks<'_>,
) -> DomainResult<()> {
    let SubmitMarks {
        self_assignment,
        bypass,
    } = marks;
    let now = request.created_date_time;
    tx.insert_assignment_request(request).await?;
    write_callout(tx, callout).await?;
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
    if let Some(bypass) = &bypass {
        record = record.detail("approvalBypassed", "true").detail(
            "approvalBypassNotified",
            bypass.recipients.len().to_string(),
        );
    }
    let record = ctx.mark(record);
    tx.append_audit(&record).await?;
    tx.enqueue_event(&OutboxEvent::new(
        "request.created",
        now,
        request_event_data(request),
        Vec::new(),
    ))
    .await?;
    if let Some(bypass) = bypass {
        write_bypass(tx, request, bypass).await?;
    }
    // A request held by its callout moves on when the extension resumes it.
    if !holds(callout) {
        // A new request's own job: nothing else in this transaction touches it.
        tx.enqueue_job_at_commit(&NewJob::new(JobKind::ProcessRequest, &request.id, now))
            .await?;
    }
    Ok(())
}

/// What a submitted request's audit record marks, beyond the request itself.
pub(super) struct SubmitMarks<'a> {
    /// `self` or `sponsoredAgent`: a tenant-wide administrator's request for itself or an agent
    /// it sponsors, which DESIGN section 3 allows and audits.
    pub self_assignment: Option<&'a str>,
    /// An accepted break-glass (`break_glass.rs`): the record says `approvalBypassed`, and its
    /// event is written.
    pub bypass: Option<Bypass>,
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
    /// The removal request's `parameters`, as sent (none for Writ's own removals).
    pub parameters: Option<crate::model::RequestParameters>,
    pub at: OffsetDateTime,
    pub target_name: &'a str,
    pub recipients: Vec<Recipient>,
}

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
        parameters,
        at,
        target_name,
        recipients,
    } = ending;
    let mut ended = assignment;
    ended.state = AssignmentState::Expired;
    ended.status = if expiry {
        AssignmentStatus::Expired
    } else {
        AssignmentStatus::Removed
    }
    .as_str()
    .into();
    ended.expired_date_time = Some(at);
    let request = AssignmentRequest {
        id: new_object_id(),
        request_type,
        state: RequestState::Delivered,
        status: RequestStatus::Delivered.as_str().into(),
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
        parameters,
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

/// One audit record for a request's change. The target is named as the principal acted for
/// (invariant 4).
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

/// Writes a planned callout in the transaction that reached its stage: the row, and the
/// timeout job of a wait.
pub(super) async fn write_callout(
    tx: &mut dyn StoreTx,
    callout: Option<&Callout>,
) -> DomainResult<()> {
    if let Some(callout) = callout {
        tx.insert_callout(callout).await?;
        if let Some(at) = callout.timeout_at()? {
            tx.enqueue_job(&NewJob::new(JobKind::CalloutTimeout, &callout.id, at))
                .await?;
        }
    }
    Ok(())
}

/// Whether a planned callout holds its request.
pub(super) fn holds(callout: Option<&Callout>) -> bool {
    callout.is_some_and(|c| c.callback_state == CallbackState::Waiting)
}

/// The event an accepted break-glass emits (`break_glass.rs`).
pub const APPROVAL_BYPASSED_EVENT: &str = "request.approvalBypassed";

/// An accepted break-glass: whom its event notifies (planned by `break_glass.rs`, written here
/// with the request so that this module needs nothing of that one).
pub(super) struct Bypass {
    pub recipients: Vec<Recipient>,
}

/// Writes an accepted bypass's event beside the request's creation, in its transaction.
async fn write_bypass(
    tx: &mut dyn StoreTx,
    request: &AssignmentRequest,
    bypass: Bypass,
) -> DomainResult<()> {
    let mut data = request_event_data(request);
    if let Some(object) = data.as_object_mut() {
        object.insert("requestorId".into(), json!(request.requestor_id));
        object.insert("assignmentId".into(), json!(request.assignment_id));
    }
    tx.enqueue_event(&OutboxEvent::new(
        APPROVAL_BYPASSED_EVENT,
        request.created_date_time,
        data,
        bypass.recipients,
    ))
    .await?;
    Ok(())
}

/// A request as its transaction recorded it, with the callout instances that transaction made
/// for it: the response to a create needs no read after the commit to show them.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub request: AssignmentRequest,
    /// The instances whose holder is the request (the removal callout's holder is the
    /// assignment), as planned; a fire-and-forget callout shows none until it is sent.
    pub callouts: Vec<CalloutInstance>,
}

impl Submitted {
    pub(in crate::entitlement) fn new(
        request: AssignmentRequest,
        callout: Option<&Callout>,
    ) -> Self {
        let callouts = callout
            .and_then(Callout::instance)
            .filter(|instance| instance.holder_id == request.id)
            .into_iter()
            .collect();
        Self { request, callouts }
    }
}

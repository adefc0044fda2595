//! Removals (`userRemove`, `adminRemove`, `systemRemove` at deletion) and the end of an
//! assignment, which takes effect in the transaction that records it.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::{Submitted, required, rule};
use crate::authz::Caller;
use crate::directory::RequestContext;
use crate::entitlement::callouts::CalloutOn;
use crate::entitlement::records::{
    self, Ending, EndingRecords, Transition, ending_records, transition,
};
use crate::entitlement::{Entitlement, delivery, require};
use crate::error::{DomainError, DomainResult};
use crate::model::{
    Actor, Assignment, AssignmentPolicy, AssignmentRequest, AssignmentRequestInput,
    AssignmentState, AssignmentStatus, Callout, CalloutStage, RequestState, RequestType,
};
use crate::store::StoreTx;

impl Entitlement {
    /// Ends an assignment in a transaction of its own, with the `assignmentRequestRemoved`
    /// callout its policy makes.
    pub(in crate::entitlement) async fn end_with_callout(
        &self,
        ctx: &RequestContext,
        ending: Ending<'_>,
    ) -> DomainResult<Submitted> {
        let original = ending.assignment.clone();
        let mut records = ending_records(ending);
        records.audit = ctx.mark(records.audit);
        let callout = self.removed_callout(&records, &mut HashMap::new()).await?;
        let mut tx = self.store.begin().await?;
        let request = write_ending(tx.as_mut(), &original, records, callout.as_ref()).await?;
        tx.commit().await?;
        Ok(Submitted::new(request, callout.as_ref()))
    }

    /// The `assignmentRequestRemoved` callout of an ending, if its policy makes one; `policies`
    /// caches the policies read across a batch.
    pub(in crate::entitlement) async fn removed_callout(
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

    /// `userRemove`: the target removes its own assignment, or an allowed on-behalf requestor
    /// removes it; it ends in this transaction.
    pub(super) async fn user_remove(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<Submitted> {
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
        self.end_with_callout(
            ctx,
            Ending {
                assignment,
                request_type: RequestType::UserRemove,
                expiry: false,
                actor: Actor::from(caller),
                requestor: (caller.id.clone(), caller.kind),
                request_id: ctx.request_id.as_deref(),
                justification: input.justification,
                parameters: input.parameters,
                at: now,
                target_name: &target.display_name,
                recipients,
            },
        )
        .await
    }

    pub(super) async fn admin_remove(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        input: AssignmentRequestInput,
    ) -> DomainResult<Submitted> {
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
        self.end_with_callout(
            ctx,
            Ending {
                assignment,
                request_type: RequestType::AdminRemove,
                expiry: false,
                actor: Actor::from(caller),
                requestor: (caller.id.clone(), caller.kind),
                request_id: ctx.request_id.as_deref(),
                justification: input.justification,
                parameters: input.parameters,
                at: now,
                target_name: &target_name,
                recipients,
            },
        )
        .await
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
    end_assignments_for(tx, caller, ctx, now, principal_id, "the target was deleted")
        .await
        .map(|_| ())
}

/// Ends every live assignment of a principal at `now` (`systemRemove`, one request, audit record
/// and event each, grants released) and cancels its open requests, giving `reason` as the
/// removals' justification: deletion, or a confirmed compromise (DESIGN section 17). Returns
/// the ids of the assignments ended.
pub(crate) async fn end_assignments_for(
    tx: &mut dyn StoreTx,
    caller: &Caller,
    ctx: &RequestContext,
    now: OffsetDateTime,
    principal_id: &str,
    reason: &str,
) -> DomainResult<Vec<String>> {
    end_all(
        tx,
        Actor::from(caller),
        (caller.id.clone(), caller.kind),
        ctx.request_id.as_deref(),
        now,
        principal_id,
        reason,
    )
    .await
}

/// [`end_assignments_for`] done by Writ itself (a lifecycle policy's enforcement, DESIGN section
/// 17): the system as actor and the principal as the removals' requestor, as an expiry records.
pub(crate) async fn end_assignments_by_system(
    tx: &mut dyn StoreTx,
    now: OffsetDateTime,
    principal_id: &str,
    principal_kind: crate::authz::PrincipalKind,
    reason: &str,
) -> DomainResult<Vec<String>> {
    end_all(
        tx,
        Actor::system(),
        (principal_id.to_owned(), principal_kind),
        None,
        now,
        principal_id,
        reason,
    )
    .await
}

async fn end_all(
    tx: &mut dyn StoreTx,
    actor: Actor,
    requestor: (String, crate::authz::PrincipalKind),
    request_id: Option<&str>,
    now: OffsetDateTime,
    principal_id: &str,
    reason: &str,
) -> DomainResult<Vec<String>> {
    let mut ended = Vec::new();
    for assignment in tx.live_assignments_of(principal_id).await? {
        let ending = Ending {
            assignment,
            request_type: RequestType::SystemRemove,
            expiry: false,
            actor: actor.clone(),
            requestor: requestor.clone(),
            request_id,
            justification: Some(reason.into()),
            parameters: None,
            at: now,
            target_name: "",
            recipients: Vec::new(),
        };
        let id = ending.assignment.id.clone();
        end_assignment(tx, ending).await?;
        ended.push(id);
    }
    for request in tx.open_requests_of(principal_id).await? {
        transition(
            tx,
            &request,
            RequestState::Canceled,
            now,
            Transition {
                actor: actor.clone(),
                request_id,
                activity: "Cancel access package assignment request",
                event: "request.canceled",
                reason: Some(reason),
                recipients: Vec::new(),
            },
        )
        .await?;
    }
    Ok(ended)
}

/// Ends an assignment inside `tx`: marks it expired (status `Removed` or `Expired`), releases
/// the grants it holds, and records the removal request, its audit record and its event.
pub(in crate::entitlement) async fn end_assignment(
    tx: &mut dyn StoreTx,
    ending: Ending<'_>,
) -> DomainResult<AssignmentRequest> {
    let original = ending.assignment.clone();
    write_ending(tx, &original, ending_records(ending), None).await
}

/// Writes an assignment's end (read as `original`) into `tx`: the ended assignment, its grants
/// released, an open extension closed, the recording request, its audit record and event, and
/// the `assignmentRequestRemoved` callout its policy makes, if any.
pub(in crate::entitlement) async fn write_ending(
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
    let expiry = records.ended.status_kind() == Some(AssignmentStatus::Expired);
    if !tx.update_assignment(&records.ended, original).await? {
        return Err(already_ended());
    }
    delivery::revoke_all(tx, &original.id).await?;
    crate::entitlement::extensions::close_open_update(
        tx,
        original,
        at,
        if expiry {
            crate::entitlement::extensions::UpdateClosed::Expired
        } else {
            crate::entitlement::extensions::UpdateClosed::Removed
        },
    )
    .await?;
    tx.insert_assignment_request(&records.request).await?;
    tx.append_audit(&records.audit).await?;
    tx.enqueue_event(&records.event).await?;
    records::write_callout(tx, callout).await?;
    Ok(records.request)
}

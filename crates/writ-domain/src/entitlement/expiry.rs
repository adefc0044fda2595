//! Expiry (DESIGN sections 5 and 7): the `expireAssignment` job at an assignment's end instant
//! records it `expired` (status `Expired`) with a `systemRemove` request, its audit record and
//! its `assignment.expired` event, and releases its grants (access itself already ended at the
//! instant: every deciding read filters on the grants' end).
//!
//! Many assignments ending together (a fleet assigned at once, a policy's fixed end date) is the
//! normal case, so the worker hands the due expiries of a claim to [`Entitlement::expire_batch`]:
//! one read of the assignments, their targets' names and their sponsors for the lot, then one
//! transaction that writes the batch set-wise — one statement per table for all of it, the jobs'
//! completion included — instead of two commits and about ten statements per assignment. A batch
//! that fails (an assignment changed under it, a lease lost) is rolled back whole and its jobs
//! run one by one, each reading afresh.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::extensions::{UpdateClosed, close_update};
use super::records::{Ending, ending_records};
use super::{Entitlement, delivery};

use crate::error::{DomainError, DomainResult};
use crate::jobs::WriteTurn;
use crate::model::{Actor, Assignment, AssignmentState, ClaimedJob, Recipient, RequestType};

/// The instant an assignment is due to be recorded expired, if it is (not already ended, not
/// extended past `now`).
fn due(assignment: &Assignment, now: OffsetDateTime) -> Option<OffsetDateTime> {
    match assignment.end_date_time {
        Some(end) if assignment.state != AssignmentState::Expired && end <= now => Some(end),
        // Removed, or extended (a job for the new end exists), or not yet due.
        _ => None,
    }
}

impl Entitlement {
    /// One `expireAssignment` job.
    pub(super) async fn expire_assignment(
        &self,
        assignment_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let Some(assignment) = self.store.assignment(assignment_id).await? else {
            return Ok(());
        };
        let Some(at) = due(&assignment, now) else {
            return Ok(());
        };
        let target_name = self
            .subject(&assignment.target_id)
            .await?
            .map(|s| s.display_name)
            .unwrap_or_default();
        let recipients = self.sponsor_recipients(&assignment.target_id).await?;
        // The system ends it: no interface to mark.
        self.end_with_callout(
            &crate::directory::RequestContext::default(),
            expiry(assignment, at, &target_name, recipients),
        )
        .await?;
        Ok(())
    }

    /// A claim's `expireAssignment` jobs, completed by `worker` in the transaction that records
    /// them.
    pub(super) async fn expire_batch(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        self.expire_batch_in_turn(jobs, worker, now, &mut WriteTurn::now())
            .await
    }

    /// [`expire_batch`](Self::expire_batch), its reads done before `turn` comes and its
    /// transaction begun after: the worker's pipeline reads this batch while the one before it
    /// writes. What it read may be a batch's write older; the transaction checks what matters
    /// (each assignment still due, by compare-and-set, and each job's lease), and a batch that
    /// finds one changed is rolled back and run job by job, each reading afresh. The batches of
    /// a pipeline hold disjoint jobs, and no batch writes what another batch's reads use (the
    /// targets' names and sponsors, the policies).
    pub(super) async fn expire_batch_in_turn(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: OffsetDateTime,
        turn: &mut WriteTurn,
    ) -> DomainResult<()> {
        let ids: Vec<String> = jobs.iter().map(|j| j.subject_id.clone()).collect();
        let assignments: Vec<(Assignment, OffsetDateTime)> = self
            .store
            .assignments_by_ids(&ids)
            .await?
            .into_iter()
            .filter_map(|a| due(&a, now).map(|at| (a, at)))
            .collect();
        let mut targets: Vec<String> = assignments
            .iter()
            .map(|(a, _)| a.target_id.clone())
            .collect();
        targets.sort();
        targets.dedup();
        let names: HashMap<String, String> = self
            .store
            .principal_names(&targets)
            .await?
            .into_iter()
            .collect();
        let mut sponsors: HashMap<String, Vec<Recipient>> = HashMap::new();
        for (object, recipient) in self.store.human_sponsors_of(&targets, now).await? {
            sponsors.entry(object).or_default().push(recipient);
        }

        let mut records = Vec::with_capacity(assignments.len());
        for (assignment, at) in assignments {
            let name = names
                .get(&assignment.target_id)
                .cloned()
                .unwrap_or_default();
            let recipients = sponsors
                .get(&assignment.target_id)
                .cloned()
                .unwrap_or_default();
            records.push(ending_records(expiry(assignment, at, &name, recipients)));
        }
        let mut policies = HashMap::new();
        let mut callouts = Vec::new();
        for record in &records {
            callouts.extend(self.removed_callout(record, &mut policies).await?);
        }
        let due_ids: Vec<String> = records.iter().map(|r| r.ended.id.clone()).collect();
        let job_ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();

        turn.wait().await;
        let mut tx = self.store.begin().await?;
        let changed = tx.expire_due_assignments(&due_ids, now).await?;
        if changed.len() != due_ids.len() {
            // Some ended or moved since they were read: one by one, each reads afresh.
            return Err(DomainError::Conflict(format!(
                "{} of {} assignments changed while their expiry was recorded",
                due_ids.len() - changed.len(),
                due_ids.len()
            )));
        }
        delivery::revoke_all_of(tx.as_mut(), &due_ids).await?;
        for open in tx.open_updates_for_many(&due_ids).await? {
            // Closed at its assignment's end, as one expiry alone does.
            let at = records
                .iter()
                .find(|r| open.assignment_id.as_deref() == Some(r.ended.id.as_str()))
                .and_then(|r| r.ended.expired_date_time)
                .unwrap_or(now);
            close_update(tx.as_mut(), &open, at, UpdateClosed::Expired).await?;
        }
        let requests: Vec<_> = records.iter().map(|r| r.request.clone()).collect();
        let audits: Vec<_> = records.iter().map(|r| r.audit.clone()).collect();
        let events: Vec<_> = records.into_iter().map(|r| r.event).collect();
        tx.insert_assignment_requests(&requests).await?;
        tx.append_audits(&audits).await?;
        tx.enqueue_events(&events).await?;
        for callout in &callouts {
            super::records::write_callout(tx.as_mut(), Some(callout)).await?;
        }
        if tx.complete_jobs(&job_ids, worker).await? != job_ids.len() as u64 {
            return Err(DomainError::Conflict(
                "the lease of a job of the batch was lost".into(),
            ));
        }
        Ok(tx.commit().await?)
    }
}

/// How an assignment reaching its end is recorded: by the system, for the target.
fn expiry(
    assignment: Assignment,
    at: OffsetDateTime,
    target_name: &str,
    recipients: Vec<Recipient>,
) -> Ending<'_> {
    let requestor = (assignment.target_id.clone(), assignment.target_kind);
    Ending {
        assignment,
        request_type: RequestType::SystemRemove,
        expiry: true,
        actor: Actor::system(),
        requestor,
        request_id: None,
        justification: None,
        parameters: None,
        at,
        target_name,
        recipients,
    }
}

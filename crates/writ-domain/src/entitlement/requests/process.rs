//! The `processRequest` job: each request is read with its policy and target, the pure
//! lifecycle decides its next step, and the step is written (a delivery in one transaction, in
//! batches where the queue hands several).

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::entitlement::callouts::CalloutOn;
use crate::entitlement::lifecycle::{self, Decision};
use crate::entitlement::records::{
    self, Transition, assignment_event_data, request_audit, transition,
};
use crate::entitlement::{Entitlement, delivery};

use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::jobs::JobHandler;
use crate::model::{
    Actor, Assignment, AssignmentPolicy, AssignmentRequest, AssignmentState, AssignmentStatus,
    Callout, CalloutStage, ClaimedJob, JobKind, NewJob, OutboxEvent, Recipient, RequestState,
    ResourceRole, Subject, status_of,
};
use crate::store::StoreTx;

impl Entitlement {
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
            Some(JobKind::LifecycleSweep) => {
                let directory =
                    crate::directory::Directory::new(self.store.clone(), self.clock.clone())
                        .with_lifecycle_day_length(self.lifecycle_day());
                crate::directory::lifecycle_policies::sweep(&directory, now)
                    .await
                    .map(|_| ())
            }
            None => Err(DomainError::Internal(format!(
                "no handler for job kind {:?}",
                job.kind_name
            ))),
        }
    }

    pub(super) async fn process_request(
        &self,
        request_id: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let Some(request) = self.store.assignment_request(request_id).await? else {
            return Ok(());
        };
        let Some(plan) = self
            .next_step(request, now, &mut StepCache::default())
            .await?
        else {
            return Ok(());
        };
        let mut tx = self.store.begin().await?;
        if write_deliveries(tx.as_mut(), vec![plan], now).await? {
            tx.commit().await?;
        }
        // Otherwise another worker finished it first; the grants are dropped with the rollback.
        Ok(())
    }

    /// Runs a batch of `processRequest` jobs (a lone one too, `batches_alone`): the requests
    /// are read at once, and so are their targets and the targets' sponsors; each policy and
    /// each package's roles once for the batch. Each request that is due for delivery is delivered in one
    /// transaction with the batch's job completions (one commit for the batch rather than two
    /// per request, DESIGN section 7), its rows written set-wise with the others'; every other
    /// step (approval, schedule, failure, update) runs as it would alone. An error rolls the
    /// deliveries back, and the jobs then run one by one, each reading afresh.
    pub(in crate::entitlement) async fn process_request_batch(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let ids: Vec<String> = jobs.iter().map(|j| j.subject_id.clone()).collect();
        let mut requests: HashMap<String, AssignmentRequest> = self
            .store
            .assignment_requests_by_ids(&ids)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let mut targets: Vec<String> = requests.values().map(|r| r.target_id.clone()).collect();
        targets.sort_unstable();
        targets.dedup();
        let subjects = self
            .store
            .principal_subjects(&targets)
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let mut cache = StepCache {
            sponsors: Some(self.sponsors_by_target(&targets).await?),
            subjects: Some(subjects),
            ..StepCache::default()
        };
        let mut plans = Vec::with_capacity(jobs.len());
        for job in jobs {
            // A second job of the batch for the same request finds it taken by the first.
            let Some(request) = requests.remove(&job.subject_id) else {
                continue;
            };
            if let Some(plan) = self.next_step(request, now, &mut cache).await? {
                plans.push(plan);
            }
        }
        let job_ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let mut tx = self.store.begin().await?;
        if !write_deliveries(tx.as_mut(), plans, now).await? {
            return Err(DomainError::Conflict(
                "a request of the batch was processed by another worker".into(),
            ));
        }
        if tx.complete_jobs(&job_ids, worker).await? != job_ids.len() as u64 {
            return Err(DomainError::Conflict(
                "the lease of a job of the batch was lost".into(),
            ));
        }
        Ok(tx.commit().await?)
    }

    /// Each target's human sponsors as [`sponsor_recipients`](Self::sponsor_recipients) reads
    /// them, for many targets in one read.
    async fn sponsors_by_target(
        &self,
        targets: &[String],
    ) -> DomainResult<HashMap<String, Vec<Recipient>>> {
        let mut out: HashMap<String, Vec<Recipient>> = HashMap::new();
        if targets.is_empty() {
            return Ok(out);
        }
        let now = self.clock.now();
        for (target, recipient) in self.store.human_sponsors_of(targets, now).await? {
            out.entry(target).or_default().push(recipient);
        }
        Ok(out)
    }

    /// Takes a `processRequest` job's step when it is anything but a delivery (approval,
    /// schedule, update, reprocess, failure: each writes its own transaction), and returns the
    /// delivery to write otherwise. `cache` holds what a batch reads once for all its requests.
    pub(super) async fn next_step(
        &self,
        request: AssignmentRequest,
        now: OffsetDateTime,
        cache: &mut StepCache,
    ) -> DomainResult<Option<DeliveryPlan>> {
        let policy = match &request.policy_id {
            Some(id) => match cache.policies.get(id) {
                Some(policy) => policy.clone(),
                None => {
                    let policy = self.store.assignment_policy(id).await?;
                    cache.policies.insert(id.clone(), policy.clone());
                    policy
                }
            },
            None => None,
        };
        let target = match &cache.subjects {
            Some(subjects) => subjects.get(&request.target_id).cloned(),
            None => self.subject(&request.target_id).await?,
        };
        let decision = lifecycle::decide(
            &request,
            policy.as_ref(),
            target.as_ref(),
            self.max_agent_access,
            now,
        );
        match decision {
            Decision::Hold | Decision::WaitForCallout => return Ok(None),
            Decision::Fail { reason } => {
                self.fail_request(request, now, &reason.message()).await?;
                return Ok(None);
            }
            Decision::Redeliver { assignment_id } => {
                self.redeliver(&assignment_id, Some(request), now).await?;
                return Ok(None);
            }
            Decision::StayScheduled { until } => {
                // This job ran before and committed the scheduling, but the process died before
                // the job was deleted: the state stays and nothing is recorded again. The job at
                // the start was written with the scheduling (enqueueing it again is a no-op).
                let mut tx = self.store.begin().await?;
                tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &request.id, until))
                    .await?;
                tx.commit().await?;
                return Ok(None);
            }
            Decision::Schedule { until } => {
                self.schedule_request(&request, until, now).await?;
                return Ok(None);
            }
            Decision::Update | Decision::BeginApproval { .. } | Decision::Deliver { .. } => {}
        }
        // `decide` answers these only with a policy, and `Deliver` only with a target too.
        let Some(policy) = policy else {
            return Ok(None);
        };
        let (start, end) = match decision {
            Decision::Update => {
                self.process_update(request, &policy, now).await?;
                return Ok(None);
            }
            Decision::BeginApproval { .. } => {
                self.begin_approval(request, &policy, now).await?;
                return Ok(None);
            }
            Decision::Deliver { start, end } => (start, end),
            _ => return Ok(None),
        };
        let Some(target) = target else {
            return Ok(None);
        };
        let roles = match cache.roles.get(&request.access_package_id) {
            Some(roles) => roles.clone(),
            None => {
                let found = self.roles_to_deliver(&request.access_package_id).await?;
                cache
                    .roles
                    .insert(request.access_package_id.clone(), found.clone());
                found
            }
        };
        let recipients = match &cache.sponsors {
            Some(sponsors) => {
                let sponsors = sponsors.get(&target.id).cloned().unwrap_or_default();
                self.with_requestor(sponsors, &request.requestor_id, request.requestor_kind)
                    .await?
            }
            None => {
                self.request_recipients(&target.id, &request.requestor_id, request.requestor_kind)
                    .await?
            }
        };

        let assignment_id = new_object_id();
        let notices = crate::entitlement::notices::notice_jobs(
            &assignment_id,
            end,
            now,
            &self.expiry_notice_lead_times,
        );
        let granted_callout = if policy.settings.custom_extension_stage_settings.is_empty() {
            None
        } else {
            let granted = Assignment {
                id: assignment_id.clone(),
                state: AssignmentState::Delivered,
                status: AssignmentStatus::Delivered.as_str().into(),
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

    /// Moves `request` to `scheduled`, with the job that delivers it at `until`, in a
    /// transaction of its own; nothing when another transaction moved it first.
    async fn schedule_request(
        &self,
        request: &AssignmentRequest,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> DomainResult<()> {
        let mut tx = self.store.begin().await?;
        let scheduled = request.moved_to(RequestState::Scheduled, now);
        if tx
            .update_assignment_request(&scheduled, request.state)
            .await?
        {
            tx.enqueue_job(&NewJob::new(JobKind::ProcessRequest, &request.id, until))
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
        Ok(tx.commit().await?)
    }

    pub(in crate::entitlement) async fn fail_request(
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
    pub(in crate::entitlement) async fn roles_to_deliver(
        &self,
        package_id: &str,
    ) -> DomainResult<Vec<(ResourceRole, Option<crate::entitlement::CatalogResource>)>> {
        let mut out = Vec::new();
        for role in self.package_roles(package_id).await? {
            let resource = self.store.catalog_resource(&role.resource_id).await?;
            out.push((role, resource));
        }
        Ok(out)
    }
}

/// What a batch of `processRequest` jobs reads once for all its requests.
#[derive(Default)]
pub(super) struct StepCache {
    /// Each package's roles, with their resources.
    roles: HashMap<String, Vec<(ResourceRole, Option<crate::entitlement::CatalogResource>)>>,
    /// Each policy by id (`None`: it no longer exists).
    policies: HashMap<String, Option<AssignmentPolicy>>,
    /// Each target's human sponsors, read for the whole batch; `None`: read per request.
    sponsors: Option<HashMap<String, Vec<Recipient>>>,
    /// The targets as subjects, read for the whole batch; `None`: read per request.
    subjects: Option<HashMap<String, Subject>>,
}

/// A request due for delivery, with everything its transaction writes read beforehand.
pub(super) struct DeliveryPlan {
    assignment_id: String,
    /// The assignment's expiry notices still ahead.
    notices: Vec<NewJob>,
    /// The `assignmentRequestGranted` callout, written when the delivery succeeds.
    granted_callout: Option<Callout>,
    request: AssignmentRequest,
    policy_id: String,
    start: OffsetDateTime,
    end: Option<OffsetDateTime>,
    roles: Vec<(ResourceRole, Option<crate::entitlement::CatalogResource>)>,
    target: Subject,
    recipients: Vec<Recipient>,
}

/// Writes deliveries into `tx`: each one's grants (its group memberships with the others'), then
/// for all of them at once the assignments, the requests' new states, the audit records, the events and the expiry and
/// notice jobs (one statement per table for the batch), then the granted callouts. `false` when
/// a request had moved on meanwhile (the caller must then not commit: the grants written here
/// belong to no assignment).
pub(super) async fn write_deliveries(
    tx: &mut dyn StoreTx,
    plans: Vec<DeliveryPlan>,
    now: OffsetDateTime,
) -> DomainResult<bool> {
    if plans.is_empty() {
        return Ok(true);
    }
    let mut assignments = Vec::with_capacity(plans.len());
    let mut requests = Vec::with_capacity(plans.len());
    let mut records = Vec::with_capacity(plans.len());
    let mut events = Vec::with_capacity(plans.len());
    let mut jobs = Vec::with_capacity(plans.len());
    let mut callouts = Vec::new();
    let mut memberships = Vec::new();
    for plan in plans {
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
            status: AssignmentStatus::Delivering.as_str().into(),
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
        let report = delivery::deliver_roles(
            tx,
            &roles,
            &target,
            &assignment.id,
            end,
            now,
            &[],
            Some(&mut memberships),
        )
        .await?;
        let (assignment_state, state) = report.outcome();
        let failures = report.failures;
        assignment.state = assignment_state;
        assignment.status = status_of(state).into();
        let mut delivered = request.moved_to(state, now);
        delivered.assignment_id = Some(assignment.id.clone());
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
        records.push(record);
        events.push(OutboxEvent::new(
            if failures.is_empty() {
                "assignment.delivered"
            } else {
                "delivery.failed"
            },
            now,
            assignment_event_data(&assignment, Some(&delivered.id)),
            recipients,
        ));
        if let Some(end) = end {
            jobs.push(NewJob::new(JobKind::ExpireAssignment, &assignment.id, end));
        }
        jobs.extend(notices);
        if state != RequestState::DeliveryFailed {
            callouts.push(granted_callout);
        }
        assignments.push(assignment);
        requests.push((delivered, request.state));
    }
    tx.add_group_members(&memberships).await?;
    tx.insert_assignments(&assignments).await?;
    if tx.update_assignment_requests(&requests).await? != requests.len() as u64 {
        return Ok(false);
    }
    tx.append_audits(&records).await?;
    tx.enqueue_events(&events).await?;
    tx.enqueue_jobs(&jobs).await?;
    for callout in &callouts {
        records::write_callout(tx, callout.as_ref()).await?;
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

    async fn handle_batch_in_turn(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: OffsetDateTime,
        turn: &mut crate::jobs::WriteTurn,
    ) -> DomainResult<bool> {
        // Expiries read before their turn (the storm's pipeline); other kinds as they were.
        if jobs.first().and_then(|j| j.kind) == Some(JobKind::ExpireAssignment) {
            self.expire_batch_in_turn(jobs, worker, now, turn).await?;
            return Ok(true);
        }
        turn.wait().await;
        self.handle_batch(jobs, worker, now).await
    }

    /// A lone `processRequest` job is delivered with its completion in one transaction too.
    fn batches_alone(&self, kind: JobKind) -> bool {
        kind == JobKind::ProcessRequest
    }
}

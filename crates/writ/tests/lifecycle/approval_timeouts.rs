//! Approval timeouts and escalation (DESIGN section 5, issue 6 item 4): a stage's
//! `durationBeforeAutomaticDenial` denies an undecided request (`denied`, status `TimedOut`) at
//! exactly its instant and not before; a decision before it wins and the timeout then does
//! nothing; a decision racing it makes one outcome; escalation adds the escalation approvers at
//! `durationBeforeEscalation` (status `PendingApprovalEscalated`, event `approval.escalated`)
//! while the primary approvers may still decide; each stage is timed from its own start. Time is
//! the `World`'s manual clock; jobs run by hand at its instant.

use super::*;

/// One hour to decide a stage, in the policies below.
const DECIDE_WITHIN: Duration = Duration::hours(1);
/// Escalation after ten minutes, in the policies below.
const ESCALATE_AFTER: Duration = Duration::minutes(10);

fn single_user(id: &str) -> SubjectSet {
    SubjectSet::SingleUser {
        user_id: id.to_owned(),
        description: None,
    }
}

/// A stage decided by the agent's sponsors (else the fallback approver), denied after an hour
/// undecided; with `escalate_to`, escalating after ten minutes to those subject sets.
fn sponsor_stage(w: &World, escalate_to: Option<Vec<SubjectSet>>) -> ApprovalStage {
    let mut stage = ApprovalStage {
        primary_approvers: vec![SubjectSet::TargetAgentIdentitySponsorsOrOwners {}],
        fallback_primary_approvers: vec![single_user(&w.fallback)],
        duration_before_automatic_denial: Some("PT1H".into()),
        ..ApprovalStage::default()
    };
    if let Some(sets) = escalate_to {
        stage.is_escalation_enabled = true;
        stage.duration_before_escalation = Some("PT10M".into());
        stage.escalation_approvers = sets;
    }
    stage
}

impl World {
    /// A policy of the world's package with these approval stages (otherwise the "All agents"
    /// policy).
    async fn timed_policy(&self, stages: Vec<ApprovalStage>) -> String {
        let mut input = all_agents_policy(&self.package, Some(&self.fallback));
        input.display_name = text("Agents, timed approval");
        input.request_approval_settings = Some(ApprovalSettings {
            is_approval_required_for_add: true,
            stages,
            ..ApprovalSettings::default()
        });
        self.entitlement
            .create_policy(&self.admin().await, &ctx(), input)
            .await
            .unwrap()
            .id
    }

    /// `agent`'s self-request under `policy`, pending approval since now.
    async fn pending_under(&self, agent: &str, policy: &str) -> String {
        let created = self
            .user_add(agent, &self.package, policy, None)
            .await
            .unwrap();
        assert_eq!(self.run_jobs().await.completed, 1);
        let request = self.request(&created.id).await;
        assert_eq!(request.state, RequestState::PendingApproval);
        assert_eq!(request.status, "PendingApproval");
        created.id
    }

    /// The outbox events of one type about a request.
    async fn events_named(
        &self,
        request: &str,
        event_type: &str,
    ) -> Vec<writ_domain::audit::OutboxEvent> {
        self.store
            .outbox_events(100_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == event_type && e.data["requestId"] == request)
            .collect()
    }
}

/// The request as a timeout leaves it: `denied` / `TimedOut` at `at`, the stage `Expired` and
/// unreviewed, one system audit record naming the reason, a `request.denied` event, no
/// assignment, and no approver asked any more.
async fn assert_timed_out(w: &World, request: &str, stage_index: usize, at: OffsetDateTime) {
    let denied = w.request(request).await;
    assert_eq!(denied.state, RequestState::Denied);
    assert_eq!(denied.status, "TimedOut");
    assert_eq!(denied.completed_date_time, Some(at));
    assert_eq!(denied.assignment_id, None);
    let stages = w
        .entitlement
        .approval(&w.admin().await, request)
        .await
        .unwrap();
    let stage = &stages[stage_index];
    assert_eq!(stage.status, "Expired");
    assert_eq!(stage.review_result, "NotReviewed");
    assert_eq!(stage.reviewed_by, None);
    for later in &stages[stage_index + 1..] {
        assert_eq!(later.status, "NotStarted");
    }
    let records = w.audits_of(request).await;
    let denial = only_record(&records, "Deny access package assignment request");
    assert_eq!(denial.initiated_by.kind, "system");
    assert_eq!(denial.activity_date_time, at);
    assert_eq!(
        detail(denial, "reason"),
        Some(format!("no decision within PT1H on stage {}", stage_index + 1).as_str())
    );
    assert_eq!(detail(denial, "state"), Some("denied"));
    assert_eq!(w.events_named(request, "request.denied").await.len(), 1);
    assert!(w.awaiting(&w.sponsor).await.is_empty());
    assert!(w.assignments_of(&denied.target_id).await.is_empty());
    assert!(!w.is_member(&denied.target_id).await);
}

/// Undecided for `durationBeforeAutomaticDenial`: still pending one second before, denied with
/// status `TimedOut` at the instant; a decision after that is a conflict, and the job does not
/// act twice.
async fn an_undecided_request_is_denied_at_its_timeout(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w.timed_policy(vec![sponsor_stage(&w, None)]).await;
    let request = w.pending_under(&w.agent, &policy).await;
    let deadline = T0 + DECIDE_WITHIN;

    w.clock.set(deadline - Duration::seconds(1));
    assert_eq!(w.run_jobs().await.completed, 0, "not due yet");
    let waiting = w.request(&request).await;
    assert_eq!(waiting.state, RequestState::PendingApproval);
    assert_eq!(waiting.status, "PendingApproval");
    assert_eq!(w.stage(&request).await.status, "InProgress");
    assert_eq!(w.awaiting(&w.sponsor).await, [request.as_str()]);

    w.clock.set(deadline);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_timed_out(&w, &request, 0, deadline).await;
    assert_eq!(
        w.request_activities(&w.request(&request).await).await,
        [
            "Create access package assignment request",
            "Start approval of access package assignment request",
            "Deny access package assignment request"
        ]
    );
    assert_eq!(
        w.events_of(&request).await,
        [
            "request.created",
            "request.pendingApproval",
            "approval.stageAssigned",
            "request.denied"
        ]
    );
    conflict(w.decide(&w.sponsor, &request, "Approve").await);
    conflict(w.cancel(&w.agent, &request).await);

    w.clock.advance(Duration::days(1));
    assert_eq!(w.run_jobs().await.completed, 0);
    assert_timed_out(&w, &request, 0, deadline).await;
}

/// An approval one second before the timeout wins; the timeout job then finds nothing to do.
async fn an_approval_just_before_the_timeout_wins(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w.timed_policy(vec![sponsor_stage(&w, None)]).await;
    let request = w.pending_under(&w.agent, &policy).await;
    let deadline = T0 + DECIDE_WITHIN;

    w.clock.set(deadline - Duration::seconds(1));
    w.decide(&w.sponsor, &request, "Approve").await.unwrap();
    assert_eq!(w.run_jobs().await.completed, 1, "delivery");
    let delivered = w.request(&request).await;
    assert_eq!(delivered.state, RequestState::Delivered);
    let audits = w.audit_count().await;

    w.clock.set(deadline);
    assert_eq!(
        w.run_jobs().await.completed,
        1,
        "the timeout job runs and does nothing"
    );
    assert_eq!(w.request(&request).await, delivered);
    let stage = w.stage(&request).await;
    assert_eq!(stage.status, "Completed");
    assert_eq!(stage.review_result, "Approved");
    assert_eq!(w.audit_count().await, audits);
    assert!(w.events_named(&request, "request.denied").await.is_empty());
    assert_eq!(
        w.assignment_of(&request).await.state,
        AssignmentState::Delivered
    );
    assert!(w.is_member(&w.agent).await);
}

/// An approval and the timeout job at the same instant: exactly one of them takes effect (the
/// stage's compare-and-set), the other gets `409` or does nothing, and the records agree with
/// the winner. Repeated with fresh agents, so either side may win.
async fn an_approval_racing_the_timeout_makes_one_outcome(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w.timed_policy(vec![sponsor_stage(&w, None)]).await;
    for round in 0..4 {
        let started = w.clock.now();
        let agent = w
            .create_agent(&format!("racing-agent-{round}"), &[&w.sponsor])
            .await;
        let request = w.pending_under(&agent, &policy).await;
        let deadline = started + DECIDE_WITHIN;
        w.clock.set(deadline);
        let worker = WorkerConfig::default();
        let (decided, pass) = tokio::join!(
            w.decide(&w.sponsor, &request, "Approve"),
            run_due_jobs(&w.store, &w.entitlement, &worker, deadline)
        );
        let pass = pass.unwrap();
        assert_eq!((pass.retried, pass.parked), (0, 0));
        w.run_jobs().await;

        let records = w.audits_of(&request).await;
        let decisions: Vec<&str> = records
            .iter()
            .map(|r| r.activity_display_name.as_str())
            .filter(|a| a.starts_with("Approve") || a.starts_with("Deny"))
            .collect();
        let stage = w.stage(&request).await;
        let final_request = w.request(&request).await;
        if decided.is_ok() {
            assert_eq!(final_request.state, RequestState::Delivered);
            assert_eq!(stage.status, "Completed");
            assert_eq!(stage.review_result, "Approved");
            assert_eq!(decisions, ["Approve access package assignment request"]);
            assert!(w.events_named(&request, "request.denied").await.is_empty());
            assert_eq!(w.events_named(&request, "request.approved").await.len(), 1);
            assert!(w.is_member(&agent).await);
        } else {
            conflict(decided);
            assert_timed_out(&w, &request, 0, deadline).await;
            assert_eq!(decisions, ["Deny access package assignment request"]);
            assert!(
                w.events_named(&request, "request.approved")
                    .await
                    .is_empty()
            );
        }
        // The next round starts later, so its deadline is not this one's.
        w.clock.advance(Duration::minutes(1));
    }
}

/// Escalation at `durationBeforeEscalation`, not before: the escalation approver is added beside
/// the primary one (status `PendingApprovalEscalated`, event `approval.escalated` to it, an
/// audit record), and may decide; so may the primary one (see the next test).
async fn escalation_adds_the_escalation_approver_at_the_instant(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w
        .timed_policy(vec![sponsor_stage(
            &w,
            Some(vec![single_user(&w.co_sponsor)]),
        )])
        .await;
    let request = w.pending_under(&w.agent, &policy).await;
    let at = T0 + ESCALATE_AFTER;

    w.clock.set(at - Duration::seconds(1));
    assert_eq!(w.run_jobs().await.completed, 0);
    let stage = w.stage(&request).await;
    assert!(stage.escalation_approver_ids.is_empty());
    assert_eq!(stage.escalated_date_time, None);
    assert_eq!(w.request(&request).await.status, "PendingApproval");
    assert!(w.awaiting(&w.co_sponsor).await.is_empty());
    assert!(
        matches!(
            w.decide(&w.co_sponsor, &request, "Approve").await,
            Err(DomainError::NotFound { .. })
        ),
        "not yet an approver, so the approval is not even visible to it"
    );

    w.clock.set(at);
    assert_eq!(w.run_jobs().await.completed, 1);
    let escalated = w.request(&request).await;
    assert_eq!(escalated.state, RequestState::PendingApproval);
    assert_eq!(escalated.status, "PendingApprovalEscalated");
    assert_eq!(escalated.completed_date_time, None);
    let stage = w.stage(&request).await;
    assert_eq!(stage.status, "InProgress");
    assert_eq!(stage.approver_ids, [w.sponsor.as_str()]);
    assert_eq!(stage.escalation_approver_ids, [w.co_sponsor.as_str()]);
    assert!(!stage.escalation_used_fallback);
    assert_eq!(stage.escalated_date_time, Some(at));
    assert_eq!(w.awaiting(&w.co_sponsor).await, [request.as_str()]);
    assert_eq!(w.awaiting(&w.sponsor).await, [request.as_str()]);
    let assigned = w
        .entitlement
        .stage_assigned_to(&w.caller(&w.co_sponsor).await, &request)
        .await
        .unwrap();
    assert_eq!(assigned, Some(stage.id.clone()));
    let events = w.events_named(&request, "approval.escalated").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]
            .recipients
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        [w.co_sponsor.as_str()]
    );
    assert_eq!(events[0].data["stage"], 1);
    let records = w.audits_of(&request).await;
    let record = only_record(
        &records,
        "Escalate approval of access package assignment request",
    );
    assert_eq!(record.initiated_by.kind, "system");
    assert_eq!(record.result, "success");
    assert_eq!(
        detail(record, "escalationApprovers"),
        Some(w.co_sponsor.as_str())
    );
    assert_eq!(
        w.events_of(&request).await,
        [
            "request.created",
            "request.pendingApproval",
            "approval.stageAssigned",
            "approval.escalated"
        ]
    );

    // The escalation approver decides.
    w.clock.advance(Duration::minutes(5));
    w.decide(&w.co_sponsor, &request, "Approve").await.unwrap();
    let approved = w.request(&request).await;
    assert_eq!(approved.state, RequestState::Delivering);
    assert_eq!(approved.status, "Delivering");
    let stage = w.stage(&request).await;
    assert_eq!(stage.review_result, "Approved");
    assert_eq!(
        stage.reviewed_by.as_ref().map(|(id, _)| id.as_str()),
        Some(w.co_sponsor.as_str())
    );
    assert_eq!(
        stage.escalation_approver_ids,
        [w.co_sponsor.as_str()],
        "kept"
    );
    conflict(w.decide(&w.sponsor, &request, "Deny").await);
    w.run_jobs().await;
    assert_eq!(
        w.assignment_of(&request).await.state,
        AssignmentState::Delivered
    );
    assert!(w.is_member(&w.agent).await);

    // The timeout, later, finds it decided.
    w.clock.set(T0 + DECIDE_WITHIN);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_eq!(w.request(&request).await.state, RequestState::Delivered);
}

/// After escalation the primary approver still decides, and its denial ends the request with
/// the plain `Denied` status; the escalation approver is then too late.
async fn after_escalation_the_primary_approver_still_decides(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w
        .timed_policy(vec![sponsor_stage(
            &w,
            Some(vec![single_user(&w.co_sponsor)]),
        )])
        .await;
    let request = w.pending_under(&w.agent, &policy).await;
    w.clock.set(T0 + ESCALATE_AFTER);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_eq!(w.request(&request).await.status, "PendingApprovalEscalated");

    w.clock.advance(Duration::minutes(1));
    w.decide(&w.sponsor, &request, "Deny").await.unwrap();
    let denied = w.request(&request).await;
    assert_eq!(denied.state, RequestState::Denied);
    assert_eq!(denied.status, "Denied");
    let stage = w.stage(&request).await;
    assert_eq!(stage.status, "Completed");
    assert_eq!(stage.review_result, "Denied");
    assert_eq!(
        stage.reviewed_by.as_ref().map(|(id, _)| id.as_str()),
        Some(w.sponsor.as_str())
    );
    conflict(w.decide(&w.co_sponsor, &request, "Approve").await);
    assert!(w.awaiting(&w.co_sponsor).await.is_empty());
    w.clock.set(T0 + DECIDE_WITHIN);
    assert_eq!(w.run_jobs().await.completed, 1, "the timeout does nothing");
    assert_eq!(w.request(&request).await, denied);
    assert!(w.assignments_of(&w.agent).await.is_empty());
}

/// The escalation approvers' right is checked again at decision time, from the subject sets
/// they came from: one that left the escalation group cannot decide; an escalated stage still
/// times out when nobody decides.
async fn an_escalated_stage_still_times_out_and_rechecks_escalation_approvers(backend: Backend) {
    let w = World::new(backend).await;
    let escalation_group = w
        .directory
        .create_group(
            &w.admin().await,
            &ctx(),
            GroupInput {
                display_name: text("Escalation desk"),
                mail_nickname: text("escalation-desk"),
                mail_enabled: Patch::Value(false),
                security_enabled: Patch::Value(true),
                ..GroupInput::default()
            },
        )
        .await
        .unwrap()
        .id;
    let admin = w.admin().await;
    w.directory
        .change_group_member(&admin, &ctx(), &escalation_group, &w.co_sponsor, true)
        .await
        .unwrap();
    let policy = w
        .timed_policy(vec![sponsor_stage(
            &w,
            Some(vec![SubjectSet::GroupMembers {
                group_id: escalation_group.clone(),
                description: None,
            }]),
        )])
        .await;
    let request = w.pending_under(&w.agent, &policy).await;
    w.clock.set(T0 + ESCALATE_AFTER);
    w.run_jobs().await;
    assert_eq!(
        w.stage(&request).await.escalation_approver_ids,
        [w.co_sponsor.as_str()]
    );

    w.clock.advance(Duration::minutes(1));
    w.directory
        .change_group_member(&admin, &ctx(), &escalation_group, &w.co_sponsor, false)
        .await
        .unwrap();
    forbidden(w.decide(&w.co_sponsor, &request, "Approve").await);
    assert!(w.awaiting(&w.co_sponsor).await.is_empty());

    w.clock.set(T0 + DECIDE_WITHIN);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_timed_out(&w, &request, 0, T0 + DECIDE_WITHIN).await;
    assert!(w.awaiting(&w.co_sponsor).await.is_empty());
}

/// When neither the escalation nor the fallback escalation approvers resolve to anyone (here
/// only the requestor), the attempt is audited and the stage stays as it was.
async fn an_escalation_to_nobody_is_audited_and_changes_nothing(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w
        .timed_policy(vec![sponsor_stage(&w, Some(vec![single_user(&w.sponsor)]))])
        .await;
    // The sponsor asks for the agent: it is no approver of its own request, so the fallback
    // approver decides, and the escalation approver (the sponsor again) resolves to nobody.
    let created = w
        .user_add(&w.sponsor, &w.package, &policy, Some(&w.agent))
        .await
        .unwrap();
    w.run_jobs().await;
    let request = created.id;
    assert_eq!(w.stage(&request).await.approver_ids, [w.fallback.as_str()]);
    let before = w.stage(&request).await;

    w.clock.set(T0 + ESCALATE_AFTER);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_eq!(w.stage(&request).await, before);
    let waiting = w.request(&request).await;
    assert_eq!(waiting.state, RequestState::PendingApproval);
    assert_eq!(waiting.status, "PendingApproval");
    let records = w.audits_of(&request).await;
    let record = only_record(
        &records,
        "Escalate approval of access package assignment request",
    );
    assert_eq!(record.result, "failure");
    assert_eq!(
        record.result_reason.as_deref(),
        Some("no escalation approver could be resolved")
    );
    assert!(
        w.events_named(&request, "approval.escalated")
            .await
            .is_empty()
    );
    forbidden(w.decide(&w.sponsor, &request, "Approve").await);
    w.decide(&w.fallback, &request, "Approve").await.unwrap();
    assert_eq!(w.request(&request).await.state, RequestState::Delivering);
}

/// Two stages: the second is timed from its own start, not the request's. The first escalates
/// and is approved; the second starts unescalated (status back to `PendingApproval`), the first
/// stage's timeout passes without effect, and the second times out an hour after it started.
async fn each_stage_times_out_from_its_own_start(backend: Backend) {
    let w = World::new(backend).await;
    let mut second = sponsor_stage(&w, None);
    second.primary_approvers = vec![single_user(&w.co_sponsor)];
    let policy = w
        .timed_policy(vec![
            sponsor_stage(&w, Some(vec![single_user(&w.fallback)])),
            second,
        ])
        .await;
    let request = w.pending_under(&w.agent, &policy).await;

    w.clock.set(T0 + ESCALATE_AFTER);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_eq!(w.request(&request).await.status, "PendingApprovalEscalated");

    let second_start = T0 + Duration::minutes(30);
    w.clock.set(second_start);
    w.decide(&w.sponsor, &request, "Approve").await.unwrap();
    let waiting = w.request(&request).await;
    assert_eq!(waiting.state, RequestState::PendingApproval);
    assert_eq!(
        waiting.status, "PendingApproval",
        "the second stage has not escalated"
    );
    let stages = w
        .entitlement
        .approval(&w.admin().await, &request)
        .await
        .unwrap();
    assert_eq!(stages[0].status, "Completed");
    assert_eq!(stages[1].status, "InProgress");
    assert_eq!(stages[1].started_date_time, Some(second_start));
    assert_eq!(stages[1].approver_ids, [w.co_sponsor.as_str()]);
    assert_eq!(w.awaiting(&w.co_sponsor).await, [request.as_str()]);
    assert!(w.awaiting(&w.fallback).await.is_empty());

    // The first stage's deadline: its job runs and finds the second stage within its time.
    w.clock.set(T0 + DECIDE_WITHIN);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_eq!(w.request(&request).await, waiting);

    w.clock
        .set(second_start + DECIDE_WITHIN - Duration::seconds(1));
    assert_eq!(w.run_jobs().await.completed, 0);
    assert_eq!(
        w.request(&request).await.state,
        RequestState::PendingApproval
    );

    w.clock.set(second_start + DECIDE_WITHIN);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_timed_out(&w, &request, 1, second_start + DECIDE_WITHIN).await;
    let stages = w
        .entitlement
        .approval(&w.admin().await, &request)
        .await
        .unwrap();
    assert_eq!(stages[0].review_result, "Approved");
    assert!(w.awaiting(&w.co_sponsor).await.is_empty());
}

/// The first stage's escalation racing its approval, in a two-stage policy: the approval always
/// counts (escalation does not take the primary approver's right away), and the request ends up
/// pending the second stage with the plain `PendingApproval` status whichever committed first;
/// an escalation is recorded (stage, audit, event) exactly when it took effect.
async fn an_escalation_racing_an_approval_leaves_consistent_records(backend: Backend) {
    let w = World::new(backend).await;
    let mut second = sponsor_stage(&w, None);
    second.primary_approvers = vec![single_user(&w.co_sponsor)];
    let policy = w
        .timed_policy(vec![
            sponsor_stage(&w, Some(vec![single_user(&w.fallback)])),
            second,
        ])
        .await;
    for round in 0..4 {
        let started = w.clock.now();
        let agent = w
            .create_agent(&format!("escalating-agent-{round}"), &[&w.sponsor])
            .await;
        let request = w.pending_under(&agent, &policy).await;
        let at = started + ESCALATE_AFTER;
        w.clock.set(at);
        let worker = WorkerConfig::default();
        let (decided, pass) = tokio::join!(
            w.decide(&w.sponsor, &request, "Approve"),
            run_due_jobs(&w.store, &w.entitlement, &worker, at)
        );
        decided.unwrap();
        let pass = pass.unwrap();
        assert_eq!((pass.retried, pass.parked), (0, 0));

        let waiting = w.request(&request).await;
        assert_eq!(waiting.state, RequestState::PendingApproval);
        assert_eq!(waiting.status, "PendingApproval");
        let stages = w
            .entitlement
            .approval(&w.admin().await, &request)
            .await
            .unwrap();
        assert_eq!(stages[0].review_result, "Approved");
        assert_eq!(stages[1].status, "InProgress");
        let events = w.events_named(&request, "approval.escalated").await.len();
        let records = w
            .audits_of(&request)
            .await
            .iter()
            .filter(|r| {
                r.activity_display_name == "Escalate approval of access package assignment request"
            })
            .count();
        if stages[0].escalated_date_time.is_some() {
            assert_eq!(stages[0].escalation_approver_ids, [w.fallback.as_str()]);
            assert_eq!((events, records), (1, 1));
        } else {
            assert!(stages[0].escalation_approver_ids.is_empty());
            assert_eq!((events, records), (0, 0));
        }
        w.clock.advance(Duration::minutes(1));
    }
}

/// A policy whose stage gets more time after a request started waiting: the job at the old
/// deadline finds the new one not reached and waits for it.
async fn a_lengthened_timeout_is_honoured(backend: Backend) {
    let w = World::new(backend).await;
    let policy = w.timed_policy(vec![sponsor_stage(&w, None)]).await;
    let request = w.pending_under(&w.agent, &policy).await;
    let mut stage = sponsor_stage(&w, None);
    stage.duration_before_automatic_denial = Some("PT2H".into());
    w.entitlement
        .update_policy(
            &w.admin().await,
            &ctx(),
            &policy,
            PolicyInput {
                request_approval_settings: Some(ApprovalSettings {
                    is_approval_required_for_add: true,
                    stages: vec![stage],
                    ..ApprovalSettings::default()
                }),
                ..PolicyInput::default()
            },
            false,
        )
        .await
        .unwrap();

    w.clock.set(T0 + DECIDE_WITHIN);
    assert_eq!(w.run_jobs().await.completed, 1);
    assert_eq!(
        w.request(&request).await.state,
        RequestState::PendingApproval
    );
    w.clock.set(T0 + Duration::hours(2) - Duration::seconds(1));
    assert_eq!(w.run_jobs().await.completed, 0);
    w.clock.set(T0 + Duration::hours(2));
    assert_eq!(w.run_jobs().await.completed, 1);
    let denied = w.request(&request).await;
    assert_eq!(denied.status, "TimedOut");
    assert_eq!(denied.completed_date_time, Some(T0 + Duration::hours(2)));
}

on_both_backends!(
    an_undecided_request_is_denied_at_its_timeout,
    an_approval_just_before_the_timeout_wins,
    an_approval_racing_the_timeout_makes_one_outcome,
    escalation_adds_the_escalation_approver_at_the_instant,
    after_escalation_the_primary_approver_still_decides,
    an_escalated_stage_still_times_out_and_rechecks_escalation_approvers,
    an_escalation_to_nobody_is_audited_and_changes_nothing,
    each_stage_times_out_from_its_own_start,
    an_escalation_racing_an_approval_leaves_consistent_records,
    a_lengthened_timeout_is_honoured,
);

//! The request lifecycle's decision (DESIGN section 5), as one pure function: given a request as
//! read, its policy and target as they are now, and `now`, [`decide`] says what the request
//! does next. No store, no clock: the `processRequest` job reads, decides, then writes
//! (`requests/process.rs`), and the tests below cover every state without a database.
//!
//! What the decision does not cover is moved by other paths: an approver's decision, an
//! approval timeout or escalation (`approvals.rs`, `timeouts.rs`), `resume` or a callout's
//! timeout (`callouts.rs`), a cancel or a removal (`requests/remove.rs`), expiry (`expiry.rs`).
//! For a request in their hands the decision is [`Decision::Hold`].

use time::{Duration, OffsetDateTime};

use super::schedule::assignment_end;
use crate::model::{
    AssignmentPolicy, AssignmentRequest, RequestState, RequestStatus, RequestType, Subject,
};

/// What a request does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing for this job to do: the request is past it (delivered, denied, canceled, failed),
    /// is not one a job moves (a removal), or is in another path's hands (pending approval).
    Hold,
    /// Held by a launch-and-wait custom extension (status `WaitingForCallback`): `resume`, or the
    /// callout's timeout, moves it.
    WaitForCallout,
    /// Enter approval at stage `stage` (the first, `0`): its approvers are resolved as it starts.
    BeginApproval { stage: u32 },
    /// Move to `scheduled`, and come back at `until` (the requested start).
    Schedule { until: OffsetDateTime },
    /// Already `scheduled` and the start is still ahead (this job ran again after a crash): run
    /// again at `until`, recording nothing more.
    StayScheduled { until: OffsetDateTime },
    /// Deliver now: the assignment starts at `start` and ends at `end` (`None`: no end).
    Deliver {
        start: OffsetDateTime,
        end: Option<OffsetDateTime>,
    },
    /// A reprocessed request: re-deliver the assignment it made, which keeps its schedule.
    Redeliver { assignment_id: String },
    /// An extension (`userUpdate`, `adminUpdate`): move the end of its assignment.
    Update,
    /// End the request as `deliveryFailed`, for `reason`.
    Fail { reason: FailReason },
}

/// Why a request failed rather than being delivered.
#[derive(Debug, Clone, PartialEq)]
pub enum FailReason {
    /// Its assignment policy was deleted since the request was made.
    PolicyDeleted,
    /// Its target was deleted since.
    TargetDeleted,
    /// Its schedule breaks a rule at delivery time (the policy's maximum, or
    /// `WRIT_MAX_AGENT_ACCESS`, which may have changed since): the rule's message.
    Schedule(String),
}

impl FailReason {
    /// The reason as recorded (the audit record's `reason` detail).
    pub fn message(&self) -> String {
        match self {
            FailReason::PolicyDeleted => "the assignment policy was deleted".into(),
            FailReason::TargetDeleted => "the target no longer exists".into(),
            FailReason::Schedule(message) => message.clone(),
        }
    }
}

/// Whether a request must pass approval before delivery: a `userAdd` or `userUpdate` under a
/// policy that requires it and has stages (an administrator's request never does, DESIGN
/// section 5), unless it bypasses approval (break-glass: accepted, recorded and notified when
/// the request was created, `break_glass.rs`).
pub fn needs_approval(request: &AssignmentRequest, policy: &AssignmentPolicy) -> bool {
    if request.bypasses_approval() {
        return false;
    }
    let settings = &policy.settings.request_approval_settings;
    let required = match request.request_type {
        RequestType::UserAdd => settings.is_approval_required_for_add,
        RequestType::UserUpdate => settings.is_approval_required_for_update,
        _ => false,
    };
    required && !settings.stages.is_empty()
}

/// What `request` does next at `now`, under `policy` and for `target` as they are now (`None`:
/// deleted). `max_agent_access` is `WRIT_MAX_AGENT_ACCESS`, which bounds an agent's assignment
/// again at delivery.
pub fn decide(
    request: &AssignmentRequest,
    policy: Option<&AssignmentPolicy>,
    target: Option<&Subject>,
    max_agent_access: Duration,
    now: OffsetDateTime,
) -> Decision {
    if request.status_kind() == Some(RequestStatus::WaitingForCallback) {
        return Decision::WaitForCallout;
    }
    let due = matches!(
        request.state,
        RequestState::Submitted | RequestState::Scheduled | RequestState::Delivering
    );
    let update = matches!(
        request.request_type,
        RequestType::AdminUpdate | RequestType::UserUpdate
    );
    let add = matches!(
        request.request_type,
        RequestType::AdminAdd | RequestType::UserAdd
    );
    if !due || !(add || update) {
        return Decision::Hold;
    }
    let Some(policy) = policy else {
        return Decision::Fail {
            reason: FailReason::PolicyDeleted,
        };
    };
    if update {
        return Decision::Update;
    }
    if request.state == RequestState::Submitted && needs_approval(request, policy) {
        return Decision::BeginApproval { stage: 0 };
    }
    if let Some(assignment_id) = &request.assignment_id {
        return Decision::Redeliver {
            assignment_id: assignment_id.clone(),
        };
    }
    let start = request.schedule.start_date_time.unwrap_or(now).max(now);
    if start > now {
        return if request.state == RequestState::Scheduled {
            Decision::StayScheduled { until: start }
        } else {
            Decision::Schedule { until: start }
        };
    }
    let Some(target) = target else {
        return Decision::Fail {
            reason: FailReason::TargetDeleted,
        };
    };
    let agent_limit = target.is_agent.then_some(max_agent_access);
    match assignment_end(policy, &request.schedule, start, agent_limit) {
        Ok(end) => Decision::Deliver { start, end },
        Err(error) => Decision::Fail {
            reason: FailReason::Schedule(error.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    //! One test (at least) per state and status of DESIGN section 5's table, named after it.

    use time::macros::datetime;

    use super::*;
    use crate::model::{
        ApprovalSettings, ApprovalStage, Expiration, PolicySettings, PrincipalKind, RequestSchedule,
    };

    const NOW: OffsetDateTime = datetime!(2030-01-01 12:00 UTC);
    const MAX_AGENT: Duration = Duration::days(30);

    fn expiration(kind: &str, duration: Option<&str>, end: Option<OffsetDateTime>) -> Expiration {
        Expiration {
            kind: kind.into(),
            duration: duration.map(str::to_owned),
            end_date_time: end,
        }
    }

    fn policy(expiration: Expiration) -> AssignmentPolicy {
        AssignmentPolicy {
            id: "policy".into(),
            access_package_id: "package".into(),
            catalog_id: "catalog".into(),
            display_name: "Policy".into(),
            description: None,
            allowed_target_scope: "allDirectoryAgentIdentities".into(),
            settings: PolicySettings {
                expiration,
                ..PolicySettings::default()
            },
            created_date_time: NOW,
            modified_date_time: NOW,
        }
    }

    fn two_hours() -> AssignmentPolicy {
        policy(expiration("afterDuration", Some("PT2H"), None))
    }

    fn with_approval(mut policy: AssignmentPolicy) -> AssignmentPolicy {
        policy.settings.request_approval_settings = ApprovalSettings {
            is_approval_required_for_add: true,
            is_approval_required_for_update: true,
            stages: vec![ApprovalStage::default()],
            ..ApprovalSettings::default()
        };
        policy
    }

    fn request(request_type: RequestType, state: RequestState) -> AssignmentRequest {
        AssignmentRequest {
            id: "request".into(),
            request_type,
            state,
            status: RequestStatus::of(state).as_str().into(),
            catalog_id: "catalog".into(),
            access_package_id: "package".into(),
            policy_id: Some("policy".into()),
            assignment_id: None,
            target_id: "agent".into(),
            target_kind: PrincipalKind::ServicePrincipal,
            requestor_id: "agent".into(),
            requestor_kind: PrincipalKind::ServicePrincipal,
            justification: None,
            schedule: RequestSchedule::default(),
            answers: Vec::new(),
            parameters: None,
            created_date_time: NOW,
            completed_date_time: None,
        }
    }

    fn with_status(mut request: AssignmentRequest, status: RequestStatus) -> AssignmentRequest {
        request.status = status.as_str().into();
        request
    }

    fn agent() -> Subject {
        Subject {
            id: "agent".into(),
            kind: PrincipalKind::ServicePrincipal,
            is_agent: true,
            display_name: "Agent".into(),
            principal_name: None,
            mail: None,
            identity_parent_id: None,
        }
    }

    fn human() -> Subject {
        Subject {
            id: "human".into(),
            kind: PrincipalKind::User,
            is_agent: false,
            ..agent()
        }
    }

    fn decide_now(request: &AssignmentRequest, policy: &AssignmentPolicy) -> Decision {
        decide(request, Some(policy), Some(&agent()), MAX_AGENT, NOW)
    }

    // `submitted` / `Accepted`.

    #[test]
    fn submitted_accepted_without_approval_delivers_now_with_the_policy_end() {
        let decision = decide_now(
            &request(RequestType::AdminAdd, RequestState::Submitted),
            &two_hours(),
        );
        assert_eq!(
            decision,
            Decision::Deliver {
                start: NOW,
                end: Some(datetime!(2030-01-01 14:00 UTC)),
            }
        );
    }

    #[test]
    fn submitted_accepted_user_add_needing_approval_begins_the_first_stage() {
        let decision = decide_now(
            &request(RequestType::UserAdd, RequestState::Submitted),
            &with_approval(two_hours()),
        );
        assert_eq!(decision, Decision::BeginApproval { stage: 0 });
    }

    #[test]
    fn submitted_accepted_user_add_bypassing_approval_delivers_and_false_changes_nothing() {
        let policy = with_approval(two_hours());
        for (bypass, bypassed) in [(Some(true), true), (Some(false), false), (None, false)] {
            let mut add = request(RequestType::UserAdd, RequestState::Submitted);
            add.parameters = Some(crate::model::RequestParameters {
                bypass_approval: bypass,
            });
            let decision = decide_now(&add, &policy);
            assert_eq!(
                matches!(decision, Decision::Deliver { .. }),
                bypassed,
                "{bypass:?}: {decision:?}"
            );
            let mut update = add.clone();
            update.request_type = RequestType::UserUpdate;
            assert_eq!(!needs_approval(&update, &policy), bypassed, "{bypass:?}");
        }
    }

    #[test]
    fn submitted_accepted_admin_add_never_needs_approval() {
        let decision = decide_now(
            &request(RequestType::AdminAdd, RequestState::Submitted),
            &with_approval(two_hours()),
        );
        assert!(matches!(decision, Decision::Deliver { .. }), "{decision:?}");
    }

    #[test]
    fn submitted_accepted_approval_required_but_without_stages_delivers() {
        let mut policy = with_approval(two_hours());
        policy.settings.request_approval_settings.stages.clear();
        let decision = decide_now(
            &request(RequestType::UserAdd, RequestState::Submitted),
            &policy,
        );
        assert!(matches!(decision, Decision::Deliver { .. }), "{decision:?}");
    }

    #[test]
    fn submitted_accepted_with_a_future_start_is_scheduled_until_it() {
        let mut submitted = request(RequestType::AdminAdd, RequestState::Submitted);
        submitted.schedule.start_date_time = Some(datetime!(2030-02-01 00:00 UTC));
        assert_eq!(
            decide_now(&submitted, &two_hours()),
            Decision::Schedule {
                until: datetime!(2030-02-01 00:00 UTC)
            }
        );
    }

    #[test]
    fn submitted_accepted_with_a_past_start_delivers_from_now() {
        let mut submitted = request(RequestType::AdminAdd, RequestState::Submitted);
        submitted.schedule.start_date_time = Some(datetime!(2029-01-01 00:00 UTC));
        assert_eq!(
            decide_now(&submitted, &two_hours()),
            Decision::Deliver {
                start: NOW,
                end: Some(datetime!(2030-01-01 14:00 UTC)),
            }
        );
    }

    #[test]
    fn submitted_accepted_with_a_custom_end_delivers_with_that_end() {
        let mut submitted = request(RequestType::AdminAdd, RequestState::Submitted);
        submitted.schedule.expiration = expiration("afterDuration", Some("PT1H"), None);
        assert_eq!(
            decide_now(&submitted, &two_hours()),
            Decision::Deliver {
                start: NOW,
                end: Some(datetime!(2030-01-01 13:00 UTC)),
            }
        );
    }

    #[test]
    fn submitted_accepted_custom_end_beyond_the_policy_fails_with_the_rule() {
        let mut submitted = request(RequestType::AdminAdd, RequestState::Submitted);
        submitted.schedule.expiration = expiration("afterDuration", Some("PT3H"), None);
        let Decision::Fail {
            reason: FailReason::Schedule(message),
        } = decide_now(&submitted, &two_hours())
        else {
            panic!("expected a failure");
        };
        assert!(message.contains("policy's maximum"), "{message}");
    }

    #[test]
    fn submitted_accepted_human_target_under_no_expiration_delivers_without_end() {
        let decision = decide(
            &request(RequestType::AdminAdd, RequestState::Submitted),
            Some(&policy(expiration("noExpiration", None, None))),
            Some(&human()),
            MAX_AGENT,
            NOW,
        );
        assert_eq!(
            decision,
            Decision::Deliver {
                start: NOW,
                end: None
            }
        );
    }

    #[test]
    fn submitted_accepted_agent_beyond_max_agent_access_fails() {
        let decision = decide_now(
            &request(RequestType::AdminAdd, RequestState::Submitted),
            &policy(expiration("afterDuration", Some("P60D"), None)),
        );
        let Decision::Fail {
            reason: FailReason::Schedule(message),
        } = decision
        else {
            panic!("expected a failure, got {decision:?}");
        };
        assert!(message.contains("WRIT_MAX_AGENT_ACCESS"), "{message}");
    }

    #[test]
    fn submitted_accepted_policy_deleted_fails() {
        let decision = decide(
            &request(RequestType::UserAdd, RequestState::Submitted),
            None,
            Some(&agent()),
            MAX_AGENT,
            NOW,
        );
        assert_eq!(
            decision,
            Decision::Fail {
                reason: FailReason::PolicyDeleted
            }
        );
        assert_eq!(
            FailReason::PolicyDeleted.message(),
            "the assignment policy was deleted"
        );
    }

    #[test]
    fn submitted_accepted_target_deleted_fails() {
        let decision = decide(
            &request(RequestType::AdminAdd, RequestState::Submitted),
            Some(&two_hours()),
            None,
            MAX_AGENT,
            NOW,
        );
        assert_eq!(
            decision,
            Decision::Fail {
                reason: FailReason::TargetDeleted
            }
        );
        assert_eq!(
            FailReason::TargetDeleted.message(),
            "the target no longer exists"
        );
    }

    #[test]
    fn submitted_accepted_target_deleted_still_begins_approval_first() {
        let decision = decide(
            &request(RequestType::UserAdd, RequestState::Submitted),
            Some(&with_approval(two_hours())),
            None,
            MAX_AGENT,
            NOW,
        );
        assert_eq!(decision, Decision::BeginApproval { stage: 0 });
    }

    #[test]
    fn submitted_accepted_update_updates_its_assignment() {
        for request_type in [RequestType::UserUpdate, RequestType::AdminUpdate] {
            let decision = decide_now(
                &request(request_type, RequestState::Submitted),
                &with_approval(two_hours()),
            );
            assert_eq!(decision, Decision::Update, "{request_type:?}");
        }
    }

    #[test]
    fn submitted_accepted_update_without_policy_fails() {
        let decision = decide(
            &request(RequestType::UserUpdate, RequestState::Submitted),
            None,
            Some(&agent()),
            MAX_AGENT,
            NOW,
        );
        assert_eq!(
            decision,
            Decision::Fail {
                reason: FailReason::PolicyDeleted
            }
        );
    }

    #[test]
    fn submitted_accepted_removals_are_not_moved_by_the_job() {
        for request_type in [
            RequestType::UserRemove,
            RequestType::AdminRemove,
            RequestType::SystemRemove,
        ] {
            let decision = decide_now(
                &request(request_type, RequestState::Submitted),
                &two_hours(),
            );
            assert_eq!(decision, Decision::Hold, "{request_type:?}");
        }
    }

    // `submitted` / `WaitingForCallback`.

    #[test]
    fn submitted_waiting_for_callback_waits_for_the_callout() {
        let held = with_status(
            request(RequestType::UserAdd, RequestState::Submitted),
            RequestStatus::WaitingForCallback,
        );
        assert_eq!(decide_now(&held, &two_hours()), Decision::WaitForCallout);
    }

    // `pendingApproval` / `PendingApproval`, `PendingApprovalEscalated`, `WaitingForCallback`.

    #[test]
    fn pending_approval_is_in_the_approvers_hands() {
        let pending = request(RequestType::UserAdd, RequestState::PendingApproval);
        assert_eq!(
            decide_now(&pending, &with_approval(two_hours())),
            Decision::Hold
        );
    }

    #[test]
    fn pending_approval_escalated_is_in_the_approvers_hands() {
        let escalated = with_status(
            request(RequestType::UserAdd, RequestState::PendingApproval),
            RequestStatus::PendingApprovalEscalated,
        );
        assert_eq!(
            decide_now(&escalated, &with_approval(two_hours())),
            Decision::Hold
        );
    }

    #[test]
    fn pending_approval_approved_waiting_for_callback_waits_for_the_callout() {
        // Approved, with an `assignmentRequestApproved` launch-and-wait callout holding it.
        let held = with_status(
            request(RequestType::UserAdd, RequestState::Delivering),
            RequestStatus::WaitingForCallback,
        );
        assert_eq!(decide_now(&held, &two_hours()), Decision::WaitForCallout);
    }

    // `scheduled` / `Scheduled`.

    #[test]
    fn scheduled_before_its_start_stays_scheduled_until_it() {
        let mut scheduled = request(RequestType::AdminAdd, RequestState::Scheduled);
        scheduled.schedule.start_date_time = Some(datetime!(2030-02-01 00:00 UTC));
        assert_eq!(
            decide_now(&scheduled, &two_hours()),
            Decision::StayScheduled {
                until: datetime!(2030-02-01 00:00 UTC)
            }
        );
    }

    #[test]
    fn scheduled_at_its_start_delivers_from_the_start() {
        let mut scheduled = request(RequestType::AdminAdd, RequestState::Scheduled);
        scheduled.schedule.start_date_time = Some(NOW);
        assert_eq!(
            decide_now(&scheduled, &two_hours()),
            Decision::Deliver {
                start: NOW,
                end: Some(datetime!(2030-01-01 14:00 UTC)),
            }
        );
    }

    #[test]
    fn scheduled_user_add_approved_earlier_does_not_ask_again() {
        let mut scheduled = request(RequestType::UserAdd, RequestState::Scheduled);
        scheduled.schedule.start_date_time = Some(NOW);
        assert!(matches!(
            decide_now(&scheduled, &with_approval(two_hours())),
            Decision::Deliver { .. }
        ));
    }

    // `delivering` / `Delivering`.

    #[test]
    fn delivering_after_approval_delivers() {
        let approved = request(RequestType::UserAdd, RequestState::Delivering);
        assert!(matches!(
            decide_now(&approved, &with_approval(two_hours())),
            Decision::Deliver { .. }
        ));
    }

    #[test]
    fn delivering_reprocessed_redelivers_its_assignment() {
        let mut reprocessed = request(RequestType::AdminAdd, RequestState::Delivering);
        reprocessed.assignment_id = Some("assignment".into());
        assert_eq!(
            decide_now(&reprocessed, &two_hours()),
            Decision::Redeliver {
                assignment_id: "assignment".into()
            }
        );
    }

    #[test]
    fn delivering_update_updates_its_assignment() {
        let approved = request(RequestType::UserUpdate, RequestState::Delivering);
        assert_eq!(
            decide_now(&approved, &with_approval(two_hours())),
            Decision::Update
        );
    }

    // The final states: `delivered`, `partiallyDelivered`, `deliveryFailed`, `denied` (with its
    // statuses `Denied`, `TimedOut`, `CalloutTimedOut`, `CalloutFailed`, `AssignmentExpired`)
    // and `canceled`: the job has nothing left to do.

    #[test]
    fn delivered_holds() {
        let done = request(RequestType::AdminAdd, RequestState::Delivered);
        assert_eq!(decide_now(&done, &two_hours()), Decision::Hold);
    }

    #[test]
    fn partially_delivered_holds() {
        let done = request(RequestType::AdminAdd, RequestState::PartiallyDelivered);
        assert_eq!(decide_now(&done, &two_hours()), Decision::Hold);
    }

    #[test]
    fn delivery_failed_holds() {
        let done = request(RequestType::AdminAdd, RequestState::DeliveryFailed);
        assert_eq!(decide_now(&done, &two_hours()), Decision::Hold);
    }

    fn denied_with(status: RequestStatus) -> Decision {
        let denied = with_status(request(RequestType::UserAdd, RequestState::Denied), status);
        decide_now(&denied, &two_hours())
    }

    #[test]
    fn denied_holds() {
        assert_eq!(denied_with(RequestStatus::Denied), Decision::Hold);
    }

    #[test]
    fn denied_timed_out_holds() {
        assert_eq!(denied_with(RequestStatus::TimedOut), Decision::Hold);
    }

    #[test]
    fn denied_callout_timed_out_holds() {
        assert_eq!(denied_with(RequestStatus::CalloutTimedOut), Decision::Hold);
    }

    #[test]
    fn denied_callout_failed_holds() {
        assert_eq!(denied_with(RequestStatus::CalloutFailed), Decision::Hold);
    }

    #[test]
    fn denied_assignment_expired_holds() {
        assert_eq!(
            denied_with(RequestStatus::AssignmentExpired),
            Decision::Hold
        );
    }

    #[test]
    fn canceled_holds() {
        let canceled = request(RequestType::UserAdd, RequestState::Canceled);
        assert_eq!(decide_now(&canceled, &two_hours()), Decision::Hold);
    }

    #[test]
    fn every_request_state_and_status_is_covered() {
        // The tests above name each of these; this keeps the list honest when one is added.
        assert_eq!(RequestState::NAMES.len(), 9);
        for status in [
            "Accepted",
            "PendingApproval",
            "PendingApprovalEscalated",
            "Scheduled",
            "WaitingForCallback",
            "Delivering",
            "Delivered",
            "PartiallyDelivered",
            "DeliveryFailed",
            "Denied",
            "TimedOut",
            "CalloutTimedOut",
            "CalloutFailed",
            "Canceled",
            "AssignmentExpired",
        ] {
            assert!(RequestStatus::parse(status).is_some(), "{status}");
        }
    }
}

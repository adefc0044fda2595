//! Expiry notices (DESIGN sections 5 and 8, issue 7 item 1): one `assignment.expiringSoon` per
//! lead time per assignment end, to the target's sponsors as the one resolver finds them (direct
//! sponsors and the members of a sponsoring group), reflected in the assignment's status; lead
//! times already past at delivery skipped; re-armed by an extension; none under a policy that
//! disables assignment notifications. And the recipients of a request's events: its requestor and
//! the target's sponsors. Time is the `World`'s manual clock.

use writ_domain::audit::OutboxEvent;
use writ_domain::entitlement::policy_model::NotificationSettings;
use writ_domain::jobs::JobKind;

use super::*;

/// Lead times of the tests: both well inside the policies' two-hour assignments.
const EARLY: Duration = Duration::minutes(30);
const LATE: Duration = Duration::minutes(5);

impl World {
    fn with_lead_times(mut self) -> Self {
        self.entitlement = self
            .entitlement
            .clone()
            .with_expiry_notice_lead_times(vec![EARLY, LATE]);
        self
    }

    /// The `assignment.expiringSoon` events of an assignment, in order.
    async fn notices_of(&self, assignment: &str) -> Vec<OutboxEvent> {
        self.store
            .outbox_events(100_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.event_type == "assignment.expiringSoon" && e.data["assignmentId"] == assignment
            })
            .collect()
    }

    /// A group of the given users, made a sponsor of `agent`.
    async fn sponsoring_group(&self, agent: &str, members: &[&str]) -> String {
        let admin = self.admin().await;
        let group = self
            .directory
            .create_group(
                &admin,
                &ctx(),
                GroupInput {
                    display_name: text("Support leads"),
                    mail_nickname: text("support-leads"),
                    mail_enabled: Patch::Value(false),
                    security_enabled: Patch::Value(true),
                    ..GroupInput::default()
                },
            )
            .await
            .unwrap()
            .id;
        for member in members {
            self.directory
                .change_group_member(&admin, &ctx(), &group, member, true)
                .await
                .unwrap();
        }
        self.change_sponsor(agent, &group, true).await;
        group
    }
}

fn recipient_ids(event: &OutboxEvent) -> Vec<String> {
    let mut ids: Vec<String> = event.recipients.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids
}

/// Each lead time sends one notice to every sponsor (a sponsoring group's members included) and
/// sets the status; an extension moves the end, resets the status and sends the notices again
/// for the new end, while the old end's pending notice does nothing.
async fn notices_go_to_the_sponsors_at_each_lead_time_and_again_after_an_extension(
    backend: Backend,
) {
    let w = World::new(backend).await.with_lead_times();
    let lead = w.create_user("Lena Lead").await;
    let agent = w
        .create_agent("notice-agent", &[&w.sponsor, &w.co_sponsor])
        .await;
    w.sponsoring_group(&agent, &[&lead]).await;
    let policy = w.extensible_policy(false).await;
    let assignment = w.delivered(&w.package, &policy, &agent).await;
    let end = T0 + LIFETIME;
    assert_eq!(assignment.end_date_time, Some(end));
    let mut sponsors = vec![w.sponsor.clone(), w.co_sponsor.clone(), lead.clone()];
    sponsors.sort();

    w.clock.set(end - EARLY - Duration::seconds(1));
    w.run_jobs().await;
    assert!(
        w.notices_of(&assignment.id).await.is_empty(),
        "not before its instant"
    );
    w.clock.set(end - EARLY);
    w.run_jobs().await;
    let notices = w.notices_of(&assignment.id).await;
    assert_eq!(notices.len(), 1);
    assert_eq!(recipient_ids(&notices[0]), sponsors);
    assert_eq!(notices[0].data["leadTime"], "PT1800S");
    assert_eq!(notices[0].data["targetId"], agent.as_str());
    assert_eq!(notices[0].occurred_at, end - EARLY);
    let noticed = w.assignment(&assignment.id).await;
    assert_eq!(noticed.status, "NearExpiryNotificationTriggered");
    assert_eq!(noticed.state, AssignmentState::Delivered);
    let records = w.audits_of(&assignment.id).await;
    let record = only_record(&records, "Notify of access package assignment expiry");
    assert_eq!(record.on_behalf_of.as_deref(), Some(agent.as_str()));
    assert_eq!(w.run_jobs().await.completed, 0, "sent once");

    // Extended ten minutes later: the new end counts from then.
    w.clock.set(end - EARLY + Duration::minutes(10));
    let extended_at = w.clock.now();
    w.extend(&w.admin, "adminUpdate", &assignment.id).await;
    w.run_jobs().await;
    let extended = w.assignment(&assignment.id).await;
    let new_end = extended_at + LIFETIME;
    assert_eq!(extended.end_date_time, Some(new_end));
    assert_eq!(
        extended.status, "Delivered",
        "the notices were about the old end"
    );

    w.clock.set(end - LATE);
    w.run_jobs().await;
    assert_eq!(
        w.notices_of(&assignment.id).await.len(),
        1,
        "the old end's late notice does nothing"
    );
    w.clock.set(new_end - EARLY);
    w.run_jobs().await;
    w.clock.set(new_end - LATE);
    w.run_jobs().await;
    let notices = w.notices_of(&assignment.id).await;
    let instants: Vec<OffsetDateTime> = notices.iter().map(|n| n.occurred_at).collect();
    assert_eq!(instants, [end - EARLY, new_end - EARLY, new_end - LATE]);
    assert!(notices.iter().all(|n| recipient_ids(n) == sponsors));
    assert_eq!(
        w.events_of(&assignment.id).await,
        [
            "assignment.delivered",
            "assignment.expiringSoon",
            "assignment.extended",
            "assignment.expiringSoon",
            "assignment.expiringSoon",
        ]
    );
    w.clock.set(new_end);
    w.run_jobs().await;
    let expired = w.assignment(&assignment.id).await;
    assert_eq!(expired.status, "Expired");
    assert_eq!(
        w.events_of(&assignment.id).await.last().map(String::as_str),
        Some("assignment.expired")
    );
}

/// A lead time already past when the assignment is delivered is skipped; the later one is sent.
async fn a_lead_time_past_at_delivery_is_skipped(backend: Backend) {
    let w = World::new(backend).await.with_lead_times();
    let mut input = all_agents_policy(&w.package, Some(&w.fallback));
    input.expiration = Some(Expiration {
        kind: "afterDuration".into(),
        duration: Some("PT20M".into()),
        end_date_time: None,
    });
    input.display_name = text("Twenty minutes");
    let short = w
        .entitlement
        .create_policy(&w.admin().await, &ctx(), input)
        .await
        .unwrap()
        .id;
    let assignment = w.delivered(&w.package, &short, &w.agent).await;
    let end = T0 + Duration::minutes(20);
    w.clock.set(end - LATE);
    w.run_jobs().await;
    w.clock.set(end - Duration::seconds(1));
    w.run_jobs().await;
    let notices = w.notices_of(&assignment.id).await;
    let instants: Vec<OffsetDateTime> = notices.iter().map(|n| n.occurred_at).collect();
    assert_eq!(instants, [end - LATE], "only the lead time still ahead");
    assert_eq!(recipient_ids(&notices[0]), vec![w.sponsor.clone()]);
}

/// `notificationSettings.isAssignmentNotificationDisabled` sends no notice and leaves the
/// status; a removed assignment's notices do nothing.
async fn disabled_notifications_and_ended_assignments_send_no_notice(backend: Backend) {
    let w = World::new(backend).await.with_lead_times();
    let mut input = all_agents_policy(&w.package, Some(&w.fallback));
    input.notification_settings = Some(NotificationSettings {
        is_assignment_notification_disabled: true,
    });
    input.display_name = text("Quiet");
    let quiet = w
        .entitlement
        .create_policy(&w.admin().await, &ctx(), input)
        .await
        .unwrap()
        .id;
    let silent = w.delivered(&w.package, &quiet, &w.agent).await;
    let other = w.create_agent("removed-agent", &[&w.sponsor]).await;
    let removed = w.delivered(&w.package, &w.policy, &other).await;
    w.remove(&w.admin, "adminRemove", &removed.id)
        .await
        .unwrap();

    w.clock.set(T0 + LIFETIME - LATE);
    w.run_jobs().await;
    assert!(w.notices_of(&silent.id).await.is_empty());
    assert_eq!(w.assignment(&silent.id).await.status, "Delivered");
    assert!(w.notices_of(&removed.id).await.is_empty());
    assert_eq!(w.assignment(&removed.id).await.status, "Removed");
}

/// The events of a request's decision and delivery go to its requestor (here the agent itself)
/// and to the target's sponsors.
async fn decision_and_delivery_events_name_the_requestor_and_the_sponsors(backend: Backend) {
    let w = World::new(backend).await;
    let request = w.pending_self_request(&w.agent).await;
    w.decide(&w.sponsor, &request, "Approve").await.unwrap();
    w.run_jobs().await;
    let assignment = w.assignment_of(&request).await;
    let events = w.store.outbox_events(100_000).await.unwrap();
    let of = |event_type: &str, key: &str, id: &str| {
        events
            .iter()
            .find(|e| e.event_type == event_type && e.data[key] == id)
            .map(|e| {
                let mut r: Vec<(String, String)> = e
                    .recipients
                    .iter()
                    .map(|r| (r.id.clone(), r.kind.clone()))
                    .collect();
                r.sort();
                r
            })
            .unwrap_or_else(|| panic!("no {event_type} event"))
    };
    let mut expected = vec![
        (w.agent.clone(), "servicePrincipal".to_owned()),
        (w.sponsor.clone(), "user".to_owned()),
    ];
    expected.sort();
    assert_eq!(of("request.approved", "requestId", &request), expected);
    assert_eq!(
        of("assignment.delivered", "assignmentId", &assignment.id),
        expected
    );
}

/// A notice whose first attempt failed is sent on its retry: the job is matched to its lead time
/// by the instant it was scheduled for, which a retry keeps, not by its due time, which a retry
/// moves (the notice was once dropped silently: any transient failure of the first attempt, or
/// the handler's own `Conflict` when the assignment changed meanwhile, lost it).
async fn a_retried_notice_is_still_sent(backend: Backend) {
    let w = World::new(backend).await.with_lead_times();
    let assignment = w.delivered(&w.package, &w.policy, &w.agent).await;
    let end = T0 + LIFETIME;

    // The worker claims the notice at its instant and its attempt fails, as a worker records it.
    w.clock.set(end - EARLY);
    let retry_at = end - EARLY + Duration::seconds(1);
    let mut tx = w.store.begin().await.unwrap();
    let claimed = tx
        .claim_jobs(
            "worker-a",
            w.clock.now(),
            retry_at + Duration::minutes(1),
            10,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].kind, Some(JobKind::ExpiryNotice));
    assert_eq!(claimed[0].scheduled_at, end - EARLY);
    assert!(
        tx.retry_job(&claimed[0].id, "worker-a", retry_at, "database unavailable")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert!(w.notices_of(&assignment.id).await.is_empty());

    w.clock.set(retry_at);
    assert_eq!(w.run_jobs().await.completed, 1);
    let notices = w.notices_of(&assignment.id).await;
    assert_eq!(notices.len(), 1, "the retried notice is sent");
    assert_eq!(notices[0].data["leadTime"], "PT1800S");
    assert_eq!(notices[0].occurred_at, retry_at);
    assert_eq!(
        w.assignment(&assignment.id).await.status,
        "NearExpiryNotificationTriggered"
    );
    let records = w.audits_of(&assignment.id).await;
    let record = only_record(&records, "Notify of access package assignment expiry");
    assert_eq!(record.on_behalf_of.as_deref(), Some(w.agent.as_str()));

    // The later lead time, not retried, is sent at its own instant as before.
    w.clock.set(end - LATE);
    w.run_jobs().await;
    assert_eq!(w.notices_of(&assignment.id).await.len(), 2);
}

on_both_backends!(
    decision_and_delivery_events_name_the_requestor_and_the_sponsors,
    notices_go_to_the_sponsors_at_each_lead_time_and_again_after_an_extension,
    a_lead_time_past_at_delivery_is_skipped,
    disabled_notifications_and_ended_assignments_send_no_notice,
    a_retried_notice_is_still_sent,
);

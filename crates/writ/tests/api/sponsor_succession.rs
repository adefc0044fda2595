//! Sponsor succession (issue 19, part L; DESIGN section 17): a sponsor disabled or deleted hands
//! every object it sponsors to its enabled manager, in the same transaction, with one audit
//! record and one `agent.sponsorChanged` event per object (to the new sponsor and the
//! co-sponsors); an object left with no sponsor stays without one, is reported
//! (`agent.sponsorless`) and listed at `/writ/v1/agentsWithoutSponsors`; the manager can act for
//! the agent at once, the departed sponsor cannot; re-enabling restores nothing; a sponsor of
//! many agents hands them over in a bounded number of statements.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::audit::{AuditRecord, OutboxEvent};
use writ_domain::store::AuditStore;
use writ_store::Backend;

use crate::agents::{create_agent, user_url};
use crate::assignments::{Setup, login, post, post_request, run_jobs, setup};
use crate::harness::{TestApp, app};
use crate::statements::Statements;

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

async fn set_manager(app: &TestApp, user: &str, manager: &str) {
    let reply = app
        .send(
            Method::PUT,
            &format!("/v1.0/users/{user}/manager/$ref"),
            &app.admin,
            json!({"@odata.id": user_url(manager)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

async fn add_sponsor(app: &TestApp, agent: &str, sponsor: &str) {
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{agent}/sponsors/$ref"),
            &app.admin,
            json!({"@odata.id": user_url(sponsor)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

async fn set_enabled(app: &TestApp, user: &str, enabled: bool) {
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{user}"),
            &app.admin,
            json!({"accountEnabled": enabled}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

/// The agent's sponsors' ids, sorted.
async fn sponsors_of(app: &TestApp, agent: &str) -> Vec<String> {
    let reply = app
        .get(
            &format!("/v1.0/servicePrincipals/{agent}/sponsors"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut ids: Vec<String> = reply.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    ids.sort();
    ids
}

/// The succession records about `object`.
async fn records_about(app: &TestApp, object: &str) -> Vec<AuditRecord> {
    app.store
        .audit_records(100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.additional_details.iter().any(|(k, _)| k == "succession")
                && r.target_resources.first().is_some_and(|t| t.id == object)
        })
        .collect()
}

async fn events_about(app: &TestApp, event_type: &str, object: &str) -> Vec<OutboxEvent> {
    app.store
        .outbox_events(100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type && e.data["targetId"] == object)
        .collect()
}

fn detail<'r>(record: &'r AuditRecord, key: &str) -> Option<&'r str> {
    record
        .additional_details
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn recipients(event: &OutboxEvent) -> Vec<String> {
    let mut ids: Vec<String> = event.recipients.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids
}

/// A policy under which the agent's sponsors extend its access for it, without approval.
async fn sponsors_extend_policy(app: &TestApp, s: &Setup) -> String {
    id(&post(app, "/assignmentPolicies", json!({
        "displayName": "Sponsors extend their agents",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": false, "enableTargetsToSelfUpdateAccess": false,
            "enableOnBehalfRequestorsToUpdateAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
        },
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []},
        "accessPackage": {"id": s.package},
    }))
    .await)
}

/// The package assigned to the agent under `policy`, delivered: the assignment's id.
async fn assigned(app: &TestApp, s: &Setup, policy: &str) -> String {
    let created = post_request(app, &app.admin, json!({
        "requestType": "adminAdd",
        "assignment": {"targetId": s.agent, "assignmentPolicyId": policy, "accessPackageId": s.package},
    }))
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    run_jobs(app).await;
    let read = app
        .get(
            &format!(
                "{EM}/assignmentRequests/{}?$expand=assignment",
                id(&created.body)
            ),
            &app.admin,
        )
        .await;
    assert_eq!(read.body["state"], "delivered", "{}", read.body);
    read.body["assignment"]["id"].as_str().unwrap().to_owned()
}

fn extend(assignment: &str) -> Value {
    json!({"requestType": "userUpdate", "assignment": {"id": assignment}})
}

async fn disabling_a_sponsor_hands_its_agents_to_the_manager(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let policy = sponsors_extend_policy(&app, &s).await;
    let assignment = assigned(&app, &s, &policy).await;
    let manager = app.create_user("Mona Manager").await;
    let cosponsor = app.create_user("Cora Cosponsor").await;
    set_manager(&app, &s.sponsor, &manager).await;
    add_sponsor(&app, &s.agent, &cosponsor).await;
    // The sponsor can extend for the agent while enabled.
    let sam = login(&app, "samsponsor").await;
    let before = post_request(&app, &sam, extend(&assignment)).await;
    assert_eq!(before.status, StatusCode::CREATED, "{}", before.body);
    run_jobs(&app).await;

    set_enabled(&app, &s.sponsor, false).await;

    assert_eq!(
        sponsors_of(&app, &s.agent).await,
        sorted(&[&cosponsor, &manager])
    );
    // One record for the agent's change, by the administrator who disabled the sponsor.
    let records = records_about(&app, &s.agent).await;
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(
        record.activity_display_name,
        "Transfer sponsorship to manager"
    );
    let admin = crate::harness::claims_of(&app.admin)["oid"].clone();
    assert_eq!(record.initiated_by.id.as_deref(), admin.as_str());
    assert_eq!(detail(record, "succession"), Some("sponsorDisabled"));
    assert_eq!(
        detail(record, "previousSponsorId"),
        Some(s.sponsor.as_str())
    );
    assert_eq!(detail(record, "newSponsorId"), Some(manager.as_str()));
    // Notices: the manager (now a sponsor) and the co-sponsor, not the departed sponsor.
    let events = events_about(&app, "agent.sponsorChanged", &s.agent).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(recipients(&events[0]), sorted(&[&cosponsor, &manager]));
    assert_eq!(events[0].data["newSponsorId"], manager.as_str());
    assert_eq!(events[0].data["previousSponsorId"], s.sponsor.as_str());
    assert_eq!(events[0].data["succession"], "sponsorDisabled");
    assert!(
        events_about(&app, "agent.sponsorless", &s.agent)
            .await
            .is_empty()
    );

    // The departed sponsor's token is refused, so nothing it asks for the agent is done.
    let refused = post_request(&app, &sam, extend(&assignment)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    // The manager acts for the agent at once.
    let mona = login(&app, "monamanager").await;
    let extended = post_request(&app, &mona, extend(&assignment)).await;
    assert_eq!(extended.status, StatusCode::CREATED, "{}", extended.body);
    run_jobs(&app).await;
    let done = app
        .get(
            &format!("{EM}/assignmentRequests/{}", id(&extended.body)),
            &app.admin,
        )
        .await;
    assert_eq!(done.body["state"], "delivered", "{}", done.body);

    // Re-enabling the sponsor restores nothing, and records no succession.
    set_enabled(&app, &s.sponsor, true).await;
    assert_eq!(
        sponsors_of(&app, &s.agent).await,
        sorted(&[&cosponsor, &manager])
    );
    assert_eq!(records_about(&app, &s.agent).await.len(), 1);
    // Re-enabled, the sponsor no longer acts for the agent: it is not a sponsor any more.
    let sam = login(&app, "samsponsor").await;
    let not_sponsor = post_request(&app, &sam, extend(&assignment)).await;
    assert!(
        not_sponsor.status.is_client_error(),
        "{} {}",
        not_sponsor.status,
        not_sponsor.body
    );
}

async fn deleting_a_sponsor_hands_its_agents_to_the_manager(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let manager = app.create_user("Mona Manager").await;
    let cosponsor = app.create_user("Cora Cosponsor").await;
    set_manager(&app, &s.sponsor, &manager).await;
    add_sponsor(&app, &s.agent, &cosponsor).await;

    let reply = app
        .delete(&format!("/v1.0/users/{}", s.sponsor), &app.admin)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);

    assert_eq!(
        sponsors_of(&app, &s.agent).await,
        sorted(&[&cosponsor, &manager])
    );
    let records = records_about(&app, &s.agent).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0].activity_display_name,
        "Transfer sponsorship to manager"
    );
    assert_eq!(detail(&records[0], "succession"), Some("sponsorDeleted"));
    assert_eq!(detail(&records[0], "newSponsorId"), Some(manager.as_str()));
    let events = events_about(&app, "agent.sponsorChanged", &s.agent).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(recipients(&events[0]), sorted(&[&cosponsor, &manager]));
    // The deleted sponsor's name stays in the notice.
    assert_eq!(events[0].data["previousSponsorDisplayName"], "Sam Sponsor");
}

async fn a_disabled_manager_takes_nothing_and_the_agent_is_reported_sponsorless(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let manager = app.create_user("Mona Manager").await;
    let cosponsor = app.create_user("Cora Cosponsor").await;
    set_manager(&app, &s.sponsor, &manager).await;
    set_enabled(&app, &manager, false).await;
    // A second agent keeps a co-sponsor.
    let shared = create_agent(&app, &s.fleet, "shared-agent", &[&s.sponsor, &cosponsor])
        .await
        .id();
    let (_, reader) = app.user_token("Nosy Reader").await;
    let listed = app.get("/writ/v1/agentsWithoutSponsors", &reader).await;
    assert_eq!(listed.status, StatusCode::FORBIDDEN, "{}", listed.body);
    let listed = app.get("/writ/v1/agentsWithoutSponsors", &app.admin).await;
    assert_eq!(listed.body["value"], json!([]), "{}", listed.body);

    set_enabled(&app, &s.sponsor, false).await;

    // The agent keeps no sponsor; the record says why; the event reaches the webhooks.
    assert!(sponsors_of(&app, &s.agent).await.is_empty());
    let records = records_about(&app, &s.agent).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0].activity_display_name,
        "Agent left without sponsor"
    );
    assert!(records[0].result_reason.is_some());
    assert_eq!(detail(&records[0], "newSponsorId"), None);
    let sponsorless = events_about(&app, "agent.sponsorless", &s.agent).await;
    assert_eq!(sponsorless.len(), 1);
    assert!(sponsorless[0].recipients.is_empty(), "webhooks only");
    assert_eq!(sponsorless[0].data["newSponsorId"], Value::Null);
    // Listed, with the blueprint the sponsor also left alone; not the shared agent.
    let listed = app
        .get("/writ/v1/agentsWithoutSponsors?$count=true", &app.admin)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let ids: Vec<String> = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert!(ids.contains(&s.agent), "{}", listed.body);
    assert!(!ids.contains(&shared), "{}", listed.body);
    assert_eq!(listed.body["@odata.count"], 2, "{}", listed.body);
    let page = app
        .get("/writ/v1/agentsWithoutSponsors?$top=1", &app.admin)
        .await;
    assert_eq!(page.body["value"].as_array().unwrap().len(), 1);
    assert!(page.body["@odata.nextLink"].is_string(), "{}", page.body);
    let bad = app
        .get(
            "/writ/v1/agentsWithoutSponsors?$filter=displayName%20eq%20'x'",
            &app.admin,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // The shared agent only lost the departed sponsor; the co-sponsor is told.
    assert_eq!(sponsors_of(&app, &shared).await, sorted(&[&cosponsor]));
    let records = records_about(&app, &shared).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].activity_display_name, "Remove departing sponsor");
    let events = events_about(&app, "agent.sponsorChanged", &shared).await;
    assert_eq!(events.len(), 1);
    assert_eq!(recipients(&events[0]), sorted(&[&cosponsor]));
    assert_eq!(events[0].data["newSponsorId"], Value::Null);
    assert!(
        events_about(&app, "agent.sponsorless", &shared)
            .await
            .is_empty()
    );
}

async fn a_manager_already_sponsoring_is_not_added_twice(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let manager = app.create_user("Mona Manager").await;
    set_manager(&app, &s.sponsor, &manager).await;
    add_sponsor(&app, &s.agent, &manager).await;

    set_enabled(&app, &s.sponsor, false).await;

    assert_eq!(sponsors_of(&app, &s.agent).await, sorted(&[&manager]));
    let records = records_about(&app, &s.agent).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].activity_display_name, "Remove departing sponsor");
    assert_eq!(
        detail(&records[0], "managerAlreadySponsor"),
        Some(manager.as_str())
    );
    let events = events_about(&app, "agent.sponsorChanged", &s.agent).await;
    assert_eq!(events.len(), 1);
    assert_eq!(recipients(&events[0]), sorted(&[&manager]));
    assert_eq!(events[0].data["newSponsorId"], Value::Null);
}

/// Disables `user`, counting the statements the request ran (PostgreSQL only; `None` on SQLite).
async fn disable_counting(app: &TestApp, backend: Backend, user: &str) -> Option<usize> {
    let statements = Statements::record(backend);
    app.get(&format!("/v1.0/users/{user}"), &app.admin).await;
    statements.clear();
    set_enabled(app, user, false).await;
    statements.finish().map(|texts| texts.len())
}

const MANY: usize = 200;

async fn a_sponsor_of_many_agents_hands_all_over_in_a_bounded_number_of_statements(
    backend: Backend,
) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let manager = app.create_user("Mona Manager").await;
    set_manager(&app, &s.sponsor, &manager).await;
    // A second sponsor with the same manager and one agent: the baseline.
    let single = app.create_user("Sid Single").await;
    set_manager(&app, &single, &manager).await;
    let lone = create_agent(&app, &s.fleet, "lone-agent", &[&single])
        .await
        .id();
    let mut agents = vec![s.agent.clone()];
    for i in 1..MANY {
        let created = create_agent(&app, &s.fleet, &format!("agent-{i}"), &[&s.sponsor]).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        agents.push(created.id());
    }

    let one = disable_counting(&app, backend, &single).await;
    let many = disable_counting(&app, backend, &s.sponsor).await;

    assert_eq!(sponsors_of(&app, &lone).await, sorted(&[&manager]));
    for agent in [&agents[0], &agents[MANY / 2], &agents[MANY - 1]] {
        assert_eq!(sponsors_of(&app, agent).await, sorted(&[&manager]));
    }
    // Every agent moved (and the blueprint the sponsor sponsored): one record and one event each.
    let records = app.store.audit_records(100_000).await.unwrap();
    let transfers = records
        .iter()
        .filter(|r| {
            r.activity_display_name == "Transfer sponsorship to manager"
                && detail(r, "previousSponsorId") == Some(s.sponsor.as_str())
        })
        .count();
    assert_eq!(transfers, MANY + 1);
    let events = app.store.outbox_events(100_000).await.unwrap();
    let notices: Vec<&OutboxEvent> = events
        .iter()
        .filter(|e| {
            e.event_type == "agent.sponsorChanged" && e.data["previousSponsorId"] == s.sponsor
        })
        .collect();
    assert_eq!(notices.len(), MANY + 1);
    assert!(notices.iter().all(|e| recipients(e) == sorted(&[&manager])));
    let sponsored_by_manager = app
        .get("/writ/v1/agentsWithoutSponsors?$count=true", &app.admin)
        .await;
    assert_eq!(sponsored_by_manager.body["@odata.count"], 0);

    // The same statements for 201 objects as for one, but for the multi-row inserts of 50 rows
    // each: the audit records, their targets (the object, the departed sponsor, the heir) and
    // the events. Nothing runs once per object.
    if let (Some(one), Some(many)) = (one, many) {
        let objects = MANY + 1;
        let batches = objects.div_ceil(50) + (3 * objects).div_ceil(50) + objects.div_ceil(50);
        assert!(
            many < objects / 4,
            "{many} statements for {objects} objects"
        );
        assert!(one > 0, "the counter sees the statements");
        assert!(
            many <= one + batches,
            "{many} statements for {} objects, {one} for one",
            MANY + 1
        );
    }
}

crate::on_both_backends!(
    disabling_a_sponsor_hands_its_agents_to_the_manager,
    deleting_a_sponsor_hands_its_agents_to_the_manager,
    a_disabled_manager_takes_nothing_and_the_agent_is_reported_sponsorless,
    a_manager_already_sponsoring_is_not_added_twice,
    a_sponsor_of_many_agents_hands_all_over_in_a_bounded_number_of_statements,
);

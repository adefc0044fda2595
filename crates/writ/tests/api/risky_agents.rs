//! Compromised agents (issue 19, part J; DESIGN section 17): `confirmCompromised` ends every
//! assignment of the agent at that instant, refuses its tokens (the one it holds and new ones)
//! and notifies its sponsors; `confirmSafe` and `dismiss` restore sign-in, not the assignments;
//! the risk state is readable; nobody but an administrator decides it.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::clock::Clock;
use writ_domain::store::AuditStore;
use writ_store::Backend;

use crate::agents::{create_agent, fleet};
use crate::assignments::{member_ids, run_jobs};
use crate::harness::{TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const RISKY: &str = "/beta/identityProtection/riskyAgents";
const GRAPH_SCOPE: &str = "https%3A%2F%2Fgraph.microsoft.com%2F.default";

struct World {
    fleet: crate::agents::Fleet,
    agent: String,
    sponsor: String,
    group: String,
    assignment: String,
    package: String,
    policy: String,
    /// The agent's appId and a secret of it.
    credentials: (String, String),
}

/// An agent sponsored by Sam with a secret, and an assignment (delivered) of a package granting
/// membership of a group.
async fn world(app: &TestApp) -> World {
    let fleet = fleet(app).await;
    let created = create_agent(app, &fleet, "ops-agent", &[&fleet.sponsor]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let agent = created.id();
    let app_id = created.body["appId"].as_str().unwrap().to_owned();
    let secret = app.add_secret(&agent).await;

    let crate::harness::AssignedMembership {
        group,
        package,
        policy,
    } = app.admin_assigns_membership(&agent, "Ops").await;
    run_jobs(app).await;
    let assignments = app
        .get(
            &format!("{EM}/assignments?$filter=target/objectId%20eq%20'{agent}'"),
            &app.admin,
        )
        .await;
    let assignment = assignments.body["value"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no assignment in {}", assignments.body))
        .to_owned();
    assert!(member_ids(app, &group).await.contains(&agent));
    World {
        agent,
        sponsor: fleet.sponsor.clone(),
        fleet,
        group,
        assignment,
        package,
        policy,
        credentials: (app_id, secret),
    }
}

async fn token_reply(app: &TestApp, w: &World) -> crate::harness::Reply {
    let (app_id, secret) = &w.credentials;
    app.token_request(&format!(
        "grant_type=client_credentials&client_id={app_id}&client_secret={secret}&scope={GRAPH_SCOPE}"
    ))
    .await
}

async fn agent_token(app: &TestApp, w: &World) -> String {
    let reply = token_reply(app, w).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

async fn act(app: &TestApp, token: &str, action: &str, ids: &[&str]) -> crate::harness::Reply {
    app.send(
        Method::POST,
        &format!("{RISKY}/{action}"),
        token,
        json!({"agentIds": ids}),
    )
    .await
}

/// What the agent's own token can read about itself (`200` while it may sign in).
async fn self_read(app: &TestApp, token: &str, agent: &str) -> StatusCode {
    app.get(&format!("/v1.0/servicePrincipals/{agent}"), token)
        .await
        .status
}

async fn compromise_ends_access_refuses_tokens_and_notifies_sponsors(backend: Backend) {
    let app = app(backend).await;
    // Whole seconds, so the instant read back from the store is the clock's.
    app.clock
        .set(app.clock.now().replace_nanosecond(0).unwrap());
    let w = world(&app).await;
    let token = agent_token(&app, &w).await;
    assert_eq!(self_read(&app, &token, &w.agent).await, StatusCode::OK);
    let audits_before = app.audit_count().await;

    // The clock does not move: everything below happens at the instant of the confirmation.
    let reply = act(&app, &app.admin, "confirmCompromised", &[&w.agent]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);

    // The token the agent holds is refused at its next call, and no new one is issued.
    let refused = app
        .get(&format!("/v1.0/servicePrincipals/{}", w.agent), &token)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("compromised"),
        "{}",
        refused.body
    );
    token_reply(&app, &w).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "The agent of this token is confirmed compromised; its sign-in is blocked.",
    );

    // Its group membership is gone, its assignment ended as a systemRemove at this instant.
    assert!(!member_ids(&app, &w.group).await.contains(&w.agent));
    let ended = app
        .get(&format!("{EM}/assignments/{}", w.assignment), &app.admin)
        .await;
    assert_eq!(ended.body["state"], "expired", "{}", ended.body);
    assert_eq!(ended.body["status"], "Removed");
    let requests = app
        .get(
            &format!("{EM}/assignmentRequests?$filter=requestType%20eq%20'systemRemove'"),
            &app.admin,
        )
        .await;
    assert_eq!(requests.status, StatusCode::OK, "{}", requests.body);
    let removal = requests.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["justification"] == "the agent was confirmed compromised")
        .unwrap_or_else(|| panic!("no systemRemove in {}", requests.body));
    assert_eq!(removal["state"], "delivered");

    // One audit record per change: the removal and the confirmation.
    assert_eq!(app.audit_count().await, audits_before + 2);
    let records = app.store.audit_records(10_000).await.unwrap();
    let count = |activity: &str| {
        records
            .iter()
            .filter(|r| r.activity_display_name == activity)
            .count()
    };
    assert_eq!(count("Remove access package assignment"), 1);
    assert_eq!(count("Confirm agent compromised"), 1);
    let confirmation = records
        .iter()
        .find(|r| r.activity_display_name == "Confirm agent compromised")
        .unwrap();
    assert_eq!(confirmation.category, "IdentityProtection");
    assert_eq!(confirmation.target_resources[0].id, w.agent);
    assert_eq!(
        confirmation.activity_date_time,
        app.clock.now(),
        "at the instant of the call"
    );

    // The sponsor is notified through the outbox (webhooks and email), with what was ended.
    let events = app.store.outbox_events(10_000).await.unwrap();
    // (All at one instant: the outbox's order among them is its ids', so filter, not slice.)
    let compromised: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "agent.compromised")
        .collect();
    assert_eq!(compromised.len(), 1, "{events:?}");
    let event = compromised[0];
    assert_eq!(event.data["targetId"], w.agent.as_str());
    assert_eq!(event.data["riskState"], "confirmedCompromised");
    assert_eq!(event.data["endedAssignmentIds"], json!([w.assignment]));
    let recipients: Vec<&str> = event.recipients.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(recipients, [w.sponsor.as_str()]);
    assert!(
        events.iter().any(|e| e.event_type == "assignment.removed"
            && e.data["assignmentId"] == w.assignment.as_str()),
        "the removal has its own event"
    );

    // The state reads back, on both prefixes.
    for prefix in ["/beta", "/v1.0"] {
        let read = app
            .get(
                &format!("{prefix}/identityProtection/riskyAgents/{}", w.agent),
                &app.admin,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(
            read.body["@odata.type"],
            "#microsoft.graph.riskyAgentIdentity"
        );
        assert_eq!(read.body["riskState"], "confirmedCompromised");
        assert_eq!(read.body["riskLevel"], "high");
        assert_eq!(read.body["riskDetail"], "adminConfirmedAgentCompromised");
        assert_eq!(read.body["identityType"], "agentIdentity");
        assert_eq!(read.body["agentDisplayName"], "ops-agent");
        assert_eq!(read.body["isDeleted"], false);
        assert_eq!(read.body["isProcessing"], false);
        assert!(read.body["riskLastUpdatedDateTime"].is_string());
    }

    // Confirming again changes nothing and records nothing.
    let audits = app.audit_count().await;
    let events_now = app.store.outbox_events(10_000).await.unwrap().len();
    let again = act(&app, &app.admin, "confirmCompromised", &[&w.agent]).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "{}", again.body);
    assert_eq!(app.audit_count().await, audits);
    assert_eq!(
        app.store.outbox_events(10_000).await.unwrap().len(),
        events_now
    );
}

async fn confirm_safe_restores_sign_in_but_not_the_assignments(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let reply = act(&app, &app.admin, "confirmCompromised", &[&w.agent]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(token_reply(&app, &w).await.status, StatusCode::BAD_REQUEST);

    let reply = act(&app, &app.admin, "confirmSafe", &[&w.agent]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let token = agent_token(&app, &w).await;
    assert_eq!(self_read(&app, &token, &w.agent).await, StatusCode::OK);
    let read = app.get(&format!("{RISKY}/{}", w.agent), &app.admin).await;
    assert_eq!(read.body["riskState"], "confirmedSafe");
    assert_eq!(read.body["riskLevel"], "none");
    assert_eq!(read.body["riskDetail"], "adminConfirmedAgentSafe");
    // The ended assignment stays ended, the membership gone.
    let ended = app
        .get(&format!("{EM}/assignments/{}", w.assignment), &app.admin)
        .await;
    assert_eq!(ended.body["state"], "expired");
    assert!(!member_ids(&app, &w.group).await.contains(&w.agent));
    let records = app.store.audit_records(10_000).await.unwrap();
    let last = records
        .iter()
        .find(|r| r.activity_display_name == "Confirm agent safe")
        .unwrap();
    assert!(
        last.additional_details
            .contains(&("previousRiskState".into(), "confirmedCompromised".into()))
    );
}

async fn admin_add(app: &TestApp, w: &World) -> crate::harness::Reply {
    app.send(
        Method::POST,
        &format!("{EM}/assignmentRequests"),
        &app.admin,
        json!({
            "requestType": "adminAdd",
            "assignment": {"targetId": w.agent, "assignmentPolicyId": w.policy, "accessPackageId": w.package},
        }),
    )
    .await
}

async fn a_compromised_agent_gets_no_new_access_until_confirmed_safe(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let reply = act(&app, &app.admin, "confirmCompromised", &[&w.agent]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let requests_before = app
        .get(&format!("{EM}/assignmentRequests"), &app.admin)
        .await;

    let refused = admin_add(&app, &w).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("confirmed compromised"),
        "{}",
        refused.body
    );
    let requests_after = app
        .get(&format!("{EM}/assignmentRequests"), &app.admin)
        .await;
    assert_eq!(requests_after.body["value"], requests_before.body["value"]);
    run_jobs(&app).await;
    assert!(!member_ids(&app, &w.group).await.contains(&w.agent));

    let reply = act(&app, &app.admin, "confirmSafe", &[&w.agent]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let granted = admin_add(&app, &w).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    run_jobs(&app).await;
    assert!(member_ids(&app, &w.group).await.contains(&w.agent));
}

async fn dismiss_restores_sign_in_and_only_decided_agents_are_listed(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    // Another agent never at risk: confirming it safe or dismissing changes nothing.
    let other = create_agent(&app, &w.fleet, "quiet-agent", &[&w.sponsor])
        .await
        .id();
    let audits = app.audit_count().await;
    for action in ["confirmSafe", "dismiss"] {
        let reply = act(&app, &app.admin, action, &[&other]).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }
    assert_eq!(app.audit_count().await, audits);
    let empty = app.get(RISKY, &app.admin).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(empty.body["value"], json!([]));

    let reply = act(&app, &app.admin, "confirmCompromised", &[&w.agent]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = act(&app, &app.admin, "dismiss", &[&w.agent]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    agent_token(&app, &w).await;
    let listed = app.get(&format!("{RISKY}?$count=true"), &app.admin).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let items = listed.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", listed.body);
    assert_eq!(listed.body["@odata.count"], 1);
    assert_eq!(items[0]["id"], w.agent.as_str());
    assert_eq!(items[0]["riskState"], "dismissed");
    assert_eq!(items[0]["riskDetail"], "adminDismissedRiskForAgent");
    assert_eq!(
        app.get(&format!("{RISKY}/{other}"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // $filter and $top as the other lists have them.
    let filtered = app
        .get(
            &format!(
                "{RISKY}?$filter=riskState%20eq%20'dismissed'%20and%20isEnabled%20eq%20true&$top=5"
            ),
            &app.admin,
        )
        .await;
    assert_eq!(filtered.status, StatusCode::OK, "{}", filtered.body);
    assert_eq!(filtered.body["value"].as_array().unwrap().len(), 1);
    let none = app
        .get(
            &format!("{RISKY}?$filter=riskState%20eq%20'confirmedCompromised'"),
            &app.admin,
        )
        .await;
    assert_eq!(none.body["value"], json!([]));
    let by_name = app
        .get(
            &format!("{RISKY}?$filter=startsWith(agentDisplayName,'ops')"),
            &app.admin,
        )
        .await;
    assert_eq!(by_name.body["value"].as_array().unwrap().len(), 1);
    let bad = app
        .get(
            &format!("{RISKY}?$filter=riskState%20eq%20'atRisk'"),
            &app.admin,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.error_code(), "invalidRequest");

    // A deleted agent keeps its risk, read as deleted.
    let deleted = app
        .delete(&format!("/v1.0/servicePrincipals/{}", w.agent), &app.admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let read = app.get(&format!("{RISKY}/{}", w.agent), &app.admin).await;
    assert_eq!(read.body["isDeleted"], true, "{}", read.body);
    assert_eq!(read.body["isEnabled"], false);
    assert_eq!(read.body["agentDisplayName"], "ops-agent");
}

async fn bad_input_is_refused_and_changes_nothing(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let human = app.create_user("Harriet Human").await;
    let audits = app.audit_count().await;
    let cases: Vec<(Value, StatusCode)> = vec![
        (json!({}), StatusCode::BAD_REQUEST),
        (json!({"agentIds": []}), StatusCode::BAD_REQUEST),
        (json!({"agentIds": "x"}), StatusCode::BAD_REQUEST),
        (json!({"agentIds": ["not-a-guid"]}), StatusCode::BAD_REQUEST),
        (
            json!({"agentIds": [w.agent], "extra": 1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"agentIds": (0..61).map(|i| format!("8e1f2c3d-0000-4000-8000-{i:012}")).collect::<Vec<_>>()}),
            StatusCode::BAD_REQUEST,
        ),
        // A person is not an agent; an unknown id is nothing: all or nothing.
        (json!({"agentIds": [w.agent, human]}), StatusCode::NOT_FOUND),
        (
            json!({"agentIds": [w.agent, "8e1f2c3d-0000-4000-8000-000000000001"]}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (body, status) in cases {
        let reply = app
            .send(
                Method::POST,
                &format!("{RISKY}/confirmCompromised"),
                &app.admin,
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        reply.error_code();
    }
    assert_eq!(app.audit_count().await, audits);
    agent_token(&app, &w).await;
    assert!(member_ids(&app, &w.group).await.contains(&w.agent));
}

async fn only_an_administrator_decides_and_others_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let own_token = agent_token(&app, &w).await;
    let (_, sponsor) = {
        // The sponsor signs in (created by the fleet with the harness password).
        let upn = "samsponsor@example.org";
        let reply = app.password_token(upn, crate::harness::PASSWORD).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        ((), reply.body["access_token"].as_str().unwrap().to_owned())
    };
    let catalog = app
        .created(
            &app.admin,
            &format!("{EM}/catalogs"),
            json!({"displayName": "Owned"}),
        )
        .await;
    let (owner, owner_token) = app.user_token("Olive Owner").await;
    let role = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/entitlementManagement/roleAssignments",
            &app.admin,
            json!({"principalId": owner, "roleDefinitionId": "ae79f266-94d4-4dab-b730-feca7e132178", "appScopeId": format!("/AccessPackageCatalog/{catalog}")}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let audits = app.audit_count().await;
    for token in [&owner_token, &own_token, &sponsor] {
        for action in ["confirmCompromised", "confirmSafe", "dismiss"] {
            let reply = act(&app, token, action, &[&w.agent]).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{action}: {}",
                reply.body
            );
            assert_eq!(reply.error_code(), "accessDenied");
        }
        assert_eq!(app.get(RISKY, token).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.audit_count().await, audits);
    assert_eq!(self_read(&app, &own_token, &w.agent).await, StatusCode::OK);
    assert!(member_ids(&app, &w.group).await.contains(&w.agent));
    let reply = act(&app, &app.admin, "confirmCompromised", &[&w.agent]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    // What a caller may not read is indistinguishable from what has no risk.
    for token in [&owner_token, &sponsor] {
        assert_eq!(
            app.get(&format!("{RISKY}/{}", w.agent), token).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

async fn an_agent_user_is_confirmed_compromised_as_a_risky_agent_user(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let created = app
        .send(
            Method::POST,
            "/v1.0/users/microsoft.graph.agentUser",
            &app.admin,
            json!({
                "displayName": "ops-agent user", "userPrincipalName": "ops-agent@example.org",
                "mailNickname": "ops-agent", "accountEnabled": true, "identityParentId": w.agent,
                "sponsors@odata.bind": [crate::agents::user_url(&w.sponsor)],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let agent_user = created.id();
    let reply = act(&app, &app.admin, "confirmCompromised", &[&agent_user]).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let read = app.get(&format!("{RISKY}/{agent_user}"), &app.admin).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["@odata.type"], "#microsoft.graph.riskyAgentUser");
    assert_eq!(read.body["identityType"], "agentUser");
    let only_users = app
        .get(
            &format!("{RISKY}?$filter=identityType%20eq%20'agentUser'"),
            &app.admin,
        )
        .await;
    assert_eq!(only_users.body["value"].as_array().unwrap().len(), 1);
    let events = app.store.outbox_events(10_000).await.unwrap();
    let event = events
        .iter()
        .find(|e| e.event_type == "agent.compromised")
        .unwrap();
    assert_eq!(event.data["identityType"], "agentUser");
    assert_eq!(event.recipients[0].id, w.sponsor);
    // The agent identity it hangs off is not touched: its own token still works.
    let token = agent_token(&app, &w).await;
    assert_eq!(self_read(&app, &token, &w.agent).await, StatusCode::OK);
}

async fn two_concurrent_confirmations_record_one_change(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let audits = app.audit_count().await;
    let ids = [w.agent.as_str()];
    let (a, b) = tokio::join!(
        act(&app, &app.admin, "confirmCompromised", &ids),
        act(&app, &app.admin, "confirmCompromised", &ids),
    );
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    assert_eq!(b.status, StatusCode::NO_CONTENT, "{}", b.body);
    // The removal and one confirmation, one event.
    assert_eq!(app.audit_count().await, audits + 2);
    let events = app.store.outbox_events(10_000).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "agent.compromised")
            .count(),
        1
    );
}

crate::on_both_backends!(
    two_concurrent_confirmations_record_one_change,
    an_agent_user_is_confirmed_compromised_as_a_risky_agent_user,
    compromise_ends_access_refuses_tokens_and_notifies_sponsors,
    confirm_safe_restores_sign_in_but_not_the_assignments,
    a_compromised_agent_gets_no_new_access_until_confirmed_safe,
    dismiss_restores_sign_in_and_only_decided_agents_are_listed,
    bad_input_is_refused_and_changes_nothing,
    only_an_administrator_decides_and_others_change_nothing,
);

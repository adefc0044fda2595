//! Lifecycle policies for agent identities (issue 19, part K; DESIGN section 17): the last token
//! time (`signInActivity`), policies, each agent's lifecycle state, `attest`, notices and
//! enforcement through the job queue, with the clock moved by hand.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_store::Backend;

use writ_domain::store::AuditStore;

use crate::agents::{create_agent, fleet, user_url};
use crate::assignments::{member_ids, run_jobs};
use crate::harness::{PASSWORD, TestApp, app, nickname};

const GRAPH_SCOPE: &str = "https%3A%2F%2Fgraph.microsoft.com%2F.default";
const POLICIES: &str = "/v1.0/identityGovernance/lifecycleWorkflows/lifecyclePolicies";
const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const AGENT_POLICY: &str = "#microsoft.graph.identityGovernance.agentIdentityLifecyclePolicy";
const DISABLE: &str = "#microsoft.graph.identityGovernance.disableOnlyEnforcementAction";

fn attestation_rule(days: i32) -> Value {
    json!({"@odata.type": "#microsoft.graph.identityGovernance.periodicAttestationRule", "attestationIntervalInDays": days})
}

fn inactivity_rule(days: i32) -> Value {
    json!({"@odata.type": "#microsoft.graph.identityGovernance.inactivityRule", "lastActivityThresholdInDays": days})
}

fn sponsor_rule(count: i32) -> Value {
    json!({"@odata.type": "#microsoft.graph.identityGovernance.sponsorPresenceRule", "minimumSponsorCount": count})
}

fn policy_body(name: &str, grace: i32, rules: Vec<Value>) -> Value {
    json!({
        "@odata.type": AGENT_POLICY,
        "displayName": name,
        "gracePeriodInDays": grace,
        "enforcementAction": {"@odata.type": DISABLE},
        "rules": rules,
    })
}

async fn create_policy(app: &TestApp, body: Value) -> String {
    app.created(&app.admin, POLICIES, body).await
}

/// A token of a user made with `create_user(name)` (which sets the test password).
async fn token_of(app: &TestApp, name: &str) -> String {
    let reply = app
        .password_token(&format!("{}@example.org", nickname(name)), PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

async fn lifecycle(app: &TestApp, agent: &str) -> Value {
    let reply = app
        .get(
            &format!("/v1.0/servicePrincipals/{agent}/lifecycle?$expand=effectiveGoverningPolicy"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn issue_codes(lifecycle: &Value) -> Vec<String> {
    lifecycle["complianceIssues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["issueCode"].as_str().unwrap().to_owned())
        .collect()
}

async fn enabled(app: &TestApp, agent: &str) -> bool {
    app.get(&format!("/v1.0/servicePrincipals/{agent}"), &app.admin)
        .await
        .body["accountEnabled"]
        .as_bool()
        .unwrap()
}

/// The events of this type about this agent, with their recipients' ids.
async fn events_about(app: &TestApp, event_type: &str, agent: &str) -> Vec<Vec<String>> {
    app.store
        .outbox_events(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type && e.data["targetId"] == agent)
        .map(|e| e.recipients.into_iter().map(|r| r.id).collect())
        .collect()
}

async fn audits_named(app: &TestApp, activity: &str, target: &str) -> usize {
    app.store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.activity_display_name == activity && r.target_resources.iter().any(|t| t.id == target)
        })
        .count()
}

/// Sets the clock, takes a new administrator token (the old one may have expired) and runs
/// the due jobs (the sweeps among them).
async fn move_to(app: &mut TestApp, at: time::OffsetDateTime) {
    app.clock.set(at);
    app.refresh_admin().await;
    run_jobs(app).await;
}

/// Moves the clock by whole days (see [`move_to`]).
async fn days_later(app: &mut TestApp, days: i64) {
    let at = app.clock.now() + Duration::days(days);
    move_to(app, at).await;
}

/// A group and a package of its membership, assigned (delivered) to the agent.
async fn assign_membership(app: &TestApp, agent: &str) -> String {
    let group = app.admin_assigns_membership(agent, "Lifecycle").await.group;
    run_jobs(app).await;
    assert!(member_ids(app, &group).await.contains(&agent.to_owned()));
    group
}

/// An agent's appId and a new secret of it.
async fn credentials(app: &TestApp, agent: &str) -> (String, String) {
    let secret = app.add_secret(agent).await;
    let read = app
        .get(&format!("/v1.0/servicePrincipals/{agent}"), &app.admin)
        .await;
    (read.body["appId"].as_str().unwrap().to_owned(), secret)
}

async fn token_reply(app: &TestApp, (app_id, secret): &(String, String)) -> crate::harness::Reply {
    app.token_request(&format!(
        "grant_type=client_credentials&client_id={app_id}&client_secret={secret}&scope={GRAPH_SCOPE}"
    ))
    .await
}

async fn sign_in_activity(app: &TestApp, path: &str, token: &str) -> crate::harness::Reply {
    app.get(&format!("{path}?$select=id,signInActivity"), token)
        .await
}

/// Whole seconds, so instants read back are the clock's.
fn whole_second(app: &TestApp) {
    app.clock
        .set(app.clock.now().replace_nanosecond(0).unwrap());
}

async fn last_token_time_is_exact_to_the_second(backend: Backend) {
    let app = app(backend).await;
    whole_second(&app);
    let fleet = fleet(&app).await;
    let agent = create_agent(&app, &fleet, "ops-agent", &[&fleet.sponsor])
        .await
        .id();
    let agent_path = format!("/v1.0/servicePrincipals/{agent}");
    let creds = credentials(&app, &agent).await;

    // Not selected: not returned (Graph returns it only when selected).
    let plain = app.get(&agent_path, &app.admin).await;
    assert!(plain.body.get("signInActivity").is_none(), "{}", plain.body);
    let never = sign_in_activity(&app, &agent_path, &app.admin).await;
    assert_eq!(never.status, StatusCode::OK, "{}", never.body);
    assert_eq!(
        never.body["signInActivity"]["lastSuccessfulSignInDateTime"],
        Value::Null
    );
    assert!(never.body.get("displayName").is_none(), "{}", never.body);

    app.clock.advance(Duration::seconds(37));
    let issued_at = app.clock.now();
    let reply = token_reply(&app, &creds).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let read = sign_in_activity(&app, &agent_path, &app.admin).await;
    let expected = writ_server::wire::instant(issued_at);
    for field in [
        "lastSignInDateTime",
        "lastNonInteractiveSignInDateTime",
        "lastSuccessfulSignInDateTime",
    ] {
        assert_eq!(
            read.body["signInActivity"][field],
            expected.as_str(),
            "{field}"
        );
    }

    // A refused token request records nothing.
    app.clock.advance(Duration::seconds(5));
    let refused = token_reply(&app, &(creds.0.clone(), "wrong".into())).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let read = sign_in_activity(&app, &agent_path, &app.admin).await;
    assert_eq!(
        read.body["signInActivity"]["lastSuccessfulSignInDateTime"],
        expected.as_str()
    );

    // A user's password grant is recorded on the user.
    let (user, user_token) = app.user_token("Una User").await;
    let user_read = sign_in_activity(&app, &format!("/v1.0/users/{user}"), &app.admin).await;
    assert_eq!(
        user_read.body["signInActivity"]["lastSuccessfulSignInDateTime"],
        writ_server::wire::instant(app.clock.now()).as_str(),
        "{}",
        user_read.body
    );

    // Someone without a reader role may read the agent but not its sign-in activity.
    let denied = sign_in_activity(&app, &agent_path, &user_token).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.body);
}

async fn policies_are_managed_in_graph_shapes_with_bounded_validation(backend: Backend) {
    let app = app(backend).await;
    whole_second(&app);
    let mut second = policy_body("Second", 3, vec![inactivity_rule(30)]);
    second["priority"] = json!(5);
    second["notificationSchedule"] = json!({"offsetsAfterNonComplianceInDays": [2, 1], "additionalFallbackRecipients": ["ops@example.org"]});
    let second = create_policy(&app, second).await;
    let mut first = policy_body("First", 7, vec![attestation_rule(90), sponsor_rule(2)]);
    first["priority"] = json!(1);
    first["enforcementAction"] = json!({"@odata.type": "#microsoft.graph.identityGovernance.disableThenDeleteEnforcementAction", "deletionGracePeriodInDays": 30});
    let first = create_policy(&app, first).await;

    let read = app.get(&format!("{POLICIES}/{first}"), &app.admin).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["@odata.type"], AGENT_POLICY);
    assert_eq!(read.body["displayName"], "First");
    assert_eq!(read.body["isEnabled"], true);
    assert_eq!(read.body["gracePeriodInDays"], 7);
    assert_eq!(
        read.body["enforcementAction"]["deletionGracePeriodInDays"],
        30
    );
    assert_eq!(
        read.body["rules"][0]["@odata.type"],
        "#microsoft.graph.identityGovernance.periodicAttestationRule"
    );
    assert_eq!(read.body["rules"][0]["id"], "periodicAttestationRule");
    assert_eq!(read.body["rules"][1]["minimumSponsorCount"], 2);
    let now = writ_server::wire::instant(app.clock.now());
    assert_eq!(read.body["createdDateTime"], now.as_str());

    // Listed governing one first (lowest priority number).
    let listed = app.get(POLICIES, &app.admin).await;
    let ids: Vec<&str> = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    let schedule = &listed.body["value"][1]["notificationSchedule"];
    assert_eq!(schedule["offsetsAfterNonComplianceInDays"], json!([1, 2]));

    // PATCH replaces what it names; a PATCH that changes nothing records nothing.
    app.clock.advance(Duration::seconds(3));
    let audits = app.audit_count().await;
    let patched = app
        .send(
            Method::PATCH,
            &format!("{POLICIES}/{second}"),
            &app.admin,
            json!({"priority": 0, "isEnabled": false}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let read = app.get(&format!("{POLICIES}/{second}"), &app.admin).await;
    assert_eq!(read.body["priority"], 0);
    assert_eq!(read.body["isEnabled"], false);
    assert_eq!(
        read.body["lastModifiedDateTime"],
        writ_server::wire::instant(app.clock.now()).as_str()
    );
    assert_eq!(read.body["rules"][0]["lastActivityThresholdInDays"], 30);
    assert_eq!(app.audit_count().await, audits + 1);
    let same = app
        .send(
            Method::PATCH,
            &format!("{POLICIES}/{second}"),
            &app.admin,
            json!({"priority": 0}),
        )
        .await;
    assert_eq!(same.status, StatusCode::NO_CONTENT);
    assert_eq!(app.audit_count().await, audits + 1);

    // Bad input: 400 in Graph's envelope, nothing written.
    let cases: Vec<(&str, Value)> = vec![
        ("no rules", policy_body("x", 1, vec![])),
        (
            "zero interval",
            policy_body("x", 1, vec![attestation_rule(0)]),
        ),
        (
            "interval too long",
            policy_body("x", 1, vec![attestation_rule(3651)]),
        ),
        (
            "interval overflow",
            policy_body(
                "x",
                1,
                vec![
                    json!({"@odata.type": "#microsoft.graph.identityGovernance.periodicAttestationRule", "attestationIntervalInDays": 4294967296_i64}),
                ],
            ),
        ),
        (
            "negative grace",
            policy_body("x", -1, vec![attestation_rule(5)]),
        ),
        (
            "two rules of a type",
            policy_body("x", 1, vec![inactivity_rule(5), inactivity_rule(6)]),
        ),
        (
            "too many sponsors",
            policy_body("x", 1, vec![sponsor_rule(101)]),
        ),
        (
            "unknown rule type",
            policy_body(
                "x",
                1,
                vec![
                    json!({"@odata.type": "#microsoft.graph.identityGovernance.accessPackageAssignmentRequiredRule"}),
                ],
            ),
        ),
        ("empty name", policy_body(" ", 1, vec![attestation_rule(5)])),
        ("read-only id", {
            let mut b = policy_body("x", 1, vec![attestation_rule(5)]);
            b["id"] = json!("abc");
            b
        }),
        ("unknown property", {
            let mut b = policy_body("x", 1, vec![attestation_rule(5)]);
            b["scope"] = json!("all");
            b
        }),
        ("other type", {
            let mut b = policy_body("x", 1, vec![attestation_rule(5)]);
            b["@odata.type"] = json!("#microsoft.graph.identityGovernance.userLifecyclePolicy");
            b
        }),
        ("no enforcement", {
            let mut b = policy_body("x", 1, vec![attestation_rule(5)]);
            b.as_object_mut().unwrap().remove("enforcementAction");
            b
        }),
        ("bad recipient", {
            let mut b = policy_body("x", 1, vec![attestation_rule(5)]);
            b["notificationSchedule"] = json!({"additionalFallbackRecipients": ["not an address"]});
            b
        }),
    ];
    let audits = app.audit_count().await;
    for (case, body) in cases {
        let reply = app.send(Method::POST, POLICIES, &app.admin, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "invalidRequest", "{case}");
        assert!(
            reply.body["error"]["innerError"]["request-id"].is_string(),
            "{case}"
        );
    }
    let bad_patch = app
        .send(
            Method::PATCH,
            &format!("{POLICIES}/{first}"),
            &app.admin,
            json!({"gracePeriodInDays": 99999}),
        )
        .await;
    assert_eq!(
        bad_patch.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_patch.body
    );
    assert_eq!(app.audit_count().await, audits);

    // At most ten policies.
    for i in 2..10 {
        create_policy(
            &app,
            policy_body(&format!("P{i}"), 1, vec![attestation_rule(5)]),
        )
        .await;
    }
    let eleventh = app
        .send(
            Method::POST,
            POLICIES,
            &app.admin,
            policy_body("P11", 1, vec![attestation_rule(5)]),
        )
        .await;
    assert_eq!(
        eleventh.status,
        StatusCode::BAD_REQUEST,
        "{}",
        eleventh.body
    );

    // A Global Reader reads and changes nothing; an ordinary user sees no policy.
    let (reader, _) = app.user_token("Greta Reader").await;
    let granted = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": reader, "roleDefinitionId": "f2ef992c-3afb-46b9-b7cf-a126ee74c451", "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{}", granted.body);
    let reader = token_of(&app, "Greta Reader").await;
    assert_eq!(app.get(POLICIES, &reader).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("{POLICIES}/{first}"), &reader)
            .await
            .status,
        StatusCode::OK
    );
    let audits = app.audit_count().await;
    for reply in [
        app.send(
            Method::POST,
            POLICIES,
            &reader,
            policy_body("R", 1, vec![attestation_rule(5)]),
        )
        .await,
        app.send(
            Method::PATCH,
            &format!("{POLICIES}/{first}"),
            &reader,
            json!({"priority": 9}),
        )
        .await,
        app.delete(&format!("{POLICIES}/{first}"), &reader).await,
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    }
    assert_eq!(app.audit_count().await, audits);
    let (_, ordinary) = app.user_token("Otto Ordinary").await;
    assert_eq!(
        app.get(&format!("{POLICIES}/{first}"), &ordinary)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(POLICIES, &ordinary).await.status,
        StatusCode::FORBIDDEN
    );

    let deleted = app
        .delete(&format!("{POLICIES}/{second}"), &app.admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let gone = app.get(&format!("{POLICIES}/{second}"), &app.admin).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.delete(&format!("{POLICIES}/{second}"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn an_unattested_agent_is_notified_then_disabled_and_an_attested_one_stays_enabled(
    backend: Backend,
) {
    let mut app = app(backend).await;
    whole_second(&app);
    let fleet = fleet(&app).await;
    let neglected = create_agent(&app, &fleet, "neglected", &[&fleet.sponsor])
        .await
        .id();
    let attested = create_agent(&app, &fleet, "attested", &[&fleet.sponsor])
        .await
        .id();
    let creds = credentials(&app, &neglected).await;
    let group = assign_membership(&app, &neglected).await;
    let t0 = app.clock.now();
    // Re-confirm every 3 days, 1 day of grace.
    let policy = create_policy(
        &app,
        policy_body("Re-confirm", 1, vec![attestation_rule(3)]),
    )
    .await;
    run_jobs(&app).await;
    assert!(issue_codes(&lifecycle(&app, &neglected).await).is_empty());

    // Day 2: the sponsor attests one agent.
    days_later(&mut app, 2).await;
    let sponsor = token_of(&app, "Sam Sponsor").await;
    let attest = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{attested}/attest"),
            &sponsor,
            json!({}),
        )
        .await;
    assert_eq!(attest.status, StatusCode::NO_CONTENT, "{}", attest.body);
    let state = lifecycle(&app, &attested).await;
    assert_eq!(
        state["lastAttestationDateTime"],
        writ_server::wire::instant(app.clock.now()).as_str()
    );
    assert_eq!(
        audits_named(&app, "Attest agent identity", &attested).await,
        1
    );
    // An agent cannot attest anything; a user who is no sponsor cannot either.
    let (_, stranger) = app.user_token("Stan Stranger").await;
    let refused = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{neglected}/attest"),
            &stranger,
            json!({}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let agent_token = token_reply(&app, &creds).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{neglected}/attest"),
            &agent_token,
            json!({}),
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    let other = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{attested}/attest"),
            &agent_token,
            json!({}),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "{}", other.body);

    // Day 3, to the second: the neglected agent's attestation is overdue; its sponsor is told.
    move_to(&mut app, t0 + Duration::days(3) - Duration::seconds(1)).await;
    assert!(
        events_about(&app, "agent.lifecycleNonCompliant", &neglected)
            .await
            .is_empty()
    );
    move_to(&mut app, t0 + Duration::days(3)).await;
    let state = lifecycle(&app, &neglected).await;
    assert_eq!(issue_codes(&state), ["attestationOverdue"], "{state}");
    assert_eq!(
        state["complianceIssues"][0]["@odata.type"],
        "#microsoft.graph.identityGovernance.attestationComplianceIssue"
    );
    assert_eq!(
        state["complianceIssues"][0]["governingPolicyReferenceId"],
        policy.as_str()
    );
    assert_eq!(state["effectiveGoverningPolicy"]["id"], policy.as_str());
    assert_eq!(state["lastAttestationDateTime"], Value::Null);
    let notices = events_about(&app, "agent.lifecycleNonCompliant", &neglected).await;
    assert_eq!(notices, vec![vec![fleet.sponsor.clone()]]);
    assert!(enabled(&app, &neglected).await);
    assert_eq!(token_reply(&app, &creds).await.status, StatusCode::OK);

    // Day 4, the end of the grace period: disabled at that instant, access ended and audited.
    move_to(&mut app, t0 + Duration::days(4)).await;
    assert!(!enabled(&app, &neglected).await);
    let refused = token_reply(&app, &creds).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(
        refused.body["error"], "unauthorized_client",
        "{}",
        refused.body
    );
    assert!(!member_ids(&app, &group).await.contains(&neglected));
    assert_eq!(
        audits_named(
            &app,
            "Disable agent identity by lifecycle policy",
            &neglected
        )
        .await,
        1
    );
    let assignments = app
        .get(
            &format!("{EM}/assignments?$filter=target/objectId%20eq%20'{neglected}'"),
            &app.admin,
        )
        .await;
    assert_eq!(
        assignments.body["value"][0]["state"], "expired",
        "{}",
        assignments.body
    );
    assert_eq!(
        events_about(&app, "agent.lifecycleEnforced", &neglected)
            .await
            .len(),
        1
    );
    // The attested agent (due on day 5) stays enabled and compliant.
    assert!(enabled(&app, &attested).await);
    assert!(issue_codes(&lifecycle(&app, &attested).await).is_empty());
    assert!(
        events_about(&app, "agent.lifecycleNonCompliant", &attested)
            .await
            .is_empty()
    );
    // Running again changes nothing.
    run_jobs(&app).await;
    assert_eq!(
        audits_named(
            &app,
            "Disable agent identity by lifecycle policy",
            &neglected
        )
        .await,
        1
    );
}

async fn inactivity_is_exact_and_a_token_keeps_an_agent_compliant(backend: Backend) {
    let mut app = app(backend).await;
    whole_second(&app);
    let fleet = fleet(&app).await;
    let active = create_agent(&app, &fleet, "active", &[&fleet.sponsor])
        .await
        .id();
    let idle = create_agent(&app, &fleet, "idle", &[&fleet.sponsor])
        .await
        .id();
    let active_creds = credentials(&app, &active).await;
    let t0 = app.clock.now();
    create_policy(&app, policy_body("Inactivity", 0, vec![inactivity_rule(2)])).await;
    run_jobs(&app).await;

    app.clock.set(t0 + Duration::days(1));
    assert_eq!(
        token_reply(&app, &active_creds).await.status,
        StatusCode::OK
    );
    move_to(&mut app, t0 + Duration::days(2) - Duration::seconds(1)).await;
    assert!(issue_codes(&lifecycle(&app, &idle).await).is_empty());
    assert!(enabled(&app, &idle).await);

    // At the threshold, to the second, with no grace: flagged, notified and disabled.
    move_to(&mut app, t0 + Duration::days(2)).await;
    let state = lifecycle(&app, &idle).await;
    assert_eq!(issue_codes(&state), ["inactive"], "{state}");
    assert!(!enabled(&app, &idle).await);
    assert_eq!(
        events_about(&app, "agent.lifecycleNonCompliant", &idle)
            .await
            .len(),
        1
    );
    // The agent that took a token on day 1 is compliant until day 3.
    assert!(issue_codes(&lifecycle(&app, &active).await).is_empty());
    assert!(enabled(&app, &active).await);
    move_to(&mut app, t0 + Duration::days(3) - Duration::seconds(1)).await;
    assert!(enabled(&app, &active).await);
    move_to(&mut app, t0 + Duration::days(3)).await;
    assert!(!enabled(&app, &active).await);
}

async fn removing_the_second_sponsor_flags_and_notifies(backend: Backend) {
    let mut app = app(backend).await;
    whole_second(&app);
    let fleet = fleet(&app).await;
    let second = app.create_user("Cora Cosponsor").await;
    let agent = create_agent(&app, &fleet, "paired", &[&fleet.sponsor, &second])
        .await
        .id();
    let mut body = policy_body("Two sponsors", 5, vec![sponsor_rule(2)]);
    body["notificationSchedule"] = json!({"offsetsAfterNonComplianceInDays": [2]});
    create_policy(&app, body).await;
    run_jobs(&app).await;
    assert!(issue_codes(&lifecycle(&app, &agent).await).is_empty());

    let removed = app
        .delete(
            &format!("/v1.0/servicePrincipals/{agent}/sponsors/{second}/$ref"),
            &app.admin,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let state = lifecycle(&app, &agent).await;
    assert_eq!(issue_codes(&state), ["insufficientSponsors"], "{state}");
    run_jobs(&app).await;
    let notices = events_about(&app, "agent.lifecycleNonCompliant", &agent).await;
    assert_eq!(notices, vec![vec![fleet.sponsor.clone()]]);
    // A reminder two days in, enforcement five days in.
    days_later(&mut app, 2).await;
    assert_eq!(
        events_about(&app, "agent.lifecycleEnforcementReminder", &agent)
            .await
            .len(),
        1
    );
    assert!(enabled(&app, &agent).await);
    // A sponsor added back: compliant again, nothing enforced.
    let added = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{agent}/sponsors/$ref"),
            &app.admin,
            json!({"@odata.id": user_url(&second)}),
        )
        .await;
    assert_eq!(added.status, StatusCode::NO_CONTENT, "{}", added.body);
    days_later(&mut app, 4).await;
    assert!(enabled(&app, &agent).await);
    assert!(issue_codes(&lifecycle(&app, &agent).await).is_empty());
}

async fn enforcement_run_twice_changes_once(backend: Backend) {
    let mut app = app(backend).await;
    whole_second(&app);
    let fleet = fleet(&app).await;
    let agent = create_agent(&app, &fleet, "twice", &[&fleet.sponsor])
        .await
        .id();
    create_policy(
        &app,
        policy_body("Re-confirm", 0, vec![attestation_rule(1)]),
    )
    .await;
    run_jobs(&app).await;
    app.clock.advance(Duration::days(1));
    app.refresh_admin().await;
    let directory = &app.state.directory;
    let now = app.clock.now();
    let (a, b) = tokio::join!(
        writ_domain::directory::lifecycle_policies::sweep(directory, now),
        writ_domain::directory::lifecycle_policies::sweep(directory, now),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.disabled + b.disabled, 1, "{a:?} {b:?}");
    let again = writ_domain::directory::lifecycle_policies::sweep(directory, now)
        .await
        .unwrap();
    assert_eq!(again.disabled, 0);
    run_jobs(&app).await;
    assert!(!enabled(&app, &agent).await);
    assert_eq!(
        audits_named(&app, "Disable agent identity by lifecycle policy", &agent).await,
        1
    );
    assert_eq!(
        events_about(&app, "agent.lifecycleEnforced", &agent)
            .await
            .len(),
        1
    );
    assert_eq!(
        events_about(&app, "agent.lifecycleNonCompliant", &agent)
            .await
            .len(),
        1
    );
}

async fn disable_then_delete_deletes_after_its_own_grace(backend: Backend) {
    let mut app = app(backend).await;
    whole_second(&app);
    let fleet = fleet(&app).await;
    let agent = create_agent(&app, &fleet, "doomed", &[&fleet.sponsor])
        .await
        .id();
    let t0 = app.clock.now();
    let mut body = policy_body("Re-confirm or go", 0, vec![attestation_rule(1)]);
    body["enforcementAction"] = json!({"@odata.type": "#microsoft.graph.identityGovernance.disableThenDeleteEnforcementAction", "deletionGracePeriodInDays": 2});
    create_policy(&app, body).await;
    move_to(&mut app, t0 + Duration::days(1)).await;
    assert!(!enabled(&app, &agent).await);
    move_to(&mut app, t0 + Duration::days(3) - Duration::seconds(1)).await;
    let still = app
        .get(&format!("/v1.0/servicePrincipals/{agent}"), &app.admin)
        .await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.body);
    move_to(&mut app, t0 + Duration::days(3)).await;
    let gone = app
        .get(&format!("/v1.0/servicePrincipals/{agent}"), &app.admin)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    let deletions: Vec<_> = app
        .store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.activity_display_name == "Delete agent identity"
                && r.target_resources.iter().any(|t| t.id == agent)
        })
        .collect();
    assert_eq!(deletions.len(), 1);
    assert_eq!(deletions[0].initiated_by.kind, "system");
    let enforced = app
        .store
        .outbox_events(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.event_type == "agent.lifecycleEnforced" && e.data["targetId"] == agent.as_str()
        })
        .count();
    assert_eq!(enforced, 2);
    run_jobs(&app).await;
}

/// Sponsor succession meets the policy: a sponsor disabled with no manager to take over leaves
/// the agent sponsorless, and the policy's fallback recipients hear of it at once.
async fn a_sponsor_leaving_without_heir_notifies_the_fallback_recipients(backend: Backend) {
    let app = app(backend).await;
    whole_second(&app);
    let fleet = fleet(&app).await;
    let lone = app.create_user("Lone Sponsor").await;
    let agent = create_agent(&app, &fleet, "orphaned", &[&lone]).await.id();
    let mut body = policy_body("Sponsored", 5, vec![sponsor_rule(1)]);
    body["notificationSchedule"] =
        json!({"additionalFallbackRecipients": ["governance@example.org"]});
    create_policy(&app, body).await;
    run_jobs(&app).await;
    assert!(issue_codes(&lifecycle(&app, &agent).await).is_empty());

    let disabled = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{lone}"),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT, "{}", disabled.body);
    assert_eq!(
        events_about(&app, "agent.sponsorless", &agent).await.len(),
        1
    );
    run_jobs(&app).await;
    let notices = events_about(&app, "agent.lifecycleNonCompliant", &agent).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    let recipients = app
        .store
        .outbox_events(10_000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event_type == "agent.lifecycleNonCompliant" && e.data["targetId"] == agent)
        .unwrap()
        .recipients;
    assert!(
        recipients
            .iter()
            .any(|r| r.mail.as_deref() == Some("governance@example.org")),
        "{recipients:?}"
    );
}

crate::on_both_backends!(
    last_token_time_is_exact_to_the_second,
    disable_then_delete_deletes_after_its_own_grace,
    policies_are_managed_in_graph_shapes_with_bounded_validation,
    an_unattested_agent_is_notified_then_disabled_and_an_attested_one_stays_enabled,
    inactivity_is_exact_and_a_token_keeps_an_agent_compliant,
    removing_the_second_sponsor_flags_and_notifies,
    enforcement_run_twice_changes_once,
    a_sponsor_leaving_without_heir_notifies_the_fallback_recipients,
);

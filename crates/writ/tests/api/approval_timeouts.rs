//! Approval escalation and timeout as a client sees them: the request's `status` becomes
//! `PendingApprovalEscalated` (its `state` still `pendingApproval`) after the stage's
//! `durationBeforeEscalation`, the escalation approver then finds it through
//! `filterByCurrentUser(on='approver')` (requests and approvals) with `assignedToMe`, and after
//! `durationBeforeAutomaticDenial` the request is `denied` with status `TimedOut`, its stage
//! `Expired`, and a late decision is `409`.

use axum::http::{Method, StatusCode};
use serde_json::json;
use time::Duration;
use writ_domain::clock::Clock;
use writ_store::Backend;

use crate::agents::{agent_token, fleet, user_url};
use crate::harness::{TestApp, app, id, post};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";

/// Runs every job due at the clock's instant.
async fn run_jobs(app: &TestApp) -> u32 {
    app.run_jobs_cleanly().await
}

async fn login(app: &TestApp, nickname: &str) -> String {
    let reply = app
        .password_token(&format!("{nickname}@example.org"), "a long passphrase 1")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

/// The ids in a collection reply.
fn ids(reply: &crate::harness::Reply) -> Vec<String> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

async fn escalation_and_timeout_as_a_client_sees_them(backend: Backend) {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let erin = app.create_user("Erin Escalation").await;
    let agent = id(&post(
        &app,
        &app.admin,
        "/v1.0/servicePrincipals",
        json!({
            "@odata.type": "#microsoft.graph.agentIdentity",
            "displayName": "triage-agent",
            "agentIdentityBlueprintId": fleet.blueprint_app_id,
            "sponsors@odata.bind": [user_url(&fleet.sponsor)],
        }),
    )
    .await);
    let catalog = id(&post(
        &app,
        &app.admin,
        &format!("{EM}/catalogs"),
        json!({"displayName": "Agents"}),
    )
    .await);
    let package = id(&post(
        &app,
        &app.admin,
        &format!("{EM}/accessPackages"),
        json!({"displayName": "Triage", "catalog": {"id": catalog}}),
    )
    .await);
    let policy = id(&post(
        &app,
        &app.admin,
        &format!("{EM}/assignmentPolicies"),
        json!({
            "displayName": "Agents, sponsor approval", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "requestorSettings": {"enableTargetsToSelfAddAccess": true},
            "requestApprovalSettings": {
                "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false,
                "stages": [{
                    "durationBeforeAutomaticDenial": "PT10M",
                    "isEscalationEnabled": true, "durationBeforeEscalation": "PT5M",
                    "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
                    "escalationApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": erin}],
                }]
            },
            "accessPackage": {"id": package},
        }),
    )
    .await);
    let (agent_token, _) = agent_token(&app, &agent, "https://graph.microsoft.com/.default").await;
    let request = id(&post(
        &app,
        &agent_token,
        &format!("{EM}/assignmentRequests"),
        json!({
            "requestType": "userAdd",
            "assignment": {"assignmentPolicyId": policy, "accessPackageId": package},
        }),
    )
    .await);
    let started = app.clock.now();
    assert_eq!(run_jobs(&app).await, 1);
    let erin_token = login(&app, "erinescalation").await;
    let sam_token = login(&app, "samsponsor").await;
    let read = || async {
        let reply = app
            .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    };
    let awaiting = |token: String| {
        let app = &app;
        async move {
            ids(&app
                .get(
                    &format!("{EM}/assignmentRequests/filterByCurrentUser(on='approver')"),
                    &token,
                )
                .await)
        }
    };
    let body = read().await;
    assert_eq!(
        (&body["state"], &body["status"]),
        (&json!("pendingApproval"), &json!("PendingApproval"))
    );
    assert!(awaiting(erin_token.clone()).await.is_empty());
    assert_eq!(awaiting(sam_token.clone()).await, [request.as_str()]);

    // Five minutes undecided: escalated to Erin; Sam may still decide.
    app.clock.set(started + Duration::minutes(5));
    assert_eq!(run_jobs(&app).await, 1);
    let body = read().await;
    assert_eq!(
        (&body["state"], &body["status"]),
        (
            &json!("pendingApproval"),
            &json!("PendingApprovalEscalated")
        ),
        "{body}"
    );
    let filtered = app
        .get(
            &format!(
                "{EM}/assignmentRequests/filterByCurrentUser(on='approver')?$filter=state%20eq%20'pendingApproval'"
            ),
            &erin_token,
        )
        .await;
    assert_eq!(ids(&filtered), [request.as_str()], "{}", filtered.body);
    assert_eq!(
        filtered.body["value"][0]["status"],
        "PendingApprovalEscalated"
    );
    assert_eq!(awaiting(sam_token.clone()).await, [request.as_str()]);
    let approvals = app
        .get(
            &format!("{APPROVALS}/filterByCurrentUser(on='approver')"),
            &erin_token,
        )
        .await;
    assert_eq!(ids(&approvals), [request.as_str()]);
    let stage = &approvals.body["value"][0]["stages"][0];
    assert_eq!(stage["assignedToMe"], true, "{}", approvals.body);
    assert_eq!(stage["status"], "InProgress");
    let stage_id = id(stage);

    // Ten minutes undecided: denied, TimedOut; nobody is asked any more.
    app.clock.set(started + Duration::minutes(10));
    assert_eq!(run_jobs(&app).await, 1);
    let body = read().await;
    assert_eq!(
        (&body["state"], &body["status"]),
        (&json!("denied"), &json!("TimedOut")),
        "{body}"
    );
    assert!(body["completedDateTime"].is_string());
    let filtered = app
        .get(
            &format!("{EM}/assignmentRequests?$filter=state%20eq%20'denied'"),
            &app.admin,
        )
        .await;
    assert_eq!(ids(&filtered), [request.as_str()]);
    assert_eq!(filtered.body["value"][0]["status"], "TimedOut");
    assert!(awaiting(erin_token.clone()).await.is_empty());
    assert!(awaiting(sam_token.clone()).await.is_empty());
    let stage = app
        .get(
            &format!("{APPROVALS}/{request}/stages/{stage_id}"),
            &app.admin,
        )
        .await;
    assert_eq!(stage.status, StatusCode::OK, "{}", stage.body);
    assert_eq!(stage.body["status"], "Expired");
    assert_eq!(stage.body["reviewResult"], "NotReviewed");
    let late = app
        .send(
            Method::PATCH,
            &format!("{APPROVALS}/{request}/stages/{stage_id}"),
            &erin_token,
            json!({"reviewResult": "Approve", "justification": "late"}),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    let cancel = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests/{request}/cancel"),
            &agent_token,
            json!({}),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::CONFLICT, "{}", cancel.body);
}

crate::on_both_backends!(escalation_and_timeout_as_a_client_sees_them);

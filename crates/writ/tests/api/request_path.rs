//! The request path in few statements (issue 20 item 2): an agent's `userAdd` under a policy
//! without approval runs at most [`USER_ADD_STATEMENTS`] SQL statements on PostgreSQL (the
//! caller, the request's reads, its transaction), so a read added to the path cannot go
//! unnoticed; and the reads folded together keep their rules (an incompatible package or group
//! still refuses, an open request or a live assignment still refuses), on both backends.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet};
use crate::harness::{PUBLIC_URL, Reply, TestApp, app, id, post};
use crate::statements::Statements;

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

/// The most statements one `userAdd` by an agent may run on PostgreSQL (listed in
/// `docs/benchmarks.md`, "Issue 20 — the request path", and "Appends at the commit": the audit
/// record, its targets, the event and the job are one statement since, the incompatibilities are
/// read with the open request and the live assignment, and the response's callouts come from
/// the transaction that made them).
const USER_ADD_STATEMENTS: usize = 7;

/// A package in `catalog` with a policy that lets agents request it for themselves without
/// approval.
async fn package_with_policy(app: &TestApp, catalog: &str, name: &str) -> (String, String) {
    let package = id(&post(
        app,
        &app.admin,
        &format!("{EM}/accessPackages"),
        json!({"displayName": name, "catalog": {"id": catalog}}),
    )
    .await);
    let policy = id(&post(
        app,
        &app.admin,
        &format!("{EM}/assignmentPolicies"),
        json!({
            "displayName": "Agents, no approval", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "requestorSettings": {"enableTargetsToSelfAddAccess": true},
            "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false},
            "accessPackage": {"id": package},
        }),
    )
    .await);
    (package, policy)
}

/// An agent allowed to request a package for itself under a policy without approval.
struct Scene {
    app: TestApp,
    catalog: String,
    agent: String,
    agent_token: String,
    package: String,
    policy: String,
}

async fn scene(backend: Backend) -> Scene {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let agent = id(&create_agent(&app, &fleet, "busy-agent", &[&fleet.sponsor])
        .await
        .body);
    let catalog = id(&post(
        &app,
        &app.admin,
        &format!("{EM}/catalogs"),
        json!({"displayName": "Agents"}),
    )
    .await);
    let (package, policy) = package_with_policy(&app, &catalog, "Orders").await;
    let (agent_token, _) = agent_token(&app, &agent, "https://graph.microsoft.com/.default").await;
    Scene {
        app,
        catalog,
        agent,
        agent_token,
        package,
        policy,
    }
}

impl Scene {
    async fn request(&self) -> Reply {
        self.request_for(&self.package, &self.policy).await
    }

    async fn request_for(&self, package: &str, policy: &str) -> Reply {
        self.app
            .send(
                Method::POST,
                &format!("{EM}/assignmentRequests"),
                &self.agent_token,
                json!({
                    "requestType": "userAdd",
                    "assignment": {"assignmentPolicyId": policy, "accessPackageId": package},
                }),
            )
            .await
    }

    async fn run_jobs(&self) {
        self.app.run_jobs_cleanly().await;
    }
}

/// The statements one agent's `userAdd` runs, on PostgreSQL (`None` on SQLite).
async fn counted_request(scene: &Scene, backend: Backend) -> (Reply, Option<Vec<String>>) {
    let statements = Statements::record(backend);
    scene
        .app
        .get(
            &format!("/v1.0/servicePrincipals/{}", scene.agent),
            &scene.app.admin,
        )
        .await;
    statements.clear();
    let reply = scene.request().await;
    (reply, statements.finish())
}

async fn an_agents_user_add_runs_a_bounded_number_of_statements(backend: Backend) {
    let scene = scene(backend).await;
    let (reply, statements) = counted_request(&scene, backend).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["requestType"], "userAdd");
    if let Some(statements) = statements {
        for (i, s) in statements.iter().enumerate() {
            eprintln!("{:2}. {s}", i + 1);
        }
        assert!(!statements.is_empty(), "the log sees the statements");
        assert!(
            statements.len() <= USER_ADD_STATEMENTS,
            "{} statements for one userAdd (at most {USER_ADD_STATEMENTS})",
            statements.len()
        );
    }
    // Delivered, and a second request is refused while the assignment is live.
    scene.run_jobs().await;
    let again = scene.request().await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already has an assignment"),
        "{}",
        again.body
    );
}

/// The message of a `400` refusal.
fn refusal(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    reply.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Sends a reference change (`POST` of `@odata.id`, or `DELETE`), expecting `204`.
async fn reference(app: &TestApp, method: Method, path: &str, target: Option<String>) {
    let body = target.map_or(Value::Null, |t| json!({"@odata.id": t}));
    let reply = app.send(method, path, &app.admin, body).await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "{path}: {}",
        reply.body
    );
}

/// The checks now answered by one read each keep their rules: a package incompatible either
/// way with one the agent holds, or a group incompatible with it that the agent belongs to,
/// refuses the request, naming it; without them the request is accepted; then an open request
/// refuses a second one.
async fn folded_checks_keep_their_rules(backend: Backend) {
    let scene = scene(backend).await;
    let app = &scene.app;
    let first = scene.request().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    scene.run_jobs().await;
    let (other, other_policy) = package_with_policy(app, &scene.catalog, "Payments").await;
    let package_url = |id: &str| {
        format!(
            "https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/{id}"
        )
    };

    // "Payments" names "Orders" (held) as incompatible: refused.
    let outgoing = format!("{EM}/accessPackages/{other}/incompatibleAccessPackages");
    reference(
        app,
        Method::POST,
        &format!("{outgoing}/$ref"),
        Some(package_url(&scene.package)),
    )
    .await;
    let message = refusal(&scene.request_for(&other, &other_policy).await);
    assert!(
        message.contains("holds access package 'Orders'"),
        "{message}"
    );
    reference(
        app,
        Method::DELETE,
        &format!("{outgoing}/{}/$ref", scene.package),
        None,
    )
    .await;

    // "Orders" (held) names "Payments": refused the same way.
    let incoming = format!(
        "{EM}/accessPackages/{}/incompatibleAccessPackages",
        scene.package
    );
    reference(
        app,
        Method::POST,
        &format!("{incoming}/$ref"),
        Some(package_url(&other)),
    )
    .await;
    let message = refusal(&scene.request_for(&other, &other_policy).await);
    assert!(
        message.contains("holds access package 'Orders'"),
        "{message}"
    );
    reference(
        app,
        Method::DELETE,
        &format!("{incoming}/{other}/$ref"),
        None,
    )
    .await;

    // A group incompatible with "Payments" that the agent is a member of: refused.
    let group = app.create_group("Auditors").await;
    reference(
        app,
        Method::POST,
        &format!("/v1.0/groups/{group}/members/$ref"),
        Some(format!(
            "{PUBLIC_URL}/v1.0/directoryObjects/{}",
            scene.agent
        )),
    )
    .await;
    reference(
        app,
        Method::POST,
        &format!("{EM}/accessPackages/{other}/incompatibleGroups/$ref"),
        Some(format!("{PUBLIC_URL}/v1.0/groups/{group}")),
    )
    .await;
    let message = refusal(&scene.request_for(&other, &other_policy).await);
    assert!(message.contains("member of group 'Auditors'"), "{message}");
    reference(
        app,
        Method::DELETE,
        &format!("/v1.0/groups/{group}/members/{}/$ref", scene.agent),
        None,
    )
    .await;

    // No longer a member: accepted; a second request while it is open is refused.
    let accepted = scene.request_for(&other, &other_policy).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    let message = refusal(&scene.request_for(&other, &other_policy).await);
    assert!(
        message.contains(&format!("an open request ({})", id(&accepted.body))),
        "{message}"
    );
}

crate::on_both_backends!(
    an_agents_user_add_runs_a_bounded_number_of_statements,
    folded_checks_keep_their_rules,
);

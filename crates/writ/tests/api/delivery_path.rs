//! Delivery in few statements (issue 20, part Q): the `processRequest` job of an agent's
//! `userAdd` under a policy without approval, on a package granting a group's membership (the
//! lifecycle benchmark's request), runs at most [`ONE_DELIVERY_STATEMENTS`] SQL statements on
//! PostgreSQL for one job alone and at most [`BATCH_STATEMENTS`] for a batch of [`BATCH`]
//! (claim, reads, writes, completion and commits included), so a statement added to delivery —
//! or a write per request where one per batch does — cannot go unnoticed; and what the delivery leaves is what it left before: the
//! assignment delivered, the membership, the request `delivered` with its audit record and event.

use axum::http::StatusCode;
use serde_json::json;
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet};
use crate::harness::{TestApp, app, id, post};
use crate::statements::Statements;

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

/// The most statements one delivery run as a job alone may take on PostgreSQL (listed in
/// `docs/benchmarks.md`, "Issue 20 — delivery, part Q").
/// 20 before part Q (three commits: the claim, the delivery, the job's completion); 19 after it,
/// 16 since the audit records, their targets and the events are one statement ("Appends at the
/// commit").
const ONE_DELIVERY_STATEMENTS: usize = 16;

/// The most statements for [`BATCH`] requests delivered by one pass, whatever [`BATCH`]: what
/// a batch reads and writes once, its grants included (52 for four before part Q, 19 after).
const BATCH_STATEMENTS: usize = 16;

/// How many requests the batched count delivers in one pass.
const BATCH: usize = 4;

/// Agents each allowed to request, for itself and without approval, a package granting the
/// membership of a group.
struct Scene {
    app: TestApp,
    group: String,
    package: String,
    policy: String,
    /// (agent id, its token)
    agents: Vec<(String, String)>,
}

async fn scene(backend: Backend, agents: usize) -> Scene {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let catalog = id(&post(
        &app,
        &app.admin,
        &format!("{EM}/catalogs"),
        json!({"displayName": "Agents"}),
    )
    .await);
    let group = app.create_group("Orders readers").await;
    app.onboard_group(&app.admin, &catalog, &group).await;
    let package = app
        .member_package(&app.admin, &catalog, &group, "Orders")
        .await;
    let policy = id(&post(
        &app,
        &app.admin,
        &format!("{EM}/assignmentPolicies"),
        json!({
            "displayName": "Agents, no approval", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT8H"},
            "requestorSettings": {"enableTargetsToSelfAddAccess": true},
            "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "stages": []},
            "accessPackage": {"id": package},
        }),
    )
    .await);
    let mut out = Vec::with_capacity(agents);
    for i in 0..agents {
        let agent = id(
            &create_agent(&app, &fleet, &format!("busy-agent-{i}"), &[&fleet.sponsor])
                .await
                .body,
        );
        let (token, _) = agent_token(&app, &agent, "https://graph.microsoft.com/.default").await;
        out.push((agent, token));
    }
    Scene {
        app,
        group,
        package,
        policy,
        agents: out,
    }
}

impl Scene {
    /// Agent `i` requests the package for itself; the request's id.
    async fn request(&self, i: usize) -> String {
        id(&post(
            &self.app,
            &self.agents[i].1,
            &format!("{EM}/assignmentRequests"),
            json!({
                "requestType": "userAdd",
                "assignment": {"assignmentPolicyId": self.policy, "accessPackageId": self.package},
            }),
        )
        .await)
    }

    /// One pass of the job worker; the number of jobs it completed.
    async fn run_jobs(&self) -> u32 {
        self.app.run_jobs_cleanly().await
    }

    /// Agent `i`'s request reads `delivered`, its assignment too, the agent is a member of
    /// the group, and the request's audit record and event were written.
    async fn assert_delivered(&self, i: usize, request: &str) {
        let app = &self.app;
        let read = app
            .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.body);
        assert_eq!(read.body["state"], "delivered", "{}", read.body);
        assert_eq!(read.body["status"], "Delivered", "{}", read.body);
        let agent = &self.agents[i].0;
        let assignments = app
            .get(
                &format!("{EM}/assignments?$filter=target/objectId%20eq%20'{agent}'"),
                &app.admin,
            )
            .await;
        let values = assignments.body["value"].as_array().unwrap();
        assert_eq!(values.len(), 1, "{}", assignments.body);
        assert_eq!(values[0]["state"], "delivered", "{}", assignments.body);
        let members = app
            .get(&format!("/v1.0/groups/{}/members", self.group), &app.admin)
            .await;
        assert!(
            members.body["value"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == agent.as_str()),
            "{}",
            members.body
        );
        let audit = app
            .get(
                "/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName%20eq%20'Fulfill%20access%20package%20assignment%20request'&$top=100",
                &app.admin,
            )
            .await;
        assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
        let records = audit.body["value"].as_array().unwrap();
        assert!(
            records.iter().any(|r| r.to_string().contains(request)),
            "no fulfilment record naming {request}: {}",
            audit.body
        );
    }
}

fn print(title: &str, statements: &[String]) {
    eprintln!("{title}: {} statements", statements.len());
    for (i, s) in statements.iter().enumerate() {
        eprintln!("{:2}. {s}", i + 1);
    }
}

async fn one_delivery_runs_a_bounded_number_of_statements(backend: Backend) {
    let scene = scene(backend, 2).await;
    // The first delivery teaches the statements' call sites that the log wants them.
    let statements = Statements::record(backend);
    let first = scene.request(0).await;
    assert_eq!(scene.run_jobs().await, 1);
    scene.assert_delivered(0, &first).await;
    let second = scene.request(1).await;
    statements.clear();
    assert_eq!(scene.run_jobs().await, 1);
    let counted = statements.finish();
    scene.assert_delivered(1, &second).await;
    if let Some(statements) = counted {
        print("one delivery", &statements);
        assert!(!statements.is_empty(), "the log sees the statements");
        assert!(
            statements.len() <= ONE_DELIVERY_STATEMENTS,
            "{} statements for one delivery (at most {ONE_DELIVERY_STATEMENTS})",
            statements.len()
        );
    }
}

async fn a_batch_of_deliveries_runs_a_bounded_number_of_statements_each(backend: Backend) {
    let scene = scene(backend, BATCH + 1).await;
    let statements = Statements::record(backend);
    let first = scene.request(0).await;
    assert_eq!(scene.run_jobs().await, 1);
    scene.assert_delivered(0, &first).await;
    let mut requests = Vec::new();
    for i in 1..=BATCH {
        requests.push(scene.request(i).await);
    }
    statements.clear();
    assert_eq!(scene.run_jobs().await as usize, BATCH);
    let counted = statements.finish();
    for (i, request) in requests.iter().enumerate() {
        scene.assert_delivered(i + 1, request).await;
    }
    if let Some(statements) = counted {
        print(&format!("a batch of {BATCH} deliveries"), &statements);
        assert!(
            statements.len() <= BATCH_STATEMENTS,
            "{} statements for {BATCH} deliveries (at most {BATCH_STATEMENTS})",
            statements.len()
        );
    }
}

crate::on_both_backends!(
    one_delivery_runs_a_bounded_number_of_statements,
    a_batch_of_deliveries_runs_a_bounded_number_of_statements_each,
);

//! Jobs run again after a crash (found by the crash loop, `scripts/chaos.sh`): a worker commits a
//! job's work and then deletes the job in a second transaction, so a process killed between the
//! two leaves the job to run again once its lease has lapsed. Running it again must change
//! nothing and record nothing twice (DESIGN section 5, invariants 4 and 5).
//!
//! The crash is reproduced by claiming the job as a worker that never completes it, running the
//! handler (its transaction commits), and letting the lease run out before the next pass.

use serde_json::json;
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::jobs::{ClaimedJob, JobHandler, WorkerConfig};
use writ_domain::store::{AuditStore, Store};
use writ_store::Backend;

use crate::assignments::{post, post_request, run_jobs, setup};
use crate::harness::{TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

/// Claims the due jobs and runs them as a worker that is killed before it deletes them.
async fn run_jobs_then_crash(app: &TestApp) -> Vec<ClaimedJob> {
    let now = app.clock.now();
    let lease = WorkerConfig::default().lease;
    let mut tx = app.store.begin().await.unwrap();
    let jobs = tx
        .claim_jobs("killed-worker", now, now + lease, 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for job in &jobs {
        app.state.entitlement.handle(job, now).await.unwrap();
    }
    jobs
}

async fn state(app: &TestApp, request: &str) -> serde_json::Value {
    let uri = format!("{EM}/assignmentRequests/{request}");
    app.get(&uri, &app.admin).await.body["state"].clone()
}

/// The activities of the audit records about `target_id`, oldest first.
async fn activities(app: &TestApp, target_id: &str) -> Vec<String> {
    let filter = format!("targetResources/any(t:t/id eq '{target_id}')");
    let uri = format!(
        "/v1.0/auditLogs/directoryAudits?$filter={}&$orderby=activityDateTime%20asc",
        filter.replace(' ', "%20").replace('\'', "%27")
    );
    let reply = app.get(&uri, &app.admin).await;
    assert_eq!(reply.status, axum::http::StatusCode::OK, "{}", reply.body);
    reply.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["activityDisplayName"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_scheduling_job_run_again_after_a_crash_records_nothing_twice(backend: Backend) {
    let mut app = app(backend).await;
    let s = setup(&app).await;
    let start = app.clock.now() + Duration::hours(1);
    let start_text = start
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created = post_request(&app, &app.admin, json!({
        "requestType": "adminAdd",
        "schedule": {"startDateTime": start_text},
        "assignment": {"targetId": s.agent, "assignmentPolicyId": s.policy, "accessPackageId": s.package},
    }))
    .await;
    assert_eq!(
        created.status,
        axum::http::StatusCode::CREATED,
        "{}",
        created.body
    );
    let request = created.body["id"].as_str().unwrap().to_owned();

    // The first run schedules the request and dies before deleting its job.
    assert_eq!(run_jobs_then_crash(&app).await.len(), 1);
    assert_eq!(state(&app, &request).await, "scheduled");

    // The restarted worker runs the same job again once its lease has lapsed: still scheduled,
    // one record of it.
    app.clock
        .advance(WorkerConfig::default().lease + Duration::seconds(1));
    assert_eq!(run_jobs(&app).await.completed, 1);
    assert_eq!(state(&app, &request).await, "scheduled");
    let schedule = "Schedule access package assignment request";
    assert_eq!(
        activities(&app, &request)
            .await
            .iter()
            .filter(|a| *a == schedule)
            .count(),
        1,
        "one record of the scheduling: {:?}",
        activities(&app, &request).await
    );

    // At the start it is delivered, once.
    app.clock.advance(Duration::hours(1));
    app.refresh_admin().await;
    assert_eq!(run_jobs(&app).await.completed, 1);
    assert_eq!(state(&app, &request).await, "delivered");
    assert_eq!(
        activities(&app, &request).await,
        vec![
            "Create access package assignment request",
            schedule,
            "Fulfill access package assignment request",
        ]
    );
}

async fn an_expiry_notice_run_again_after_a_crash_is_sent_once(backend: Backend) {
    let mut app = app(backend).await;
    let s = setup(&app).await;
    // Two days, so the one-day notice (the default lead times are P14D and P1D) is ahead.
    let policy = post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents, two days", "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "P2D"},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []},
        "accessPackage": {"id": s.package},
    }))
    .await["id"]
    .as_str()
    .unwrap()
    .to_owned();
    let created = post_request(&app, &app.admin, json!({
        "requestType": "adminAdd",
        "assignment": {"targetId": s.agent, "assignmentPolicyId": policy, "accessPackageId": s.package},
    }))
    .await;
    let request = created.body["id"].as_str().unwrap().to_owned();
    run_jobs(&app).await;
    let read = app
        .get(
            &format!("{EM}/assignmentRequests/{request}?$expand=assignment"),
            &app.admin,
        )
        .await;
    assert_eq!(read.body["state"], "delivered", "{}", read.body);
    let assignment = read.body["assignment"]["id"].as_str().unwrap().to_owned();

    // A day later the notice is recorded by a worker killed before it deletes the job, then
    // by the restarted worker once the lease has lapsed.
    app.clock.advance(Duration::days(1) + Duration::seconds(1));
    app.refresh_admin().await;
    assert_eq!(run_jobs_then_crash(&app).await.len(), 1);
    app.clock
        .advance(WorkerConfig::default().lease + Duration::seconds(1));
    run_jobs(&app).await;
    app.refresh_admin().await;
    let notice = "Notify of access package assignment expiry";
    let recorded = activities(&app, &assignment).await;
    assert_eq!(
        recorded.iter().filter(|a| *a == notice).count(),
        1,
        "one notice: {recorded:?}"
    );
    let events = app
        .store
        .outbox_events(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "assignment.expiringSoon")
        .count();
    assert_eq!(events, 1, "one assignment.expiringSoon event");
}

crate::on_both_backends!(
    a_scheduling_job_run_again_after_a_crash_records_nothing_twice,
    an_expiry_notice_run_again_after_a_crash_is_sent_once,
);

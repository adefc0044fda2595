//! Issue 14, item 3's "visible to administrators": `GET /writ/v1/jobs` and `/{id}` show the job
//! queue, a parked job with its error among it. A policy row written before the bounds (an
//! overflowing approval duration, put through the store) parks its request's job; the
//! administrator finds it by `$filter=state eq 'parked'`, reprocesses the request, and finds the
//! job queued again. Only Global Administrators and Identity Governance Administrators read the
//! queue: everyone else (Global Reader included) gets 403, also for an id that does not exist.
//!
//! Issue 14, item 3's "`reprocess`-able", for every kind of job: `reprocess` of a request
//! releases each parked job that belongs to it whatever its state (its approval stage's
//! escalation and timeout while `pendingApproval`, its callouts' timeouts, whose subject is the
//! callout), and `reprocess` of an assignment its parked jobs, also once it has ended. A released
//! job keeps its due time and then does what it would have done (escalate, deny `TimedOut` or
//! `CalloutTimedOut`, send the notice it was), or nothing in a final state; with nothing parked
//! the 409s stay.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::store::{AuditStore, EntitlementStore, Store};
use writ_store::Backend;

use crate::agents::{agent_token, create_agent};
use crate::assignments::{Setup, post, post_request, run_jobs, setup};
use crate::harness::{PUBLIC_URL, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const JOBS: &str = "/writ/v1/jobs";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
const IGA: &str = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e";

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

/// The rows of `GET /writ/v1/jobs{query}` as the administrator reads them.
async fn jobs(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("{JOBS}{}", query.replace(' ', "%20")), &app.admin)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
    reply.body["value"].as_array().unwrap().clone()
}

/// Rewrites a policy as a database written before the bounds could hold it.
async fn set_denial(app: &TestApp, policy_id: &str, subjects: &[String], duration: &str) {
    rewrite_stage(app, policy_id, subjects, |stage| {
        stage.duration_before_automatic_denial = Some(duration.into());
    })
    .await;
}

async fn request_state(app: &TestApp, request: &str) -> Value {
    app.get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await
        .body["state"]
        .clone()
}

/// A request whose processing parks (its policy's approval stage was rewritten to an
/// overflowing `durationBeforeAutomaticDenial`) and the policy, once the worker has run.
async fn park_a_request(app: &TestApp, s: &Setup) -> (String, String) {
    let policy = id(&post(app, "/assignmentPolicies", json!({
        "displayName": "Agents ask, sponsor approves",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": true},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "stages": [{
            "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": s.sponsor}],
            "durationBeforeAutomaticDenial": "P7D",
        }]},
        "accessPackage": {"id": s.package},
    }))
    .await);
    set_denial(
        app,
        &policy,
        std::slice::from_ref(&s.sponsor),
        "P9999999999D",
    )
    .await;
    let (token, _) = agent_token(app, &s.agent, "https://graph.microsoft.com/.default").await;
    let request = post_request(
        app,
        &token,
        json!({"requestType": "userAdd", "assignment": {"accessPackageId": s.package, "assignmentPolicyId": policy}}),
    )
    .await;
    assert_eq!(request.status, StatusCode::CREATED, "{}", request.body);
    (id(&request.body), policy)
}

async fn a_parked_job_is_listed_with_its_error_and_reprocess_queues_it_again(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let (poisoned, policy) = park_a_request(&app, &s).await;
    // A healthy request beside it, delivered by the same pass.
    let other = create_agent(&app, &s.fleet, "support-agent-8", &[&s.sponsor]).await;
    let other = id(&other.body);
    let healthy = post_request(&app, &app.admin, json!({"requestType": "adminAdd", "assignment": {"targetId": other, "assignmentPolicyId": s.policy, "accessPackageId": s.package}})).await;
    assert_eq!(healthy.status, StatusCode::CREATED, "{}", healthy.body);
    let healthy = id(&healthy.body);

    // Before the worker runs, both requests' jobs are queued.
    let queued = jobs(&app, "?$filter=kind eq 'processRequest'").await;
    assert_eq!(queued.len(), 2, "{queued:#?}");
    assert!(queued.iter().all(|j| j["state"] == "queued"), "{queued:#?}");

    let report = run_jobs(&app).await;
    assert_eq!((report.completed, report.parked), (1, 1), "{report:?}");
    assert_eq!(request_state(&app, &healthy).await, "delivered");
    assert_eq!(request_state(&app, &poisoned).await, "submitted");

    // The administrator finds the parked job, and only it, with its error.
    let parked = jobs(&app, "?$filter=state eq 'parked'").await;
    assert_eq!(parked.len(), 1, "{parked:#?}");
    let job = parked[0].clone();
    let mut keys: Vec<&str> = job
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attempts",
            "dueDateTime",
            "id",
            "kind",
            "lastError",
            "leaseExpiresDateTime",
            "leaseOwner",
            "parkedDateTime",
            "state",
            "subjectId",
        ]
    );
    assert_eq!(job["kind"], "processRequest");
    assert_eq!(job["subjectId"], poisoned.as_str());
    assert_eq!(job["attempts"], 1, "parked at once: retrying cannot help");
    assert!(
        job["lastError"].as_str().unwrap().contains("out of range"),
        "{job}"
    );
    assert!(job["parkedDateTime"].is_string(), "{job}");
    assert!(job["dueDateTime"].is_string(), "{job}");
    assert_eq!(
        (&job["leaseOwner"], &job["leaseExpiresDateTime"]),
        (&Value::Null, &Value::Null)
    );
    let job_id = id(&job);
    for filter in [
        "parkedDateTime ne null".to_owned(),
        format!("subjectId eq '{poisoned}' and kind eq 'processRequest'"),
        format!("state eq 'PARKED' and attempts ge 1 and id eq '{job_id}'"),
    ] {
        let found = jobs(&app, &format!("?$filter={filter}")).await;
        assert_eq!(found.len(), 1, "{filter}: {found:#?}");
        assert_eq!(found[0]["id"], job_id.as_str(), "{filter}");
    }
    // The delivered request left its assignment's jobs queued (its expiry at least).
    let rest = jobs(&app, "?$filter=state eq 'queued'").await;
    assert!(!rest.is_empty());
    assert!(rest.iter().all(|j| j["id"] != job_id.as_str()), "{rest:#?}");
    assert!(
        rest.iter().any(|j| j["kind"] == "expireAssignment"),
        "{rest:#?}"
    );

    // One by id, `$select`, paging, count and order as on the other lists.
    let one = app.get(&format!("{JOBS}/{job_id}"), &app.admin).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    assert_eq!(one.body, job);
    let selected = app
        .get(
            &format!("{JOBS}/{job_id}?$select=state,lastError"),
            &app.admin,
        )
        .await;
    assert_eq!(
        selected.body.as_object().unwrap().len(),
        2,
        "{}",
        selected.body
    );
    let all = jobs(&app, "").await;
    assert!(all.len() >= 2, "{all:#?}");
    for order in ["dueDateTime desc", "kind", "attempts desc,parkedDateTime"] {
        let mut seen = std::collections::BTreeSet::new();
        let mut next = Some(format!(
            "{JOBS}?$top=1&$count=true&$orderby={}",
            order.replace(' ', "%20")
        ));
        while let Some(uri) = next {
            let page = app.get(&uri, &app.admin).await;
            assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.body);
            assert_eq!(page.body["@odata.count"], all.len(), "{}", page.body);
            assert_eq!(page.body["value"].as_array().unwrap().len(), 1);
            assert!(seen.insert(id(&page.body["value"][0])), "{order}: twice");
            next = page.body["@odata.nextLink"]
                .as_str()
                .map(|l| l.strip_prefix(PUBLIC_URL).unwrap().to_owned());
        }
        assert_eq!(seen.len(), all.len(), "{order}: every job once");
    }
    for (query, expected) in [
        (
            "?$filter=state eq 'stuck'",
            "allowed values: queued, leased, parked",
        ),
        ("?$filter=lastError eq 'x'", "lastError"),
        ("?$orderby=state", "state"),
    ] {
        let reply = app
            .get(&format!("{JOBS}{}", query.replace(' ', "%20")), &app.admin)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.body
        );
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{query}: {message}");
    }
    let missing = app.get(&format!("{JOBS}/no-such-job"), &app.admin).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);

    // A job a worker holds is `leased`, with its owner and the end of its lease.
    let third = create_agent(&app, &s.fleet, "support-agent-9", &[&s.sponsor]).await;
    let third = id(&third.body);
    let leased = post_request(&app, &app.admin, json!({"requestType": "adminAdd", "assignment": {"targetId": third, "assignmentPolicyId": s.policy, "accessPackageId": s.package}})).await;
    let leased = id(&leased.body);
    let now = app.clock.now();
    let mut tx = app.store.begin().await.unwrap();
    let claimed = tx
        .claim_jobs("inspecting-worker", now, now + Duration::minutes(1), 10)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let held = jobs(&app, "?$filter=state eq 'leased'").await;
    assert_eq!(held.len(), 1, "{held:#?}");
    assert_eq!(held[0]["subjectId"], leased.as_str());
    assert_eq!(held[0]["leaseOwner"], "inspecting-worker");
    assert!(held[0]["leaseExpiresDateTime"].is_string(), "{}", held[0]);
    assert_eq!(
        jobs(&app, "?$filter=leaseOwner eq 'inspecting-worker'")
            .await
            .len(),
        1
    );

    // The administrator fixes the policy and reprocesses: the job is queued again.
    set_denial(&app, &policy, std::slice::from_ref(&s.sponsor), "P7D").await;
    let reply = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests/{poisoned}/reprocess"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert!(jobs(&app, "?$filter=state eq 'parked'").await.is_empty());
    let again = app.get(&format!("{JOBS}/{job_id}"), &app.admin).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["state"], "queued", "{}", again.body);
    assert_eq!(again.body["parkedDateTime"], Value::Null);
    assert_eq!(again.body["attempts"], 0);
    assert!(
        again.body["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("out of range")),
        "the last error stays until the job runs again: {}",
        again.body
    );
    // It runs, and a completed job is gone.
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &poisoned).await, "pendingApproval");
    let gone = app.get(&format!("{JOBS}/{job_id}"), &app.admin).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
}

async fn only_administrators_read_the_job_queue(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    park_a_request(&app, &s).await;
    run_jobs(&app).await;
    let job_id = id(&jobs(&app, "?$filter=state eq 'parked'").await[0]);

    let role = |user: String, role: &'static str| json!({"principalId": user, "roleDefinitionId": role, "directoryScopeId": "/"});
    let (iga_user, iga) = app.user_token("Gina Governance").await;
    let (reader_user, reader) = app.user_token("Greg Globalreader").await;
    for body in [role(iga_user, IGA), role(reader_user, GLOBAL_READER)] {
        let reply = app
            .send(
                Method::POST,
                "/v1.0/roleManagement/directory/roleAssignments",
                &app.admin,
                body,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let (_, user) = app.user_token("Plain User").await;
    let (agent, _) = agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;

    let paths = [
        JOBS.to_owned(),
        format!("{JOBS}/{job_id}"),
        format!("{JOBS}/no-such-job"),
    ];
    for (who, token) in [("global admin", &app.admin), ("governance admin", &iga)] {
        for (path, status) in paths.iter().zip([200, 200, 404]) {
            let reply = app.get(path, token).await;
            assert_eq!(
                reply.status.as_u16(),
                status,
                "{who} {path}: {}",
                reply.body
            );
        }
    }
    for (who, token) in [
        ("global reader", &reader),
        ("ordinary user", &user),
        ("agent", &agent),
    ] {
        for path in &paths {
            let reply = app.get(path, token).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{who} {path}: {}",
                reply.body
            );
            assert_eq!(reply.error_code(), "accessDenied", "{who} {path}");
        }
    }
    for path in &paths {
        let reply = app.request(Method::GET, path, None, None, &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

/// Rewrites a policy's first approval stage as a database written before the bounds could
/// hold it (or fixes it again).
async fn rewrite_stage(
    app: &TestApp,
    policy_id: &str,
    subjects: &[String],
    change: impl FnOnce(&mut writ_domain::entitlement::policy_model::ApprovalStage),
) {
    let mut policy = app
        .store
        .assignment_policy(policy_id)
        .await
        .unwrap()
        .unwrap();
    change(&mut policy.settings.request_approval_settings.stages[0]);
    let mut tx = app.store.begin().await.unwrap();
    tx.update_policy(&policy, subjects).await.unwrap();
    tx.commit().await.unwrap();
}

/// `POST …/{collection}/{id}/reprocess` as the administrator.
async fn reprocess(app: &TestApp, collection: &str, id: &str) -> crate::harness::Reply {
    app.send(
        Method::POST,
        &format!("{EM}/{collection}/{id}/reprocess"),
        &app.admin,
        json!({}),
    )
    .await
}

/// The `releasedJobs` detail of each "Reprocess …" audit record about `subject`, oldest first.
async fn released_in_audit(app: &TestApp, subject: &str) -> Vec<String> {
    app.store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.activity_display_name.starts_with("Reprocess")
                && r.target_resources.iter().any(|t| t.id == subject)
        })
        .map(|r| {
            r.additional_details
                .iter()
                .find(|(k, _)| k == "releasedJobs")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// A worker claims the jobs due now and gives up on the one of `kind`, as after its last failed
/// attempt (the others are released to run). For kinds whose handler computes nothing that can
/// overflow, this is how their jobs are parked: by errors the database kept returning.
async fn park_by_hand(app: &TestApp, kind: &str) -> String {
    let now = app.clock.now();
    let mut tx = app.store.begin().await.unwrap();
    let claimed = tx
        .claim_jobs("giving-up-worker", now, now + Duration::minutes(1), 100)
        .await
        .unwrap();
    let mut parked = None;
    for job in claimed {
        if job.kind_name == kind && parked.is_none() {
            assert!(
                tx.park_job(
                    &job.id,
                    "giving-up-worker",
                    now,
                    "the database was unreachable"
                )
                .await
                .unwrap()
            );
            parked = Some(job.id);
        } else {
            assert!(
                tx.retry_job(&job.id, "giving-up-worker", job.due_at, "not run")
                    .await
                    .unwrap()
            );
        }
    }
    tx.commit().await.unwrap();
    parked.unwrap_or_else(|| panic!("no {kind} job was due"))
}

/// Asserts that job `job_id` is `queued` again after a reprocess: not parked, attempts reset.
async fn assert_released(app: &TestApp, job_id: &str) -> Value {
    let job = app.get(&format!("{JOBS}/{job_id}"), &app.admin).await;
    assert_eq!(job.status, StatusCode::OK, "{}", job.body);
    assert_eq!(job.body["state"], "queued", "{}", job.body);
    assert_eq!(job.body["parkedDateTime"], Value::Null);
    assert_eq!(job.body["attempts"], 0);
    job.body
}

/// The one parked job, which must be of `kind` about `subject`.
async fn the_parked_job(app: &TestApp, kind: &str, subject: &str) -> String {
    let parked = jobs(app, "?$filter=state eq 'parked'").await;
    assert_eq!(parked.len(), 1, "{parked:#?}");
    assert_eq!(parked[0]["kind"], kind, "{parked:#?}");
    assert_eq!(parked[0]["subjectId"], subject, "{parked:#?}");
    id(&parked[0])
}

/// A request pending approval whose `approvalEscalation` and then `approvalTimeout` jobs park
/// (the stage's durations rewritten out of range after its timers were armed): each time, once
/// the policy is fixed, `reprocess` of the request releases the job (202, audited) without
/// moving the request, and the job then does what it would have done: escalate, then deny
/// `TimedOut`. With nothing parked, `reprocess` stays 409.
async fn reprocess_releases_a_pending_requests_parked_approval_timers(backend: Backend) {
    let mut app = app(backend).await;
    let s = setup(&app).await;
    let erin = app.create_user("Erin Escalation").await;
    let subjects = [s.sponsor.clone(), erin.clone()];
    let policy = id(&post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents ask, sponsor approves, Erin when it waits",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": true},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "stages": [{
            "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": s.sponsor}],
            "durationBeforeAutomaticDenial": "P7D",
            "isEscalationEnabled": true, "durationBeforeEscalation": "P2D",
            "escalationApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": erin}],
        }]},
        "accessPackage": {"id": s.package},
    }))
    .await);
    let (token, _) = agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;
    let request = post_request(
        &app,
        &token,
        json!({"requestType": "userAdd", "assignment": {"accessPackageId": s.package, "assignmentPolicyId": policy}}),
    )
    .await;
    assert_eq!(request.status, StatusCode::CREATED, "{}", request.body);
    let request = id(&request.body);
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &request).await, "pendingApproval");
    // Nothing parked: a request pending approval has nothing to retry.
    let refused = reprocess(&app, "assignmentRequests", &request).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    // The stage's timers are armed; then the row holds what an older Writ accepted.
    rewrite_stage(&app, &policy, &subjects, |stage| {
        stage.duration_before_escalation = Some("P9999999999D".into());
        stage.duration_before_automatic_denial = Some("P9999999999D".into());
    })
    .await;
    app.clock.advance(Duration::days(2) + Duration::minutes(1));
    app.refresh_admin().await;
    assert_eq!(run_jobs(&app).await.parked, 1);
    let escalation = the_parked_job(&app, "approvalEscalation", &request).await;

    // Fixed, and released: the request is where it was, the job queued again.
    rewrite_stage(&app, &policy, &subjects, |stage| {
        stage.duration_before_escalation = Some("P2D".into());
    })
    .await;
    let accepted = reprocess(&app, "assignmentRequests", &request).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_released(&app, &escalation).await;
    let shown = app
        .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await;
    assert_eq!(
        (&shown.body["state"], &shown.body["status"]),
        (&json!("pendingApproval"), &json!("PendingApproval")),
        "releasing a job does not move the request"
    );
    let report = run_jobs(&app).await;
    assert_eq!((report.completed, report.parked), (1, 0), "{report:?}");
    let shown = app
        .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await;
    assert_eq!(shown.body["status"], "PendingApprovalEscalated");

    // The automatic denial parks in its turn, and is released the same way.
    app.clock.advance(Duration::days(5));
    app.refresh_admin().await;
    assert_eq!(run_jobs(&app).await.parked, 1);
    let timeout = the_parked_job(&app, "approvalTimeout", &request).await;
    rewrite_stage(&app, &policy, &subjects, |stage| {
        stage.duration_before_automatic_denial = Some("P7D".into());
    })
    .await;
    let accepted = reprocess(&app, "assignmentRequests", &request).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_released(&app, &timeout).await;
    assert_eq!(request_state(&app, &request).await, "pendingApproval");
    let report = run_jobs(&app).await;
    assert_eq!((report.completed, report.parked), (1, 0), "{report:?}");
    let shown = app
        .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await;
    assert_eq!(
        (&shown.body["state"], &shown.body["status"]),
        (&json!("denied"), &json!("TimedOut")),
        "{}",
        shown.body
    );
    assert!(jobs(&app, "?$filter=state eq 'parked'").await.is_empty());
    assert_eq!(released_in_audit(&app, &request).await, ["1", "1"]);
    // Denied, with nothing parked: nothing to retry.
    let refused = reprocess(&app, "assignmentRequests", &request).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
}

/// Launch-and-wait requests whose `calloutTimeout` job (subject: the callout, not the request)
/// the queue gave up on: `reprocess` of the request releases it, whatever the request's state.
/// The waiting request is then denied `CalloutTimedOut` as it should; one canceled meanwhile
/// (final) has its job released too, which ends the callout's wait and leaves it canceled.
async fn reprocess_releases_a_requests_parked_callout_timeout_in_any_state(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let extension = id(&post(
        &app,
        &format!("/catalogs/{}/customWorkflowExtensions", s.catalog),
        json!({
            "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
            "displayName": "Ticket check",
            "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://tickets.example.com/check"},
            "callbackConfiguration": {"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT10M"},
        }),
    )
    .await);
    let policy = id(&post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents ask, the ticket system checks",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": true},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "stages": []},
        "customExtensionStageSettings": [{"stage": "assignmentRequestCreated", "customExtension": {"id": extension}}],
        "accessPackage": {"id": s.package},
    }))
    .await);
    let other = create_agent(&app, &s.fleet, "support-agent-8", &[&s.sponsor]).await;
    let other = id(&other.body);
    let mut requests = Vec::new();
    let mut tokens = Vec::new();
    for agent in [&s.agent, &other] {
        let (token, _) = agent_token(&app, agent, "https://graph.microsoft.com/.default").await;
        let created = post_request(
            &app,
            &token,
            json!({"requestType": "userAdd", "assignment": {"accessPackageId": s.package, "assignmentPolicyId": policy}}),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(created.body["status"], "WaitingForCallback");
        requests.push(id(&created.body));
        tokens.push(token);
    }
    run_jobs(&app).await;

    // At the timeout, a worker gives up on each request's callout timeout.
    app.clock.advance(Duration::minutes(10));
    park_by_hand(&app, "calloutTimeout").await;
    park_by_hand(&app, "calloutTimeout").await;
    let parked = jobs(&app, "?$filter=state eq 'parked'").await;
    assert_eq!(parked.len(), 2, "{parked:#?}");
    run_jobs(&app).await;
    for request in &requests {
        let shown = app
            .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
            .await;
        assert_eq!(shown.body["status"], "WaitingForCallback", "{}", shown.body);
    }
    // Each parked job's subject is a callout of one of the requests.
    let mut parked_of = Vec::new();
    for request in &requests {
        let callouts = app
            .store
            .callouts_of(std::slice::from_ref(request))
            .await
            .unwrap();
        assert_eq!(callouts.len(), 1, "{callouts:?}");
        let job = parked
            .iter()
            .find(|j| j["subjectId"] == callouts[0].id.as_str())
            .unwrap_or_else(|| panic!("no parked job about {}: {parked:#?}", callouts[0].id));
        parked_of.push((id(job), job["dueDateTime"].clone()));
    }

    // The first request, still waiting, is released and then times out as it should.
    let (first_job, first_due) = parked_of[0].clone();
    let accepted = reprocess(&app, "assignmentRequests", &requests[0]).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let job = assert_released(&app, &first_job).await;
    assert_eq!(
        job["dueDateTime"], first_due,
        "released with its own due time"
    );
    assert_eq!(request_state(&app, &requests[0]).await, "submitted");
    assert_eq!(
        jobs(&app, "?$filter=state eq 'parked'").await.len(),
        1,
        "the other request's stays"
    );
    run_jobs(&app).await;
    let shown = app
        .get(
            &format!("{EM}/assignmentRequests/{}", requests[0]),
            &app.admin,
        )
        .await;
    assert_eq!(
        (&shown.body["state"], &shown.body["status"]),
        (&json!("denied"), &json!("CalloutTimedOut")),
        "{}",
        shown.body
    );
    assert_eq!(
        shown.body["customExtensionCalloutInstances"][0]["status"],
        "callbackTimedOut"
    );

    // The second is canceled by its agent while its job is parked: final, but its parked job is
    // still released; it ends the callout's wait and the request stays canceled.
    let canceled = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests/{}/cancel", requests[1]),
            &tokens[1],
            json!({}),
        )
        .await;
    assert_eq!(canceled.status, StatusCode::NO_CONTENT, "{}", canceled.body);
    let accepted = reprocess(&app, "assignmentRequests", &requests[1]).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(request_state(&app, &requests[1]).await, "canceled");
    run_jobs(&app).await;
    assert!(
        jobs(&app, "")
            .await
            .iter()
            .all(|j| j["kind"] != "calloutTimeout")
    );
    let shown = app
        .get(
            &format!("{EM}/assignmentRequests/{}", requests[1]),
            &app.admin,
        )
        .await;
    assert_eq!(
        (&shown.body["state"], &shown.body["status"]),
        (&json!("canceled"), &json!("Canceled")),
        "{}",
        shown.body
    );
    for request in &requests {
        assert_eq!(released_in_audit(&app, request).await, ["1"]);
        // Nothing parked any more, and a final state: nothing to retry.
        let refused = reprocess(&app, "assignmentRequests", request).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    }
}

/// An assignment's parked `expiryNotice` released by `reprocess` of the assignment keeps its
/// due time, so the notice it then runs is the one it was (the fourteen-day notice, late);
/// once the assignment has ended, a job of it still parked is released too (202, audited) and
/// finds nothing to do, and with nothing parked an ended assignment stays 409.
async fn reprocess_releases_an_assignments_parked_notice_also_once_it_has_ended(backend: Backend) {
    let mut app = app(backend).await;
    let s = setup(&app).await;
    let month = id(&post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents, thirty days",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "P30D"},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []},
        "accessPackage": {"id": s.package},
    }))
    .await);
    let created = post_request(&app, &app.admin, json!({"requestType": "adminAdd", "assignment": {"targetId": s.agent, "assignmentPolicyId": month, "accessPackageId": s.package}})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    run_jobs(&app).await;
    let listed = app
        .get(
            &format!(
                "{EM}/assignments?$filter=target/objectId%20eq%20'{}'",
                s.agent
            ),
            &app.admin,
        )
        .await;
    let assignment = id(&listed.body["value"][0]);
    let notices = jobs(
        &app,
        &format!("?$filter=kind eq 'expiryNotice' and subjectId eq '{assignment}'"),
    )
    .await;
    assert_eq!(
        notices.len(),
        2,
        "fourteen days and one day before: {notices:#?}"
    );

    // The fourteen-day notice is given up on, and the operator gets to it an hour later.
    app.clock.advance(Duration::days(16) + Duration::minutes(1));
    app.refresh_admin().await;
    let notice = park_by_hand(&app, "expiryNotice").await;
    let due = app.get(&format!("{JOBS}/{notice}"), &app.admin).await.body["dueDateTime"].clone();
    app.clock.advance(Duration::hours(1));
    app.refresh_admin().await;
    assert_eq!(run_jobs(&app).await.completed, 0, "a parked job is not run");
    let accepted = reprocess(&app, "assignments", &assignment).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let job = assert_released(&app, &notice).await;
    assert_eq!(job["dueDateTime"], due, "released with its own due time");
    run_jobs(&app).await;
    let notified: Vec<String> = app
        .store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.activity_display_name == "Notify of access package assignment expiry"
                && r.target_resources.iter().any(|t| t.id == assignment)
        })
        .filter_map(|r| {
            r.additional_details
                .into_iter()
                .find(|(k, _)| k == "leadTime")
                .map(|(_, v)| v)
        })
        .collect();
    assert_eq!(
        notified,
        ["P14D"],
        "the released notice is sent as it was due"
    );

    // Removed: the assignment has ended. Its one-day notice, still queued, is given up on.
    let removed = post_request(
        &app,
        &app.admin,
        json!({"requestType": "adminRemove", "assignment": {"id": assignment}}),
    )
    .await;
    assert_eq!(removed.status, StatusCode::CREATED, "{}", removed.body);
    run_jobs(&app).await;
    app.clock.advance(Duration::days(13));
    app.refresh_admin().await;
    let leftover = park_by_hand(&app, "expiryNotice").await;
    let accepted = reprocess(&app, "assignments", &assignment).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_released(&app, &leftover).await;
    run_jobs(&app).await;
    let gone = app.get(&format!("{JOBS}/{leftover}"), &app.admin).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    let shown = app
        .get(&format!("{EM}/assignments/{assignment}"), &app.admin)
        .await;
    assert_eq!(shown.body["state"], "expired", "{}", shown.body);
    assert_eq!(released_in_audit(&app, &assignment).await, ["1", "1"]);
    let refused = reprocess(&app, "assignments", &assignment).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
}

crate::on_both_backends!(
    a_parked_job_is_listed_with_its_error_and_reprocess_queues_it_again,
    only_administrators_read_the_job_queue,
    reprocess_releases_a_pending_requests_parked_approval_timers,
    reprocess_releases_a_requests_parked_callout_timeout_in_any_state,
    reprocess_releases_an_assignments_parked_notice_also_once_it_has_ended,
);

//! Issue 14, item 3's "visible to administrators": `GET /writ/v1/jobs` and `/{id}` show the job
//! queue, a parked job with its error among it. A policy row written before the bounds (an
//! overflowing approval duration, put through the store) parks its request's job; the
//! administrator finds it by `$filter=state eq 'parked'`, reprocesses the request, and finds the
//! job queued again. Only Global Administrators and Identity Governance Administrators read the
//! queue: everyone else (Global Reader included) gets 403, also for an id that does not exist.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::store::Store;
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
    let mut policy = app
        .store
        .assignment_policy(policy_id)
        .await
        .unwrap()
        .unwrap();
    policy.settings.request_approval_settings.stages[0].duration_before_automatic_denial =
        Some(duration.into());
    let mut tx = app.store.begin().await.unwrap();
    tx.update_policy(&policy, subjects).await.unwrap();
    tx.commit().await.unwrap();
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

crate::on_both_backends!(
    a_parked_job_is_listed_with_its_error_and_reprocess_queues_it_again,
    only_administrators_read_the_job_queue,
);

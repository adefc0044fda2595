//! Issue 14, items 2 and 3: every duration and instant is bounded when it is written, and a
//! job whose arithmetic would overflow is parked without stopping the worker.
//!
//! Each out-of-range value is a `400` naming the field and the limit, and leaves the database
//! as it was; the edge values are accepted. `WRIT_MAX_AGENT_ACCESS` (P365D here, the default)
//! bounds policies whose targets include agents, requests' custom schedules for agents, and
//! extensions. A policy row written before the bounds (a huge duration, put through the store)
//! parks its request's job rather than killing the worker, and the next request is delivered.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use writ_domain::clock::Clock;
use writ_domain::jobs::WorkerConfig;
use writ_domain::store::{EntitlementStore, JobStore, Store};
use writ_runtime::job_worker::{JobWorker, WorkerTiming};
use writ_store::Backend;

use crate::agents::{agent_token, create_agent};
use crate::assignments::{Setup, post, post_request, request_state, run_jobs, setup};
use crate::harness::{Reply, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

async fn count(app: &TestApp, collection: &str) -> usize {
    let reply = app.get(&format!("{EM}/{collection}"), &app.admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["value"].as_array().unwrap().len()
}

/// A package that only grants the group's membership, deliverable to people as well.
async fn people_package(app: &TestApp, s: &Setup) -> String {
    let name = "Ticket tools for people";
    app.member_package(&app.admin, &s.catalog, &s.group, name)
        .await
}

async fn post_policy(app: &TestApp, body: Value) -> Reply {
    let path = format!("{EM}/assignmentPolicies");
    app.send(Method::POST, &path, &app.admin, body).await
}

fn stage(s: &Setup, denial: Option<&str>, escalation: Option<&str>) -> Value {
    let approver = json!([{"@odata.type": "#microsoft.graph.singleUser", "userId": s.sponsor}]);
    let mut stage = json!({
        "primaryApprovers": approver,
        "isEscalationEnabled": escalation.is_some(),
    });
    if let Some(denial) = denial {
        stage["durationBeforeAutomaticDenial"] = json!(denial);
    }
    if let Some(escalation) = escalation {
        stage["durationBeforeEscalation"] = json!(escalation);
        stage["escalationApprovers"] = approver;
    }
    stage
}

fn policy(package: &str, scope: &str, expiration: Value, stage: Option<Value>) -> Value {
    let mut body = json!({
        "displayName": "Bounded",
        "allowedTargetScope": scope,
        "expiration": expiration,
        "accessPackage": {"id": package},
    });
    if let Some(stage) = stage {
        body["requestApprovalSettings"] =
            json!({"isApprovalRequiredForAdd": true, "stages": [stage]});
    }
    body
}

fn after(duration: &str) -> Value {
    json!({"type": "afterDuration", "duration": duration})
}

fn until(end: &str) -> Value {
    json!({"type": "afterDateTime", "endDateTime": end})
}

async fn policy_durations_are_bounded_when_written(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let people = people_package(&app, &s).await;
    let now = app.clock.now();
    let agents = "allDirectoryAgentIdentities";
    let users = "allMemberUsers";
    let ok = after("PT2H");
    let sp_of_agent = json!({
        "displayName": "Bounded",
        "allowedTargetScope": "specificDirectoryServicePrincipals",
        "specificAllowedTargets": [{"@odata.type": "#microsoft.graph.singleServicePrincipal", "servicePrincipalId": s.agent}],
        "expiration": after("P366D"),
        "accessPackage": {"id": s.package},
    });
    let refused: Vec<(&str, Value, String)> = vec![
        (
            "denial over 14 days",
            policy(&s.package, agents, ok.clone(), Some(stage(&s, Some("P15D"), None))),
            "stage 1 durationBeforeAutomaticDenial must be at most P14D (14 days)".into(),
        ),
        (
            "the denial of the review (P9999999999D)",
            policy(&s.package, agents, ok.clone(), Some(stage(&s, Some("P9999999999D"), None))),
            "stage 1 durationBeforeAutomaticDenial must be at most P14D (14 days)".into(),
        ),
        (
            "a denial past any duration",
            policy(
                &s.package,
                agents,
                ok.clone(),
                Some(stage(&s, Some("P99999999999999999999D"), None)),
            ),
            "stage 1 durationBeforeAutomaticDenial 'P99999999999999999999D' is not an ISO 8601 duration".into(),
        ),
        (
            "escalation over 14 days",
            policy(&s.package, agents, ok.clone(), Some(stage(&s, None, Some("P15D")))),
            "stage 1 durationBeforeEscalation must be at most P14D (14 days)".into(),
        ),
        (
            "escalation not before the denial",
            policy(&s.package, agents, ok.clone(), Some(stage(&s, Some("P14D"), Some("P14D")))),
            "durationBeforeEscalation must be shorter than durationBeforeAutomaticDenial".into(),
        ),
        (
            "agents for longer than WRIT_MAX_AGENT_ACCESS",
            policy(&s.package, agents, after("P366D"), None),
            "expiration.duration must be at most P365D (365 days) for a policy whose targets include agents (WRIT_MAX_AGENT_ACCESS)".into(),
        ),
        (
            "all service principals include agents",
            policy(&s.package, "allDirectoryServicePrincipals", after("P366D"), None),
            "expiration.duration must be at most P365D (365 days)".into(),
        ),
        (
            "a specific agent",
            sp_of_agent,
            "expiration.duration must be at most P365D (365 days)".into(),
        ),
        (
            "an agent policy of P9999999999D",
            policy(&s.package, agents, after("P9999999999D"), None),
            "expiration.duration must be at most P3660D (3660 days)".into(),
        ),
        (
            "people for longer than 3660 days",
            policy(&people, users, after("P3661D"), None),
            "expiration.duration must be at most P3660D (3660 days)".into(),
        ),
        (
            "an end near year 9999",
            policy(&people, users, until("9999-12-31T23:59:59Z"), None),
            "expiration.endDateTime must be at or after 1970-01-01T00:00:00Z and before 9000-01-01T00:00:00Z".into(),
        ),
        (
            "an end in year 9000 by its offset",
            policy(&people, users, until("8999-12-31T23:30:00-01:00"), None),
            "expiration.endDateTime must be at or after".into(),
        ),
        (
            "agents until a date past WRIT_MAX_AGENT_ACCESS",
            policy(&s.package, agents, until(&rfc3339(now + Duration::days(366))), None),
            "expiration.endDateTime must be at most P365D (365 days) from now for a policy whose targets include agents".into(),
        ),
    ];
    let before = count(&app, "assignmentPolicies").await;
    let audit_before = app.audit_count().await;
    for (case, body, expected) in &refused {
        let reply = post_policy(&app, body.clone()).await;
        reply.assert_invalid_request(expected, case);
    }
    assert_eq!(
        count(&app, "assignmentPolicies").await,
        before,
        "nothing was written"
    );
    assert_eq!(app.audit_count().await, audit_before);

    // The edges are accepted.
    let accepted = [
        policy(
            &s.package,
            agents,
            ok.clone(),
            Some(stage(&s, Some("P14D"), None)),
        ),
        policy(
            &s.package,
            agents,
            ok.clone(),
            Some(stage(&s, Some("P14D"), Some("P13DT23H59M59S"))),
        ),
        policy(
            &s.package,
            agents,
            ok.clone(),
            Some(stage(&s, None, Some("P14D"))),
        ),
        policy(&s.package, agents, after("P365D"), None),
        policy(
            &s.package,
            agents,
            until(&rfc3339(now + Duration::days(364))),
            None,
        ),
        policy(&people, users, after("P3660D"), None),
        policy(&people, users, until("8999-12-31T23:59:59Z"), None),
    ];
    let mut last = String::new();
    for body in accepted {
        let reply = post_policy(&app, body.clone()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{body}: {}", reply.body);
        last = id(&reply.body);
    }

    // Changing a policy is bounded the same way, and a refused change changes nothing.
    let path = format!("{EM}/assignmentPolicies/{last}");
    let stored = app.get(&path, &app.admin).await.body;
    for (method, body, expected) in [
        (
            Method::PATCH,
            json!({"expiration": after("P9999999999D")}),
            "expiration.duration must be at most P3660D (3660 days)",
        ),
        (
            Method::PUT,
            policy(&people, users, until("9999-12-31T23:59:59Z"), None),
            "expiration.endDateTime must be at or after 1970-01-01T00:00:00Z",
        ),
        (
            Method::PATCH,
            json!({"requestApprovalSettings": {"isApprovalRequiredForAdd": true, "stages": [stage(&s, Some("P9999999999D"), None)]}}),
            "stage 1 durationBeforeAutomaticDenial must be at most P14D (14 days)",
        ),
    ] {
        let reply = app.send(method.clone(), &path, &app.admin, body).await;
        reply.assert_invalid_request(expected, method.as_str());
    }
    let after_refusals = app.get(&path, &app.admin).await.body;
    assert_eq!(after_refusals["expiration"], stored["expiration"]);
    assert_eq!(
        after_refusals["requestApprovalSettings"],
        stored["requestApprovalSettings"]
    );
}

async fn custom_extension_and_settings_durations_are_bounded(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let extensions = format!("{EM}/catalogs/{}/customWorkflowExtensions", s.catalog);
    let extension = |timeout: &str| {
        json!({
            "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
            "displayName": "Ticket check",
            "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://tickets.example/hook"},
            "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdTokenAuthentication", "resourceId": "api://tickets"},
            "callbackConfiguration": {"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": timeout}
        })
    };
    let before = listed(&app, &extensions).await;
    for (timeout, expected) in [
        (
            "PT4M59S",
            "callbackConfiguration.timeoutDuration must be at least PT5M (5 minutes)",
        ),
        (
            "P14DT1S",
            "callbackConfiguration.timeoutDuration must be at most P14D (14 days)",
        ),
        (
            "P9999999999D",
            "callbackConfiguration.timeoutDuration must be at most P14D (14 days)",
        ),
    ] {
        let reply = app
            .send(Method::POST, &extensions, &app.admin, extension(timeout))
            .await;
        reply.assert_invalid_request(expected, timeout);
    }
    assert_eq!(listed(&app, &extensions).await, before);
    let mut created = String::new();
    for timeout in ["PT5M", "P14D"] {
        let reply = app
            .send(Method::POST, &extensions, &app.admin, extension(timeout))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{timeout}: {}",
            reply.body
        );
        created = id(&reply.body);
    }
    let path = format!("{extensions}/{created}");
    let reply = app
        .send(
            Method::PATCH,
            &path,
            &app.admin,
            json!({"callbackConfiguration": {"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "P9999999999D"}}),
        )
        .await;
    reply.assert_invalid_request("at most P14D", "PATCH");
    assert_eq!(
        app.get(&path, &app.admin).await.body["callbackConfiguration"]["timeoutDuration"],
        "P14D"
    );

    let deleted_after = async |duration: &str| {
        let body = json!({"durationUntilExternalUserDeletedAfterBlocked": duration});
        app.send(Method::PATCH, &format!("{EM}/settings"), &app.admin, body)
            .await
    };
    let reply = deleted_after("P9999999999D").await;
    reply.assert_invalid_request(
        "durationUntilExternalUserDeletedAfterBlocked must be at most P3660D (3660 days)",
        "settings",
    );
    let reply = deleted_after("P3660D").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

/// A secret's default end is its start plus 730 days: a start near year 9999 was a 500.
async fn password_credential_instants_are_bounded(backend: Backend) {
    let app = app(backend).await;
    let created = app
        .created(
            &app.admin,
            "/v1.0/applications",
            json!({"displayName": "Nightly export"}),
        )
        .await;
    let path = format!("/v1.0/applications/{created}/addPassword");
    let application = format!("/v1.0/applications/{created}");
    let before = listed_in(&app, &application, "passwordCredentials").await;
    for (credential, expected) in [
        (
            json!({"startDateTime": "9999-06-01T00:00:00Z"}),
            "passwordCredential.startDateTime must be at or after 1970-01-01T00:00:00Z and before 9000-01-01T00:00:00Z",
        ),
        (
            json!({"endDateTime": "9999-12-31T23:59:59Z"}),
            "passwordCredential.endDateTime must be at or after 1970-01-01T00:00:00Z and before 9000-01-01T00:00:00Z",
        ),
        (
            json!({"startDateTime": "1969-12-31T23:59:59Z"}),
            "passwordCredential.startDateTime must be at or after 1970-01-01T00:00:00Z",
        ),
    ] {
        let reply = app
            .send(
                Method::POST,
                &path,
                &app.admin,
                json!({"passwordCredential": credential}),
            )
            .await;
        reply.assert_invalid_request(expected, &credential.to_string());
    }
    assert_eq!(
        listed_in(&app, &application, "passwordCredentials").await,
        before
    );
    let reply = app
        .send(
            Method::POST,
            &path,
            &app.admin,
            json!({"passwordCredential": {"startDateTime": "8997-12-31T00:00:00Z"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["endDateTime"], "8999-12-31T00:00:00Z");
}

async fn listed(app: &TestApp, path: &str) -> usize {
    listed_in(app, path, "value").await
}

async fn listed_in(app: &TestApp, path: &str, property: &str) -> usize {
    app.get(path, &app.admin).await.body[property]
        .as_array()
        .unwrap()
        .len()
}

fn admin_add(s: &Setup, policy: &str, target: &str, schedule: Option<Value>) -> Value {
    let mut body = json!({
        "requestType": "adminAdd",
        "assignment": {"targetId": target, "assignmentPolicyId": policy, "accessPackageId": s.package},
    });
    if let Some(schedule) = schedule {
        body["schedule"] = schedule;
    }
    body
}

async fn request_schedules_and_agent_access_are_bounded(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let now = app.clock.now();
    // An administrators' policy (any principal), longer than agents may hold: accepted when
    // written, bounded for an agent when a request names one.
    let long = id(&post(
        &app,
        "/assignmentPolicies",
        policy(&s.package, "notSpecified", after("P400D"), None),
    )
    .await);
    let before = count(&app, "assignmentRequests").await;
    let refused = [
        (
            "a start near year 9999",
            admin_add(
                &s,
                &s.policy,
                &s.agent,
                Some(json!({"startDateTime": "9999-12-31T23:59:59Z"})),
            ),
            "schedule.startDateTime must be at or after 1970-01-01T00:00:00Z and before 9000-01-01T00:00:00Z",
        ),
        (
            "a start before 1970",
            admin_add(
                &s,
                &s.policy,
                &s.agent,
                Some(json!({"startDateTime": "0001-01-01T00:00:00Z"})),
            ),
            "schedule.startDateTime must be at or after 1970-01-01T00:00:00Z",
        ),
        (
            "an end near year 9999",
            admin_add(
                &s,
                &s.policy,
                &s.agent,
                Some(json!({"expiration": until("9999-12-31T23:59:59Z")})),
            ),
            "schedule.expiration.endDateTime must be at or after 1970-01-01T00:00:00Z and before 9000-01-01T00:00:00Z",
        ),
        (
            "a custom duration of P9999999999D",
            admin_add(
                &s,
                &s.policy,
                &s.agent,
                Some(json!({"expiration": after("P9999999999D")})),
            ),
            "schedule.expiration.duration must be at most P3660D (3660 days)",
        ),
        (
            "an agent under a policy longer than WRIT_MAX_AGENT_ACCESS",
            admin_add(&s, &long, &s.agent, None),
            "the policy's expiration.duration must end at most P365D (365 days) after the assignment starts: access that reaches an agent is bounded by WRIT_MAX_AGENT_ACCESS",
        ),
        (
            "an agent's custom schedule longer than WRIT_MAX_AGENT_ACCESS",
            admin_add(
                &s,
                &long,
                &s.agent,
                Some(json!({"expiration": after("P366D")})),
            ),
            "schedule.expiration.duration must end at most P365D (365 days) after the assignment starts",
        ),
        (
            "an agent's custom end past WRIT_MAX_AGENT_ACCESS",
            admin_add(
                &s,
                &long,
                &s.agent,
                Some(json!({"expiration": until(&rfc3339(now + Duration::days(366)))})),
            ),
            "schedule.expiration.endDateTime must end at most P365D (365 days) after the assignment starts",
        ),
    ];
    for (case, body, expected) in refused {
        let reply = post_request(&app, &app.admin, body).await;
        reply.assert_invalid_request(expected, case);
    }
    assert_eq!(
        count(&app, "assignmentRequests").await,
        before,
        "nothing was written"
    );

    // A person may hold the long policy's access; an agent exactly WRIT_MAX_AGENT_ACCESS.
    let person = app.create_user("Pat Person").await;
    let reply = post_request(&app, &app.admin, admin_add(&s, &long, &person, None)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let reply = post_request(
        &app,
        &app.admin,
        admin_add(
            &s,
            &long,
            &s.agent,
            Some(json!({"expiration": after("P365D")})),
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let request = id(&reply.body);
    assert_eq!(run_jobs(&app).await.completed, 2);
    let delivered = app
        .get(
            &format!("{EM}/assignmentRequests/{request}?$expand=assignment"),
            &app.admin,
        )
        .await;
    assert_eq!(delivered.body["state"], "delivered", "{}", delivered.body);
    let assignment = delivered.body["assignment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let end = OffsetDateTime::parse(
        delivered.body["assignment"]["schedule"]["expiration"]["endDateTime"]
            .as_str()
            .unwrap(),
        &Rfc3339,
    )
    .unwrap();
    assert!(end <= now + Duration::days(365), "{end}");

    // An extension of the agent's assignment is bounded the same way.
    let before = count(&app, "assignmentRequests").await;
    let extend = |schedule: Option<Value>| {
        let mut body = json!({"requestType": "adminUpdate", "assignment": {"id": assignment}});
        if let Some(schedule) = schedule {
            body["schedule"] = schedule;
        }
        body
    };
    for (case, body, expected) in [
        (
            "by the policy's P400D",
            extend(None),
            "the policy's expiration.duration must end at most P365D (365 days)",
        ),
        (
            "by a custom P366D",
            extend(Some(json!({"expiration": after("P366D")}))),
            "schedule.expiration.duration must end at most P365D (365 days)",
        ),
        (
            "to year 9999",
            extend(Some(json!({"expiration": until("9999-12-31T23:59:59Z")}))),
            "schedule.expiration.endDateTime must be at or after 1970-01-01T00:00:00Z and before 9000-01-01T00:00:00Z",
        ),
        (
            "by P9999999999D",
            extend(Some(json!({"expiration": after("P9999999999D")}))),
            "schedule.expiration.duration must be at most P3660D (3660 days)",
        ),
    ] {
        let reply = post_request(&app, &app.admin, body).await;
        reply.assert_invalid_request(expected, case);
    }
    assert_eq!(count(&app, "assignmentRequests").await, before);
    let reply = post_request(
        &app,
        &app.admin,
        extend(Some(json!({"expiration": after("P365D")}))),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

/// Rewrites a policy as a database written before the bounds could hold it.
async fn rewrite_policy(
    app: &TestApp,
    policy_id: &str,
    subjects: &[String],
    change: impl FnOnce(&mut writ_domain::entitlement::AssignmentPolicy),
) {
    let mut policy = app
        .store
        .assignment_policy(policy_id)
        .await
        .unwrap()
        .unwrap();
    change(&mut policy);
    let mut tx = app.store.begin().await.unwrap();
    tx.update_policy(&policy, subjects).await.unwrap();
    tx.commit().await.unwrap();
}

async fn an_old_row_with_an_overflowing_duration_parks_its_job_not_the_worker(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    // Agents ask, their sponsor approves within seven days.
    let approved = id(&post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents ask, sponsor approves",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": after("PT2H"),
        "requestorSettings": {"enableTargetsToSelfAddAccess": true},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "stages": [stage(&s, Some("P7D"), None)]},
        "accessPackage": {"id": s.package},
    }))
    .await);
    // The database then holds what an older Writ accepted from a catalog owner.
    rewrite_policy(&app, &approved, std::slice::from_ref(&s.sponsor), |p| {
        p.settings.request_approval_settings.stages[0].duration_before_automatic_denial =
            Some("P9999999999D".into());
    })
    .await;

    let (token, _) = agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;
    let poisoned = post_request(
        &app,
        &token,
        json!({"requestType": "userAdd", "assignment": {"accessPackageId": s.package, "assignmentPolicyId": approved}}),
    )
    .await;
    assert_eq!(poisoned.status, StatusCode::CREATED, "{}", poisoned.body);
    let poisoned = id(&poisoned.body);
    let other = create_agent(&app, &s.fleet, "support-agent-8", &[&s.sponsor]).await;
    let other = id(&other.body);
    let next = post_request(&app, &app.admin, admin_add(&s, &s.policy, &other, None)).await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.body);
    let next = id(&next.body);

    // The worker as `writ serve` runs it: both jobs are claimed in one batch.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(
        JobWorker {
            store: Arc::new(app.store.clone()),
            clock: Arc::new(app.clock.clone()),
            handler: Arc::new(app.state.entitlement.clone()),
            config: WorkerConfig::default(),
            timing: WorkerTiming {
                max_idle: StdDuration::from_millis(100),
                error_pause: StdDuration::from_millis(100),
            },
            waker: app.state.job_waker.clone(),
        }
        .run(async {
            let _ = stopped.await;
        }),
    );
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let parked = app.store.jobs_about(&poisoned).await.unwrap();
        if request_state(&app, &next).await == "delivered"
            && parked.iter().any(|j| j.parked_at.is_some())
        {
            break;
        }
        assert!(!worker.is_finished(), "the worker died: {:?}", worker.await);
        assert!(
            Instant::now() < deadline,
            "within seconds, the next request is delivered and the poisoned job parked"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let jobs = app.store.jobs_about(&poisoned).await.unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].attempts, 1, "parked at once: retrying cannot help");
    let error = jobs[0].last_error.as_deref().unwrap_or_default();
    assert!(error.contains("out of range"), "{error}");
    assert_eq!(request_state(&app, &poisoned).await, "submitted");

    // The administrator fixes the policy and reprocesses: the request goes on.
    rewrite_policy(&app, &approved, std::slice::from_ref(&s.sponsor), |p| {
        p.settings.request_approval_settings.stages[0].duration_before_automatic_denial =
            Some("P7D".into());
    })
    .await;
    let reply = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests/{poisoned}/reprocess"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    app.state.job_waker.wake();
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while request_state(&app, &poisoned).await != "pendingApproval" {
        assert!(
            Instant::now() < deadline,
            "the reprocessed request moves on"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let _ = stop.send(());
    worker.await.unwrap();
}

async fn an_old_policy_with_an_overflowing_expiration_is_a_400_not_a_500(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    rewrite_policy(&app, &s.policy, &[], |p| {
        p.settings.expiration.duration = Some("P9999999999D".into());
    })
    .await;
    let before = count(&app, "assignmentRequests").await;
    let reply = post_request(&app, &app.admin, admin_add(&s, &s.policy, &s.agent, None)).await;
    reply.assert_invalid_request("is not a representable instant", "adminAdd");
    assert_eq!(count(&app, "assignmentRequests").await, before);
}

crate::on_both_backends!(
    password_credential_instants_are_bounded,
    policy_durations_are_bounded_when_written,
    custom_extension_and_settings_durations_are_bounded,
    request_schedules_and_agent_access_are_bounded,
    an_old_row_with_an_overflowing_duration_parks_its_job_not_the_worker,
    an_old_policy_with_an_overflowing_expiration_is_a_400_not_a_500,
);

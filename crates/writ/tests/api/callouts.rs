//! Custom extension callouts against a real local extension (axum on 127.0.0.1:0), on SQLite and
//! PostgreSQL: the real HTTP sender and outbound policy, dispatcher passes and jobs driven by
//! hand with the manual clock. What an administrator and an extension observe: a callout per
//! configured stage with Graph's payload and a role-less token, launch-and-wait holding a request
//! at `WaitingForCallback` until `resume` (by the extension's principal or a catalog
//! administrator, never by the request's own agent) or its timeout (`CalloutTimedOut`), and the
//! outbound rules (an extension on loopback with an empty allow-list is refused; the waiting
//! request is denied `CalloutFailed`).

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::dispatch::Pacing;
use writ_domain::jobs::{WorkerConfig, run_due_jobs};
use writ_domain::store::JobStore;
use writ_domain::webhooks::DispatchConfig;
use writ_runtime::callouts::HttpCalloutSender;
use writ_runtime::outbound::{OutboundClient, OutboundPolicy, OutboundTimeouts};
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet};
use crate::harness::{TestApp, app, id, post};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// One callout as the extension received it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Value,
}

/// A local extension endpoint that records every POST and answers `status`.
struct Extension {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn extension_endpoint(status: u16) -> Extension {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = received.clone();
    let handler = move |headers: HeaderMap, body: String| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push(Received {
                headers,
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            });
            StatusCode::from_u16(status).unwrap()
        }
    };
    let router = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Extension {
        url: format!("http://{address}/callout"),
        received,
    }
}

impl Extension {
    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn stages(&self) -> Vec<String> {
        self.all()
            .iter()
            .map(|r| {
                r.body["data"]["stage"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

fn sender(app: &TestApp, allow: &[&str]) -> HttpCalloutSender {
    let policy =
        OutboundPolicy::parse(&allow.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()).unwrap();
    HttpCalloutSender::new(
        OutboundClient::new(
            policy,
            OutboundTimeouts {
                connect: StdDuration::from_secs(2),
                request: StdDuration::from_secs(10),
            },
        )
        .unwrap(),
        app.state.tokens.clone(),
        Arc::new(app.clock.clone()),
    )
}

/// Runs callout passes until none is due at the clock's instant.
async fn send_callouts(app: &TestApp, sender: &HttpCalloutSender) {
    let config = DispatchConfig {
        worker_id: "test".into(),
        ..DispatchConfig::default()
    };
    for _ in 0..10 {
        let report = app
            .state
            .entitlement
            .run_callout_pass(
                sender,
                &Pacing {
                    config: &config,
                    clock: &app.clock,
                    jitter: &|| 0.0,
                    stopping: &|| false,
                },
            )
            .await
            .unwrap();
        if report.claimed == 0 {
            return;
        }
    }
}

/// Runs every job due at the clock's instant.
async fn run_jobs(app: &TestApp) {
    for _ in 0..5 {
        let report = run_due_jobs(
            &app.store,
            &app.state.entitlement,
            &WorkerConfig::default(),
            app.clock.now(),
        )
        .await
        .unwrap();
        assert_eq!((report.retried, report.parked), (0, 0));
        if report.completed == 0 {
            return;
        }
    }
}

/// A catalog, its package, and an extension of each kind there. The request extension waits
/// for a callback when `wait` gives its timeout.
struct Setup {
    catalog: String,
    package: String,
    request_extension: String,
    assignment_extension: String,
    /// The application whose service principal the extensions name (`resourceId`), and that
    /// principal's token.
    extension_app_id: String,
    extension_token: String,
}

async fn setup(app: &TestApp, url: &str, wait: Option<&str>) -> Setup {
    let catalog = id(&post(
        app,
        &app.admin,
        &format!("{EM}/catalogs"),
        json!({"displayName": "Agents"}),
    )
    .await);
    let package = id(&post(
        app,
        &app.admin,
        &format!("{EM}/accessPackages"),
        json!({"displayName": "Ticket triage", "catalog": {"id": catalog}}),
    )
    .await);
    let application = post(
        app,
        &app.admin,
        "/v1.0/applications",
        json!({"displayName": "Ticket system"}),
    )
    .await;
    let extension_app_id = application["appId"].as_str().unwrap().to_owned();
    post(
        app,
        &app.admin,
        "/v1.0/servicePrincipals",
        json!({"appId": extension_app_id}),
    )
    .await;
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/applications/{}/addPassword", id(&application)),
            &app.admin,
            json!({"passwordCredential": {"displayName": "callback key"}}),
        )
        .await;
    assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
    let extension_token = app
        .client_token(
            &extension_app_id,
            secret.body["secretText"].as_str().unwrap(),
        )
        .await;
    let mut request_extension = json!({
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
        "displayName": "Ticket check",
        "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": url},
        "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdTokenAuthentication", "resourceId": extension_app_id},
        "clientConfiguration": {"maximumRetries": 0, "timeoutInMilliseconds": 5000},
    });
    if let Some(timeout) = wait {
        request_extension["callbackConfiguration"] = json!({
            "@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration",
            "timeoutDuration": timeout,
        });
    }
    let request_extension = id(&post(
        app,
        &app.admin,
        &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"),
        request_extension,
    )
    .await);
    let assignment_extension = id(&post(
        app,
        &app.admin,
        &format!("{EM}/catalogs/{catalog}/customWorkflowExtensions"),
        json!({
            "@odata.type": "#microsoft.graph.accessPackageAssignmentWorkflowExtension",
            "displayName": "Expiry reminder",
            "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": url},
            "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdTokenAuthentication", "resourceId": extension_app_id},
        }),
    )
    .await);
    Setup {
        catalog,
        package,
        request_extension,
        assignment_extension,
        extension_app_id,
        extension_token,
    }
}

/// A self-request policy for agents over `package`, with `stages` calling `extension`s.
async fn policy(
    app: &TestApp,
    s: &Setup,
    stages: &[(&str, &str)],
    approval: Option<&str>,
) -> String {
    let mut body = json!({
        "displayName": "Agents ask",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "P30D"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": true},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []},
        "customExtensionStageSettings": stages.iter().map(|(stage, extension)| json!({
            "stage": stage, "customExtension": {"id": extension}
        })).collect::<Vec<_>>(),
        "accessPackage": {"id": s.package},
    });
    if let Some(approver) = approval {
        body["requestApprovalSettings"] = json!({
            "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false,
            "stages": [{
                "durationBeforeAutomaticDenial": "P7D",
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": approver}],
            }],
        });
    }
    id(&post(app, &app.admin, &format!("{EM}/assignmentPolicies"), body).await)
}

/// An agent with one sponsor, and its token.
async fn agent(app: &TestApp) -> (String, String) {
    let fleet = fleet(app).await;
    let reply = create_agent(app, &fleet, "triage-agent", &[&fleet.sponsor]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let agent = id(&reply.body);
    let (token, _) = agent_token(app, &agent, GRAPH_SCOPE).await;
    (agent, token)
}

async fn self_request(app: &TestApp, token: &str, agent: &str, s: &Setup, policy: &str) -> Value {
    post(
        app,
        token,
        &format!("{EM}/assignmentRequests"),
        json!({
            "requestType": "userAdd",
            "assignment": {"targetId": agent, "assignmentPolicyId": policy, "accessPackageId": s.package},
        }),
    )
    .await
}

/// A setup whose policy calls the request extension when a request is created, and an agent's
/// self-request under it: (setup, agent, agent's token, request id).
async fn at_creation(
    app: &TestApp,
    url: &str,
    wait: Option<&str>,
) -> (Setup, String, String, String) {
    let s = setup(app, url, wait).await;
    let policy = policy(
        app,
        &s,
        &[("assignmentRequestCreated", &s.request_extension)],
        None,
    )
    .await;
    let (agent, token) = agent(app).await;
    let request_id = id(&self_request(app, &token, &agent, &s, &policy).await);
    (s, agent, token, request_id)
}

async fn request(app: &TestApp, request: &str) -> Value {
    let reply = app
        .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

fn resume_body(callout: &Value, state: Option<&str>) -> Value {
    let stage = callout["data"]["stage"].as_str().unwrap();
    let mut data = json!({
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCallbackData",
        "stage": stage,
        "customExtensionStageInstanceId": callout["data"]["customExtensionStageInstanceId"],
        "customExtensionStageInstanceDetail": "checked by the ticket system",
    });
    if let Some(state) = state {
        data["state"] = json!(state);
    }
    json!({
        "source": "TicketSystem",
        "type": format!("microsoft.graph.accessPackageCustomExtensionStage.{stage}"),
        "data": data,
    })
}

async fn resume(app: &TestApp, token: &str, request: &str, body: Value) -> crate::harness::Reply {
    app.send(
        Method::POST,
        &format!("{EM}/assignmentRequests/{request}/resume"),
        token,
        body,
    )
    .await
}

fn claims(headers: &HeaderMap) -> Value {
    let token = headers["authorization"]
        .to_str()
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_owned();
    crate::harness::claims_of(&token)
}

/// Fire-and-forget extensions at created, granted and removed, and the assignment extension at
/// both expiration stages: the extension receives one callout per stage, with Graph's payload
/// and a token for its audience carrying no roles; requests and assignments list the instances.
async fn each_configured_stage_calls_the_extension(backend: Backend) {
    let mut app = app(backend).await;
    let endpoint = extension_endpoint(202).await;
    let s = setup(&app, &endpoint.url, None).await;
    let policy = policy(
        &app,
        &s,
        &[
            ("assignmentRequestCreated", &s.request_extension),
            ("assignmentRequestGranted", &s.request_extension),
            ("assignmentRequestRemoved", &s.request_extension),
            (
                "assignmentFourteenDaysBeforeExpiration",
                &s.assignment_extension,
            ),
            ("assignmentOneDayBeforeExpiration", &s.assignment_extension),
        ],
        None,
    )
    .await;
    let (agent, token) = agent(&app).await;
    let sender = sender(&app, &["127.0.0.1"]);
    let created = self_request(&app, &token, &agent, &s, &policy).await;
    let request_id = id(&created);
    assert_eq!(created["status"], "Accepted", "fire and forget never holds");
    send_callouts(&app, &sender).await;
    run_jobs(&app).await;
    send_callouts(&app, &sender).await;
    assert_eq!(
        endpoint.stages(),
        ["assignmentRequestCreated", "assignmentRequestGranted"]
    );
    let first = &endpoint.all()[0];
    assert_eq!(
        first.body["type"],
        "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated"
    );
    let data = &first.body["data"];
    assert_eq!(
        data["@odata.type"],
        "#microsoft.graph.accessPackageAssignmentRequestCalloutData"
    );
    assert_eq!(
        data["accessPackageAssignmentRequestId"],
        request_id.as_str()
    );
    assert_eq!(data["requestType"], "userAdd");
    assert_eq!(data["accessPackage"]["id"], s.package.as_str());
    assert_eq!(data["accessPackageCatalog"]["id"], s.catalog.as_str());
    assert_eq!(data["assignment"]["target"]["objectId"], agent.as_str());
    assert_eq!(data["requestor"]["objectId"], agent.as_str());
    assert_eq!(data["callbackConfiguration"], Value::Null, "no wait");
    let token_claims = claims(&first.headers);
    assert_eq!(token_claims["aud"], s.extension_app_id.as_str());
    assert!(token_claims.get("roles").is_none(), "{token_claims}");
    assert!(token_claims.get("wids").is_none(), "{token_claims}");
    let granted = &endpoint.all()[1].body["data"];
    let assignment = granted["assignment"]["id"].as_str().unwrap().to_owned();
    assert_eq!(granted["assignment"]["state"], "delivered");

    // The instances, as Graph lists them, on the request.
    let shown = request(&app, &request_id).await;
    let instances = shown["customExtensionCalloutInstances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{shown}");
    assert!(
        instances.iter().all(|i| i["status"] == "calloutSent"
            && i["customExtensionId"] == s.request_extension.as_str())
    );

    // The expiration stages, at the lead times before the end.
    let end = app.clock.now() + Duration::days(30);
    app.clock.set(end - Duration::days(14));
    run_jobs(&app).await;
    send_callouts(&app, &sender).await;
    app.clock.set(end - Duration::days(1));
    run_jobs(&app).await;
    send_callouts(&app, &sender).await;
    app.refresh_admin().await;
    let received = endpoint.all();
    assert_eq!(
        endpoint.stages()[2..],
        [
            "assignmentFourteenDaysBeforeExpiration",
            "assignmentOneDayBeforeExpiration"
        ]
    );
    let reminder = &received[3].body["data"];
    assert_eq!(
        reminder["@odata.type"],
        "#microsoft.graph.accessPackageAssignmentCalloutData"
    );
    assert_eq!(reminder["assignment"]["id"], assignment.as_str());
    let listed = app
        .get(
            &format!("{EM}/assignments?$filter=target/objectId%20eq%20'{agent}'"),
            &app.admin,
        )
        .await;
    let instances = listed.body["value"][0]["customExtensionCalloutInstances"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", listed.body))
        .clone();
    assert_eq!(instances.len(), 2, "{}", listed.body);
    assert!(
        instances
            .iter()
            .all(|i| i["customExtensionId"] == s.assignment_extension.as_str())
    );

    // Removal.
    post(
        &app,
        &app.admin,
        &format!("{EM}/assignmentRequests"),
        json!({"requestType": "adminRemove", "assignment": {"id": assignment}}),
    )
    .await;
    send_callouts(&app, &sender).await;
    assert_eq!(endpoint.stages().len(), 5);
    assert_eq!(endpoint.stages()[4], "assignmentRequestRemoved");
    let removed = &endpoint.all()[4].body["data"];
    assert_eq!(removed["requestType"], "adminRemove");
    assert_eq!(removed["assignment"]["state"], "expired");
    // Nothing was sent twice.
    send_callouts(&app, &sender).await;
    assert_eq!(endpoint.all().len(), 5);
}

/// Launch and wait at request creation: the request holds at `WaitingForCallback` until the
/// extension's principal resumes it with the callout's stage-instance id; the agent itself, its
/// sponsor and strangers cannot; a second resume is `409`.
async fn a_waiting_request_proceeds_when_the_extension_resumes_it(backend: Backend) {
    let app = app(backend).await;
    let endpoint = extension_endpoint(202).await;
    let s = setup(&app, &endpoint.url, Some("PT1H")).await;
    let policy = policy(
        &app,
        &s,
        &[("assignmentRequestCreated", &s.request_extension)],
        None,
    )
    .await;
    let (agent, token) = agent(&app).await;
    let created = self_request(&app, &token, &agent, &s, &policy).await;
    let request_id = id(&created);
    assert_eq!(created["status"], "WaitingForCallback");
    assert_eq!(created["state"], "submitted");
    // The create's answer shows the callout its transaction made, without a read after it.
    let instances = created["customExtensionCalloutInstances"]
        .as_array()
        .unwrap();
    assert_eq!(instances.len(), 1, "{created}");
    assert_eq!(instances[0]["status"], "waitingForCallback");
    assert_eq!(
        instances[0]["customExtensionId"],
        s.request_extension.as_str()
    );
    run_jobs(&app).await;
    send_callouts(&app, &sender(&app, &["127.0.0.1"])).await;
    let shown = request(&app, &request_id).await;
    assert_eq!(
        shown["status"], "WaitingForCallback",
        "nothing moves it but resume"
    );
    assert_eq!(
        shown["customExtensionCalloutInstances"][0]["status"],
        "waitingForCallback"
    );
    let callout = endpoint.all()[0].body.clone();
    assert_eq!(
        callout["data"]["callbackUriPath"],
        format!("/identityGovernance/entitlementManagement/assignmentRequests/{request_id}/resume")
    );
    assert_eq!(
        callout["data"]["callbackConfiguration"]["timeoutDuration"],
        "PT1H"
    );

    // Forbidden paths.
    let by_agent = resume(&app, &token, &request_id, resume_body(&callout, None)).await;
    assert_eq!(by_agent.status, StatusCode::FORBIDDEN, "{}", by_agent.body);
    // The agent's sponsor may read the request but does not administer the catalog.
    let sponsor = app
        .password_token("samsponsor@example.org", "a long passphrase 1")
        .await;
    assert_eq!(sponsor.status, StatusCode::OK, "{}", sponsor.body);
    let sponsor = sponsor.body["access_token"].as_str().unwrap().to_owned();
    let reply = app
        .get(&format!("{EM}/assignmentRequests/{request_id}"), &sponsor)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let by_sponsor = resume(&app, &sponsor, &request_id, resume_body(&callout, None)).await;
    assert_eq!(
        by_sponsor.status,
        StatusCode::FORBIDDEN,
        "{}",
        by_sponsor.body
    );
    let (_, stranger) = app.user_token("Stan Stranger").await;
    let by_stranger = resume(&app, &stranger, &request_id, resume_body(&callout, None)).await;
    assert_eq!(
        by_stranger.status,
        StatusCode::NOT_FOUND,
        "{}",
        by_stranger.body
    );
    let mut wrong = resume_body(&callout, None);
    wrong["data"]["customExtensionStageInstanceId"] = json!("00000000-0000-4000-8000-000000000000");
    let guessed = resume(&app, &s.extension_token, &request_id, wrong).await;
    assert_eq!(guessed.status, StatusCode::NOT_FOUND, "{}", guessed.body);
    let mut wrong_stage = resume_body(&callout, None);
    wrong_stage["data"]["stage"] = json!("assignmentRequestApproved");
    let reply = resume(&app, &s.extension_token, &request_id, wrong_stage).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(
        request(&app, &request_id).await["status"],
        "WaitingForCallback"
    );

    let reply = resume(
        &app,
        &s.extension_token,
        &request_id,
        resume_body(&callout, None),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    run_jobs(&app).await;
    let shown = request(&app, &request_id).await;
    assert_eq!(shown["state"], "delivered", "{shown}");
    let instance = &shown["customExtensionCalloutInstances"][0];
    assert_eq!(instance["status"], "callbackReceived");
    assert_eq!(instance["detail"], "checked by the ticket system");
    let again = resume(
        &app,
        &s.extension_token,
        &request_id,
        resume_body(&callout, None),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
}

/// A resume carrying `state: Denied` ends the request as denied.
async fn a_resume_with_a_denial_ends_the_request(backend: Backend) {
    let app = app(backend).await;
    let endpoint = extension_endpoint(202).await;
    let (s, agent, _, request_id) = at_creation(&app, &endpoint.url, Some("PT1H")).await;
    send_callouts(&app, &sender(&app, &["127.0.0.1"])).await;
    let callout = endpoint.all()[0].body.clone();
    let reply = resume(
        &app,
        &s.extension_token,
        &request_id,
        resume_body(&callout, Some("Denied")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    run_jobs(&app).await;
    let shown = request(&app, &request_id).await;
    assert_eq!(shown["state"], "denied", "{shown}");
    assert_eq!(shown["status"], "Denied");
    let assignments = app
        .get(
            &format!("{EM}/assignments?$filter=target/objectId%20eq%20'{agent}'"),
            &app.admin,
        )
        .await;
    assert_eq!(
        assignments.body["value"],
        json!([]),
        "no access was delivered"
    );
}

/// Nobody calls back within the timeout: the request is denied with status `CalloutTimedOut`,
/// and a late resume is `409`.
async fn an_unanswered_wait_times_out(backend: Backend) {
    let app = app(backend).await;
    let endpoint = extension_endpoint(202).await;
    let (s, _, _, request_id) = at_creation(&app, &endpoint.url, Some("PT10M")).await;
    send_callouts(&app, &sender(&app, &["127.0.0.1"])).await;
    app.clock.advance(Duration::minutes(9));
    run_jobs(&app).await;
    assert_eq!(
        request(&app, &request_id).await["status"],
        "WaitingForCallback"
    );
    app.clock.advance(Duration::minutes(1));
    run_jobs(&app).await;
    let shown = request(&app, &request_id).await;
    assert_eq!(shown["state"], "denied", "{shown}");
    assert_eq!(shown["status"], "CalloutTimedOut");
    assert_eq!(
        shown["customExtensionCalloutInstances"][0]["status"],
        "callbackTimedOut"
    );
    let callout = endpoint.all()[0].body.clone();
    let late = resume(
        &app,
        &s.extension_token,
        &request_id,
        resume_body(&callout, None),
    )
    .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
}

/// Launch and wait after approval: the approved request holds until a catalog administrator
/// resumes it, then is delivered.
async fn an_approved_request_waits_for_the_extension(backend: Backend) {
    let app = app(backend).await;
    let endpoint = extension_endpoint(202).await;
    let s = setup(&app, &endpoint.url, Some("PT1H")).await;
    let (approver_id, approver) = app.user_token("Ada Approver").await;
    let policy = policy(
        &app,
        &s,
        &[("assignmentRequestApproved", &s.request_extension)],
        Some(&approver_id),
    )
    .await;
    let (agent, token) = agent(&app).await;
    let request_id = id(&self_request(&app, &token, &agent, &s, &policy).await);
    run_jobs(&app).await;
    let stages = app
        .get(
            &format!("{EM}/accessPackageAssignmentApprovals/{request_id}/stages"),
            &approver,
        )
        .await;
    assert_eq!(stages.status, StatusCode::OK, "{}", stages.body);
    let stage = id(&stages.body["value"][0]);
    let decided = app
        .send(
            Method::PATCH,
            &format!("{EM}/accessPackageAssignmentApprovals/{request_id}/stages/{stage}"),
            &approver,
            json!({"reviewResult": "Approve", "justification": "fine"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::NO_CONTENT, "{}", decided.body);
    run_jobs(&app).await;
    send_callouts(&app, &sender(&app, &["127.0.0.1"])).await;
    assert_eq!(endpoint.stages(), ["assignmentRequestApproved"]);
    let shown = request(&app, &request_id).await;
    assert_eq!(shown["status"], "WaitingForCallback", "{shown}");
    let callout = endpoint.all()[0].body.clone();
    let reply = resume(&app, &app.admin, &request_id, resume_body(&callout, None)).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    run_jobs(&app).await;
    assert_eq!(request(&app, &request_id).await["state"], "delivered");
}

/// An extension on loopback with an empty allow-list is refused: nothing reaches it, the
/// instance reads `calloutFailed`, and the request it held is denied at once (`CalloutFailed`).
async fn loopback_extensions_are_refused_without_an_allow_list(backend: Backend) {
    let app = app(backend).await;
    let endpoint = extension_endpoint(202).await;
    let (_, _, _, request_id) = at_creation(&app, &endpoint.url, Some("PT1H")).await;
    send_callouts(&app, &sender(&app, &[])).await;
    assert!(endpoint.all().is_empty());
    let shown = request(&app, &request_id).await;
    assert_eq!(shown["state"], "denied", "{shown}");
    assert_eq!(shown["status"], "CalloutFailed");
    let instance = &shown["customExtensionCalloutInstances"][0];
    assert_eq!(instance["status"], "calloutFailed");
    assert!(
        instance["detail"].as_str().unwrap().contains("127.0.0.1"),
        "{instance}"
    );
}

/// A redirect is not followed: the callout fails (here without retries) and the target of the
/// redirect never hears of it.
async fn redirects_are_not_followed(backend: Backend) {
    let app = app(backend).await;
    let target = extension_endpoint(202).await;
    let redirect = {
        let location = target.url.clone();
        let router = axum::Router::new().fallback(move || {
            let location = location.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", location)]) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{address}/callout")
    };
    let (_, _, _, request_id) = at_creation(&app, &redirect, None).await;
    send_callouts(&app, &sender(&app, &["127.0.0.1"])).await;
    assert!(target.all().is_empty(), "the redirect was followed");
    let shown = request(&app, &request_id).await;
    let instance = &shown["customExtensionCalloutInstances"][0];
    assert_eq!(instance["status"], "calloutFailed", "{shown}");
    assert!(
        instance["detail"].as_str().unwrap().contains("307"),
        "{instance}"
    );
}

/// The agent cancels its request while it waits: a later resume is `409` and the timeout leaves
/// it canceled.
async fn a_request_canceled_while_waiting_stays_canceled(backend: Backend) {
    let app = app(backend).await;
    let endpoint = extension_endpoint(202).await;
    let (s, _, token, request_id) = at_creation(&app, &endpoint.url, Some("PT10M")).await;
    send_callouts(&app, &sender(&app, &["127.0.0.1"])).await;
    let canceled = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests/{request_id}/cancel"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(canceled.status, StatusCode::NO_CONTENT, "{}", canceled.body);
    let callout = endpoint.all()[0].body.clone();
    let late = resume(
        &app,
        &s.extension_token,
        &request_id,
        resume_body(&callout, None),
    )
    .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.body);
    app.clock.advance(Duration::minutes(10));
    run_jobs(&app).await;
    let shown = request(&app, &request_id).await;
    assert_eq!(shown["state"], "canceled", "{shown}");
    assert_eq!(shown["status"], "Canceled");
}

/// A worker that claimed a callout and died (SIGKILL) sends nothing; once its lease has run out
/// another sends it, with the same body and stage-instance id, exactly once.
async fn a_crashed_workers_callout_is_sent_once_by_another(backend: Backend) {
    let app = app(backend).await;
    let endpoint = extension_endpoint(202).await;
    let (_, _, _, request_id) = at_creation(&app, &endpoint.url, Some("PT1H")).await;
    let now = app.clock.now();
    let claimed = app
        .store
        .callout_queue()
        .claim_callouts("crashed", now, now + Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let sender = sender(&app, &["127.0.0.1"]);
    send_callouts(&app, &sender).await;
    assert!(endpoint.all().is_empty(), "the lease holds it");
    app.clock.advance(Duration::seconds(61));
    send_callouts(&app, &sender).await;
    send_callouts(&app, &sender).await;
    let received = endpoint.all();
    assert_eq!(received.len(), 1);
    let sent: Value = serde_json::from_str(&claimed[0].body).unwrap();
    assert_eq!(received[0].body, sent, "the resend is the stored body");
    assert_eq!(
        received[0].body["data"]["customExtensionStageInstanceId"],
        claimed[0].id.as_str()
    );
    let shown = request(&app, &request_id).await;
    assert_eq!(
        shown["customExtensionCalloutInstances"][0]["id"],
        claimed[0].id.as_str()
    );
}

crate::on_both_backends!(
    each_configured_stage_calls_the_extension,
    a_waiting_request_proceeds_when_the_extension_resumes_it,
    a_resume_with_a_denial_ends_the_request,
    an_unanswered_wait_times_out,
    a_request_canceled_while_waiting_stays_canceled,
    an_approved_request_waits_for_the_extension,
    loopback_extensions_are_refused_without_an_allow_list,
    redirects_are_not_followed,
    a_crashed_workers_callout_is_sent_once_by_another,
);

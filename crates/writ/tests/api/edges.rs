//! Issue 14's edges of the server (items 6, 7, 9 and 10 where they are observable over HTTP):
//! forged `$skiptoken`s, control characters in names, the sign-in rate limiter, the metrics
//! listener.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_store::Backend;

use crate::assignments::setup;
use crate::harness::{TestApp, app, call, exchange};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

/// A token that gets past the "made for this query" check (no `$filter`) and reaches the
/// database with `keys`.
fn forged_token(entity: &str, orderby: &str, keys: Value) -> String {
    writ_store::testing::forged_skiptoken(entity, "", orderby, keys)
}

async fn forged_skiptokens_of_the_wrong_type_are_400(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Ada Lovelace").await;
    let some_id = "00000000-0000-0000-0000-000000000000";
    let cases = [
        // (collection, entity, $orderby, keys)
        (
            "/v1.0/users",
            "user",
            "createdDateTime",
            json!(["yesterday", some_id]),
        ),
        (
            "/v1.0/users",
            "user",
            "createdDateTime",
            json!([true, some_id]),
        ),
        ("/v1.0/users", "user", "displayName", json!([42, some_id])),
        ("/v1.0/users", "user", "", json!([42])),
        ("/v1.0/users", "user", "", json!([null])),
        (
            "/v1.0/identityGovernance/entitlementManagement/catalogs",
            "accessPackageCatalog",
            "modifiedDateTime desc",
            json!(["2024-01-01", some_id]),
        ),
        (
            "/v1.0/auditLogs/directoryAudits",
            "directoryAudit",
            "",
            json!([7]),
        ),
    ];
    for (collection, entity, orderby, keys) in cases {
        let token = forged_token(entity, orderby, keys.clone());
        let order = if orderby.is_empty() {
            String::new()
        } else {
            format!("&$orderby={}", orderby.replace(' ', "%20"))
        };
        let reply = app
            .get(
                &format!("{collection}?$skiptoken={token}{order}"),
                &app.admin,
            )
            .await;
        reply.assert_invalid_request("$skiptoken", &format!("{collection} {orderby} {keys}"));
    }
    // A well-typed token is still a page.
    let token = forged_token("user", "createdDateTime", json!([0, some_id]));
    let reply = app
        .get(
            &format!("/v1.0/users?$skiptoken={token}&$orderby=createdDateTime"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // And a real next link still works.
    app.create_user("Grace Hopper").await;
    let first = app
        .get(
            "/v1.0/users?$top=1&$orderby=createdDateTime%20desc",
            &app.admin,
        )
        .await;
    let next = first.body["@odata.nextLink"].as_str().unwrap().to_owned();
    let next = next.trim_start_matches(crate::harness::PUBLIC_URL);
    let second = app.get(next, &app.admin).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
}

/// Names that would break a log line, a CSV export or an email header, or read differently
/// from what they are.
const BAD_NAMES: &[&str] = &[
    "Ada\nLovelace",
    "Ada\r\nBcc: x@example.org",
    "Ada\u{0}",
    "Ada\tLovelace",
    "Ada\u{7f}",
    "Ada\u{85}",
    "Ada\u{2028}",
    "evil\u{202e}gpj.exe",
    "\u{2066}Ada\u{2069}",
];

/// Sends `body` with `property` set to each bad name: each is a 400 naming the property.
async fn refused_everywhere(
    app: &TestApp,
    method: Method,
    path: &str,
    body: &Value,
    property: &str,
) {
    for bad in BAD_NAMES {
        let mut body = body.clone();
        body[property] = json!(bad);
        let reply = app.send(method.clone(), path, &app.admin, body).await;
        reply.assert_invalid_request(
            &format!("'{property}'"),
            &format!("{method} {path} {property}={bad:?}"),
        );
    }
}

async fn control_characters_in_names_are_400(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let user = json!({
        "displayName": "Ada", "userPrincipalName": "ada.ctl@example.org", "mailNickname": "adactl",
        "accountEnabled": true, "passwordProfile": {"password": "a long passphrase 1"},
    });
    let mut policy = app
        .get(&format!("{EM}/assignmentPolicies/{}", s.policy), &app.admin)
        .await
        .body;
    for key in [
        "id",
        "createdDateTime",
        "modifiedDateTime",
        "@odata.context",
    ] {
        policy.as_object_mut().unwrap().remove(key);
    }
    policy["accessPackage"] = json!({"id": s.package});
    let extension = json!({
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
        "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://tickets.example/hook"},
    });
    // Creating an object with a bad name.
    for property in [
        "displayName",
        "userPrincipalName",
        "mailNickname",
        "givenName",
        "jobTitle",
    ] {
        refused_everywhere(&app, Method::POST, "/v1.0/users", &user, property).await;
    }
    let group = json!({"displayName": "Ops", "mailNickname": "ops-ctl", "mailEnabled": false, "securityEnabled": true});
    for property in ["displayName", "mailNickname"] {
        refused_everywhere(&app, Method::POST, "/v1.0/groups", &group, property).await;
    }
    let creations = [
        (
            "/v1.0/applications".to_owned(),
            json!({"displayName": "Orders"}),
        ),
        (format!("{EM}/catalogs"), json!({})),
        (
            format!("{EM}/accessPackages"),
            json!({"catalog": {"id": s.catalog}}),
        ),
        (format!("{EM}/assignmentPolicies"), policy),
        (
            format!("{EM}/connectedOrganizations"),
            json!({"state": "configured", "identitySources": []}),
        ),
        (
            format!("{EM}/catalogs/{}/customWorkflowExtensions", s.catalog),
            extension,
        ),
    ];
    for (path, body) in creations {
        refused_everywhere(&app, Method::POST, &path, &body, "displayName").await;
    }
    // Renaming one (made once the attempts to make it are refused).
    let ada = app.created(&app.admin, "/v1.0/users", user).await;
    let orders = app
        .created(
            &app.admin,
            "/v1.0/applications",
            json!({"displayName": "Orders"}),
        )
        .await;
    let ada = format!("/v1.0/users/{ada}");
    refused_everywhere(&app, Method::PATCH, &ada, &json!({}), "surname").await;
    let catalog_path = format!("{EM}/catalogs/{}", s.catalog);
    for path in [
        ada,
        format!("/v1.0/groups/{}", s.group),
        format!("/v1.0/applications/{orders}"),
        format!("/v1.0/servicePrincipals/{}", s.agent),
        catalog_path.clone(),
        format!("{EM}/accessPackages/{}", s.package),
        format!("{EM}/assignmentPolicies/{}", s.policy),
    ] {
        refused_everywhere(&app, Method::PATCH, &path, &json!({}), "displayName").await;
    }
    // Names in any script, with the marks right-to-left text needs, are still fine.
    for name in [
        "Zoë Ødegård",
        "李小龙",
        "مرحبا\u{200f} Ops",
        "Ops — night shift",
    ] {
        let reply = app
            .send(
                Method::PATCH,
                &catalog_path,
                &app.admin,
                json!({"displayName": name}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "{name}: {}",
            reply.body
        );
    }
}

/// Everything the subscriber wrote, for the log assertions.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A custom extension whose URL carries a shared-access signature (`sig=`, as Azure Logic Apps
/// URLs do) and credentials, on loopback with an empty allow-list: its callout is refused and
/// dead-lettered, and the warning (and every other log line, at every level) names the endpoint
/// without its query string or credentials.
async fn logged_urls_lose_their_query_and_credentials(backend: Backend) {
    use std::sync::Arc;
    use writ_runtime::callouts::{CalloutDispatcher, HttpCalloutSender};
    use writ_runtime::outbound::{OutboundClient, OutboundPolicy, OutboundTimeouts};

    const SIG: &str = "sIgNaTuRe0123456789sEcReT";
    const PASSWORD: &str = "pAsSwOrD-in-the-url";
    let app = app(backend).await;
    let fleet = crate::agents::fleet(&app).await;
    let agent = crate::agents::create_agent(&app, &fleet, "log-agent", &[&fleet.sponsor])
        .await
        .id();
    let (token, _) =
        crate::agents::agent_token(&app, &agent, "https://graph.microsoft.com/.default").await;
    let catalog = app
        .created(
            &app.admin,
            &format!("{EM}/catalogs"),
            json!({"displayName": "Logs"}),
        )
        .await;
    let package = app
        .created(
            &app.admin,
            &format!("{EM}/accessPackages"),
            json!({"displayName": "Log package", "catalog": {"id": catalog}}),
        )
        .await;
    let url = format!(
        "http://hook-user:{PASSWORD}@127.0.0.1:9/workflows/7/invoke?api-version=2016-10-01&sp=%2Ftriggers&sig={SIG}#frag"
    );
    let extensions = format!("{EM}/catalogs/{catalog}/customWorkflowExtensions");
    let extension = app
        .created(
            &app.admin,
            &extensions,
            json!({
                "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
                "displayName": "Signed hook",
                "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": url},
                "clientConfiguration": {"maximumRetries": 0, "timeoutInMilliseconds": 5000},
            }),
        )
        .await;
    let policy = app
        .created(
            &app.admin,
            &format!("{EM}/assignmentPolicies"),
            json!({
                "displayName": "Agents ask",
                "allowedTargetScope": "allDirectoryAgentIdentities",
                "expiration": {"type": "afterDuration", "duration": "P30D"},
                "requestorSettings": {"enableTargetsToSelfAddAccess": true},
                "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []},
                "customExtensionStageSettings": [{"stage": "assignmentRequestCreated", "customExtension": {"id": extension}}],
                "accessPackage": {"id": package},
            }),
        )
        .await;
    app.created(
        &token,
        &format!("{EM}/assignmentRequests"),
        json!({
            "requestType": "userAdd",
            "assignment": {"targetId": agent, "assignmentPolicyId": policy, "accessPackageId": package},
        }),
    )
    .await;

    let client = OutboundClient::new(
        OutboundPolicy::default(),
        OutboundTimeouts {
            connect: std::time::Duration::from_secs(2),
            request: std::time::Duration::from_secs(5),
        },
    )
    .unwrap();
    let dispatcher = CalloutDispatcher {
        entitlement: app.state.entitlement.clone(),
        sender: Arc::new(HttpCalloutSender::new(
            client,
            app.state.tokens.clone(),
            Arc::new(app.clock.clone()),
        )),
        clock: Arc::new(app.clock.clone()),
        config: writ_domain::webhooks::DispatchConfig {
            worker_id: "log-test".into(),
            ..writ_domain::webhooks::DispatchConfig::default()
        },
        timing: writ_runtime::job_worker::WorkerTiming {
            max_idle: std::time::Duration::from_millis(100),
            error_pause: std::time::Duration::from_millis(100),
        },
    };
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    {
        // The loop runs on this thread (not spawned), so the scoped subscriber sees its events.
        let _guard = tracing::subscriber::set_default(subscriber);
        writ_runtime::dispatch_loop::run(
            dispatcher,
            tokio::time::sleep(std::time::Duration::from_millis(1500)),
        )
        .await;
    }
    let text = logs.text();
    assert!(
        text.contains("dead-lettered"),
        "the callout was not dead-lettered: {text}"
    );
    assert!(
        text.contains("127.0.0.1:9/workflows/7/invoke"),
        "the endpoint is named: {text}"
    );
    for secret in [SIG, PASSWORD, "hook-user", "api-version", "frag"] {
        assert!(!text.contains(secret), "{secret} was logged: {text}");
    }
}

/// A password grant as a client at `peer` (the TCP peer) sends it, through a proxy when
/// `forwarded_for` is given.
async fn sign_in_from(
    router: &axum::Router,
    peer: &str,
    forwarded_for: Option<&str>,
    username: &str,
    password: &str,
) -> crate::harness::Reply {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", username)
        .append_pair("password", password)
        .finish();
    let mut builder = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/oauth2/v2.0/token")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(hops) = forwarded_for {
        builder = builder.header("x-forwarded-for", hops);
    }
    let mut request = builder.body(axum::body::Body::from(form)).unwrap();
    let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    call(router, request).await
}

/// User names longer than 256 characters are refused before anything is remembered about
/// them, and the token endpoint reads at most 16 KiB of body.
async fn sign_in_input_is_bounded(backend: Backend) {
    let app = app(backend).await;
    let long = format!("{}@example.org", "a".repeat(250));
    assert_eq!(long.chars().count(), 262);
    let reply = sign_in_from(&app.router, "198.51.100.1", None, &long, "whatever 123").await;
    reply.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "256");
    // 256 characters is an ordinary wrong guess.
    let edge = format!("{}@example.org", "b".repeat(244));
    assert_eq!(edge.chars().count(), 256);
    let reply = sign_in_from(&app.router, "198.51.100.1", None, &edge, "whatever 123").await;
    assert_eq!(reply.body["error"], "invalid_grant", "{}", reply.body);
    // A body over 16 KiB is refused unread.
    let reply = sign_in_from(
        &app.router,
        "198.51.100.1",
        None,
        "ada@example.org",
        &"p".repeat(17 * 1024),
    )
    .await;
    reply.assert_oauth_error(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "");
}

/// A stranger guessing a person's password from one address is stopped there, but the person
/// still signs in from another address; many strangers at once slow the person down, never
/// lock them out.
async fn a_stranger_cannot_lock_a_person_out(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Paula Person").await;
    let upn = "paulaperson@example.org";
    let mut refused_at = None;
    for attempt in 0..12 {
        let reply = sign_in_from(&app.router, "203.0.113.7", None, upn, "guess number 1").await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(reply.headers.get("retry-after").is_some());
            assert_eq!(reply.body["error"], "temporarily_unavailable");
            refused_at = Some(attempt);
            break;
        }
        assert_eq!(reply.body["error"], "invalid_grant", "{}", reply.body);
    }
    assert_eq!(
        refused_at,
        Some(10),
        "the stranger's guesses were not throttled"
    );
    // The person, from elsewhere, is not locked out.
    let person = async || {
        sign_in_from(
            &app.router,
            "198.51.100.20",
            None,
            upn,
            crate::harness::PASSWORD,
        )
        .await
    };
    let reply = person().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // Strangers at more addresses use up the account's budget of failures (20): every guess is
    // still answered, only later (the last two wait 2 s each), and the person still signs in.
    for stranger in 1..=2 {
        for _ in 0..6 {
            let reply = sign_in_from(
                &app.router,
                &format!("192.0.2.{stranger}"),
                None,
                upn,
                "guess number 2",
            )
            .await;
            assert_eq!(reply.body["error"], "invalid_grant", "{}", reply.body);
        }
    }
    let started = std::time::Instant::now();
    let reply = person().await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(1500)
            && waited < std::time::Duration::from_secs(10),
        "the person's sign-in took {waited:?}: slowed by at most 2 s"
    );
}

/// `X-Forwarded-For` names the client only when the peer is a trusted proxy (the rightmost
/// untrusted hop); from anyone else it is ignored, so it cannot dodge the limit.
async fn forwarded_for_is_believed_from_trusted_proxies_only(backend: Backend) {
    let app = app(backend).await;
    let mut state = app.state.clone();
    let mut settings = (*state.settings).clone();
    settings.trusted_proxies =
        writ_server::client_address::TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).unwrap();
    state.settings = std::sync::Arc::new(settings);
    let router = writ_server::router(state);
    // Ten attempts for one client behind the proxies use up that client's budget...
    for attempt in 0..10 {
        let reply = sign_in_from(
            &router,
            "10.0.0.5",
            Some("203.0.113.50, 198.51.100.66, 10.9.9.9"),
            &format!("nobody{attempt}@example.org"),
            "guess number 3",
        )
        .await;
        assert_eq!(reply.body["error"], "invalid_grant", "{}", reply.body);
    }
    let limited = sign_in_from(
        &router,
        "10.0.0.5",
        Some("198.51.100.66"),
        "nobody@example.org",
        "guess number 3",
    )
    .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    // ...not the budget of other clients behind the same proxy.
    let other = sign_in_from(
        &router,
        "10.0.0.5",
        Some("198.51.100.67"),
        "nobody@example.org",
        "guess number 3",
    )
    .await;
    assert_eq!(other.body["error"], "invalid_grant", "{}", other.body);
    // An untrusted peer's X-Forwarded-For is ignored: changing it does not reset the budget.
    for attempt in 0..12 {
        let reply = sign_in_from(
            &router,
            "203.0.113.99",
            Some(&format!("198.51.100.{attempt}")),
            &format!("nobody{attempt}@example.org"),
            "guess number 4",
        )
        .await;
        if attempt < 10 {
            assert_eq!(reply.body["error"], "invalid_grant", "{}", reply.body);
        } else {
            assert_eq!(
                reply.status,
                StatusCode::TOO_MANY_REQUESTS,
                "{}",
                reply.body
            );
        }
    }
}

/// With `metrics_listen` set, `/metrics` is served by its own listener's router only; the API's
/// router answers it 404 like any unknown path.
async fn metrics_can_move_to_their_own_listener(backend: Backend) {
    let app = app(backend).await;
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .build_recorder()
        .handle();
    let mut state = app.state.clone();
    state.metrics = Some(handle);
    let get = |router: axum::Router, path: &'static str| async move {
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, _, body) = exchange(&router, request).await;
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    // By default the API's listener serves it.
    let (status, _) = get(writ_server::router(state.clone()), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let mut settings = (*state.settings).clone();
    settings.metrics_on_own_listener = true;
    state.settings = std::sync::Arc::new(settings);
    let (status, body) = get(writ_server::router(state.clone()), "/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains("Request_ResourceNotFound"), "{body}");
    // The rest of the API is unaffected.
    let (status, _) = get(writ_server::router(state.clone()), "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    // The metrics listener serves /metrics and nothing else.
    let (status, body) = get(writ_server::metrics_router(state.clone()), "/metrics").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = get(writ_server::metrics_router(state.clone()), "/v1.0/users").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

crate::on_both_backends!(
    metrics_can_move_to_their_own_listener,
    sign_in_input_is_bounded,
    a_stranger_cannot_lock_a_person_out,
    forwarded_for_is_believed_from_trusted_proxies_only,
    logged_urls_lose_their_query_and_credentials,
    forged_skiptokens_of_the_wrong_type_are_400,
    control_characters_in_names_are_400
);

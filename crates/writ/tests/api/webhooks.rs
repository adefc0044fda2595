//! Webhooks end to end against a real local receiver (axum on 127.0.0.1:0), on SQLite and
//! PostgreSQL: the real HTTP sender and outbound policy, the dispatcher's passes driven by hand
//! with the manual clock (retries fall due by moving time, not by sleeping), signatures checked
//! by an independent Standard Webhooks verifier, and the administrators' list of deliveries.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::Duration;
use writ_domain::audit::{OutboxEvent, Recipient};
use writ_domain::clock::Clock;
use writ_domain::dispatch::Pacing;
use writ_domain::store::Store;
use writ_domain::webhooks::{
    DispatchConfig, WebhookEndpoint, WebhookPassReport, WebhookSecret, WebhookSender, WebhookStore,
    run_webhook_pass,
};
use writ_runtime::outbound::{OutboundClient, OutboundPolicy, OutboundTimeouts};
use writ_runtime::webhooks::HttpWebhookSender;
use writ_store::Backend;

use crate::harness::{TestApp, app};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DELIVERIES: &str = "/writ/v1/webhookDeliveries";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: String,
    /// What the receiver answered.
    answered: u16,
}

/// How the receiver answers the n-th (1-based) request for one event id on one path.
type Script = Arc<dyn Fn(&str, u32) -> Response + Send + Sync>;

/// A local receiver recording every request.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(script: Script) -> Receiver {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let counts: Arc<Mutex<HashMap<(String, String), u32>>> = Arc::default();
    let log = received.clone();
    let handler = move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
        let log = log.clone();
        let counts = counts.clone();
        let script = script.clone();
        async move {
            let path = uri.path().to_owned();
            let id = headers
                .get("webhook-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let n = {
                let mut counts = counts.lock().unwrap();
                let n = counts.entry((path.clone(), id)).or_insert(0);
                *n += 1;
                *n
            };
            let response = script(&path, n);
            log.lock().unwrap().push(Received {
                path,
                headers,
                body,
                answered: response.status().as_u16(),
            });
            response
        }
    };
    let router = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Receiver {
        url: format!("http://{address}"),
        received,
    }
}

impl Receiver {
    fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// The Standard Webhooks check, written from the specification rather than from Writ's signer:
/// HMAC-SHA256 over `{id}.{timestamp}.{raw body}` with the base64-decoded part of the secret
/// after `whsec_`, compared (constant time) to any `v1,` entry of the space-separated header;
/// the timestamp within five minutes of now.
fn verify(secret: &str, headers: &HeaderMap, body: &str) -> Result<(), String> {
    use aws_lc_rs::hmac;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("no {name} header"))
    };
    let id = header("webhook-id")?;
    let timestamp = header("webhook-timestamp")?;
    let signatures = header("webhook-signature")?;
    let sent_at: i64 = timestamp.parse().map_err(|_| "bad timestamp".to_owned())?;
    let now = crate::harness::now().unix_timestamp();
    if (now - sent_at).abs() > 300 {
        return Err(format!("timestamp {sent_at} is too far from {now}"));
    }
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .map_err(|e| e.to_string())?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let message = format!("{id}.{timestamp}.{body}");
    for entry in signatures.split(' ') {
        if let Some(encoded) = entry.strip_prefix("v1,") {
            let tag = STANDARD.decode(encoded).map_err(|e| e.to_string())?;
            if hmac::verify(&key, message.as_bytes(), &tag).is_ok() {
                return Ok(());
            }
        }
    }
    Err("no signature matches".into())
}

fn status(code: u16) -> Response {
    StatusCode::from_u16(code).unwrap().into_response()
}

async fn add_events(store: &dyn Store, at: time::OffsetDateTime, types: &[&str]) -> Vec<String> {
    let mut tx = store.begin().await.unwrap();
    let mut ids = Vec::new();
    for (i, kind) in types.iter().enumerate() {
        let event = OutboxEvent::new(
            kind,
            at + Duration::milliseconds(i as i64),
            json!({"requestId": format!("r{i}"), "accessPackageId": "p1", "targetId": "t1"}),
            vec![Recipient {
                id: "u1".into(),
                kind: "user".into(),
                mail: Some("sponsor@example.org".into()),
            }],
        );
        tx.enqueue_event(&event).await.unwrap();
        ids.push(event.id);
    }
    tx.commit().await.unwrap();
    ids
}

fn endpoint(url: String, events: &[&str]) -> WebhookEndpoint {
    WebhookEndpoint {
        url,
        secret: WebhookSecret::parse(SECRET).unwrap(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
    }
}

fn sender(allow: &[&str], request_timeout: StdDuration) -> HttpWebhookSender {
    let policy =
        OutboundPolicy::parse(&allow.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()).unwrap();
    HttpWebhookSender::new(
        OutboundClient::new(
            policy,
            OutboundTimeouts {
                connect: StdDuration::from_secs(2),
                request: request_timeout,
            },
        )
        .unwrap(),
    )
}

fn config(worker: &str, max_attempts: u32) -> DispatchConfig {
    DispatchConfig {
        worker_id: worker.into(),
        max_attempts,
        ..DispatchConfig::default()
    }
}

async fn pass(
    app: &TestApp,
    sender: &dyn WebhookSender,
    endpoints: &[WebhookEndpoint],
    config: &DispatchConfig,
) -> WebhookPassReport {
    let pacing = Pacing {
        config,
        clock: &app.clock,
        jitter: &|| 0.0,
        stopping: &|| false,
    };
    run_webhook_pass(&app.store, sender, endpoints, &pacing)
        .await
        .unwrap()
}

/// Runs passes, moving the clock to each next due time, until nothing is due any more.
async fn drain(
    app: &TestApp,
    sender: &dyn WebhookSender,
    endpoints: &[WebhookEndpoint],
    config: &DispatchConfig,
) {
    for _ in 0..50 {
        pass(app, sender, endpoints, config).await;
        match app.store.next_webhook_due().await.unwrap() {
            Some(due) => {
                if due > app.clock.now() {
                    app.clock.set(due);
                }
            }
            None => return,
        }
    }
    panic!("deliveries still due after 50 passes");
}

async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("{DELIVERIES}{}", query.replace(' ', "%20")),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["value"].as_array().unwrap().clone()
}

/// Fails twice, then 429 with `Retry-After: 1`, then accepts: every event arrives, signed, with a
/// stable id, and is accepted exactly once.
async fn a_flaky_receiver_gets_each_event_once_after_dedup(backend: Backend) {
    let app = app(backend).await;
    let hook = receiver(Arc::new(|_, n| match n {
        1 | 2 => status(500),
        3 => (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response(),
        _ => status(204),
    }))
    .await;
    let ids = add_events(
        &app.store,
        app.clock.now(),
        &[
            "request.created",
            "request.approved",
            "assignment.delivered",
        ],
    )
    .await;
    let endpoints = [endpoint(format!("{}/hooks", hook.url), &[])];
    let sender = sender(&["127.0.0.1"], StdDuration::from_secs(5));
    let config = config("w1", 6);

    // The first pass routes and sends; each retry falls due only when the clock reaches it.
    let first = pass(&app, &sender, &endpoints, &config).await;
    assert_eq!((first.routed, first.claimed, first.retried), (3, 3, 3));
    let again = pass(&app, &sender, &endpoints, &config).await;
    assert_eq!(again.claimed, 0, "nothing is due before the backoff ends");
    // Second attempt (500), then the third (429 with Retry-After: 1): the next attempt is due
    // one second after it, the receiver's wait rather than the backoff's four.
    for _ in 0..2 {
        app.clock
            .set(app.store.next_webhook_due().await.unwrap().unwrap());
        assert_eq!(pass(&app, &sender, &endpoints, &config).await.retried, 3);
    }
    for d in deliveries(&app, "").await {
        assert_eq!(d["lastStatusCode"], 429, "{d}");
        let at = |name: &str| {
            time::OffsetDateTime::parse(
                d[name].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        assert_eq!(
            at("nextAttemptDateTime") - at("lastAttemptDateTime"),
            Duration::seconds(1)
        );
    }
    drain(&app, &sender, &endpoints, &config).await;

    let received = hook.all();
    assert_eq!(received.len(), 12, "four attempts per event");
    let mut accepted: BTreeMap<String, u32> = BTreeMap::new();
    for r in &received {
        verify(SECRET, &r.headers, &r.body).unwrap();
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let id = r.headers["webhook-id"].to_str().unwrap();
        assert_eq!(
            body["id"], id,
            "the header and the body name the same event"
        );
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(body["recipients"][0]["type"], "user");
        assert!(body["time"].is_string() && body["data"]["requestId"].is_string());
        if r.answered == 204 {
            *accepted.entry(id.to_owned()).or_default() += 1;
        }
    }
    let expected: BTreeMap<String, u32> = ids.iter().map(|id| (id.clone(), 1)).collect();
    assert_eq!(
        accepted, expected,
        "each event accepted once, by its stable id"
    );

    let listed = deliveries(&app, "").await;
    assert_eq!(listed.len(), 3);
    for d in &listed {
        assert_eq!(d["state"], "delivered", "{d}");
        assert_eq!(d["attempts"], 4);
        assert_eq!(d["lastStatusCode"], 204);
        assert!(d["deliveredDateTime"].is_string());
        assert!(d["nextAttemptDateTime"].is_null());
        assert_eq!(d["endpointUrl"], format!("{}/hooks", hook.url));
    }
}

/// Always 500, or never answering: dead-lettered after the bounded attempts and listed.
async fn a_receiver_that_never_answers_ends_dead_lettered(backend: Backend) {
    let app = app(backend).await;
    let failing = receiver(Arc::new(|_, _| status(500))).await;
    // Accepts the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let ids = add_events(&app.store, app.clock.now(), &["assignment.expired"]).await;
    let endpoints = [
        endpoint(format!("{}/hook", failing.url), &[]),
        endpoint(silent_url.clone(), &[]),
    ];
    let sender = sender(&["127.0.0.1"], StdDuration::from_millis(300));
    drain(&app, &sender, &endpoints, &config("w1", 3)).await;

    assert_eq!(failing.all().len(), 3, "three attempts, then no more");
    let dead = deliveries(&app, "?$filter=state eq 'deadLettered'&$count=true").await;
    assert_eq!(dead.len(), 2);
    for d in &dead {
        assert_eq!(d["eventId"], ids[0].as_str());
        assert_eq!(d["eventType"], "assignment.expired");
        assert_eq!(d["attempts"], 3);
        assert!(d["deadLetteredDateTime"].is_string());
        assert!(
            d["lastError"]
                .as_str()
                .unwrap()
                .contains("gave up after 3 attempts"),
            "{d}"
        );
    }
    let silent_row = dead
        .iter()
        .find(|d| d["endpointUrl"] == silent_url)
        .unwrap();
    assert!(silent_row["lastStatusCode"].is_null());
    assert!(
        silent_row["lastError"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
    assert!(
        deliveries(&app, "?$filter=state eq 'pending'")
            .await
            .is_empty()
    );

    // Paging as on the other lists.
    let page = app
        .get(&format!("{DELIVERIES}?$top=1&$count=true"), &app.admin)
        .await;
    assert_eq!(page.body["@odata.count"], 2);
    assert_eq!(page.body["value"].as_array().unwrap().len(), 1);
    let next = page.body["@odata.nextLink"].as_str().unwrap();
    let next = next.strip_prefix(crate::harness::PUBLIC_URL).unwrap();
    let second = app.get(next, &app.admin).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.body["value"].as_array().unwrap().len(), 1);
    assert_ne!(second.body["value"][0]["id"], page.body["value"][0]["id"]);
}

/// With an empty allow-list, loopback (by address or by name) is refused: dead-lettered at once
/// with the reason, and nothing reaches the receiver.
async fn loopback_is_refused_with_an_empty_allow_list(backend: Backend) {
    let app = app(backend).await;
    let hook = receiver(Arc::new(|_, _| status(204))).await;
    let by_name = hook.url.replace("127.0.0.1", "localhost");
    add_events(&app.store, app.clock.now(), &["request.created"]).await;
    let endpoints = [
        endpoint(format!("{}/by-address", hook.url), &[]),
        endpoint(format!("{by_name}/by-name"), &[]),
    ];
    let report = pass(
        &app,
        &sender(&[], StdDuration::from_secs(2)),
        &endpoints,
        &config("w1", 5),
    )
    .await;
    assert_eq!(report.dead_lettered.len(), 2, "{report:?}");
    assert!(hook.all().is_empty(), "nothing was sent");
    for d in deliveries(&app, "").await {
        assert_eq!(d["state"], "deadLettered", "{d}");
        assert_eq!(d["attempts"], 1);
        let error = d["lastError"].as_str().unwrap();
        assert!(
            error.contains("loopback") && error.contains("outbound.allow_hosts"),
            "{error}"
        );
    }
    assert_eq!(app.store.next_webhook_due().await.unwrap(), None);
}

/// A 3xx is a failed attempt: the redirect target never hears of the event.
async fn redirects_are_not_followed(backend: Backend) {
    let app = app(backend).await;
    let hook = receiver(Arc::new(|path, _| {
        if path == "/moved" {
            (StatusCode::TEMPORARY_REDIRECT, [("location", "/target")]).into_response()
        } else {
            status(204)
        }
    }))
    .await;
    add_events(&app.store, app.clock.now(), &["request.created"]).await;
    let endpoints = [endpoint(format!("{}/moved", hook.url), &[])];
    let report = pass(
        &app,
        &sender(&["127.0.0.1"], StdDuration::from_secs(2)),
        &endpoints,
        &config("w1", 5),
    )
    .await;
    assert_eq!(report.retried, 1);
    let received = hook.all();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/moved");
    let listed = deliveries(&app, "").await;
    assert_eq!(listed[0]["state"], "pending");
    assert_eq!(listed[0]["lastStatusCode"], 307);
    assert!(
        listed[0]["lastError"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed")
    );
}

/// An endpoint with an event filter gets only those types; one without gets all.
async fn event_filters_are_respected(backend: Backend) {
    let app = app(backend).await;
    let hook = receiver(Arc::new(|_, _| status(200))).await;
    add_events(
        &app.store,
        app.clock.now(),
        &["request.created", "assignment.expired", "request.denied"],
    )
    .await;
    let endpoints = [
        endpoint(format!("{}/expiries", hook.url), &["assignment.expired"]),
        endpoint(format!("{}/all", hook.url), &[]),
    ];
    drain(
        &app,
        &sender(&["127.0.0.1"], StdDuration::from_secs(2)),
        &endpoints,
        &config("w1", 5),
    )
    .await;
    let received = hook.all();
    let types = |path: &str| {
        let mut types: Vec<String> = received
            .iter()
            .filter(|r| r.path == path)
            .map(|r| {
                serde_json::from_str::<Value>(&r.body).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        types.sort();
        types
    };
    assert_eq!(types("/expiries"), vec!["assignment.expired"]);
    assert_eq!(
        types("/all"),
        vec!["assignment.expired", "request.created", "request.denied"]
    );
    let filtered = deliveries(&app, "?$filter=eventType eq 'assignment.expired'").await;
    assert_eq!(filtered.len(), 2);
}

/// Two dispatchers on one database (replicas) never send one event twice; a shutdown releases
/// what was claimed and not sent; a dead worker's lease runs out and the resend keeps the id.
async fn replicas_shutdown_and_crashes_send_nothing_twice(backend: Backend) {
    let app = app(backend).await;
    let hook = receiver(Arc::new(|_, _| status(204))).await;
    let endpoints = [endpoint(format!("{}/h", hook.url), &[])];
    let sender = sender(&["127.0.0.1"], StdDuration::from_secs(5));

    // Shutdown before the first send: claimed deliveries go back, uncounted.
    add_events(&app.store, app.clock.now(), &["request.created"; 4]).await;
    let a = DispatchConfig {
        batch_size: 10,
        concurrency: 2,
        ..config("a", 5)
    };
    let pacing = Pacing {
        config: &a,
        clock: &app.clock,
        jitter: &|| 0.0,
        stopping: &|| true,
    };
    let report = run_webhook_pass(&app.store, &sender, &endpoints, &pacing)
        .await
        .unwrap();
    assert_eq!((report.claimed, report.released), (4, 4));
    assert!(hook.all().is_empty());
    for d in deliveries(&app, "").await {
        assert_eq!(
            (d["state"].as_str(), d["attempts"].as_u64()),
            (Some("pending"), Some(0))
        );
    }

    // Two replicas at once, over more events: every event accepted exactly once.
    add_events(&app.store, app.clock.now(), &["request.approved"; 40]).await;
    let b = DispatchConfig {
        batch_size: 10,
        concurrency: 2,
        ..config("b", 5)
    };
    let run = |config: DispatchConfig| {
        let app_store = app.store.clone();
        let clock = app.clock.clone();
        let endpoints = endpoints.to_vec();
        let sender = sender.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                let pacing = Pacing {
                    config: &config,
                    clock: &clock,
                    jitter: &|| 0.0,
                    stopping: &|| false,
                };
                run_webhook_pass(&app_store, &sender, &endpoints, &pacing)
                    .await
                    .unwrap();
            }
        })
    };
    let (one, two) = (run(a.clone()), run(b));
    one.await.unwrap();
    two.await.unwrap();
    let received = hook.all();
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 44, "every event sent");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 44, "and none twice");

    // A worker claims and dies (SIGKILL): once its lease runs out, another sends the same id.
    let lost = add_events(&app.store, app.clock.now(), &["assignment.removed"]).await;
    app.store
        .route_webhook_events(&endpoints, app.clock.now(), 10)
        .await
        .unwrap();
    let now = app.clock.now();
    let claimed = app
        .store
        .claim_webhook_deliveries("dead", now, now + a.lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        pass(&app, &sender, &endpoints, &a).await.claimed,
        0,
        "leased"
    );
    app.clock.advance(a.lease + Duration::seconds(1));
    assert_eq!(pass(&app, &sender, &endpoints, &a).await.delivered, 1);
    let last = hook.all().pop().unwrap();
    assert_eq!(last.headers["webhook-id"], lost[0].as_str());
    let row = deliveries(&app, &format!("?$filter=eventId eq '{}'", lost[0])).await;
    assert_eq!(row[0]["attempts"], 2, "the lost attempt counts");
}

/// Only administrators read deliveries.
async fn deliveries_are_for_administrators(backend: Backend) {
    let app = app(backend).await;
    let (_, user) = app.user_token("Plain User").await;
    let reply = app.get(DELIVERIES, &user).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(reply.error_code(), "accessDenied");
    let reply = app
        .request(axum::http::Method::GET, DELIVERIES, None, None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = app
        .get(
            &format!("{DELIVERIES}?$filter=state%20eq%20'lost'"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = app
        .get(
            &format!("{DELIVERIES}?$filter=secret%20eq%20'x'"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = app.get(DELIVERIES, &app.admin).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["value"], json!([]));
}

crate::on_both_backends!(
    a_flaky_receiver_gets_each_event_once_after_dedup,
    a_receiver_that_never_answers_ends_dead_lettered,
    loopback_is_refused_with_an_empty_allow_list,
    redirects_are_not_followed,
    event_filters_are_respected,
    replicas_shutdown_and_crashes_send_nothing_twice,
    deliveries_are_for_administrators,
);

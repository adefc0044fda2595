//! Waiting for a request without polling (issue 18 part G, DESIGN section 16): `GET
//! …/assignmentRequests/{id}` with `Prefer: wait=N` answers as soon as the request's state
//! changes (woken by the commit that changes it, not by polling) or after N seconds with the
//! request unchanged, saying `Preference-Applied`; a caller who may not read the request gets the
//! 404 at once; without the preference an open request carries `Retry-After` and a final one
//! does not. The waits are real (the server's wall time): short, with the change made ~200 ms in.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use writ_store::Backend;

use crate::agents::{Fleet, agent_token, create_agent, fleet};
use crate::harness::{Reply, TestApp, app, call, id, post};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";
/// How long a change takes to reach a waiter, at most, on a loaded test machine.
const PROMPTLY: Duration = Duration::from_millis(1_500);

/// An agent's request waiting for its sponsor's approval.
struct Scene {
    app: TestApp,
    fleet: Fleet,
    agent_token: String,
    sponsor_token: String,
    request: String,
    stage: String,
}

async fn run_jobs(app: &TestApp) -> u32 {
    app.run_jobs_cleanly().await
}

async fn scene(backend: Backend) -> Scene {
    scene_on(app(backend).await).await
}

async fn scene_on(app: TestApp) -> Scene {
    let fleet = fleet(&app).await;
    let agent = id(
        &create_agent(&app, &fleet, "waiting-agent", &[&fleet.sponsor])
            .await
            .body,
    );
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
        json!({"displayName": "Orders", "catalog": {"id": catalog}}),
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
                    "durationBeforeAutomaticDenial": "P2D",
                    "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
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
    assert_eq!(run_jobs(&app).await, 1, "the request reaches its approval");
    let approval = app.get(&format!("{APPROVALS}/{request}"), &app.admin).await;
    assert_eq!(approval.status, StatusCode::OK, "{}", approval.body);
    let stage = id(&approval.body["stages"][0]);
    let sponsor_token = app
        .password_token("samsponsor@example.org", crate::harness::PASSWORD)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    Scene {
        app,
        fleet,
        agent_token,
        sponsor_token,
        request,
        stage,
    }
}

/// `GET path` with these `Prefer` headers: the answer and how long it took.
async fn get_preferring(
    app: &TestApp,
    path: &str,
    token: &str,
    prefer: &[&str],
) -> (Reply, Duration) {
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    for value in prefer {
        builder = builder.header("prefer", *value);
    }
    let started = Instant::now();
    let reply = call(&app.router, builder.body(Body::empty()).unwrap()).await;
    (reply, started.elapsed())
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).map(|v| v.to_str().unwrap())
}

impl Scene {
    fn path(&self) -> String {
        format!("{EM}/assignmentRequests/{}", self.request)
    }

    /// `GET` the request with `Prefer` headers, started in its own task so the test can change
    /// the request meanwhile.
    fn wait_in_background(
        &self,
        query: &str,
        token: &str,
        prefer: &'static str,
    ) -> tokio::task::JoinHandle<(Reply, Duration)> {
        let router = self.app.router.clone();
        let path = format!("{}{query}", self.path());
        let token = token.to_owned();
        tokio::spawn(async move {
            let request = Request::builder()
                .method(Method::GET)
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .header("prefer", prefer)
                .body(Body::empty())
                .unwrap();
            let started = Instant::now();
            let reply = call(&router, request).await;
            (reply, started.elapsed())
        })
    }

    async fn approve(&self) {
        let reply = self
            .app
            .send(
                Method::PATCH,
                &format!("{APPROVALS}/{}/stages/{}", self.request, self.stage),
                &self.sponsor_token,
                json!({"reviewResult": "Approve", "justification": "needed for the orders run"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }
}

async fn a_waiter_answers_as_soon_as_the_request_moves_on(backend: Backend) {
    let scene = scene(backend).await;
    let (reply, _) = get_preferring(&scene.app, &scene.path(), &scene.agent_token, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["state"], "pendingApproval");
    assert_eq!(
        header(&reply, "retry-after"),
        Some("60"),
        "a person decides: ask again in a minute"
    );
    assert_eq!(header(&reply, "preference-applied"), None);

    // The agent waits (with $select, which keeps working); its sponsor approves 200 ms later.
    let waiter = scene.wait_in_background("?$select=state,status", &scene.agent_token, "wait=2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let approved_at = Instant::now();
    scene.approve().await;
    let (reply, took) = waiter.await.unwrap();
    let since_approval = approved_at.elapsed();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        (&reply.body["state"], &reply.body["status"]),
        (&json!("delivering"), &json!("Delivering")),
        "{}",
        reply.body
    );
    assert!(
        reply.body.get("createdDateTime").is_none(),
        "$select applies: {}",
        reply.body
    );
    assert_eq!(header(&reply, "preference-applied"), Some("wait=2"));
    assert_eq!(header(&reply, "retry-after"), None);
    assert!(
        took >= Duration::from_millis(200),
        "answered after the change, not before: {took:?}"
    );
    assert!(
        took < PROMPTLY && since_approval < PROMPTLY,
        "answered at the change, not at the end of the wait: {took:?}"
    );

    // Delivering: the worker delivers shortly, so a poller is told to come back soon.
    let (reply, _) = get_preferring(&scene.app, &scene.path(), &scene.agent_token, &[]).await;
    assert_eq!(header(&reply, "retry-after"), Some("5"), "{}", reply.body);

    // A wait longer than 60 seconds is applied as 60, and says so; the delivery ends it.
    let waiter = scene.wait_in_background("", &scene.agent_token, "respond-async, wait=3600");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(run_jobs(&scene.app).await, 1, "the delivery");
    let (reply, took) = waiter.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["state"], "delivered", "{}", reply.body);
    assert_eq!(header(&reply, "preference-applied"), Some("wait=60"));
    assert!(took < PROMPTLY, "{took:?}");

    // Final: no Retry-After, and a wait on it runs its course unless something changes.
    let (reply, _) = get_preferring(&scene.app, &scene.path(), &scene.agent_token, &[]).await;
    assert_eq!(reply.body["state"], "delivered");
    assert_eq!(header(&reply, "retry-after"), None, "a final state");
}

async fn an_expired_wait_answers_the_request_unchanged(backend: Backend) {
    let scene = scene(backend).await;
    let (reply, took) =
        get_preferring(&scene.app, &scene.path(), &scene.sponsor_token, &["wait=1"]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["state"], "pendingApproval");
    assert_eq!(header(&reply, "preference-applied"), Some("wait=1"));
    assert_eq!(header(&reply, "retry-after"), None);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(1) + PROMPTLY,
        "the whole wait, then the answer: {took:?}"
    );

    // A malformed or zero wait is ignored (RFC 7240): answered at once, with Retry-After.
    for prefer in ["wait=soon", "wait=0", "wait=-3", "wait=1.5"] {
        let (reply, took) =
            get_preferring(&scene.app, &scene.path(), &scene.agent_token, &[prefer]).await;
        assert_eq!(reply.status, StatusCode::OK, "{prefer}: {}", reply.body);
        assert_eq!(header(&reply, "preference-applied"), None, "{prefer}");
        assert_eq!(header(&reply, "retry-after"), Some("60"), "{prefer}");
        assert!(took < Duration::from_millis(900), "{prefer}: {took:?}");
    }
}

/// A caller that waits step by step (MCP's `get_request`) reads the request, then waits from
/// what it read. A change committed between that read and the wait's own first read is the step
/// it asked about: waiting from the earlier read answers it at once, where a wait that took its
/// own first read as the starting point sits until it gives up (the lost wake-up fixed in
/// `e5c6ecb`).
async fn a_wait_from_an_earlier_read_answers_a_change_made_since_at_once(backend: Backend) {
    let scene = scene(backend).await;
    let entitlement = &scene.app.state.entitlement;
    let reader = writ_domain::authz::Caller::system();
    let read_before = entitlement
        .get_assignment_request(&reader, &scene.request)
        .await
        .unwrap();
    assert_eq!(read_before.state.as_str(), "pendingApproval");
    scene.approve().await;

    let answered = tokio::time::timeout(
        PROMPTLY,
        entitlement.wait_for_request_change_since(
            &reader,
            &scene.request,
            Some(&read_before),
            std::future::pending::<()>(),
        ),
    )
    .await
    .expect("a change made since the earlier read answers at once, without waiting")
    .unwrap();
    assert!(answered.changed);
    assert_eq!(answered.request.state.as_str(), "delivering");

    // The same wait from no earlier read starts at `delivering` and sees no change until the
    // delivery: the earlier read is what makes the difference above.
    let unchanged = entitlement
        .wait_for_request_change_since(
            &reader,
            &scene.request,
            None,
            tokio::time::sleep(Duration::from_millis(300)),
        )
        .await
        .unwrap();
    assert!(!unchanged.changed);
    assert_eq!(unchanged.request.state.as_str(), "delivering");

    // From a read of the current state, the wait ends at the next step (the delivery).
    let current = unchanged.request;
    let waiter = {
        let entitlement = entitlement.clone();
        let id = scene.request.clone();
        tokio::spawn(async move {
            entitlement
                .wait_for_request_change_since(
                    &writ_domain::authz::Caller::system(),
                    &id,
                    Some(&current),
                    tokio::time::sleep(Duration::from_secs(30)),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let delivered_at = Instant::now();
    assert_eq!(run_jobs(&scene.app).await, 1, "the delivery");
    let delivered = waiter.await.unwrap().unwrap();
    assert!(delivered.changed);
    assert_eq!(delivered.request.state.as_str(), "delivered");
    assert!(
        delivered_at.elapsed() < PROMPTLY,
        "{:?}",
        delivered_at.elapsed()
    );
}

async fn a_caller_who_may_not_read_the_request_does_not_wait(backend: Backend) {
    let scene = scene(backend).await;
    let app = &scene.app;
    let stranger = id(
        &create_agent(app, &scene.fleet, "other-agent", &[&scene.fleet.sponsor])
            .await
            .body,
    );
    let (stranger_token, _) =
        agent_token(app, &stranger, "https://graph.microsoft.com/.default").await;
    let (hidden, took) = get_preferring(app, &scene.path(), &stranger_token, &["wait=5"]).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.body);
    assert_eq!(hidden.error_code(), "Request_ResourceNotFound");
    assert!(
        took < Duration::from_millis(900),
        "no wait before a 404: {took:?}"
    );
    assert_eq!(header(&hidden, "preference-applied"), None);

    let missing_path = format!("{EM}/assignmentRequests/{}", uuid::Uuid::new_v4());
    let (missing, took) = get_preferring(app, &missing_path, &app.admin, &["wait=5"]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
    assert_eq!(missing.error_code(), "Request_ResourceNotFound");
    assert!(took < Duration::from_millis(900), "{took:?}");

    let anonymous = Request::builder()
        .uri(scene.path())
        .header("prefer", "wait=5")
        .body(Body::empty())
        .unwrap();
    let started = Instant::now();
    let reply = call(&app.router, anonymous).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(started.elapsed() < Duration::from_millis(900));
}

/// Waiters hold no database connection: more of them than the pool has connections (10) wait
/// on one request, and the approval that ends their wait still gets one.
async fn many_waiters_hold_no_connection(backend: Backend) {
    let scene = scene(backend).await;
    let waiters: Vec<_> = (0..25)
        .map(|_| scene.wait_in_background("", &scene.agent_token, "wait=5"))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let approved_at = Instant::now();
    scene.approve().await;
    for waiter in waiters {
        let (reply, _) = waiter.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["state"], "delivering", "{}", reply.body);
        assert_eq!(header(&reply, "preference-applied"), Some("wait=5"));
    }
    assert!(
        approved_at.elapsed() < Duration::from_secs(3),
        "every waiter answered at the change: {:?}",
        approved_at.elapsed()
    );
    assert_eq!(
        writ_domain::store::Store::request_changes(&scene.app.store).waiting(),
        0,
        "every waiter has left"
    );
}

/// A server over `store` as the harness starts one (the same administrator), for a second
/// replica on the database of a first.
async fn server_on(store: writ_store::SqlStore) -> TestApp {
    use crate::harness::{ADMIN_CLIENT_ID, ADMIN_SECRET, PUBLIC_URL, now};
    let clock = writ_domain::clock::ManualClock::new(now());
    let started = writ_server::start(
        std::sync::Arc::new(store.clone()),
        std::sync::Arc::new(clock.clone()),
        writ_server::ServerConfig {
            public_url: PUBLIC_URL.into(),
            bootstrap_client_id: Some(ADMIN_CLIENT_ID.into()),
            bootstrap_client_secret: Some(ADMIN_SECRET.into()),
            token_lifetime: time::Duration::hours(1),
            resource_token_lifetime: time::Duration::minutes(10),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut app = TestApp {
        router: writ_server::router(started.state.clone()),
        state: started.state,
        store,
        clock,
        admin: String::new(),
    };
    app.admin = app.client_token(ADMIN_CLIENT_ID, ADMIN_SECRET).await;
    app
}

/// Two replicas on one PostgreSQL database, each with its own in-process waiters: a waiter on
/// the second is woken by an approval made on the first through `NOTIFY` and the second's
/// listener; when the listener's connection is killed it reconnects, wakes every waiter (a
/// change made meanwhile would otherwise be missed), and hears the next change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_wake_each_others_waiters_through_postgres() {
    use writ_domain::store::Store;
    let database = writ_store::testing::empty_database(Backend::Postgres)
        .await
        .unwrap();
    let url = database.url().to_owned();
    let connect = || async {
        writ_store::connect(&writ_store::ConnectOptions::new(url.clone()))
            .await
            .unwrap()
    };
    let first_store = connect().await;
    writ_store::migrate(&first_store).await.unwrap();
    let second_store = connect().await;
    let first = server_on(first_store.clone()).await;
    let second = server_on(second_store.clone()).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let listener = tokio::spawn(writ_store::listen::run_request_listener(
        url.clone(),
        second_store.request_changes(),
        stopped,
    ));
    let scene = scene_on(first).await;
    // The listener has connected when a wait on the second replica is woken by the first.
    let waiter = |prefer: &'static str| {
        let router = second.router.clone();
        let path = scene.path();
        let token = scene.agent_token.clone();
        tokio::spawn(async move {
            let request = Request::builder()
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .header("prefer", prefer)
                .body(Body::empty())
                .unwrap();
            let started = Instant::now();
            let reply = call(&router, request).await;
            (reply, started.elapsed())
        })
    };
    let waiting = waiter("wait=5");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let approved_at = Instant::now();
    scene.approve().await;
    let (reply, _) = waiting.await.unwrap();
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["state"], "delivering", "{}", reply.body);
    assert_eq!(header(&reply, "preference-applied"), Some("wait=5"));
    assert!(
        approved_at.elapsed() < PROMPTLY,
        "woken by the other replica's commit: {:?}",
        approved_at.elapsed()
    );

    // The listener's connection is killed: on reconnecting it wakes every waiter.
    let changes = second_store.request_changes();
    let mut subscription = changes.subscribe(&scene.request).unwrap();
    let killed = sqlx::query(
        "SELECT COUNT(*) AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%') AS killed",
    )
    .fetch_one(first_store.pool())
    .await
    .unwrap();
    assert_eq!(sqlx::Row::get::<i64, _>(&killed, "n"), 1, "one listener");
    tokio::time::timeout(Duration::from_secs(5), subscription.changed())
        .await
        .expect("the reconnected listener wakes every waiter");
    drop(subscription);

    // And it hears the next change: the delivery, run on the first replica.
    let waiting = waiter("wait=5");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered_at = Instant::now();
    assert_eq!(run_jobs(&scene.app).await, 1);
    let (reply, _) = waiting.await.unwrap();
    assert_eq!(reply.body["state"], "delivered", "{}", reply.body);
    assert!(
        delivered_at.elapsed() < PROMPTLY,
        "{:?}",
        delivered_at.elapsed()
    );

    stop.send(true).unwrap();
    listener.await.unwrap();
    drop(second);
    drop(database);
}

crate::on_both_backends!(
    a_waiter_answers_as_soon_as_the_request_moves_on,
    an_expired_wait_answers_the_request_unchanged,
    a_wait_from_an_earlier_read_answers_a_change_made_since_at_once,
    a_caller_who_may_not_read_the_request_does_not_wait,
    many_waiters_hold_no_connection,
);

//! `writ-bench`: measures a release Writ over loopback HTTP on SQLite and, when given a server,
//! PostgreSQL. Each figure comes with a raw-database baseline measured in the same run (the same
//! number of single-row durable commits), so results are read as ratios rather than as absolute
//! numbers that depend on the machine. Run with
//! `cargo run --release -p writ-bench -- [--postgres postgres://…] [--tokens N] [--users N]`.
//!
//! The server runs in this process (the same router and store as `writ serve`) on 127.0.0.1:0,
//! and the load comes from concurrent HTTP/1.1 clients over loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark aborts on failure"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use writ_domain::clock::SystemClock;
use writ_store::ConnectOptions;

const CLIENT_ID: &str = "0d1b7a3e-9a4e-4c1f-8a61-3f2b8c9d0e11";
const SECRET: &str = "bench-secret-value-0123456789";
const CONCURRENCY: usize = 8;

struct Args {
    postgres: Option<String>,
    tokens: usize,
    users: usize,
    pages: usize,
    assignments: usize,
}

fn args() -> Args {
    let mut out = Args {
        postgres: None,
        tokens: 4000,
        users: 10_000,
        pages: 500,
        assignments: 1000,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--postgres" => out.postgres = Some(value),
            "--tokens" => out.tokens = value.parse().expect("--tokens N"),
            "--users" => out.users = value.parse().expect("--users N"),
            "--pages" => out.pages = value.parse().expect("--pages N"),
            "--assignments" => out.assignments = value.parse().expect("--assignments N"),
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Runs `n` calls of `call` over `CONCURRENCY` workers; returns (calls/s, sorted latencies).
async fn load<F, Fut>(n: usize, call: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let call = call.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                call(i).await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(n);
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

/// The baseline: `n` single-row durable commits on the same database, `CONCURRENCY` at a time.
async fn baseline_commits(url: &str, n: usize) -> f64 {
    sqlx::any::install_default_drivers();
    let store = writ_store::connect(&ConnectOptions::new(url))
        .await
        .unwrap();
    let pool = store.pool().clone();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_baseline (id TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let sqlite = url.starts_with("sqlite:");
    // SQLite has one writer: commits are serialized there, as Writ's own writes are.
    let concurrency = if sqlite { 1 } else { CONCURRENCY };
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let pool = pool.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("INSERT INTO bench_baseline (id, value) VALUES ($1, $2)")
                    .bind(format!("{i}-{}", std::process::id()))
                    .bind("x")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

async fn run(backend: &str, url: String, args: &Args) -> Vec<String> {
    let store = writ_store::connect(&ConnectOptions::new(url.clone()))
        .await
        .unwrap();
    writ_store::migrate(&store).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let started = writ_server::start(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        writ_server::ServerConfig {
            public_url: base.clone(),
            bootstrap_client_id: Some(CLIENT_ID.into()),
            bootstrap_client_secret: Some(SECRET.into()),
            token_lifetime: time::Duration::hours(1),
            resource_token_lifetime: time::Duration::minutes(10),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let state = started.state.clone();
    tokio::spawn(writ_server::serve(
        listener,
        started.state,
        std::future::pending(),
    ));
    // The job worker, as `writ serve` runs it: it delivers the assignment storm below.
    tokio::spawn(
        writ_server::job_worker::JobWorker {
            store: Arc::new(store.clone()),
            clock: Arc::new(SystemClock),
            handler: Arc::new(state.entitlement.clone()),
            config: writ_domain::jobs::WorkerConfig::default(),
            timing: writ_server::job_worker::WorkerTiming::default(),
            waker: state.job_waker.clone(),
        }
        .run(std::future::pending()),
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let form = format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={SECRET}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
    );

    // Token issuance.
    let (client, url_t, body) = (
        http.clone(),
        format!("{base}/oauth2/v2.0/token"),
        form.clone(),
    );
    let (tokens_per_s, latencies) = load(args.tokens, move |_| {
        let (client, url_t, body) = (client.clone(), url_t.clone(), body.clone());
        async move {
            let r = client
                .post(&url_t)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap();
        }
    })
    .await;
    let token_p50 = percentile(&latencies, 0.5);
    let token_p99 = percentile(&latencies, 0.99);

    // Users for the list pages (each create hashes a password with Argon2, so it is not the
    // measure of the write path).
    let token: serde_json::Value = http
        .post(format!("{base}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let (client, base_c, tok) = (http.clone(), base.clone(), token.clone());
    load(args.users, move |i| {
        let (client, base_c, tok) = (client.clone(), base_c.clone(), tok.clone());
        async move {
            let body = serde_json::json!({
                "displayName": format!("Bench User {i:06}"), "userPrincipalName": format!("bench{i}@example.org"),
                "mailNickname": format!("bench{i}"), "accountEnabled": true,
                "passwordProfile": {"password": "bench password 1"},
            });
            let r = client.post(format!("{base_c}/v1.0/users")).bearer_auth(&tok).json(&body).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        }
    })
    .await;

    // The write path: group creates, each one durable transaction with its audit record.
    let (client, base_c, tok) = (http.clone(), base.clone(), token.clone());
    let (creates_per_s, create_latencies) = load(args.users, move |i| {
        let (client, base_c, tok) = (client.clone(), base_c.clone(), tok.clone());
        async move {
            let body = serde_json::json!({
                "displayName": format!("Bench Group {i:06}"), "mailNickname": format!("benchgroup{i}"),
                "mailEnabled": false, "securityEnabled": true,
            });
            let r = client.post(format!("{base_c}/v1.0/groups")).bearer_auth(&tok).json(&body).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        }
    })
    .await;

    // Filtered, ordered list pages deep into the collection.
    let (client, base_c, tok) = (http.clone(), base.clone(), token.clone());
    let users = args.users;
    let (_, page_latencies) = load(args.pages, move |i| {
        let (client, base_c, tok) = (client.clone(), base_c.clone(), tok.clone());
        async move {
            let prefix = format!("Bench User {:03}", (i * 7) % (users / 1000).max(1));
            let r = client
                .get(format!("{base_c}/v1.0/users"))
                .query(&[
                    ("$filter", format!("startswith(displayName,'{prefix}')")),
                    ("$orderby", "displayName desc".into()),
                    ("$top", "100".into()),
                ])
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap();
        }
    })
    .await;
    // The assignment storm: adminAdd for N users under an admin-only policy granting one
    // group's membership, each recorded with its job and delivered by the worker.
    let (assign_rate, assign_latencies, storm, drain) =
        assignment_storm(&http, &base, &token, args.assignments).await;
    let baseline = baseline_commits(&url, args.users).await;
    vec![
        format!(
            "| {backend} | token issuance (client_credentials) | {tokens_per_s:.0}/s | p50 {:.2} ms, p99 {:.2} ms | — |",
            token_p50.as_secs_f64() * 1e3,
            token_p99.as_secs_f64() * 1e3
        ),
        format!(
            "| {backend} | group create (one transaction with its audit record) | {creates_per_s:.0}/s | p50 {:.2} ms, p99 {:.2} ms | {:.2}× of {baseline:.0} raw commits/s |",
            percentile(&create_latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&create_latencies, 0.99).as_secs_f64() * 1e3,
            creates_per_s / baseline
        ),
        format!(
            "| {backend} | `$filter` + `$orderby` page of 100 over {users} users | — | p50 {:.2} ms, p99 {:.2} ms | — |",
            percentile(&page_latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&page_latencies, 0.99).as_secs_f64() * 1e3
        ),
        format!(
            "| {backend} | assignment request (`adminAdd`, recorded with its job) | {assign_rate:.0}/s | p50 {:.2} ms, p99 {:.2} ms | {:.2}× of {baseline:.0} raw commits/s |",
            percentile(&assign_latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&assign_latencies, 0.99).as_secs_f64() * 1e3,
            assign_rate / baseline
        ),
        format!(
            "| {backend} | {} assignments submitted at once until the last is delivered | {:.0} delivered/s | all delivered {:.2} s after the first submit, {:.2} s after the last | {:.2}× of {baseline:.0} raw commits/s |",
            args.assignments,
            args.assignments as f64 / storm.as_secs_f64(),
            storm.as_secs_f64(),
            drain.as_secs_f64(),
            args.assignments as f64 / storm.as_secs_f64() / baseline
        ),
        format!(
            "| {backend} | raw single-row durable commits (baseline) | {baseline:.0}/s | — | 1.00× |"
        ),
    ]
}

async fn post_json(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

/// Submits `n` adminAdd requests (8 clients) and waits until all are delivered. Returns the
/// submit rate, submit latencies, the time from the first submit to the last delivery, and the
/// time from the last submit to the last delivery (the backlog the worker had left).
async fn assignment_storm(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> (f64, Vec<Duration>, Duration, Duration) {
    let em = format!("{base}/v1.0/identityGovernance/entitlementManagement");
    let group = post_json(
        http,
        format!("{base}/v1.0/groups"),
        token,
        serde_json::json!({
        "displayName": "Bench delivered group", "mailNickname": "benchdelivered",
        "mailEnabled": false, "securityEnabled": true}),
    )
    .await;
    let group = group["id"].as_str().unwrap().to_owned();
    let catalog = post_json(
        http,
        format!("{em}/catalogs"),
        token,
        serde_json::json!({"displayName": "Bench catalog"}),
    )
    .await;
    let catalog = catalog["id"].as_str().unwrap().to_owned();
    post_json(
        http,
        format!("{em}/resourceRequests"),
        token,
        serde_json::json!({
        "requestType": "adminAdd", "catalog": {"id": catalog},
        "resource": {"originId": group, "originSystem": "AadGroup"}}),
    )
    .await;
    let roles: serde_json::Value = http
        .get(format!("{em}/catalogs/{catalog}/resourceRoles"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let member = roles["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["displayName"] == "Member")
        .unwrap()["id"]
        .clone();
    let package = post_json(
        http,
        format!("{em}/accessPackages"),
        token,
        serde_json::json!({"displayName": "Bench package", "catalog": {"id": catalog}}),
    )
    .await;
    let package = package["id"].as_str().unwrap().to_owned();
    post_json(
        http,
        format!("{em}/accessPackages/{package}/resourceRoleScopes"),
        token,
        serde_json::json!({"role": {"id": member}}),
    )
    .await;
    let policy = post_json(http, format!("{em}/assignmentPolicies"), token, serde_json::json!({
        "displayName": "Bench admin-only", "allowedTargetScope": "notSpecified",
        "expiration": {"type": "afterDuration", "duration": "PT1H"}, "accessPackage": {"id": package}})).await;
    let policy = policy["id"].as_str().unwrap().to_owned();

    let mut targets = Vec::new();
    let mut next = Some(format!("{base}/v1.0/users?$select=id&$top=999"));
    while let Some(url) = next.take() {
        let page: serde_json::Value = http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        targets.extend(
            page["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert!(
        targets.len() >= n,
        "--assignments {n} needs as many --users"
    );
    let targets = Arc::new(targets);

    let started = Instant::now();
    let (client, em_c, tok) = (http.clone(), em.clone(), token.to_owned());
    let (rate, latencies) = load(n, move |i| {
        let (client, em_c, tok, targets) =
            (client.clone(), em_c.clone(), tok.clone(), targets.clone());
        let (package, policy) = (package.clone(), policy.clone());
        async move {
            let body = serde_json::json!({"requestType": "adminAdd", "assignment": {
                "targetId": targets[i], "assignmentPolicyId": policy, "accessPackageId": package}});
            let r = client
                .post(format!("{em_c}/assignmentRequests"))
                .bearer_auth(&tok)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        }
    })
    .await;
    let submitted = Instant::now();
    loop {
        let page: serde_json::Value = http
            .get(format!("{em}/assignments"))
            .query(&[
                ("$filter", "state eq 'delivered'"),
                ("$count", "true"),
                ("$top", "1"),
            ])
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["@odata.count"].as_u64() == Some(n as u64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let storm = started.elapsed();
    (rate, latencies, storm, submitted.elapsed())
}

#[tokio::main]
async fn main() {
    let args = args();
    let mut rows = Vec::new();
    let dir = std::env::temp_dir().join(format!("writ-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = format!("sqlite://{}", dir.join("bench.db").display());
    rows.extend(run("SQLite", sqlite, &args).await);
    if let Some(server) = &args.postgres {
        sqlx::any::install_default_drivers();
        let name = format!("writ_bench_{}", std::process::id());
        let admin = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(server)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let base = &server[..server.rfind('/').unwrap()];
        rows.extend(run("PostgreSQL", format!("{base}/{name}"), &args).await);
    }
    println!("| database | what | rate | latency | vs baseline |");
    println!("|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

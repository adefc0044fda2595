//! `writ-bench`: measures a release Writ over loopback HTTP on SQLite and, when given a server,
//! PostgreSQL. Each figure comes with a raw-database baseline measured in the same run (the same
//! number of single-row durable commits), so results are read as ratios rather than as absolute
//! numbers that depend on the machine. Run with
//! `cargo run --release -p writ-bench -- [--postgres postgres://…] [--tokens N] [--users N]
//! [--pages N] [--assignments N] [--lifecycles N] [--expiry N] [--loaded N]`, or
//! `… -- [--postgres postgres://…] --storm N` for the expiry storm with its notices alone
//! (`storm.rs`), or `… -- [--postgres postgres://…] --portal N` for the portal's pages alone
//! (`portal.rs`: a sponsor of 500 agents, an approver with 200 pending stages, N requests a page),
//! or `… -- [--postgres postgres://…] --waits N` for readers waiting with `Prefer: wait` woken by
//! approvals (`waits.rs`), or `… -- [--postgres postgres://…] --evaluations N
//! [--evaluation-rate R]` for access evaluation alone under an open-loop load (`evaluations.rs`:
//! N requests at R/s, default 5,000), or `… -- [--postgres postgres://…] --compromise N` for
//! what compromised agents cost (`compromise.rs`), or `… -- [--postgres postgres://…]
//! --succession N` for disabling a sponsor of N agents (`succession.rs`), or `… --
//! [--postgres postgres://…] --token-time N` for what recording the last token time costs
//! (`token_time.rs`), or `… -- [--postgres postgres://…] --caller N` for tokens and the
//! cheapest authenticated read with the statements each costs (`caller.rs`), or `… --
//! --postgres postgres://… --no-sqlite --replicas N --lifecycles L --waits W` for N `writ serve`
//! on one database (`replicas.rs`).
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

mod caller;
mod compromise;
mod evaluations;
mod loaded;
mod machine;
mod portal;
mod replicas;
mod storm;
mod succession;
mod token_time;
mod waits;

use writ_domain::clock::{Clock, SystemClock};
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
    expiry: usize,
    lifecycles: usize,
    loaded: usize,
    storm: usize,
    /// Requests per portal page (`--portal N`, run alone).
    portal: usize,
    /// Requests waited on with `Prefer: wait` (`--waits N`, run alone).
    waits: usize,
    /// Access evaluations sent open-loop (`--evaluations N`, run alone).
    evaluations: usize,
    /// Agents confirmed compromised (`--compromise N`, run alone).
    compromise: usize,
    /// Agents per sponsor disabled (`--succession N`, run alone).
    succession: usize,
    /// Token requests against the last-token write alone (`--token-time N`, run alone).
    token_time: usize,
    /// Requests per call of the caller path (`--caller N`, run alone).
    caller: usize,
    /// Their schedule, per second (`--evaluation-rate R`).
    evaluation_rate: f64,
    /// The job worker's largest claim (`WorkerConfig::max_batch_size`), to compare sizes.
    max_batch: Option<u32>,
    /// The job worker's passes side by side (`WorkerConfig::parallel_passes`).
    passes: Option<usize>,
    /// Only PostgreSQL (with `--postgres`).
    no_sqlite: bool,
    /// `writ serve` replicas on the one PostgreSQL database (`--replicas N`, run alone, with
    /// `--lifecycles` and `--waits`).
    replicas: usize,
}

fn args() -> Args {
    let mut out = Args {
        postgres: None,
        tokens: 4000,
        users: 10_000,
        pages: 500,
        assignments: 1000,
        expiry: 0,
        lifecycles: 1000,
        loaded: 0,
        storm: 0,
        portal: 0,
        waits: 0,
        evaluations: 0,
        compromise: 0,
        succession: 0,
        token_time: 0,
        caller: 0,
        evaluation_rate: 5000.0,
        max_batch: None,
        passes: None,
        no_sqlite: false,
        replicas: 1,
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
            "--expiry" => out.expiry = value.parse().expect("--expiry N"),
            "--lifecycles" => out.lifecycles = value.parse().expect("--lifecycles N"),
            "--loaded" => out.loaded = value.parse().expect("--loaded N"),
            "--storm" => out.storm = value.parse().expect("--storm N"),
            "--portal" => out.portal = value.parse().expect("--portal N"),
            "--waits" => out.waits = value.parse().expect("--waits N"),
            "--evaluations" => out.evaluations = value.parse().expect("--evaluations N"),
            "--compromise" => out.compromise = value.parse().expect("--compromise N"),
            "--succession" => out.succession = value.parse().expect("--succession N"),
            "--token-time" => out.token_time = value.parse().expect("--token-time N"),
            "--caller" => out.caller = value.parse().expect("--caller N"),
            "--evaluation-rate" => {
                out.evaluation_rate = value.parse().expect("--evaluation-rate R");
                assert!(out.evaluation_rate > 0.0, "--evaluation-rate R: R > 0");
            }
            "--replicas" => out.replicas = value.parse().expect("--replicas N"),
            "--passes" => out.passes = Some(value.parse().expect("--passes N")),
            "--max-batch" => out.max_batch = Some(value.parse().expect("--max-batch N")),
            "--no-sqlite" => {
                out.no_sqlite = true;
                i += 1;
                continue;
            }
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
    load_with(CONCURRENCY, n, call).await
}

/// [`load`] over `concurrency` workers.
async fn load_with<F, Fut>(concurrency: usize, n: usize, call: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
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
    commits(url, n, false).await
}

/// `n` raw single-row commits, as [`baseline_commits`]; with `notifying`, each transaction also
/// sends a PostgreSQL `NOTIFY` (as Writ's transactions that change a request do, to wake other
/// replicas' waiters), which holds a lock on the whole cluster from before its commit until
/// after it, so such commits run one at a time.
async fn commits(url: &str, n: usize, notifying: bool) -> f64 {
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
                    .bind(format!("{i}-{}-{notifying}", std::process::id()))
                    .bind("x")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                if notifying {
                    sqlx::query("SELECT COUNT(*) AS n FROM (SELECT pg_notify($1, $2)) AS sent")
                        .bind("writ_bench")
                        .bind(i.to_string())
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                tx.commit().await.unwrap();
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// One `writ serve`, in this process: the server on a new loopback port, with its own pool, its
/// job worker (delivering the benches' requests, its expiries reported to `recorded`) and, on
/// PostgreSQL, its listener for other replicas' request changes, as `writ serve` runs them.
struct Replica {
    store: writ_store::SqlStore,
    base: String,
    state: writ_server::state::AppState,
    /// Keeps the request listener running while the replica lives.
    _listening: Option<tokio::sync::watch::Sender<bool>>,
}

/// `public_url` is the address tokens name as their issuer and audience: replicas behind one
/// load balancer share it (`None`: this replica's own address).
async fn start_replica(
    url: &str,
    args: &Args,
    recorded: storm::Recorded,
    public_url: Option<&str>,
) -> Replica {
    let store = writ_store::connect(&ConnectOptions::new(url.to_owned()))
        .await
        .unwrap();
    writ_store::migrate(&store).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let started = writ_server::start(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        writ_server::ServerConfig {
            public_url: public_url.map_or_else(|| base.clone(), str::to_owned),
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
    tokio::spawn(
        writ_runtime::job_worker::JobWorker {
            store: Arc::new(store.clone()),
            clock: Arc::new(SystemClock),
            handler: Arc::new(storm::Reporting {
                inner: Arc::new(state.entitlement.clone()),
                recorded,
            }),
            config: {
                let default = writ_domain::jobs::WorkerConfig::default();
                writ_domain::jobs::WorkerConfig {
                    max_batch_size: args.max_batch.unwrap_or(default.max_batch_size),
                    parallel_passes: args.passes.unwrap_or(store.backend_kind().job_passes()),
                    ..default
                }
            },
            timing: writ_runtime::job_worker::WorkerTiming::default(),
            waker: state.job_waker.clone(),
        }
        .run(std::future::pending()),
    );
    let listening = (store.backend_kind() == writ_store::Backend::Postgres).then(|| {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(writ_store::listen::run_request_listener(
            url.to_owned(),
            writ_domain::store::Store::request_changes(&store),
            stopped,
        ));
        stop
    });
    Replica {
        store,
        base,
        state,
        _listening: listening,
    }
}

async fn run(backend: &str, url: String, args: &Args) -> Vec<String> {
    // Expiries recorded, as the worker's handler reports them (read by `--storm`).
    let recorded = storm::Recorded::default();
    let Replica {
        store,
        base,
        state,
        _listening,
    } = start_replica(&url, args, recorded.clone(), None).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let form = token_form(CLIENT_ID, SECRET);
    if args.storm > 0 {
        // Alone: the earlier phases' rows and backlog would blur the worker's figure.
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        let sqlite = url.starts_with("sqlite:");
        let figures = storm::storm(
            &http,
            &base,
            &token,
            store.pool(),
            sqlite,
            storm::Worker {
                waker: &state.job_waker,
                recorded: &recorded,
            },
            args.storm,
        )
        .await;
        return storm::rows(backend, &figures);
    }
    if args.replicas > 1 {
        // Alone: N `writ serve` on one PostgreSQL database (`replicas.rs`).
        assert!(
            !url.starts_with("sqlite:"),
            "--replicas needs PostgreSQL only: --postgres URL --no-sqlite"
        );
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        return replicas::replicas(&http, &base, &token, &url, args).await;
    }
    if args.evaluations > 0 {
        // Alone: a measure of reads, which the other phases' writes would disturb.
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        let figures =
            evaluations::evaluations(&http, &base, &token, args.evaluations, args.evaluation_rate)
                .await;
        return evaluations::rows(backend, &figures);
    }
    if args.portal > 0 {
        // Alone too: the pages list what the earlier phases would have left behind.
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        let figures = portal::portal(&http, &base, &token, args.portal).await;
        return portal::rows(backend, &figures);
    }
    if args.caller > 0 {
        // Alone: tokens and the cheapest authenticated read, closed loop (`caller.rs`).
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        let sqlite = url.starts_with("sqlite:");
        let figures = caller::caller(
            &http,
            &base,
            (CLIENT_ID, SECRET),
            &token,
            store.pool(),
            sqlite,
            args.caller,
        )
        .await;
        return caller::rows(backend, &figures);
    }
    if args.compromise > 0 {
        // Alone: its reads and batches against baselines of the same run (`compromise.rs`).
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        let figures = compromise::compromise(&http, &base, &token, args.compromise).await;
        return compromise::rows(backend, &figures);
    }
    if args.succession > 0 {
        // Alone: a disable with succession against one without, in the same run.
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        let figures = succession::succession(&http, &base, &token, args.succession).await;
        return succession::rows(backend, &figures);
    }
    if args.token_time > 0 {
        // Alone: the token endpoint against its last-token write, same run (`token_time.rs`).
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        let me = crate::get_json(
            &http,
            format!("{base}/v1.0/servicePrincipals(appId='{CLIENT_ID}')"),
            &token,
        )
        .await;
        let principal = me["id"].as_str().unwrap().to_owned();
        let figures = token_time::token_time(
            &http,
            &base,
            &form,
            Arc::new(store.clone()),
            principal,
            args.token_time,
        )
        .await;
        return token_time::rows(backend, &figures);
    }
    if args.waits > 0 {
        // Alone: a reader woken by an approval, against a plain read (`waits.rs`).
        let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
        let figures = waits::waits(&http, &base, &token, args.waits).await;
        return waits::rows(backend, &figures);
    }

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
    let token = access_token(&http, &base, CLIENT_ID, SECRET).await;
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
    let lifecycle = if args.lifecycles > 0 {
        Some(lifecycle_storm(&http, &base, &token, args.lifecycles).await)
    } else {
        None
    };
    let expiry = if args.expiry > 0 {
        Some(expiry_storm(&http, &base, &token, store.pool(), args.expiry).await)
    } else {
        None
    };
    // Last: the loaded rows would otherwise be counted by the storms' state filters.
    let loaded = if args.loaded > 0 {
        let sqlite = url.starts_with("sqlite:");
        Some(loaded::loaded_lists(&http, &base, &token, store.pool(), sqlite, args.loaded).await)
    } else {
        None
    };
    let baseline = baseline_commits(&url, args.users.max(args.expiry)).await;
    let mut rows = vec![
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
    ];
    if let Some(l) = lifecycle {
        let rate = l.n as f64 / l.all_delivered.as_secs_f64();
        rows.push(format!(
            "| {backend} | {} agents each requesting for itself (`userAdd`, no approval) until the last is delivered | {rate:.0} lifecycles/s | requests accepted at {:.0}/s, p50 {:.2} ms, p99 {:.2} ms; all delivered {:.2} s after the first | {:.2}× of {baseline:.0} raw commits/s |",
            l.n,
            l.submit_rate,
            percentile(&l.latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&l.latencies, 0.99).as_secs_f64() * 1e3,
            l.all_delivered.as_secs_f64(),
            rate / baseline
        ));
    }
    if let Some(e) = expiry {
        rows.push(format!(
            "| {backend} | {} agents' assignments ending at one instant: access gone at the instant | — | group member count {} ms after the instant: {} | — |",
            e.n,
            e.first_read_after.as_millis(),
            e.members_after_instant
        ));
        rows.push(format!(
            "| {backend} | … until all are recorded `expired` and their grants released | {:.0} expired/s | all recorded {:.2} s after the instant | {:.2}× of {baseline:.0} raw commits/s |",
            e.n as f64 / e.recorded.as_secs_f64(),
            e.recorded.as_secs_f64(),
            e.n as f64 / e.recorded.as_secs_f64() / baseline
        ));
        rows.push(format!(
            "| {backend} | recording lag, {} assignments ending {}/s (steady stream) | — | p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms | — |",
            e.lags.len(),
            LAG_RATE,
            percentile(&e.lags, 0.5).as_secs_f64() * 1e3,
            percentile(&e.lags, 0.99).as_secs_f64() * 1e3,
            e.lags.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        ));
    }
    if let Some(figures) = &loaded {
        rows.extend(loaded::rows(backend, figures));
    }
    rows.push(format!(
        "| {backend} | raw single-row durable commits (baseline) | {baseline:.0}/s | — | 1.00× |"
    ));
    rows
}

/// The steady stream of the recording-lag measure: assignments ending per second.
const LAG_RATE: usize = 20;

struct ExpiryFigures {
    n: usize,
    /// How long after the instant the membership read below was answered.
    first_read_after: Duration,
    /// `@odata.count` of the group's members read right after the instant (0 when access ended).
    members_after_instant: u64,
    /// From the instant until every assignment is `expired` and no membership row remains.
    recorded: Duration,
    /// Sorted: for each assignment of the steady stream, its end until it reads `expired`.
    lags: Vec<Duration>,
}

/// Seconds since the epoch of `at`, RFC 3339.
fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn get_json(http: &reqwest::Client, url: String, token: &str) -> serde_json::Value {
    let r = http.get(url).bearer_auth(token).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

/// The expiry storm: `n` agent identities (created here) are each assigned a package granting
/// one group's membership, all ending at one instant `T`; the group's member count is read just
/// after `T` (access must be gone without waiting for any job), then the time until all are
/// recorded `expired` with their membership rows deleted. Then the recording lag of a steady
/// stream: up to 500 of the agents assigned again, ending `LAG_RATE` per second, each polled from
/// its end until it reads `expired`.
async fn expiry_storm(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    pool: &sqlx::AnyPool,
    n: usize,
) -> ExpiryFigures {
    let em = format!("{base}/v1.0/identityGovernance/entitlementManagement");
    let fleet = agent_fleet(http, base, token, n, "expiring").await;
    let agents = Arc::new(fleet.into_iter().map(|a| a.id).collect::<Vec<_>>());

    let Granting {
        group,
        package,
        policy,
    } = package_granting_group(
        http,
        base,
        token,
        "expiring",
        serde_json::json!({"allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "P1D"}}),
    )
    .await;

    // Every assignment ends at `instant`, far enough ahead for all to be delivered first
    // (checked below: the figure is void otherwise).
    let margin = time::Duration::seconds(30 + (n / 150) as i64);
    let instant = SystemClock.now() + margin;
    let assign = |targets: Arc<Vec<String>>,
                  ends: Arc<dyn Fn(usize) -> time::OffsetDateTime + Send + Sync>| {
        let (client, em_c, tok) = (http.clone(), em.clone(), token.to_owned());
        let (package, policy) = (package.clone(), policy.clone());
        move |i: usize| {
            let (client, em_c, tok, targets) =
                (client.clone(), em_c.clone(), tok.clone(), targets.clone());
            let (package, policy, end) = (package.clone(), policy.clone(), ends(i));
            async move {
                let body = serde_json::json!({"requestType": "adminAdd",
                    "schedule": {"expiration": {"type": "afterDateTime", "endDateTime": rfc3339(end)}},
                    "assignment": {"targetId": targets[i], "assignmentPolicyId": policy, "accessPackageId": package}});
                let r = client
                    .post(format!("{em_c}/assignmentRequests"))
                    .bearer_auth(&tok)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
            }
        }
    };
    let (submit_rate, _) = load(n, assign(agents.clone(), Arc::new(move |_| instant))).await;
    let count = |filter: String| {
        let (http, em, token) = (http.clone(), em.clone(), token.to_owned());
        async move {
            let page = get_json(
                &http,
                format!("{em}/assignments?$filter={filter}&$count=true&$top=1"),
                &token,
            )
            .await;
            page["@odata.count"].as_u64().unwrap()
        }
    };
    let package_filter = format!("accessPackage/id%20eq%20'{package}'");
    while count(format!("{package_filter}%20and%20state%20eq%20'delivered'")).await < n as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered_at = SystemClock.now();
    assert!(
        delivered_at < instant - time::Duration::seconds(1),
        "seeding overran the instant: raise the margin"
    );
    eprintln!(
        "expiry storm: {n} assignments submitted ({submit_rate:.0}/s) and delivered; ending at {}",
        rfc3339(instant)
    );

    // Access is gone at the instant, before any job has run.
    let wait = instant - SystemClock.now();
    tokio::time::sleep(Duration::from_secs_f64(wait.as_seconds_f64().max(0.0))).await;
    let started = Instant::now();
    let members = get_json(
        http,
        format!("{base}/v1.0/groups/{group}/members?$count=true&$top=1"),
        token,
    )
    .await;
    let first_read_after = (SystemClock.now() - instant).unsigned_abs();
    let members_after_instant = members["@odata.count"].as_u64().unwrap();
    // Polled cheaply (the count of the instant's expiry jobs left, a shrinking index range):
    // counting 20,000 assignments every few milliseconds would take a core from the worker.
    // A job is completed in the transaction that records its expiry, so none left means all
    // are recorded; the records themselves are checked right after.
    let instant_micros = writ_domain::clock::to_micros(instant);
    loop {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'expireAssignment' AND due_at <= $1",
        )
        .bind(instant_micros)
        .fetch_one(pool)
        .await
        .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recorded = started.elapsed() + first_read_after;
    let expired = count(format!("{package_filter}%20and%20state%20eq%20'expired'")).await;
    let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM group_members WHERE group_id = '{group}'"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        (expired, rows),
        (n as u64, 0),
        "every assignment recorded expired and its membership released"
    );

    // The steady stream: assignments ending LAG_RATE per second, each polled from its end.
    let stream = n.min(500);
    let first_end = SystemClock.now() + time::Duration::seconds(15 + (stream / 40) as i64);
    let end_of =
        move |i: usize| first_end + time::Duration::milliseconds((i * 1000 / LAG_RATE) as i64);
    load(stream, assign(agents.clone(), Arc::new(end_of))).await;
    while count(format!("{package_filter}%20and%20state%20eq%20'delivered'")).await < stream as u64
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ids = Vec::new();
    let mut next = Some(format!(
        "{em}/assignments?$filter={package_filter}%20and%20state%20eq%20'delivered'&$select=id,target&$expand=target&$top=999"
    ));
    while let Some(url) = next.take() {
        let page = get_json(http, url, token).await;
        for a in page["value"].as_array().unwrap() {
            ids.push((
                a["id"].as_str().unwrap().to_owned(),
                a["target"]["objectId"].as_str().unwrap().to_owned(),
            ));
        }
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(
        ids.len(),
        stream,
        "the stream's assignments are delivered before they end"
    );
    let position: std::collections::HashMap<String, usize> = agents
        .iter()
        .take(stream)
        .enumerate()
        .map(|(i, a)| (a.clone(), i))
        .collect();
    let mut pollers = Vec::new();
    for (id, target) in ids {
        let end = end_of(position[&target]);
        let (http, em, token) = (http.clone(), em.clone(), token.to_owned());
        pollers.push(tokio::spawn(async move {
            let wait = end - SystemClock.now();
            tokio::time::sleep(Duration::from_secs_f64(wait.as_seconds_f64().max(0.0))).await;
            loop {
                let a = get_json(
                    &http,
                    format!("{em}/assignments/{id}?$select=state"),
                    &token,
                )
                .await;
                if a["state"] == "expired" {
                    return (SystemClock.now() - end).unsigned_abs();
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }));
    }
    let mut lags = Vec::new();
    for p in pollers {
        lags.push(p.await.unwrap());
    }
    lags.sort();
    ExpiryFigures {
        n,
        first_read_after,
        members_after_instant,
        recorded,
        lags,
    }
}

/// What the self-service lifecycle storm measured.
struct LifecycleFigures {
    n: usize,
    /// Submit rate of the agents' own requests and their latencies (sorted).
    submit_rate: f64,
    latencies: Vec<Duration>,
    /// From the first submit until the last assignment reads `delivered`.
    all_delivered: Duration,
}

/// Request → auto-approved → delivered, as an agent does it: `n` agent identities (created
/// here, each with its own secret and client-credentials token) each request a package for
/// themselves (`userAdd`) under a policy that needs no approval; the time from the first request
/// until every assignment is delivered, as an agent reading its own assignment would see it.
async fn lifecycle_storm(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> LifecycleFigures {
    lifecycle_storm_across(http, &[base.to_owned()], token, n, "selfservice").await
}

/// [`lifecycle_storm`] with request `i` sent to replica `i % replicas.len()` (`--replicas`),
/// its agents and package named after `name`.
async fn lifecycle_storm_across(
    http: &reqwest::Client,
    replicas: &[String],
    token: &str,
    n: usize,
    name: &str,
) -> LifecycleFigures {
    let base = replicas[0].as_str();
    let em = format!("{base}/v1.0/identityGovernance/entitlementManagement");
    let fleet = Arc::new(agent_fleet(http, base, token, n, name).await);
    let tokens = Arc::new(std::sync::Mutex::new(vec![String::new(); n]));
    let (client, base_c, tok, fleet_c, out) = (
        http.clone(),
        base.to_owned(),
        token.to_owned(),
        fleet.clone(),
        tokens.clone(),
    );
    load(n, move |i| {
        let (client, base_c, tok, fleet, out) = (
            client.clone(),
            base_c.clone(),
            tok.clone(),
            fleet_c.clone(),
            out.clone(),
        );
        async move {
            let agent = &fleet[i];
            let token = agent_access_token(&client, &base_c, &tok, agent).await;
            out.lock().unwrap()[i] = token;
        }
    })
    .await;
    let tokens = Arc::new(std::mem::take(&mut *tokens.lock().unwrap()));
    let Granting {
        package, policy, ..
    } = package_granting_group(
        http,
        base,
        token,
        name,
        serde_json::json!({"allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT8H"},
            "requestorSettings": {"enableTargetsToSelfAddAccess": true},
            "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "stages": []}}),
    )
    .await;

    let started = Instant::now();
    let ems: Arc<Vec<String>> = Arc::new(
        replicas
            .iter()
            .map(|base| format!("{base}/v1.0/identityGovernance/entitlementManagement"))
            .collect(),
    );
    let (client, package_c) = (http.clone(), package.clone());
    let (submit_rate, latencies) = load(n, move |i| {
        let (client, tokens) = (client.clone(), tokens.clone());
        let em_c = ems[i % ems.len()].clone();
        let (package, policy) = (package_c.clone(), policy.clone());
        async move {
            let body = serde_json::json!({"requestType": "userAdd", "assignment": {
                "assignmentPolicyId": policy, "accessPackageId": package}});
            let r = client
                .post(format!("{em_c}/assignmentRequests"))
                .bearer_auth(&tokens[i])
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        }
    })
    .await;
    let delivered = format!(
        "{em}/assignments?$filter=accessPackage/id%20eq%20'{package}'%20and%20state%20eq%20'delivered'&$count=true&$top=1"
    );
    while get_json(http, delivered.clone(), token).await["@odata.count"].as_u64() != Some(n as u64)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    LifecycleFigures {
        n,
        submit_rate,
        latencies,
        all_delivered: started.elapsed(),
    }
}

/// One created agent identity.
struct Agent {
    id: String,
    app_id: String,
}

/// `n` agent identities of one new blueprint, all sponsored by one new user.
async fn agent_fleet(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
    name: &str,
) -> Vec<Agent> {
    let sponsor = post_json(
        http,
        format!("{base}/v1.0/users"),
        token,
        serde_json::json!({
        "displayName": format!("Bench {name} sponsor"), "userPrincipalName": format!("bench{name}sponsor@example.org"),
        "mailNickname": format!("bench{name}sponsor"), "accountEnabled": true,
        "passwordProfile": {"password": "bench password 1"}}),
    )
    .await;
    let sponsor_ref = format!("{base}/v1.0/users/{}", sponsor["id"].as_str().unwrap());
    let blueprint = post_json(
        http,
        format!("{base}/v1.0/applications"),
        token,
        serde_json::json!({
        "@odata.type": "#microsoft.graph.agentIdentityBlueprint", "displayName": format!("Bench {name} blueprint"),
        "sponsors@odata.bind": [sponsor_ref.clone()]}),
    )
    .await;
    let blueprint_app_id = blueprint["appId"].as_str().unwrap().to_owned();
    post_json(
        http,
        format!("{base}/v1.0/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal"),
        token,
        serde_json::json!({"appId": blueprint_app_id}),
    )
    .await;
    let agents = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n)));
    let (client, base_c, tok, out) = (
        http.clone(),
        base.to_owned(),
        token.to_owned(),
        agents.clone(),
    );
    let name_c = name.to_owned();
    let (agent_rate, _) = load(n, move |i| {
        let (client, base_c, tok, out) = (client.clone(), base_c.clone(), tok.clone(), out.clone());
        let (blueprint_app_id, sponsor_ref) = (blueprint_app_id.clone(), sponsor_ref.clone());
        let name = name_c.clone();
        async move {
            let body = serde_json::json!({
                "@odata.type": "#microsoft.graph.agentIdentity", "displayName": format!("bench-{name}-agent-{i:06}"),
                "agentIdentityBlueprintId": blueprint_app_id, "sponsors@odata.bind": [sponsor_ref]});
            let created = post_json(&client, format!("{base_c}/v1.0/servicePrincipals"), &tok, body).await;
            out.lock().unwrap().push((i, Agent {
                id: created["id"].as_str().unwrap().to_owned(),
                app_id: created["appId"].as_str().unwrap().to_owned(),
            }));
        }
    })
    .await;
    eprintln!("{name}: {n} agents created ({agent_rate:.0}/s)");
    let mut agents = std::mem::take(&mut *agents.lock().unwrap());
    agents.sort_by_key(|(i, _)| *i);
    agents.into_iter().map(|(_, a)| a).collect()
}

/// The body of a client-credentials token request for Writ's own API.
fn token_form(client_id: &str, secret: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
    )
}

/// A client-credentials access token for Writ's own API.
/// A new secret for `agent` (added by the administrator's `admin_token`) and the agent's own
/// client-credentials token with it.
async fn agent_access_token(
    http: &reqwest::Client,
    base: &str,
    admin_token: &str,
    agent: &Agent,
) -> String {
    let secret = post_json(
        http,
        format!("{base}/v1.0/servicePrincipals/{}/addPassword", agent.id),
        admin_token,
        serde_json::json!({"passwordCredential": {"displayName": "bench"}}),
    )
    .await;
    access_token(
        http,
        base,
        &agent.app_id,
        secret["secretText"].as_str().unwrap(),
    )
    .await
}

async fn access_token(http: &reqwest::Client, base: &str, client_id: &str, secret: &str) -> String {
    let reply: serde_json::Value = http
        .post(format!("{base}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(token_form(client_id, secret))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["access_token"].as_str().unwrap().to_owned()
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

/// What a storm assigns: a package granting one group's membership, and its policy.
struct Granting {
    group: String,
    package: String,
    policy: String,
}

/// A group onboarded to a new catalog, a package granting its membership, and a policy of that
/// package with `policy` settings (`allowedTargetScope`, `expiration`).
async fn package_granting_group(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    mut policy: serde_json::Value,
) -> Granting {
    let em = format!("{base}/v1.0/identityGovernance/entitlementManagement");
    let id = |v: serde_json::Value| v["id"].as_str().unwrap().to_owned();
    let group = id(post_json(
        http,
        format!("{base}/v1.0/groups"),
        token,
        serde_json::json!({
        "displayName": format!("Bench {name} group"), "mailNickname": format!("bench{name}"),
        "mailEnabled": false, "securityEnabled": true}),
    )
    .await);
    let catalog = id(post_json(
        http,
        format!("{em}/catalogs"),
        token,
        serde_json::json!({"displayName": format!("Bench {name} catalog")}),
    )
    .await);
    post_json(
        http,
        format!("{em}/resourceRequests"),
        token,
        serde_json::json!({
        "requestType": "adminAdd", "catalog": {"id": catalog},
        "resource": {"originId": group, "originSystem": "AadGroup"}}),
    )
    .await;
    let roles = get_json(
        http,
        format!("{em}/catalogs/{catalog}/resourceRoles"),
        token,
    )
    .await;
    let member = roles["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["displayName"] == "Member")
        .unwrap()["id"]
        .clone();
    let package = id(post_json(http, format!("{em}/accessPackages"), token,
        serde_json::json!({"displayName": format!("Bench {name} package"), "catalog": {"id": catalog}})).await);
    post_json(
        http,
        format!("{em}/accessPackages/{package}/resourceRoleScopes"),
        token,
        serde_json::json!({"role": {"id": member}}),
    )
    .await;
    policy["displayName"] = format!("Bench {name} policy").into();
    policy["accessPackage"] = serde_json::json!({"id": package});
    let policy = id(post_json(http, format!("{em}/assignmentPolicies"), token, policy).await);
    Granting {
        group,
        package,
        policy,
    }
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
    let Granting {
        package, policy, ..
    } = package_granting_group(
        http,
        base,
        token,
        "delivered",
        serde_json::json!({"allowedTargetScope": "notSpecified",
            "expiration": {"type": "afterDuration", "duration": "PT1H"}}),
    )
    .await;

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

/// Names the PostgreSQL server by its durability, since a commit rate means little without it:
/// "durable" only when `fsync` and `synchronous_commit` are both on (issue 20 asks for figures on
/// a durable cluster; the test cluster runs without either).
async fn postgres_label(admin: &sqlx::AnyPool) -> String {
    let mut settings = Vec::new();
    for name in ["fsync", "synchronous_commit"] {
        let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {name}")))
            .fetch_one(admin)
            .await
            .unwrap();
        settings.push((name, value));
    }
    let durable = settings.iter().all(|(_, value)| value == "on");
    let shown: Vec<String> = settings
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!(
        "PostgreSQL ({}: {})",
        if durable { "durable" } else { "not durable" },
        shown.join(", ")
    )
}

#[tokio::main]
async fn main() {
    let args = args();
    let mut rows = Vec::new();
    let dir = std::env::temp_dir().join(format!("writ-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = format!("sqlite://{}", dir.join("bench.db").display());
    if !args.no_sqlite {
        rows.extend(run("SQLite", sqlite, &args).await);
    }
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
        let label = postgres_label(&admin).await;
        eprintln!("benchmarking {label}");
        rows.extend(run(&label, format!("{base}/{name}"), &args).await);
        // A 1,000,000-assignment or 100,000-expiry run leaves gigabytes behind otherwise.
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("| database | what | rate | latency | vs baseline |");
    println!("|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

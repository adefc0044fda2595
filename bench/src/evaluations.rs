//! `--evaluations N`: access evaluation (`POST /access/v1/evaluation`, issue 18 part F) under an
//! **open-loop** load: N requests sent on a fixed schedule at `--evaluation-rate R` per second
//! (default 5,000), request `i` due at `start + i / R` whether or not earlier ones have
//! answered, each in its own task. A request's latency is measured from its *scheduled* send
//! time, so a server that falls behind shows it in the figures instead of slowing the load down
//! (no coordinated omission); the time from the scheduled instant to the actual send (the
//! generator's own lag: the pacer's sleep, the hand-over to the generator's thread, and the wait
//! for one of the generator's [`CONNECTIONS`] when all are busy) is reported beside it. The
//! generator runs on its own thread and runtime, apart from the server's ([`open_loop`]).
//!
//! Seeded through the API as the bootstrap administrator: [`AGENTS`] agent identities, each with
//! its own client secret and client-credentials token; one group, half of the agents direct
//! members of it; a package granting its membership under a policy agents may request. Each
//! request is an agent evaluating its own membership, so half are `true` (one indexed read
//! after authentication) and half `false` with the package listed in the denial (the packages
//! granting it with their policies read, the policy's scope checked). The same schedule then
//! drives a baseline, each agent reading itself (`GET /v1.0/servicePrincipals/{id}`: the
//! cheapest authenticated call), so the figures read as the cost of evaluating beyond
//! authenticating a request. The target is p99 ≤ 2 ms at 5,000/s on both backends (DESIGN
//! section 16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::machine::{CpuStops, cpu_stops};
use crate::{Granting, agent_fleet, package_granting_group, percentile};

/// Agents asking, each with its own token.
pub const AGENTS: usize = 50;
/// Closed-loop requests before the measured run (connections, caches, the database's pages).
const WARM_UP: usize = 1000;
/// Connections the generator holds at most (as wrk2 holds a fixed set): a request due while all
/// are busy waits for one, and that wait counts in its latency, since latency runs from the
/// scheduled send. Without a bound, a server that falls behind would have the generator open
/// connections until it runs out of file descriptors.
const CONNECTIONS: usize = 64;

/// One open-loop run.
pub struct OpenLoop {
    pub n: usize,
    pub target_rate: f64,
    /// Completed requests per second, from the first scheduled send to the last answer.
    pub achieved_rate: f64,
    /// From each request's scheduled send to its answer, sorted.
    pub latencies: Vec<Duration>,
    /// From each request's scheduled send to when it was sent, sorted.
    pub send_lag: Vec<Duration>,
    /// Calls that answered `true` (evaluations allowed).
    pub allowed: usize,
    /// How the answers over [`BUDGET`] fell in time.
    pub slow: SlowAnswers,
}

/// The latency budget the target sets (p99 ≤ 2 ms).
pub const BUDGET: Duration = Duration::from_millis(2);

/// The answers over [`BUDGET`], grouped into bursts by their scheduled sends: a slow answer
/// scheduled within [`BURST_GAP`] of the previous slow one belongs to its burst. Many slow answers
/// in a few bursts at a steady period point at something periodic stopping the machine, not at
/// the cost of each request.
pub struct SlowAnswers {
    pub count: usize,
    pub bursts: usize,
    pub largest_burst: usize,
    /// The median distance between consecutive bursts of at least [`BIG_BURST`] answers.
    pub big_burst_period: Option<Duration>,
}

const BURST_GAP: Duration = Duration::from_millis(20);
const BIG_BURST: usize = 10;

impl SlowAnswers {
    /// From the latencies in schedule order, request `i` scheduled at `i × interval`.
    fn of(in_schedule_order: &[Duration], interval: Duration) -> Self {
        let slow: Vec<usize> = (0..in_schedule_order.len())
            .filter(|&i| in_schedule_order[i] > BUDGET)
            .collect();
        let gap = (BURST_GAP.as_secs_f64() / interval.as_secs_f64()) as usize;
        // (first request's index, answers) of each burst.
        let mut bursts: Vec<(usize, usize)> = Vec::new();
        let mut previous = None;
        for &i in &slow {
            match (previous, bursts.last_mut()) {
                (Some(p), Some(burst)) if i - p <= gap => burst.1 += 1,
                _ => bursts.push((i, 1)),
            }
            previous = Some(i);
        }
        let big: Vec<usize> = bursts
            .iter()
            .filter(|b| b.1 >= BIG_BURST)
            .map(|b| b.0)
            .collect();
        let mut periods: Vec<Duration> = big
            .windows(2)
            .map(|w| interval.mul_f64((w[1] - w[0]) as f64))
            .collect();
        periods.sort();
        Self {
            count: slow.len(),
            bursts: bursts.len(),
            largest_burst: bursts.iter().map(|b| b.1).max().unwrap_or(0),
            big_burst_period: periods.get(periods.len() / 2).copied(),
        }
    }
}

/// What `--evaluations` measured: the evaluations, and the baseline on the same schedule.
pub struct EvaluationFigures {
    pub evaluations: OpenLoop,
    pub baseline: OpenLoop,
    /// The machine's own stops, measured before the runs with nothing else running.
    pub machine: Vec<CpuStops>,
}

/// How long the machine is watched for stops before the runs.
const MACHINE_WINDOW: Duration = Duration::from_secs(5);

/// One evaluation request: `agent` (with `token`) about its own membership of `group`.
async fn ask(http: &reqwest::Client, url: &str, token: &str, agent: &str, group: &str) -> bool {
    let r = http
        .post(url)
        .bearer_auth(token)
        .json(&serde_json::json!({
            "subject": {"type": "agent", "id": agent},
            "resource": {"type": "group", "id": group},
            "action": {"name": "member"},
        }))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    let decision = body["decision"].as_bool().unwrap();
    if !decision {
        // The denial is actionable: the package is listed.
        assert_eq!(
            body["context"]["requestable"].as_array().map(Vec::len),
            Some(1),
            "{body}"
        );
    }
    decision
}

pub async fn evaluations(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
    rate: f64,
) -> EvaluationFigures {
    let fleet = agent_fleet(http, base, token, AGENTS, "evaluating").await;
    let Granting { group, .. } = package_granting_group(
        http,
        base,
        token,
        "evaluated",
        serde_json::json!({"allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "P1D"},
            "requestorSettings": {"enableTargetsToSelfAddAccess": true}}),
    )
    .await;
    let mut askers = Vec::with_capacity(AGENTS);
    for (i, agent) in fleet.iter().enumerate() {
        if i % 2 == 0 {
            let r = http
                .post(format!("{base}/v1.0/groups/{group}/members/$ref"))
                .bearer_auth(token)
                .json(&serde_json::json!({"@odata.id": format!("{base}/v1.0/directoryObjects/{}", agent.id)}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
        }
        let agent_token = crate::agent_access_token(http, base, token, agent).await;
        askers.push((agent.id.clone(), agent_token));
    }
    let askers = Arc::new(askers);
    let url = format!("{base}/access/v1/evaluation");
    // Before any load, and off the runtime: the probe's threads spin on every CPU.
    let machine = tokio::task::spawn_blocking(|| cpu_stops(MACHINE_WINDOW, BUDGET / 2))
        .await
        .unwrap();

    let (url_c, askers_c, group_c) = (url.clone(), askers.clone(), group.clone());
    let evaluations = open_loop(n, rate, move |client, i| {
        let (url_c, askers_c, group_c) = (url_c.clone(), askers_c.clone(), group_c.clone());
        async move {
            let (agent, token) = &askers_c[i % AGENTS];
            ask(&client, &url_c, token, agent, &group_c).await
        }
    })
    .await;
    // The baseline, on the same schedule: each agent reads itself
    // (`GET /v1.0/servicePrincipals/{id}`), the cheapest authenticated API call, so the
    // difference is what evaluating costs beyond authenticating a request.
    let (base_c, askers_c) = (base.to_owned(), askers.clone());
    let baseline = open_loop(n, rate, move |client, i| {
        let (base_c, askers_c) = (base_c.clone(), askers_c.clone());
        async move {
            let (agent, token) = &askers_c[i % AGENTS];
            let r = client
                .get(format!("{base_c}/v1.0/servicePrincipals/{agent}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.bytes().await.unwrap();
            false
        }
    })
    .await;
    EvaluationFigures {
        evaluations,
        baseline,
        machine,
    }
}

/// `n` calls of `call` on the open-loop schedule at `rate` per second, after [`WARM_UP`]
/// closed-loop calls.
///
/// The generator runs apart from the server under test: its own thread with a current-thread
/// runtime, its own HTTP client and connections (made in that runtime, so their I/O is driven
/// there and not by the server's workers). The schedule is kept by a third thread, the pacer,
/// which sleeps with the operating system's timer (tens of microseconds late, where tokio's
/// timer wheel rounds up to the next millisecond) and hands each due request to the generator,
/// so the generator's own lateness stays small beside the 2 ms the target allows.
async fn open_loop<F, Fut>(n: usize, rate: f64, call: F) -> OpenLoop
where
    F: Fn(reqwest::Client, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let (done, answer) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("open-loop generator".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let _ = done.send(runtime.block_on(generate(n, rate, call)));
        })
        .unwrap();
    answer.await.unwrap()
}

/// [`open_loop`]'s generator, on its own runtime.
async fn generate<F, Fut>(n: usize, rate: f64, call: F) -> OpenLoop
where
    F: Fn(reqwest::Client, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    // Room for every connection the open loop may hold at once, so none is closed and
    // reopened between requests.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .unwrap();
    let call = Arc::new(call);
    // Warm-up, closed loop on as many connections as the run may use: opens them in this
    // runtime, and warms the server's caches and the database's pages.
    let mut next = 0;
    while next < WARM_UP {
        let wave: Vec<_> = (next..(next + CONNECTIONS).min(WARM_UP))
            .map(|i| tokio::spawn(call(client.clone(), i)))
            .collect();
        next += wave.len();
        for task in wave {
            task.await.unwrap();
        }
    }

    let connections = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
    // Request `i` is due at `start + i / rate`; the pacer hands it over at that instant.
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(10);
    let (due_tx, mut due_rx) = tokio::sync::mpsc::unbounded_channel();
    let pacer = std::thread::Builder::new()
        .name("open-loop pacer".into())
        .spawn(move || {
            for i in 0..n {
                let due = start + interval.mul_f64(i as f64);
                let now = Instant::now();
                if due > now {
                    // The pacer's own OS thread, not a runtime's: blocking it is its job.
                    #[allow(clippy::disallowed_methods)]
                    std::thread::sleep(due - now);
                }
                if due_tx.send((i, due)).is_err() {
                    return;
                }
            }
        })
        .unwrap();
    let mut tasks = Vec::with_capacity(n);
    while let Some((i, due)) = due_rx.recv().await {
        let (call, connections, client) = (call.clone(), connections.clone(), client.clone());
        tasks.push(tokio::spawn(async move {
            let _connection = connections.acquire_owned().await.unwrap();
            let sent = Instant::now();
            let allowed = call(client, i).await;
            let done = Instant::now();
            (
                done - due,
                sent.saturating_duration_since(due),
                allowed,
                done,
            )
        }));
    }
    pacer.join().unwrap();
    let mut latencies = Vec::with_capacity(n);
    let mut send_lag = Vec::with_capacity(n);
    let mut allowed = 0;
    let mut last = start;
    for task in tasks {
        let (latency, lag, was_allowed, done) = task.await.unwrap();
        latencies.push(latency);
        send_lag.push(lag);
        allowed += usize::from(was_allowed);
        last = last.max(done);
    }
    let slow = SlowAnswers::of(&latencies, interval);
    latencies.sort();
    send_lag.sort();
    OpenLoop {
        n,
        target_rate: rate,
        achieved_rate: n as f64 / (last - start).as_secs_f64(),
        latencies,
        send_lag,
        allowed,
        slow,
    }
}

/// The rows of `docs/benchmarks.md`'s table for `--evaluations`.
pub fn rows(backend: &str, f: &EvaluationFigures) -> Vec<String> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let row = |what: String, run: &OpenLoop| {
        let slow = &run.slow;
        format!(
            "| {backend} | {what}, open loop: {} requests scheduled at {:.0}/s | {:.0}/s achieved | from the scheduled send: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (send lag p99 {:.2} ms); over {:.0} ms: {} ({:.2} %) in {} bursts, the largest {}, bursts of {BIG_BURST}+ every {} | p99 {:.2}× |",
            run.n,
            run.target_rate,
            run.achieved_rate,
            ms(percentile(&run.latencies, 0.5)),
            ms(percentile(&run.latencies, 0.99)),
            ms(*run.latencies.last().unwrap_or(&Duration::ZERO)),
            ms(percentile(&run.send_lag, 0.99)),
            ms(BUDGET),
            slow.count,
            100.0 * slow.count as f64 / run.n.max(1) as f64,
            slow.bursts,
            slow.largest_burst,
            slow.big_burst_period
                .map_or_else(|| "—".to_owned(), |p| format!("{:.2} s", p.as_secs_f64())),
            percentile(&run.latencies, 0.99).as_secs_f64()
                / percentile(&f.baseline.latencies, 0.99).as_secs_f64(),
        )
    };
    let machine = f
        .machine
        .iter()
        .map(|probe| {
            let mut lengths: Vec<Duration> = probe.stops.iter().map(|s| s.1).collect();
            lengths.sort();
            format!(
                "CPU {}: {} stops, median {:.1} ms, longest {:.1} ms, every {}",
                probe.cpu.map_or_else(|| "?".to_owned(), |c| c.to_string()),
                lengths.len(),
                if lengths.is_empty() {
                    0.0
                } else {
                    ms(percentile(&lengths, 0.5))
                },
                ms(*lengths.last().unwrap_or(&Duration::ZERO)),
                probe
                    .median_period()
                    .map_or_else(|| "—".to_owned(), |p| format!("{:.2} s", p.as_secs_f64())),
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    vec![
        format!(
            "| {backend} | the machine, idle, before the runs: one spinning thread per CPU for {} s, gaps over {:.0} ms | — | {machine} | — |",
            MACHINE_WINDOW.as_secs(),
            ms(BUDGET / 2),
        ),
        row(
            format!(
                "access evaluation by {AGENTS} agents about themselves ({} allowed, the rest denied with one requestable package)",
                f.evaluations.allowed
            ),
            &f.evaluations,
        ),
        row(
            "baseline: each agent reads itself (`GET /v1.0/servicePrincipals/{id}`)".into(),
            &f.baseline,
        ),
    ]
}

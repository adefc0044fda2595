//! `--replicas N` (PostgreSQL only, run alone; issue 20 item 6): what a second `writ serve` on
//! the same database changes. N replicas run in this process, each with its own pool, job
//! worker and request listener ([`crate::start_replica`]), all on the machine's cores.
//!
//! Measured in one run, on one database:
//! - lifecycles (an agent's `userAdd` → auto-approved → delivered) on one replica alone; then,
//!   with all N running, the requests spread over them (request `i` to replica `i % N`, each
//!   replica's worker claiming from the one queue); then all sent to one of them while every
//!   worker claims;
//! - a sponsor's approval waking an agent's `Prefer: wait=30` read on the same replica, then on
//!   another (the wake travels through PostgreSQL's `NOTIFY` and the other replica's listener);
//! - raw single-row commits of the same database, the ceiling of any write path, plain and each
//!   with a `NOTIFY` (what a transaction that changes a request adds on PostgreSQL).
//!
//! On one machine the replicas share its cores, so the figures show what coordinating through
//! PostgreSQL costs, not what another machine would add.

use crate::waits::{rows as wait_rows, waits_across};
use crate::{
    Args, CONCURRENCY, LifecycleFigures, Replica, baseline_commits, commits,
    lifecycle_storm_across, percentile, start_replica, storm,
};

/// The rows of `docs/benchmarks.md` for `--replicas N` with `--lifecycles L` and `--waits W`.
pub async fn replicas(
    http: &reqwest::Client,
    first: &str,
    token: &str,
    url: &str,
    args: &Args,
) -> Vec<String> {
    assert!(
        (2..=8).contains(&args.replicas),
        "--replicas N: 2 to 8 replicas"
    );
    let n = args.replicas;
    let mut rows = Vec::new();
    let baseline = baseline_commits(url, 2_000).await;
    let notifying = commits(url, 2_000, true).await;
    rows.push(format!(
        "| PostgreSQL | raw single-row commits, {CONCURRENCY} clients: plain; each with a `NOTIFY` | {baseline:.0}/s; {notifying:.0}/s | — | notifying {:.2}× of plain |",
        notifying / baseline
    ));
    let lifecycles = |replicas: Vec<String>, name: &'static str| async move {
        lifecycle_storm_across(
            http,
            &replicas,
            token,
            args.lifecycles,
            &format!("replicas{name}"),
        )
        .await
    };
    // One replica alone, as the other benches run.
    if args.lifecycles > 0 {
        let figures = lifecycles(vec![first.to_owned()], "alone").await;
        rows.push(lifecycle_row(1, 1, &figures, baseline));
    }
    let mut others: Vec<Replica> = Vec::new();
    for _ in 1..n {
        others.push(start_replica(url, args, storm::Recorded::default(), Some(first)).await);
    }
    let all: Vec<String> = std::iter::once(first.to_owned())
        .chain(others.iter().map(|replica| replica.base.clone()))
        .collect();
    if args.lifecycles > 0 {
        // Requests spread over every replica; then all sent to one while every replica's
        // worker still claims from the one queue.
        let figures = lifecycles(all.clone(), "spread").await;
        rows.push(lifecycle_row(n, n, &figures, baseline));
        let figures = lifecycles(vec![first.to_owned()], "toone").await;
        rows.push(lifecycle_row(1, n, &figures, baseline));
    }
    if args.waits > 0 {
        let same = waits_across(http, first, first, token, args.waits, "waitsame").await;
        rows.extend(wait_rows(
            &format!("PostgreSQL, {n} replicas: waiter and approval on replica 1"),
            &same,
        ));
        let across = waits_across(http, first, &all[1], token, args.waits, "waitacross").await;
        rows.extend(wait_rows(
            &format!("PostgreSQL, {n} replicas: waiter on replica 1, approval on replica 2"),
            &across,
        ));
    }
    rows
}

fn lifecycle_row(
    sent_to: usize,
    running: usize,
    figures: &LifecycleFigures,
    baseline: f64,
) -> String {
    let rate = figures.n as f64 / figures.all_delivered.as_secs_f64();
    let running = match running {
        1 => "one replica".to_owned(),
        n => format!("{n} replicas"),
    };
    format!(
        "| PostgreSQL, {running} running | {} agents' `userAdd` (no approval) sent to {sent_to} of them ({CONCURRENCY} clients) until the last is delivered | {rate:.0} lifecycles/s | requests accepted at {:.0}/s, p50 {:.2} ms, p99 {:.2} ms | {:.2}× of {baseline:.0} raw commits/s |",
        figures.n,
        figures.submit_rate,
        percentile(&figures.latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&figures.latencies, 0.99).as_secs_f64() * 1e3,
        rate / baseline,
    )
}

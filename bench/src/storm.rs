//! The storm of DESIGN section 11 with its notices (issue 7, item 5): `n` agents' assignments
//! ending at one instant `T`, each agent with two human sponsors. The fleet is bulk-loaded
//! straight into the database (agents, sponsors, delivered assignments, their group
//! memberships and their `expireAssignment` jobs) — through the API that would take minutes and
//! the figure is about the worker — and the server's own job worker records the expiries.
//!
//! Measured: the group's member count read just after `T` (access must already be gone), and
//! from `T` until every assignment is recorded `expired` with its `assignment.expired` event
//! queued (with its recipients) and its membership released. The worker's handler reports each
//! batch as its transaction commits (a job is completed in the transaction that records its
//! expiry), so the median and p99 of the recording lag are read from those reports, and the
//! records are counted in the database at the end. The baseline is the backend's raw batch-insert rate in the same
//! run: `n` narrow rows in statements of 50, committed every 1,000.

use std::time::{Duration, Instant};

use std::sync::{Arc, Mutex};

use writ_domain::clock::{Clock, SystemClock, to_micros};
use writ_domain::error::DomainResult;
use writ_domain::jobs::{ClaimedJob, JobHandler, JobKind, WriteTurn};

use crate::{Granting, get_json, package_granting_group, post_json};

/// Rows per INSERT statement of the loader (the size Writ's own batch writes use).
const ROWS_PER_STATEMENT: usize = 50;
/// Rows per transaction of the loader.
const ROWS_PER_COMMIT: usize = 10_000;
/// Sponsors per agent.
const SPONSORS: usize = 2;

/// When each committed expiry batch was reported, and its size.
pub type Recorded = Arc<Mutex<Vec<(time::OffsetDateTime, usize)>>>;

/// The server's job handler, reporting each expiry it recorded (a batch when its transaction
/// committed, a single job when it returned): the curve of expiries recorded without polling
/// the database, which would take a core from the worker.
pub struct Reporting {
    pub inner: Arc<dyn JobHandler>,
    pub recorded: Recorded,
}

#[async_trait::async_trait]
impl JobHandler for Reporting {
    async fn handle(&self, job: &ClaimedJob, now: time::OffsetDateTime) -> DomainResult<()> {
        self.inner.handle(job, now).await?;
        if job.kind == Some(JobKind::ExpireAssignment) {
            self.recorded.lock().unwrap().push((SystemClock.now(), 1));
        }
        Ok(())
    }

    async fn handle_batch(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: time::OffsetDateTime,
    ) -> DomainResult<bool> {
        self.report_batch(jobs, self.inner.handle_batch(jobs, worker, now).await?)
    }

    async fn handle_batch_in_turn(
        &self,
        jobs: &[ClaimedJob],
        worker: &str,
        now: time::OffsetDateTime,
        turn: &mut WriteTurn,
    ) -> DomainResult<bool> {
        let batched = self
            .inner
            .handle_batch_in_turn(jobs, worker, now, turn)
            .await?;
        self.report_batch(jobs, batched)
    }
}

impl Reporting {
    /// Reports a batch's expiries once its transaction has committed.
    fn report_batch(&self, jobs: &[ClaimedJob], batched: bool) -> DomainResult<bool> {
        let expiries = jobs
            .iter()
            .filter(|j| j.kind == Some(JobKind::ExpireAssignment))
            .count();
        if batched && expiries > 0 {
            self.recorded
                .lock()
                .unwrap()
                .push((SystemClock.now(), expiries));
        }
        Ok(batched)
    }
}

/// The running job worker: its wake-up, and what its handler reports.
pub struct Worker<'a> {
    pub waker: &'a writ_runtime::job_worker::JobWaker,
    pub recorded: &'a Recorded,
}

pub struct StormFigures {
    pub n: usize,
    pub load_rate: f64,
    /// How long after `T` the membership read was answered, and the count it gave.
    pub first_read_after: Duration,
    pub members_after_instant: u64,
    /// From `T` until the last expiry is recorded.
    pub recorded: Duration,
    /// From `T` until half, and 99 %, of the expiries were recorded.
    pub p50: Duration,
    pub p99: Duration,
    /// Raw batch inserts of narrow rows, rows/s.
    pub baseline: f64,
}

fn synthetic_id(kind: u32, i: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{i:012x}")
}

/// Inserts `rows` (each `columns` values, as text or integers) into `head` in statements of
/// `ROWS_PER_STATEMENT`, committing every `ROWS_PER_COMMIT`.
async fn bulk_insert(pool: &sqlx::AnyPool, head: &str, columns: usize, rows: Vec<Vec<Cell>>) {
    let mut tx = pool.begin().await.unwrap();
    let mut written = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let cells: Vec<String> = (1..=columns)
                    .map(|c| format!("${}", r * columns + c))
                    .collect();
                format!("({})", cells.join(","))
            })
            .collect();
        let sql = format!("{head} VALUES {}", values.join(","));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for cell in row {
                q = match cell {
                    Cell::Text(v) => q.bind(v.clone()),
                    Cell::Int(v) => q.bind(*v),
                    Cell::Bool(v) => q.bind(*v),
                };
            }
        }
        q.execute(&mut *tx).await.unwrap();
        written += chunk.len();
        if written >= ROWS_PER_COMMIT {
            tx.commit().await.unwrap();
            tx = pool.begin().await.unwrap();
            written = 0;
        }
    }
    tx.commit().await.unwrap();
}

enum Cell {
    Text(String),
    Int(i64),
    Bool(bool),
}

use Cell::{Bool, Int, Text};

/// The baseline: `n` narrow rows inserted in statements of 50, committed every 1,000.
async fn baseline_batch_inserts(pool: &sqlx::AnyPool, n: usize) -> f64 {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_batch_baseline (id TEXT PRIMARY KEY, value TEXT NOT NULL)",
    )
    .execute(pool)
    .await
    .unwrap();
    let started = Instant::now();
    let rows: Vec<Vec<Cell>> = (0..n)
        .map(|i| vec![Text(synthetic_id(0xba5e, i)), Text("x".into())])
        .collect();
    let mut tx = pool.begin().await.unwrap();
    for chunk in rows.chunks(1000) {
        for part in chunk.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..part.len())
                .map(|r| format!("(${},${})", 2 * r + 1, 2 * r + 2))
                .collect();
            let sql = format!(
                "INSERT INTO bench_batch_baseline (id, value) VALUES {}",
                values.join(",")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in part {
                for cell in row {
                    if let Text(v) = cell {
                        q = q.bind(v.clone());
                    }
                }
            }
            q.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        tx = pool.begin().await.unwrap();
    }
    tx.commit().await.unwrap();
    let rate = n as f64 / started.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_batch_baseline")
        .execute(pool)
        .await
        .unwrap();
    rate
}

pub async fn storm(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    pool: &sqlx::AnyPool,
    sqlite: bool,
    worker: Worker<'_>,
    n: usize,
) -> StormFigures {
    let Worker { waker, recorded } = worker;
    let Granting {
        group,
        package,
        policy,
    } = package_granting_group(
        http,
        base,
        token,
        "storm",
        serde_json::json!({"allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "P1D"}}),
    )
    .await;
    let catalog: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT catalog_id FROM access_packages WHERE id = '{package}'"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    let mut sponsors = Vec::new();
    for s in 0..SPONSORS {
        let user = post_json(
            http,
            format!("{base}/v1.0/users"),
            token,
            serde_json::json!({
            "displayName": format!("Bench storm sponsor {s}"), "userPrincipalName": format!("benchstormsponsor{s}@example.org"),
            "mailNickname": format!("benchstormsponsor{s}"), "mail": format!("benchstormsponsor{s}@example.org"),
            "accountEnabled": true, "passwordProfile": {"password": "bench password 1"}}),
        )
        .await;
        sponsors.push(user["id"].as_str().unwrap().to_owned());
    }

    // The fleet, delivered, ending far ahead; moved to the instant once all is loaded.
    let now = to_micros(SystemClock.now());
    let far = now + 86_400 * 1_000_000;
    let started = Instant::now();
    let agent = |i: usize| synthetic_id(0x5a6e, i);
    let assignment = |i: usize| synthetic_id(0x5a55, i);
    bulk_insert(
        pool,
        "INSERT INTO directory_objects (id, object_type, created_at)",
        3,
        (0..n)
            .map(|i| vec![Text(agent(i)), Text("servicePrincipal".into()), Int(now)])
            .collect(),
    )
    .await;
    bulk_insert(
        pool,
        "INSERT INTO service_principals (id, app_id, display_name, account_enabled, \
         service_principal_type, created_at, kind, tags)",
        8,
        (0..n)
            .map(|i| {
                vec![
                    Text(agent(i)),
                    Text(synthetic_id(0x5a99, i)),
                    Text(format!("bench-storm-agent-{i:06}")),
                    Bool(true),
                    Text("ServiceIdentity".into()),
                    Int(now),
                    Text("agentIdentity".into()),
                    Text("[]".into()),
                ]
            })
            .collect(),
    )
    .await;
    bulk_insert(
        pool,
        "INSERT INTO sponsors (object_id, sponsor_id)",
        2,
        (0..n)
            .flat_map(|i| {
                sponsors
                    .iter()
                    .map(move |s| vec![Text(agent(i)), Text(s.clone())])
            })
            .collect(),
    )
    .await;
    bulk_insert(
        pool,
        "INSERT INTO assignments (id, state, status, catalog_id, access_package_id, policy_id, \
         target_id, target_type, start_at, end_at, created_at)",
        11,
        (0..n)
            .map(|i| {
                vec![
                    Text(assignment(i)),
                    Text("delivered".into()),
                    Text("Delivered".into()),
                    Text(catalog.clone()),
                    Text(package.clone()),
                    Text(policy.clone()),
                    Text(agent(i)),
                    Text("servicePrincipal".into()),
                    Int(now),
                    Int(far),
                    Int(now),
                ]
            })
            .collect(),
    )
    .await;
    bulk_insert(
        pool,
        "INSERT INTO group_members (group_id, member_id, holder, ends_at)",
        4,
        (0..n)
            .map(|i| {
                vec![
                    Text(group.clone()),
                    Text(agent(i)),
                    Text(assignment(i)),
                    Int(far),
                ]
            })
            .collect(),
    )
    .await;
    bulk_insert(
        pool,
        "INSERT INTO jobs (id, kind, subject_id, due_at, dedupe_key)",
        5,
        (0..n)
            .map(|i| {
                vec![
                    Text(synthetic_id(0x5a10, i)),
                    Text("expireAssignment".into()),
                    Text(assignment(i)),
                    Int(far),
                    Text(format!("expireAssignment:{}:{far}", assignment(i))),
                ]
            })
            .collect(),
    )
    .await;
    let loaded_rows = n * (5 + SPONSORS);
    let load_rate = loaded_rows as f64 / started.elapsed().as_secs_f64();
    eprintln!("storm: {n} agents and assignments loaded ({load_rate:.0} rows/s)");
    if !sqlite {
        for table in [
            "assignments",
            "group_members",
            "jobs",
            "sponsors",
            "service_principals",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(pool)
                .await
                .unwrap();
        }
    }
    let baseline = baseline_batch_inserts(pool, n).await;
    eprintln!("storm: baseline {baseline:.0} rows/s");

    // Everything ends at `T`, ahead by more than moving 3 × n rows takes.
    let instant = SystemClock.now()
        + time::Duration::seconds(3)
        + time::Duration::microseconds(100 * n as i64);
    let t = to_micros(instant);
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("UPDATE assignments SET end_at = $1 WHERE access_package_id = $2")
        .bind(t)
        .bind(package.clone())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE group_members SET ends_at = $1 WHERE group_id = $2")
        .bind(t)
        .bind(group.clone())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE jobs SET due_at = $1, dedupe_key = 'expireAssignment:' || subject_id || ':' || $2 \
         WHERE kind = 'expireAssignment' AND due_at = $3",
    )
    .bind(t)
    .bind(t.to_string())
    .bind(far)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(
        SystemClock.now() < instant - time::Duration::seconds(1),
        "moving the fleet's end overran the instant"
    );
    // The worker sleeps until the next due job; the jobs moved under it.
    waker.wake();
    eprintln!(
        "storm: {n} assignments ending at {}",
        crate::rfc3339(instant)
    );

    let wait = instant - SystemClock.now();
    tokio::time::sleep(Duration::from_secs_f64(wait.as_seconds_f64().max(0.0))).await;
    let members = get_json(
        http,
        format!("{base}/v1.0/groups/{group}/members?$count=true&$top=1"),
        token,
    )
    .await;
    let first_read_after = (SystemClock.now() - instant).unsigned_abs();
    let members_after_instant = members["@odata.count"].as_u64().unwrap();

    // The worker reports each batch it committed; none is left once they add up to `n`.
    loop {
        let done: usize = recorded.lock().unwrap().iter().map(|(_, k)| k).sum();
        if done >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut lags: Vec<(Duration, usize)> = recorded
        .lock()
        .unwrap()
        .iter()
        .map(|(at, k)| ((*at - instant).unsigned_abs(), *k))
        .collect();
    lags.sort();
    let all = lags.last().map(|(d, _)| *d).unwrap_or_default();
    let when_done = |fraction: f64| {
        let target = (n as f64 * fraction).ceil() as usize;
        let mut sum = 0;
        lags.iter()
            .find(|(_, k)| {
                sum += k;
                sum >= target
            })
            .map(|(d, _)| *d)
            .unwrap_or(all)
    };
    let (p50, p99) = (when_done(0.5), when_done(0.99));
    let batches = lags.len();
    let recorded = all;

    // What was recorded: every assignment expired, one event each with both sponsors, one
    // systemRemove request and one audit record each, no membership left.
    let count = |sql: String| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let expired = count(format!(
        "SELECT COUNT(*) FROM assignments WHERE access_package_id = '{package}' AND state = 'expired'"
    ))
    .await;
    let events =
        count("SELECT COUNT(*) FROM outbox_events WHERE event_type = 'assignment.expired'".into())
            .await;
    let with_sponsors = count(format!(
        "SELECT COUNT(*) FROM outbox_events WHERE event_type = 'assignment.expired' \
         AND recipients LIKE '%{}%' AND recipients LIKE '%{}%'",
        sponsors[0], sponsors[1]
    ))
    .await;
    let removals = count(format!(
        "SELECT COUNT(*) FROM assignment_requests WHERE access_package_id = '{package}' \
         AND request_type = 'systemRemove'"
    ))
    .await;
    let audits = count(format!(
        "SELECT COUNT(*) FROM audit_log WHERE catalog_id = '{catalog}'"
    ))
    .await;
    let memberships = count(format!(
        "SELECT COUNT(*) FROM group_members WHERE group_id = '{group}'"
    ))
    .await;
    let n64 = n as i64;
    assert_eq!(
        (expired, events, with_sponsors, removals, memberships),
        (n64, n64, n64, n64, 0),
        "(expired, events, events naming both sponsors, systemRemove requests, memberships)"
    );
    assert!(audits >= n64, "one audit record per expiry: {audits}");
    eprintln!(
        "storm: {n} recorded in {:.2} s (p50 {:.2} s, p99 {:.2} s) in {batches} batches",
        recorded.as_secs_f64(),
        p50.as_secs_f64(),
        p99.as_secs_f64()
    );
    StormFigures {
        n,
        load_rate,
        first_read_after,
        members_after_instant,
        recorded,
        p50,
        p99,
        baseline,
    }
}

/// The report rows of `f` for `backend`.
pub fn rows(backend: &str, f: &StormFigures) -> Vec<String> {
    let rate = f.n as f64 / f.recorded.as_secs_f64();
    vec![
        format!(
            "| {backend} | storm: {} agents (2 sponsors each) bulk-loaded with their delivered assignments, memberships and expiry jobs | {:.0} rows/s | — | — |",
            f.n, f.load_rate
        ),
        format!(
            "| {backend} | storm: access gone at the instant | — | group member count {} ms after the instant: {} | — |",
            f.first_read_after.as_millis(),
            f.members_after_instant
        ),
        format!(
            "| {backend} | storm: until every assignment is `expired`, its `assignment.expired` event queued with both sponsors and its membership released | {rate:.0} expired/s | half recorded {:.2} s after the instant, 99 % {:.2} s, all {:.2} s | {:.2}× of {:.0} raw batch-inserted rows/s |",
            f.p50.as_secs_f64(),
            f.p99.as_secs_f64(),
            f.recorded.as_secs_f64(),
            rate / f.baseline,
            f.baseline
        ),
        format!(
            "| {backend} | raw batch inserts (baseline: narrow rows, 50 per statement, 1,000 per commit) | {:.0} rows/s | — | 1.00× |",
            f.baseline
        ),
    ]
}

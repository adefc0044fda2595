//! The large-table measure: `n` assignments (1,000,000 in DESIGN section 11) bulk-loaded straight
//! into the database — through the API that would take an hour, and the figure is about reading
//! — then list/filter pages read over HTTP, and the process's resident memory.
//!
//! The loaded rows are shaped like real history: 1,000 packages × `n / 1,000` agents, one
//! assignment per pair, one in five still delivered (spread over packages and agents alike) and
//! the rest expired, so a package's list,
//! an agent's list and a state filter each select a realistic slice.

use std::sync::Arc;
use std::time::Duration;

use writ_domain::clock::{Clock, SystemClock};

use crate::{CONCURRENCY, get_json, load_with, percentile, post_json};

/// Packages the loaded assignments spread over.
const PACKAGES: usize = 1000;
/// Rows per INSERT statement (13 bound values each: well under both databases' limits).
const ROWS_PER_STATEMENT: usize = 500;
/// Pages read per query shape.
const PAGES: usize = 400;

/// The query string of the `i`th page read of a shape.
type QueryOf = Arc<dyn Fn(usize) -> String + Send + Sync>;

pub struct LoadedFigures {
    pub n: usize,
    pub load_rate: f64,
    /// (query shape, sorted page latencies with one client, the same with `CONCURRENCY`).
    pub shapes: Vec<(&'static str, Vec<Duration>, Vec<Duration>)>,
    /// Sorted latencies of following `@odata.nextLink` (one client).
    pub deep: Vec<Duration>,
    pub rss_before_mib: f64,
    pub rss_after_mib: f64,
    pub peak_mib: f64,
}

/// `VmRSS` and `VmHWM` of this process, in MiB (0 where /proc is not there).
pub fn resident_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kib| kib.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn synthetic_id(kind: u32, i: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{i:012x}")
}

pub async fn loaded_lists(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    pool: &sqlx::AnyPool,
    sqlite: bool,
    n: usize,
) -> LoadedFigures {
    let em = format!("{base}/v1.0/identityGovernance/entitlementManagement");
    let catalog = post_json(
        http,
        format!("{em}/catalogs"),
        token,
        serde_json::json!({"displayName": "Bench history catalog"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (rss_before_mib, _) = resident_mib();

    let now = SystemClock.now().unix_timestamp() * 1_000_000;
    let day = 86_400_i64 * 1_000_000;
    let started = std::time::Instant::now();
    let mut tx = pool.begin().await.unwrap();
    let mut i = 0;
    while i < n {
        let rows = ROWS_PER_STATEMENT.min(n - i);
        let values: Vec<String> = (0..rows)
            .map(|r| {
                let b = r * 12;
                format!(
                    "(${},${},${},${},${},${},${},${},${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9,
                    b + 10,
                    b + 11,
                    b + 12
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO assignments (id, state, status, catalog_id, access_package_id, policy_id, \
             target_id, target_type, start_at, end_at, expired_at, created_at) VALUES {}",
            values.join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in i..i + rows {
            let live = (k + k / PACKAGES).is_multiple_of(5);
            let start = now - (k as i64 % 365) * day - 30 * day;
            q = q
                .bind(synthetic_id(0xa55, k))
                .bind(if live { "delivered" } else { "expired" })
                .bind(if live { "Delivered" } else { "Expired" })
                .bind(catalog.clone())
                .bind(synthetic_id(0xacc, k % PACKAGES))
                .bind(synthetic_id(0x901, k % PACKAGES))
                .bind(synthetic_id(0xa6e, k / PACKAGES))
                .bind("servicePrincipal")
                .bind(start)
                .bind(if live {
                    now + 30 * day
                } else {
                    start + 7 * day
                })
                .bind(if live { None } else { Some(start + 7 * day) })
                .bind(start);
        }
        q.execute(&mut *tx).await.unwrap();
        i += rows;
        if i % 50_000 == 0 || i == n {
            tx.commit().await.unwrap();
            tx = pool.begin().await.unwrap();
            eprintln!("loaded: {i}/{n} assignments");
        }
    }
    tx.commit().await.unwrap();
    let load_rate = n as f64 / started.elapsed().as_secs_f64();
    // PostgreSQL's autovacuum would analyze a table that grew this much; Writ itself runs no
    // ANALYZE on SQLite, so SQLite plans without statistics, as it would in production.
    if !sqlite {
        sqlx::query("ANALYZE assignments")
            .execute(pool)
            .await
            .unwrap();
    }

    let agents = (n / PACKAGES).max(1);
    let em = Arc::new(em);
    let token = Arc::new(token.to_owned());
    let mut shapes = Vec::new();
    let shape_urls: [(&'static str, QueryOf); 4] = [
        (
            "first page, no filter (`$top=100`)",
            Arc::new(|_| "$top=100".to_owned()),
        ),
        (
            "one package's assignments (`accessPackage/id eq`)",
            Arc::new(|i| {
                format!(
                    "$filter=accessPackage/id%20eq%20'{}'&$top=100",
                    synthetic_id(0xacc, (i * 7) % PACKAGES)
                )
            }),
        ),
        (
            "one package's delivered ones (`… and state eq 'delivered'`)",
            Arc::new(|i| {
                format!(
                    "$filter=accessPackage/id%20eq%20'{}'%20and%20state%20eq%20'delivered'&$top=100",
                    synthetic_id(0xacc, (i * 13) % PACKAGES)
                )
            }),
        ),
        (
            "one agent's assignments (`target/objectId eq`)",
            Arc::new(move |i| {
                format!(
                    "$filter=target/objectId%20eq%20'{}'&$top=100",
                    synthetic_id(0xa6e, (i * 31) % agents)
                )
            }),
        ),
    ];
    for (name, query) in shape_urls {
        let mut by_concurrency = Vec::new();
        for concurrency in [1, CONCURRENCY] {
            let (client, em, token, query) =
                (http.clone(), em.clone(), token.clone(), query.clone());
            let (_, latencies) = load_with(concurrency, PAGES, move |i| {
                let (client, em, token, query) =
                    (client.clone(), em.clone(), token.clone(), query.clone());
                async move {
                    let page =
                        get_json(&client, format!("{em}/assignments?{}", query(i)), &token).await;
                    assert!(
                        !page["value"].as_array().unwrap().is_empty(),
                        "{}",
                        query(i)
                    );
                }
            })
            .await;
            by_concurrency.push(latencies);
        }
        let eight = by_concurrency.pop().unwrap();
        let one = by_concurrency.pop().unwrap();
        shapes.push((name, one, eight));
    }

    // Deep paging: one client following `@odata.nextLink` through the state filter.
    let mut deep = Vec::new();
    let mut next = Some(format!(
        "{em}/assignments?$filter=state%20eq%20'delivered'&$top=100"
    ));
    while let Some(url) = next.take() {
        if deep.len() == PAGES {
            break;
        }
        let t = std::time::Instant::now();
        let page = get_json(http, url, &token).await;
        deep.push(t.elapsed());
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
    }
    deep.sort();
    let (rss_after_mib, peak_mib) = resident_mib();
    LoadedFigures {
        n,
        load_rate,
        shapes,
        deep,
        rss_before_mib,
        rss_after_mib,
        peak_mib,
    }
}

/// The report rows of `figures` for `backend`.
pub fn rows(backend: &str, figures: &LoadedFigures) -> Vec<String> {
    let mut rows = vec![format!(
        "| {backend} | {} assignments bulk-loaded (SQL, not the API) | {:.0} rows/s | — | — |",
        figures.n, figures.load_rate
    )];
    let ms = |latencies: &[Duration], p: f64| percentile(latencies, p).as_secs_f64() * 1e3;
    for (name, one, many) in &figures.shapes {
        rows.push(format!(
            "| {backend} | page of 100 over {} assignments: {name} | — | 1 client: p50 {:.2} ms, p99 {:.2} ms; {CONCURRENCY} clients: p50 {:.2} ms, p99 {:.2} ms | — |",
            figures.n,
            ms(one, 0.5),
            ms(one, 0.99),
            ms(many, 0.5),
            ms(many, 0.99),
        ));
    }
    rows.push(format!(
        "| {backend} | the next {} pages of `state eq 'delivered'` over {} assignments (`@odata.nextLink`) | — | 1 client: p50 {:.2} ms, p99 {:.2} ms | — |",
        figures.deep.len(),
        figures.n,
        ms(&figures.deep, 0.5),
        ms(&figures.deep, 0.99),
    ));
    rows.push(format!(
        "| {backend} | resident memory of the bench process (server and clients) | — | {:.0} MiB before loading, {:.0} MiB after the reads, peak {:.0} MiB | — |",
        figures.rss_before_mib, figures.rss_after_mib, figures.peak_mib
    ));
    rows
}

//! `--caller N` (run alone): the path every authenticated call and every token takes (issue 20
//! item 4): client-credentials tokens for an application and for an agent identity, and the
//! cheapest authenticated read (`GET /v1.0/servicePrincipals/{own id}`) by an agent and by the
//! administrator (an application holding Global Administrator), each N requests from
//! `CONCURRENCY` closed-loop clients, so the rate is the server's ceiling for that call. On
//! PostgreSQL each row also gives the statements the database ran per request, read from
//! `pg_stat_database.xact_commit` (each statement outside a transaction is one) before and after.

use std::time::Duration;

use crate::{CONCURRENCY, agent_fleet, load, percentile, post_json, token_form};

pub struct CallerFigures {
    n: usize,
    rows: Vec<(String, f64, Vec<Duration>, Option<f64>)>,
}

/// The database's committed transactions so far, once its statistics are flushed (PostgreSQL
/// only; `None` on SQLite).
async fn commits(pool: &sqlx::AnyPool, sqlite: bool) -> Option<i64> {
    if sqlite {
        return None;
    }
    // An idle backend flushes its counters within PGSTAT_IDLE_INTERVAL (10 s).
    tokio::time::sleep(Duration::from_millis(11_000)).await;
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(pool)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT CAST(xact_commit AS BIGINT) FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    Some(n)
}

pub async fn caller(
    http: &reqwest::Client,
    base: &str,
    admin_client: (&str, &str),
    admin_token: &str,
    pool: &sqlx::AnyPool,
    sqlite: bool,
    n: usize,
) -> CallerFigures {
    let fleet = agent_fleet(http, base, admin_token, 2, "caller").await;
    let agent = &fleet[1];
    let secret = post_json(
        http,
        format!("{base}/v1.0/servicePrincipals/{}/addPassword", agent.id),
        admin_token,
        serde_json::json!({"passwordCredential": {"displayName": "bench"}}),
    )
    .await["secretText"]
        .as_str()
        .unwrap()
        .to_owned();
    let agent_token = crate::access_token(http, base, &agent.app_id, &secret).await;
    let url = format!("{base}/v1.0/servicePrincipals/{}", agent.id);
    let token_url = format!("{base}/oauth2/v2.0/token");

    let tokens_for = |form: String| {
        let (client, url) = (http.clone(), token_url.clone());
        move |_| {
            let (client, url, form) = (client.clone(), url.clone(), form.clone());
            async move {
                let r = client
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                r.bytes().await.unwrap();
            }
        }
    };
    let read_as = |bearer: String| {
        let (client, url) = (http.clone(), url.clone());
        move |_| {
            let (client, url, bearer) = (client.clone(), url.clone(), bearer.clone());
            async move {
                let r = client.get(url).bearer_auth(bearer).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.bytes().await.unwrap();
            }
        }
    };
    let mut rows = Vec::new();
    // A warm-up of each call, then the measured runs.
    load(500, tokens_for(token_form(admin_client.0, admin_client.1))).await;
    load(500, tokens_for(token_form(&agent.app_id, &secret))).await;
    load(500, read_as(agent_token.clone())).await;
    load(500, read_as(admin_token.to_owned())).await;
    for (what, which) in [
        ("token issuance, application (`client_credentials`)", 0),
        ("token issuance, agent identity (`client_credentials`)", 1),
        (
            "authenticated read: agent's `GET /v1.0/servicePrincipals/{own id}`",
            2,
        ),
        (
            "authenticated read: administrator's `GET` of the same agent",
            3,
        ),
    ] {
        let before = commits(pool, sqlite).await;
        let (rate, latencies) = match which {
            0 => load(n, tokens_for(token_form(admin_client.0, admin_client.1))).await,
            1 => load(n, tokens_for(token_form(&agent.app_id, &secret))).await,
            2 => load(n, read_as(agent_token.clone())).await,
            _ => load(n, read_as(admin_token.to_owned())).await,
        };
        let after = commits(pool, sqlite).await;
        // The statistics read itself is one transaction more.
        let per_request = before
            .zip(after)
            .map(|(b, a)| (a - b - 1) as f64 / n as f64);
        rows.push((what.to_owned(), rate, latencies, per_request));
    }
    CallerFigures { n, rows }
}

pub fn rows(backend: &str, f: &CallerFigures) -> Vec<String> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    f.rows
        .iter()
        .map(|(what, rate, latencies, statements)| {
            format!(
                "| {backend} | caller: {what} ({} requests, {CONCURRENCY} at a time) | {rate:.0}/s | p50 {:.2} ms, p99 {:.2} ms | {} |",
                f.n,
                ms(percentile(latencies, 0.5)),
                ms(percentile(latencies, 0.99)),
                statements
                    .map(|s| format!("{s:.2} statements per request"))
                    .unwrap_or_else(|| "—".into())
            )
        })
        .collect()
}

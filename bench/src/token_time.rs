//! `--token-time N` (run alone): what recording the last token time costs (issue 19, part K).
//! Every grant of the token endpoint now ends with one `UPDATE` of the principal's
//! `directory_objects` row (outside any transaction; on SQLite under the single-writer lock).
//! Measured in the same run, at the same concurrency: N `client_credentials` requests (the write
//! included), and N of that write alone, made through the store on one principal as the token
//! endpoint makes it: tokens within one second (after the second's first, the `UPDATE` changes
//! no row, so nothing is written to disk) and, the worst case, each in a new second (every
//! `UPDATE` changes the row and commits). The write's median over the request's is the share of
//! a token request it costs.

use std::sync::Arc;
use std::time::Duration;

use writ_domain::clock::{Clock, SystemClock};
use writ_domain::store::LifecycleStore;

use crate::{CONCURRENCY, load, percentile};

pub struct TokenTimeFigures {
    n: usize,
    /// Sorted: one token request, the write included.
    token: Vec<Duration>,
    /// Sorted: the write alone, tokens of one second (after the first, no row changes).
    write: Vec<Duration>,
    /// Sorted: the write alone, each in a new second (every one changes the row).
    new_second: Vec<Duration>,
}

pub async fn token_time(
    http: &reqwest::Client,
    base: &str,
    form: &str,
    store: Arc<writ_store::SqlStore>,
    principal_id: String,
    n: usize,
) -> TokenTimeFigures {
    let (client, url, body) = (
        http.clone(),
        format!("{base}/oauth2/v2.0/token"),
        form.to_owned(),
    );
    let (_, token) = load(n, move |_| {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        async move {
            let r = client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    })
    .await;
    let (one_store, one_id) = (store.clone(), principal_id.clone());
    let (_, write) = load(n, move |_| {
        let (store, id) = (one_store.clone(), one_id.clone());
        async move {
            store
                .record_token_issued(&id, SystemClock.now())
                .await
                .unwrap();
        }
    })
    .await;
    // Seconds after anything written above, one more per write (the workers take them in
    // order), so each write lands in a new second and changes the row.
    let from = SystemClock.now() + time::Duration::days(1);
    let (_, new_second) = load(n, move |i| {
        let (store, id) = (store.clone(), principal_id.clone());
        let at = from + time::Duration::seconds(i64::try_from(i).unwrap());
        async move {
            store.record_token_issued(&id, at).await.unwrap();
        }
    })
    .await;
    TokenTimeFigures {
        n,
        token,
        write,
        new_second,
    }
}

pub fn rows(backend: &str, f: &TokenTimeFigures) -> Vec<String> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p50 = |l: &[Duration]| ms(percentile(l, 0.5));
    let p99 = |l: &[Duration]| ms(percentile(l, 0.99));
    vec![
        format!(
            "| {backend} | last token time: `client_credentials` token request, the write included ({} requests, {CONCURRENCY} at a time; baseline) | — | p50 {:.2} ms, p99 {:.2} ms | — |",
            f.n,
            p50(&f.token),
            p99(&f.token)
        ),
        format!(
            "| {backend} | last token time: the write alone, tokens within one second (one `UPDATE` by primary key that changes no row after the second's first; {} writes, {CONCURRENCY} at a time) | — | p50 {:.2} ms, p99 {:.2} ms | {:.0} % of a token request's p50 |",
            f.n,
            p50(&f.write),
            p99(&f.write),
            100.0 * p50(&f.write) / p50(&f.token)
        ),
        format!(
            "| {backend} | last token time: the write alone, each in a new second (every `UPDATE` changes the row; {} writes, {CONCURRENCY} at a time) | — | p50 {:.2} ms, p99 {:.2} ms | {:.0} % of a token request's p50 |",
            f.n,
            p50(&f.new_second),
            p99(&f.new_second),
            100.0 * p50(&f.new_second) / p50(&f.token)
        ),
    ]
}

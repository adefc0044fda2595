//! `--succession N` (run alone): what sponsor succession costs (issue 19, part L). Eight sponsors
//! each sponsor N agents (and their blueprint) and have the same manager. Measured: disabling
//! each sponsor (`PATCH /users/{id}` with `accountEnabled: false`), which hands its N + 1 objects
//! to the manager with one audit record and one event each, against disabling a user who
//! sponsors nothing (the same request without succession), measured in the same run.

use std::time::{Duration, Instant};

use crate::{agent_fleet, get_json, percentile, post_json};

/// Sponsors disabled (and users without sponsorships, for the baseline).
const SPONSORS: usize = 8;

pub struct SuccessionFigures {
    n: usize,
    /// Sorted: disabling a user who sponsors nothing.
    plain: Vec<Duration>,
    /// Sorted: disabling a sponsor of N agents and a blueprint.
    sponsor: Vec<Duration>,
}

async fn user(http: &reqwest::Client, base: &str, token: &str, name: &str) -> String {
    let created = post_json(
        http,
        format!("{base}/v1.0/users"),
        token,
        serde_json::json!({
            "displayName": format!("Bench {name}"), "userPrincipalName": format!("bench{name}@example.org"),
            "mailNickname": format!("bench{name}"), "accountEnabled": true,
            "passwordProfile": {"password": "bench password 1"}}),
    )
    .await;
    created["id"].as_str().unwrap().to_owned()
}

async fn set_manager(http: &reqwest::Client, base: &str, token: &str, user: &str, manager: &str) {
    let r = http
        .put(format!("{base}/v1.0/users/{user}/manager/$ref"))
        .bearer_auth(token)
        .json(&serde_json::json!({"@odata.id": format!("{base}/v1.0/users/{manager}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

/// Disables `user`; how long the request took.
async fn disable(http: &reqwest::Client, base: &str, token: &str, user: &str) -> Duration {
    let started = Instant::now();
    let r = http
        .patch(format!("{base}/v1.0/users/{user}"))
        .bearer_auth(token)
        .json(&serde_json::json!({"accountEnabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
    started.elapsed()
}

pub async fn succession(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> SuccessionFigures {
    let manager = user(http, base, token, "successionmanager").await;
    let mut sponsors = Vec::with_capacity(SPONSORS);
    let mut plain_users = Vec::with_capacity(SPONSORS);
    for s in 0..SPONSORS {
        let name = format!("succ{s}");
        agent_fleet(http, base, token, n, &name).await;
        let found = get_json(
            http,
            format!(
                "{base}/v1.0/users?$filter=userPrincipalName%20eq%20'bench{name}sponsor@example.org'"
            ),
            token,
        )
        .await;
        let sponsor = found["value"][0]["id"].as_str().unwrap().to_owned();
        set_manager(http, base, token, &sponsor, &manager).await;
        sponsors.push(sponsor);
        let plain = user(http, base, token, &format!("succplain{s}")).await;
        set_manager(http, base, token, &plain, &manager).await;
        plain_users.push(plain);
    }
    // Alternating, one at a time, so both see the same database.
    let mut plain = Vec::with_capacity(SPONSORS);
    let mut sponsor = Vec::with_capacity(SPONSORS);
    for (p, s) in plain_users.iter().zip(&sponsors) {
        plain.push(disable(http, base, token, p).await);
        sponsor.push(disable(http, base, token, s).await);
    }
    let listed = get_json(
        http,
        format!("{base}/writ/v1/agentsWithoutSponsors?$count=true&$top=1"),
        token,
    )
    .await;
    assert_eq!(
        listed["@odata.count"].as_u64(),
        Some(0),
        "every agent moved"
    );
    plain.sort();
    sponsor.sort();
    SuccessionFigures { n, plain, sponsor }
}

pub fn rows(backend: &str, f: &SuccessionFigures) -> Vec<String> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p50 = |l: &[Duration]| ms(percentile(l, 0.5));
    let p99 = |l: &[Duration]| ms(percentile(l, 0.99));
    let line = |what: String, l: &[Duration], versus: String| {
        format!(
            "| {backend} | {what} | — | p50 {:.2} ms, p99 {:.2} ms | {versus} |",
            p50(l),
            p99(l)
        )
    };
    let objects = f.n + 1;
    vec![
        line(
            format!(
                "succession: disabling a user who sponsors nothing ({SPONSORS} users; baseline)"
            ),
            &f.plain,
            "—".into(),
        ),
        line(
            format!(
                "succession: disabling a sponsor of {} agents and their blueprint ({SPONSORS} sponsors)",
                f.n
            ),
            &f.sponsor,
            format!(
                "{:.3} ms per object handed over = {:.2}× the baseline per {objects} objects",
                (p50(&f.sponsor) - p50(&f.plain)) / objects as f64,
                p50(&f.sponsor) / p50(&f.plain)
            ),
        ),
    ]
}

//! `--compromise N` (run alone): what compromised agents cost (issue 19, part J). N agents each
//! hold one assignment (a group's membership). Measured: the extra read every agent request now
//! makes (its risk state) — an agent's `GET` of itself against the same `GET` by the
//! administrator, whose caller skips it — and `confirmCompromised` of the agents in calls of 60
//! (each ends its agents' assignments, revokes their grants, writes their audit records and
//! events), against the `adminAdd` that made one assignment, measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{CONCURRENCY, Granting, agent_fleet, get_json, load, package_granting_group};
use crate::{percentile, post_json};

/// Agents per `confirmCompromised` call: Writ's largest.
const BATCH: usize = 60;

pub struct CompromiseFigures {
    n: usize,
    /// Sorted: `adminAdd` of one assignment.
    add: Vec<Duration>,
    /// Sorted: the administrator's `GET` of an agent (no risk read).
    admin_read: Vec<Duration>,
    /// Sorted: the agent's own `GET` of itself (one risk read more).
    agent_read: Vec<Duration>,
    /// Sorted: one `confirmCompromised` of [`BATCH`] agents.
    confirm: Vec<Duration>,
}

pub async fn compromise(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
) -> CompromiseFigures {
    assert!(n > BATCH, "--compromise N needs N > {BATCH}");
    let em = format!("{base}/v1.0/identityGovernance/entitlementManagement");
    let fleet = Arc::new(agent_fleet(http, base, token, n, "risk").await);
    let Granting {
        package, policy, ..
    } = package_granting_group(
        http,
        base,
        token,
        "risk",
        serde_json::json!({"allowedTargetScope": "notSpecified",
            "expiration": {"type": "afterDuration", "duration": "P1D"}}),
    )
    .await;
    let (client, em_c, tok, agents) = (http.clone(), em.clone(), token.to_owned(), fleet.clone());
    let (_, add) = load(n, move |i| {
        let (client, em_c, tok, agents) = (client.clone(), em_c.clone(), tok.clone(), agents.clone());
        let (package, policy) = (package.clone(), policy.clone());
        async move {
            post_json(
                &client,
                format!("{em_c}/assignmentRequests"),
                &tok,
                serde_json::json!({"requestType": "adminAdd", "assignment": {
                    "targetId": agents[i].id, "assignmentPolicyId": policy, "accessPackageId": package}}),
            )
            .await;
        }
    })
    .await;
    let delivered = format!("{em}/assignments?$filter=state%20eq%20'delivered'&$count=true&$top=1");
    while get_json(http, delivered.clone(), token).await["@odata.count"].as_u64() != Some(n as u64)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The reads: the same object, by the administrator and by the agent itself.
    let reader = &fleet[n - 1];
    let agent_token = crate::agent_access_token(http, base, token, reader).await;
    let url = format!("{base}/v1.0/servicePrincipals/{}", reader.id);
    let read = |bearer: String| {
        let (client, url) = (http.clone(), url.clone());
        move |_| {
            let (client, url, bearer) = (client.clone(), url.clone(), bearer.clone());
            async move {
                let r = client.get(url).bearer_auth(bearer).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
            }
        }
    };
    let (_, admin_read) = load(n, read(token.to_owned())).await;
    let (_, agent_read) = load(n, read(agent_token)).await;

    // The confirmations, one batch at a time (the reader is left alone).
    let mut confirm = Vec::new();
    for chunk in fleet[..n - 1].chunks(BATCH) {
        let ids: Vec<&str> = chunk.iter().map(|a| a.id.as_str()).collect();
        let started = Instant::now();
        let r = http
            .post(format!(
                "{base}/v1.0/identityProtection/riskyAgents/confirmCompromised"
            ))
            .bearer_auth(token)
            .json(&serde_json::json!({"agentIds": ids}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204, "{}", r.text().await.unwrap());
        confirm.push(started.elapsed());
    }
    confirm.sort();
    let left = get_json(http, delivered, token).await["@odata.count"].as_u64();
    assert_eq!(left, Some(1), "only the reader's assignment is left");
    CompromiseFigures {
        n,
        add,
        admin_read,
        agent_read,
        confirm,
    }
}

pub fn rows(backend: &str, f: &CompromiseFigures) -> Vec<String> {
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
    vec![
        line(
            format!(
                "compromise: `adminAdd` of one assignment ({} requests, {CONCURRENCY} at a time; baseline)",
                f.n
            ),
            &f.add,
            "—".into(),
        ),
        line(
            format!(
                "compromise: administrator's `GET` of an agent ({} requests; baseline)",
                f.n
            ),
            &f.admin_read,
            "—".into(),
        ),
        line(
            format!(
                "compromise: the agent's own `GET` (its risk read on top; {} requests)",
                f.n
            ),
            &f.agent_read,
            format!(
                "p50 {:+.2} ms over the administrator's",
                p50(&f.agent_read) - p50(&f.admin_read)
            ),
        ),
        line(
            format!(
                "compromise: `confirmCompromised` of {BATCH} agents, one assignment each ({} calls, one at a time)",
                f.confirm.len()
            ),
            &f.confirm,
            format!(
                "{:.2} ms per agent = {:.2}× one `adminAdd`",
                p50(&f.confirm) / BATCH as f64,
                p50(&f.confirm) / BATCH as f64 / p50(&f.add)
            ),
        ),
    ]
}

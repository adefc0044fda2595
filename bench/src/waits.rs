//! `--waits N` (run alone): how soon an agent waiting on its request with `Prefer: wait=30`
//! learns that its sponsor approved it (issue 18 part G). N agents each request a package whose
//! policy needs the sponsor's approval; once every request is pending, 8 clients at a time take
//! one request each: a plain `GET` of it (the in-run baseline: what one read costs), then a `GET`
//! with `Prefer: wait=30` left waiting, then, 20 ms later, the sponsor's approval (`PATCH` of the
//! stage). Measured: the approval's own latency, and the time from sending the approval until the
//! waiter has its answer, which is that latency plus the wake and one read, if the wake is prompt.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{CONCURRENCY, agent_fleet, get_json, load, package_granting_group};
use crate::{Granting, percentile, post_json};

pub struct WaitFigures {
    n: usize,
    /// Sorted: a plain `GET` of a pending request.
    plain: Vec<Duration>,
    /// Sorted: the approving `PATCH`.
    approve: Vec<Duration>,
    /// Sorted: from sending the approval until the waiter's answer arrived.
    woken: Vec<Duration>,
}

pub async fn waits(http: &reqwest::Client, base: &str, token: &str, n: usize) -> WaitFigures {
    waits_across(http, base, base, token, n, "waiting").await
}

/// [`waits`] with the readers waiting on replica `base` and the sponsor approving through
/// replica `approve_at` (`--replicas`: the wake then travels through PostgreSQL's
/// `NOTIFY`), its agents and package named after `name`.
pub async fn waits_across(
    http: &reqwest::Client,
    base: &str,
    approve_at: &str,
    token: &str,
    n: usize,
    name: &str,
) -> WaitFigures {
    let em = format!("{base}/v1.0/identityGovernance/entitlementManagement");
    let approve_em = format!("{approve_at}/v1.0/identityGovernance/entitlementManagement");
    let fleet = agent_fleet(http, base, token, n, name).await;
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
            "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "stages": [{
                "durationBeforeAutomaticDenial": "P1D",
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]}]}}),
    )
    .await;
    // Each agent: its own secret and token, then its request.
    let requests = Arc::new(Mutex::new(vec![(String::new(), String::new()); n]));
    let fleet = Arc::new(fleet);
    let (client, base_c, tok, em_c, out) = (
        http.clone(),
        base.to_owned(),
        token.to_owned(),
        em.clone(),
        requests.clone(),
    );
    load(n, move |i| {
        let (client, base_c, tok, em_c, out) = (
            client.clone(),
            base_c.clone(),
            tok.clone(),
            em_c.clone(),
            out.clone(),
        );
        let (agent, package, policy) = (fleet.clone(), package.clone(), policy.clone());
        async move {
            let agent = &agent[i];
            let token = crate::agent_access_token(&client, &base_c, &tok, agent).await;
            let request = post_json(
                &client,
                format!("{em_c}/assignmentRequests"),
                &token,
                serde_json::json!({"requestType": "userAdd", "assignment": {
                    "assignmentPolicyId": policy, "accessPackageId": package}}),
            )
            .await;
            out.lock().unwrap()[i] = (request["id"].as_str().unwrap().to_owned(), token);
        }
    })
    .await;
    let pending = format!(
        "{em}/assignmentRequests?$filter=state%20eq%20'pendingApproval'&$count=true&$top=1"
    );
    while get_json(http, pending.clone(), token).await["@odata.count"].as_u64() != Some(n as u64) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sponsor: serde_json::Value = http
        .post(format!("{base}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=password&username=bench{name}sponsor%40example.org&password=bench%20password%201&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sponsor = sponsor["access_token"].as_str().unwrap().to_owned();
    eprintln!("waits: {n} requests pending approval");

    let requests = Arc::new(std::mem::take(&mut *requests.lock().unwrap()));
    let measured = Arc::new(Mutex::new((Vec::new(), Vec::new(), Vec::new())));
    let (client, em_c, approve_em_c, out) = (
        http.clone(),
        em.clone(),
        approve_em.clone(),
        measured.clone(),
    );
    load(n, move |i| {
        let (client, em_c, approve_em, out, requests) = (
            client.clone(),
            em_c.clone(),
            approve_em_c.clone(),
            out.clone(),
            requests.clone(),
        );
        let sponsor = sponsor.clone();
        async move {
            let (request, token) = &requests[i];
            let url = format!("{em_c}/assignmentRequests/{request}");
            let read = Instant::now();
            let plain = client.get(&url).bearer_auth(token).send().await.unwrap();
            assert_eq!(plain.status().as_u16(), 200);
            plain.bytes().await.unwrap();
            let plain = read.elapsed();
            let stage = get_json(
                &client,
                format!("{em_c}/accessPackageAssignmentApprovals/{request}"),
                &sponsor,
            )
            .await["stages"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let waiter = {
                let (client, url, token) = (client.clone(), url.clone(), token.clone());
                tokio::spawn(async move {
                    let reply = client
                        .get(url)
                        .bearer_auth(token)
                        .header("prefer", "wait=30")
                        .send()
                        .await
                        .unwrap();
                    let applied = reply.headers().get("preference-applied").cloned();
                    let body: serde_json::Value = reply.json().await.unwrap();
                    (Instant::now(), applied, body)
                })
            };
            tokio::time::sleep(Duration::from_millis(20)).await;
            let sent = Instant::now();
            let decided = client
                .patch(format!(
                    "{approve_em}/accessPackageAssignmentApprovals/{request}/stages/{stage}"
                ))
                .bearer_auth(&sponsor)
                .json(&serde_json::json!({"reviewResult": "Approve", "justification": "bench"}))
                .send()
                .await
                .unwrap();
            assert_eq!(decided.status().as_u16(), 204);
            let approve = sent.elapsed();
            let (answered, applied, body) = waiter.await.unwrap();
            assert_eq!(applied.unwrap(), "wait=30");
            assert_ne!(body["state"], "pendingApproval", "{body}");
            let woken = answered.saturating_duration_since(sent);
            let mut out = out.lock().unwrap();
            out.0.push(plain);
            out.1.push(approve);
            out.2.push(woken);
        }
    })
    .await;
    let (mut plain, mut approve, mut woken) = std::mem::take(&mut *measured.lock().unwrap());
    plain.sort();
    approve.sort();
    woken.sort();
    WaitFigures {
        n,
        plain,
        approve,
        woken,
    }
}

pub fn rows(backend: &str, f: &WaitFigures) -> Vec<String> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let line = |what: &str, latencies: &[Duration], versus: &str| {
        format!(
            "| {backend} | {what} ({} requests, {CONCURRENCY} at a time) | — | p50 {:.2} ms, p99 {:.2} ms | {versus} |",
            f.n,
            ms(percentile(latencies, 0.5)),
            ms(percentile(latencies, 0.99)),
        )
    };
    let over = |a: &[Duration], b: &[Duration]| {
        format!(
            "p50 {:+.2} ms over the approval",
            ms(percentile(a, 0.5)) - ms(percentile(b, 0.5))
        )
    };
    vec![
        line(
            "waits: plain `GET` of a pending request (baseline)",
            &f.plain,
            "—",
        ),
        line(
            "waits: the sponsor's approval (`PATCH` of the stage)",
            &f.approve,
            "—",
        ),
        line(
            "waits: approval sent → `Prefer: wait=30` reader answered",
            &f.woken,
            &over(&f.woken, &f.approve),
        ),
    ]
}

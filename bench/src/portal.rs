//! `--portal N`: the portal's pages under the sizes issue 17 names (DESIGN section 15). Seeded
//! through the Graph API as the bootstrap administrator, as a deployment would be: one sponsor of
//! [`AGENTS`] agent identities, each holding a live assignment (`adminAdd`, no approval); and one
//! approver with [`PENDING`] stages waiting (the sponsor's on-behalf `userAdd` of a second package
//! whose one stage names that approver). Both people then sign in through Writ's own sign-in page
//! (`/{tenant}/login`, its CSRF token and pre-session cookie), and each page is requested `N`
//! times, one at a time, with the session cookie: My agents, one agent, one assignment, My
//! requests (the sponsor's 200), the approvals inbox, one approval; and, as the baseline measured
//! in the same run, the Graph call the inbox mirrors, with the approver's bearer token. Run alone (like `--storm`): the other phases' rows would change what the pages list.
//!
//! The figure is the latency seen by a client in the same process over loopback HTTP/1.1 (the
//! in-process router and store of `writ serve`, as every `writ-bench` figure): the server's
//! time plus a loopback round trip, so an upper bound of the server time the issue bounds
//! (p99 ≤ 150 ms in a release build). Requests go one at a time so no figure includes waiting
//! behind another request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{
    Granting, agent_fleet, get_json, load, load_with, package_granting_group, percentile, post_json,
};

/// Agents the sponsor has, each with a live assignment.
pub const AGENTS: usize = 500;
/// Stages waiting for the approver.
pub const PENDING: usize = 200;
/// `agent_fleet`'s sponsor for the name "portal", and its password.
const SPONSOR_UPN: &str = "benchportalsponsor@example.org";
const APPROVER_UPN: &str = "benchportalapprover@example.org";
const PASSWORD: &str = "bench password 1";
const WARM_UP: usize = 5;

/// What `--portal` measured.
pub struct PortalFigures {
    /// (page, path shape, sorted latencies).
    pub pages: Vec<(&'static str, &'static str, Vec<Duration>)>,
    pub seeded: Duration,
}

/// A portal page's request: a `GET` with the session cookie; must answer 200 with HTML.
async fn get_page(http: &reqwest::Client, url: &str, cookie: &str) {
    let r = http
        .get(url)
        .header("cookie", cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let status = r.status();
    let html = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let body = r.bytes().await.unwrap();
    assert!(
        status.is_success() && html,
        "GET {url}: {status} {}",
        String::from_utf8_lossy(&body[..body.len().min(300)])
    );
}

/// Who asks for a measured URL: a person's browser session (a page) or a bearer token (the API).
enum Caller {
    Session(String),
    Bearer(String),
}

impl Caller {
    async fn get(&self, http: &reqwest::Client, url: &str) {
        match self {
            Self::Session(cookie) => get_page(http, url, cookie).await,
            Self::Bearer(token) => {
                get_json(http, url.to_owned(), token).await;
            }
        }
    }
}

/// An `application/x-www-form-urlencoded` body (reqwest's `form` feature is not enabled).
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `name=value` of every `Set-Cookie` of `response`.
fn cookies_of(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(|pair| pair.trim().to_owned())
        .filter(|pair| !pair.ends_with('='))
        .collect()
}

/// Signs `upn` in through Writ's sign-in page; returns the `Cookie` header of the session.
async fn sign_in(base: &str, upn: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form_page = http
        .get(format!("{base}/common/login?return_to=%2Fportal%2Fagents"))
        .send()
        .await
        .unwrap();
    assert!(form_page.status().is_success(), "{}", form_page.status());
    let pre_session = cookies_of(&form_page).join("; ");
    let html = form_page.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("the sign-in form's CSRF token") + marker.len();
    let csrf = &html[start..start + html[start..].find('"').unwrap()];
    let reply = http
        .post(format!("{base}/common/login"))
        .header("cookie", &pre_session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("csrf_token", csrf),
            ("return_to", "/portal/agents"),
            ("username", upn),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 303, "sign-in of {upn}");
    let session = cookies_of(&reply);
    assert!(
        session.iter().any(|c| c.contains("writ_session=")),
        "no session cookie for {upn}: {session:?}"
    );
    session.join("; ")
}

/// A person's bearer token (the password grant).
async fn person_token(http: &reqwest::Client, base: &str, upn: &str) -> String {
    let reply: serde_json::Value = http
        .post(format!("{base}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("grant_type", "password"),
            ("username", upn),
            ("password", PASSWORD),
            ("scope", "https://graph.microsoft.com/.default"),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("token of {upn}: {reply}"))
        .to_owned()
}

/// `@odata.count` of `collection` filtered by `filter`, read until it reaches `n`.
async fn wait_for_count(
    http: &reqwest::Client,
    token: &str,
    collection: String,
    filter: &str,
    n: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let page = get_json(
            http,
            format!("{collection}?$filter={filter}&$count=true&$top=1"),
            token,
        )
        .await;
        if page["@odata.count"].as_u64() == Some(n as u64) {
            return;
        }
        assert!(Instant::now() < deadline, "{collection} {filter}: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Seeds the portal's world and measures its pages, `n` requests each.
pub async fn portal(http: &reqwest::Client, base: &str, token: &str, n: usize) -> PortalFigures {
    let started = Instant::now();
    let em = format!("{base}/v1.0/identityGovernance/entitlementManagement");
    let agents = Arc::new(agent_fleet(http, base, token, AGENTS, "portal").await);
    let approver = post_json(
        http,
        format!("{base}/v1.0/users"),
        token,
        serde_json::json!({
        "displayName": "Bench portal approver", "userPrincipalName": APPROVER_UPN,
        "mailNickname": "benchportalapprover", "accountEnabled": true,
        "passwordProfile": {"password": PASSWORD}}),
    )
    .await;
    let approver_id = approver["id"].as_str().unwrap().to_owned();

    // Every agent's live assignment.
    let Granting {
        package, policy, ..
    } = package_granting_group(
        http,
        base,
        token,
        "portal-live",
        serde_json::json!({"allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "P30D"}}),
    )
    .await;
    let (client, em_c, tok, targets) = (http.clone(), em.clone(), token.to_owned(), agents.clone());
    load(AGENTS, move |i| {
        let (client, em_c, tok, targets) = (client.clone(), em_c.clone(), tok.clone(), targets.clone());
        let (package, policy) = (package.clone(), policy.clone());
        async move {
            post_json(&client, format!("{em_c}/assignmentRequests"), &tok, serde_json::json!({
                "requestType": "adminAdd", "assignment": {
                    "targetId": targets[i].id, "assignmentPolicyId": policy, "accessPackageId": package}}))
            .await;
        }
    })
    .await;
    wait_for_count(
        http,
        token,
        format!("{em}/assignments"),
        "state eq 'delivered'",
        AGENTS,
    )
    .await;

    // The approver's inbox: the sponsor asks a second package for `PENDING` agents.
    let Granting { package, policy, .. } = package_granting_group(
        http,
        base,
        token,
        "portal-approval",
        serde_json::json!({"allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "P7D"},
            "requestorSettings": {"enableOnBehalfRequestorsToAddAccess": true,
                "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]},
            "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "stages": [{
                "durationBeforeAutomaticDenial": "P7D",
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": approver_id}]}]}}),
    )
    .await;
    let sponsor_token = person_token(http, base, SPONSOR_UPN).await;
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (client, em_c, tok, targets, out) = (
        http.clone(),
        em.clone(),
        sponsor_token,
        agents.clone(),
        requests.clone(),
    );
    load(PENDING, move |i| {
        let (client, em_c, tok, targets, out) =
            (client.clone(), em_c.clone(), tok.clone(), targets.clone(), out.clone());
        let (package, policy) = (package.clone(), policy.clone());
        async move {
            let made = post_json(&client, format!("{em_c}/assignmentRequests"), &tok, serde_json::json!({
                "requestType": "userAdd", "justification": "bench",
                "assignment": {"targetId": targets[i].id, "assignmentPolicyId": policy, "accessPackageId": package}}))
            .await;
            out.lock().unwrap().push(made["id"].as_str().unwrap().to_owned());
        }
    })
    .await;
    wait_for_count(
        http,
        token,
        format!("{em}/assignmentRequests"),
        "state eq 'pendingApproval'",
        PENDING,
    )
    .await;
    let seeded = started.elapsed();
    eprintln!("portal: seeded in {:.1} s", seeded.as_secs_f64());

    let sponsor = sign_in(base, SPONSOR_UPN).await;
    let approver = sign_in(base, APPROVER_UPN).await;
    let approver_token = person_token(http, base, APPROVER_UPN).await;
    let request = requests.lock().unwrap().first().cloned().unwrap();
    let assignment = get_json(
        http,
        format!("{em}/assignments?$filter=state eq 'delivered'&$top=1"),
        token,
    )
    .await["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pages: Vec<(&'static str, &'static str, String, Caller)> = vec![
        (
            "My agents, sponsor of 500 agents each with a live assignment",
            "GET /portal/agents",
            format!("{base}/portal/agents"),
            Caller::Session(sponsor.clone()),
        ),
        (
            "one agent's page (its assignments, requests, history)",
            "GET /portal/agents/{id}",
            format!("{base}/portal/agents/{}", agents[0].id),
            Caller::Session(sponsor.clone()),
        ),
        (
            "one assignment with its extend and remove forms",
            "GET /portal/assignments/{id}",
            format!("{base}/portal/assignments/{assignment}"),
            Caller::Session(sponsor.clone()),
        ),
        (
            "My requests, sponsor who made 200 requests",
            "GET /portal/requests",
            format!("{base}/portal/requests"),
            Caller::Session(sponsor),
        ),
        (
            "approvals inbox, approver with 200 pending stages",
            "GET /portal/approvals",
            format!("{base}/portal/approvals"),
            Caller::Session(approver.clone()),
        ),
        (
            "one approval with its context",
            "GET /portal/approvals/{requestId}",
            format!("{base}/portal/approvals/{request}"),
            Caller::Session(approver),
        ),
        // The baseline: the Graph call the approvals inbox mirrors, JSON to a bearer token, so
        // a page's figure reads against what the API alone costs in the same run.
        (
            "baseline: the same approver's approvals through the Graph API (JSON)",
            "GET …/accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')",
            format!("{em}/accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')"),
            Caller::Bearer(approver_token),
        ),
    ];
    let mut figures = Vec::new();
    for (what, route, url, caller) in pages {
        for _ in 0..WARM_UP {
            caller.get(http, &url).await;
        }
        let (client, url_c, caller_c) = (http.clone(), url.clone(), Arc::new(caller));
        let (_, latencies) = load_with(1, n, move |_| {
            let (client, url_c, caller_c) = (client.clone(), url_c.clone(), caller_c.clone());
            async move { caller_c.get(&client, &url_c).await }
        })
        .await;
        figures.push((what, route, latencies));
    }
    PortalFigures {
        pages: figures,
        seeded,
    }
}

/// The rows of `docs/benchmarks.md`'s table for `--portal`.
pub fn rows(backend: &str, f: &PortalFigures) -> Vec<String> {
    let mut rows: Vec<String> = f
        .pages
        .iter()
        .map(|(what, route, latencies)| {
            format!(
                "| {backend} | portal: {what} (`{route}`, {} requests one at a time) | — | p50 {:.2} ms, p99 {:.2} ms | — |",
                latencies.len(),
                percentile(latencies, 0.5).as_secs_f64() * 1e3,
                percentile(latencies, 0.99).as_secs_f64() * 1e3
            )
        })
        .collect();
    rows.push(format!(
        "| {backend} | portal: seeding {AGENTS} agents with live assignments and {PENDING} pending stages through the API | — | {:.1} s | — |",
        f.seeded.as_secs_f64()
    ));
    rows
}

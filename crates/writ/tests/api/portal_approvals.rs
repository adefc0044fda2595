//! The portal's approvals pages (issue 17 part B, DESIGN section 15) through the in-process
//! router with a browser's cookies: the inbox lists a stage with its agent, package and
//! requestor; the approval page shows the context of the decision (justification, answers, the
//! package's roles with the privileged one marked, the duration asked); approving or denying goes
//! through the same domain operation as the Graph `PATCH` (the API then shows it); a second
//! approver gets a `409` page that says who decided; people who may not see the approval get a
//! `404` page and change nothing; the requestor sees it without a form and a forged decision is
//! refused with the domain's `403` message; CSRF; the history lists the decisions; both lists
//! page (100 a page: the inbox oldest first, the history newest first with ties by id).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, user_url};
use crate::assignments::{Setup, login, post, post_request, request_state, run_jobs, setup};
use crate::browser_sign_in::{Browser, Page, enc};
use crate::harness::{PASSWORD, TestApp, app};

const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";

/// A sponsor's pending request for an agent, and the people around it.
struct Scene {
    s: Setup,
    /// Ann Approver and Bob Backup approve the policy's one stage.
    ann: String,
    policy: String,
    question: String,
    request: String,
    stage: String,
}

/// A policy on the setup's package that lets the agent's sponsors ask on its behalf, with a
/// question and one stage decided by Ann or Bob (justification required); Sam, the sponsor,
/// asks for the agent, answering the question; the request waits at the stage.
async fn scene(app: &TestApp) -> Scene {
    let s = setup(app).await;
    let ann = app.create_user("Ann Approver").await;
    let bob = app.create_user("Bob Backup").await;
    app.create_user("Oscar Other").await;
    let policy = post(app, "/assignmentPolicies", json!({
        "displayName": "Sponsors ask, Ann or Bob approves",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT8H"},
        "requestorSettings": {
            "enableOnBehalfRequestorsToAddAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false,
            "stages": [{"durationBeforeAutomaticDenial": "P2D", "isApproverJustificationRequired": true,
                "isEscalationEnabled": false,
                "primaryApprovers": [
                    {"@odata.type": "#microsoft.graph.singleUser", "userId": ann},
                    {"@odata.type": "#microsoft.graph.singleUser", "userId": bob}]}]
        },
        "questions": [{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
            "text": "Which ticket queue?", "isRequired": true, "sequence": 1, "isSingleLineQuestion": true}],
        "accessPackage": {"id": s.package},
    }))
    .await;
    let policy_id = policy["id"].as_str().unwrap().to_owned();
    let question = policy["questions"][0]["id"].as_str().unwrap().to_owned();
    let sam = login(app, "samsponsor").await;
    let request = ask(app, &sam, &s.package, &policy_id, &question, &s.agent).await;
    run_jobs(app).await;
    assert_eq!(request_state(app, &request).await, "pendingApproval");
    let approval = app.get(&format!("{APPROVALS}/{request}"), &app.admin).await;
    let stage = approval.body["stages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Scene {
        s,
        ann,
        policy: policy_id,
        question,
        request,
        stage,
    }
}

/// Sam's request (a token) for `agent` under the scene's policy, answering its question; its id.
async fn ask(
    app: &TestApp,
    sam: &str,
    package: &str,
    policy: &str,
    question: &str,
    agent: &str,
) -> String {
    let created = post_request(app, sam, json!({
        "requestType": "userAdd",
        "justification": "Triage the Monday queue",
        "assignment": {"accessPackageId": package, "assignmentPolicyId": policy, "targetId": agent},
        "answers": [{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "Payments backlog",
            "answeredQuestion": {"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "id": question}}],
    }))
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.id()
}

async fn signed_in(app: &TestApp, nickname: &str) -> Browser {
    let mut browser = Browser::default();
    let page = browser
        .sign_in(
            app,
            &format!("{nickname}@example.org"),
            PASSWORD,
            "/portal/approvals",
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    browser
}

fn approval_path(scene: &Scene) -> String {
    format!("/portal/approvals/{}", scene.request)
}

fn decision_path(scene: &Scene) -> String {
    format!("/portal/approvals/{}/decision", scene.request)
}

fn decision_form(csrf: &str, stage: &str, decision: &str, justification: &str) -> String {
    format!(
        "csrf_token={}&stage={}&decision={decision}&justification={}",
        enc(csrf),
        enc(stage),
        enc(justification)
    )
}

/// The approval's first stage as the API shows it to the administrator.
async fn api_stage(app: &TestApp, scene: &Scene) -> Value {
    let approval = app
        .get(&format!("{APPROVALS}/{}", scene.request), &app.admin)
        .await;
    assert_eq!(approval.status, StatusCode::OK, "{}", approval.body);
    approval.body["stages"][0].clone()
}

/// The CSRF token of the browser's session, as its pages' forms carry it (for a forged form
/// where the page offers none).
fn session_csrf(browser: &Browser) -> String {
    writ_domain::identity::sessions::csrf_token(&browser.cookies["writ_session"])
}

fn assert_contains(page: &Page, needles: &[&str]) {
    for needle in needles {
        assert!(page.html.contains(needle), "{needle} not in {}", page.html);
    }
}

async fn an_approver_sees_the_stage_and_its_context(backend: Backend) {
    let app = app(backend).await;
    let scene = scene(&app).await;
    let mut ann = signed_in(&app, "annapprover").await;

    let inbox = ann.get(&app, "/portal/approvals").await;
    assert_eq!(inbox.status, StatusCode::OK, "{}", inbox.html);
    assert_contains(
        &inbox,
        &[
            "<h1>Waiting for your decision (1)</h1>",
            "id=\"approvals\"",
            "support-agent-7",
            "Ticket triage",
            "Sam Sponsor",
            "New access",
            "Review the request of support-agent-7 for Ticket triage",
            &format!("href=\"/portal/approvals/{}\"", scene.request),
        ],
    );

    let page = ann.get(&app, &approval_path(&scene)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert_contains(
        &page,
        &[
            "<h1>Request of support-agent-7 for Ticket triage</h1>",
            "Support agent blueprint",
            "samsponsor@example.org",
            "Triage the Monday queue",
            "Which ticket queue?",
            "Payments backlog",
            "8 hours",
            "the policy&#39;s expiration",
            "id=\"decision-form\"",
            "<legend>Decision</legend>",
            "value=\"Approve\"",
            "value=\"Deny\"",
            "Justification (required)",
            &format!("name=\"stage\" value=\"{}\"", scene.stage),
            "Denied automatically if still undecided",
        ],
    );
    // The group membership is not privileged; the application permission is, and says why.
    let member = page.html.find("<th scope=\"row\">Member</th>").unwrap();
    let member_row = &page.html[member..member + page.html[member..].find("</tr>").unwrap()];
    assert!(member_row.ends_with("<td>No</td>"), "{member_row}");
    let app_role = page
        .html
        .find("<th scope=\"row\">Read tickets</th>")
        .unwrap();
    let app_role_row =
        &page.html[app_role..app_role + page.html[app_role..].find("</tr>").unwrap()];
    assert!(
        app_role_row
            .contains("<span class=\"privileged\">Privileged</span>: an application permission"),
        "{app_role_row}"
    );
    assert_eq!(page.html.matches("<h1").count(), 1);
    // The tables hold no link, so their scrolling wrappers (at phone width) take the keyboard
    // focus themselves, named as regions.
    for table in ["roles", "stages"] {
        let at = page.html.find(&format!("<table id=\"{table}\">")).unwrap();
        let wrap = page.html[..at].rfind("<div class=\"table-wrap\"").unwrap();
        assert!(
            page.html[wrap..at].contains("role=\"region\" tabindex=\"0\" aria-labelledby=\""),
            "{}",
            &page.html[wrap..at]
        );
    }
}

/// Ann decides through the page; the API then shows her decision.
async fn decide_as_ann(app: &TestApp, scene: &Scene, decision: &str, done: &str) -> Browser {
    let mut ann = signed_in(app, "annapprover").await;
    let page = ann.get(app, &approval_path(scene)).await;
    // Without the required justification: refused with the domain's message, nothing changed.
    let refused = ann
        .post(
            app,
            &decision_path(scene),
            &decision_form(&page.csrf(), &scene.stage, decision, "  "),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert_contains(
        &refused,
        &[
            "role=\"alert\" id=\"notice\"",
            "this stage requires a justification from the approver",
            "id=\"decision-form\"",
        ],
    );
    assert_eq!(api_stage(app, scene).await["status"], "InProgress");

    let sent = ann
        .post(
            app,
            &decision_path(scene),
            &decision_form(
                &page.csrf(),
                &scene.stage,
                decision,
                "Queue owner confirmed",
            ),
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.html);
    assert_eq!(
        sent.location(),
        Some(format!("/portal/approvals?done={done}").as_str())
    );
    let after = ann.get(app, sent.location().unwrap()).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_contains(
        &after,
        &[
            "role=\"status\" id=\"notice\"",
            "<h1>Waiting for your decision (0)</h1>",
            "Nothing waits for your decision",
        ],
    );
    let stage = api_stage(app, scene).await;
    assert_eq!(stage["status"], "Completed", "{stage}");
    assert_eq!(stage["reviewedBy"]["id"], scene.ann.as_str());
    assert_eq!(stage["justification"], "Queue owner confirmed");
    ann
}

async fn approving_delivers_and_the_api_shows_the_decision(backend: Backend) {
    let app = app(backend).await;
    let scene = scene(&app).await;
    let mut ann = decide_as_ann(&app, &scene, "Approve", "approved").await;
    assert_eq!(api_stage(&app, &scene).await["reviewResult"], "Approved");
    run_jobs(&app).await;
    assert_eq!(request_state(&app, &scene.request).await, "delivered");

    // The approval page now says who approved, with no form; the history lists it.
    let page = ann.get(&app, &approval_path(&scene)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("id=\"decision-form\""), "{}", page.html);
    assert_contains(
        &page,
        &["This request was approved. Ann Approver approved it on"],
    );
    let history = ann.get(&app, "/portal/approvals/history").await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.html);
    assert_contains(
        &history,
        &[
            "id=\"decisions\"",
            "support-agent-7",
            "Ticket triage",
            "Approved",
            "Queue owner confirmed",
            &format!("href=\"/portal/approvals/{}\"", scene.request),
        ],
    );
    // A cursor that is not one is a 400 page.
    let bad = ann
        .get(&app, "/portal/approvals/history?after=not-a-cursor")
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.html);
}

async fn denying_ends_the_request_and_a_second_approver_is_told(backend: Backend) {
    let app = app(backend).await;
    let scene = scene(&app).await;
    let mut bob = signed_in(&app, "bobbackup").await;
    let bob_page = bob.get(&app, &approval_path(&scene)).await;
    assert!(bob_page.html.contains("id=\"decision-form\""));

    decide_as_ann(&app, &scene, "Deny", "denied").await;
    assert_eq!(api_stage(&app, &scene).await["reviewResult"], "Denied");
    assert_eq!(request_state(&app, &scene.request).await, "denied");

    // Bob, with the form he read before, is told who decided: a 409 page, not an error page.
    let late = bob
        .post(
            &app,
            &decision_path(&scene),
            &decision_form(&bob_page.csrf(), &scene.stage, "Approve", "Looks fine"),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.html);
    assert_contains(
        &late,
        &[
            "role=\"alert\" id=\"notice\"",
            "Nothing was changed: this request was already decided. Ann Approver denied it on",
            "<h1>Request of support-agent-7 for Ticket triage</h1>",
        ],
    );
    assert!(!late.html.contains("id=\"decision-form\""));
    let stage = api_stage(&app, &scene).await;
    assert_eq!(stage["reviewResult"], "Denied");
    assert_eq!(stage["reviewedBy"]["id"], scene.ann.as_str());
}

async fn others_get_no_page_and_the_requestor_cannot_decide(backend: Backend) {
    let app = app(backend).await;
    let scene = scene(&app).await;

    // Someone who is no approver: a 404 page, and a POST changes nothing.
    let mut oscar = signed_in(&app, "oscarother").await;
    let inbox = oscar.get(&app, "/portal/approvals").await;
    assert_contains(&inbox, &["<h1>Waiting for your decision (0)</h1>"]);
    let page = oscar.get(&app, &approval_path(&scene)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
    // The form Oscar would forge carries his own session's token.
    let csrf = session_csrf(&oscar);
    let forged = oscar
        .post(
            &app,
            &decision_path(&scene),
            &decision_form(&csrf, &scene.stage, "Approve", "me"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND, "{}", forged.html);
    assert_eq!(api_stage(&app, &scene).await["status"], "InProgress");
    let unknown = oscar.get(&app, "/portal/approvals/no-such-request").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // A page link that is not one is a 400 page, not a failure.
    for bad in [
        "/portal/approvals?page=not-a-page",
        "/portal/approvals?page=%ZZ",
    ] {
        let page = oscar.get(&app, bad).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}: {}", page.html);
    }

    // The requestor sees it, without a form; a forged decision gets the domain's 403 message.
    let mut sam = signed_in(&app, "samsponsor").await;
    let page = sam.get(&app, &approval_path(&scene)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(!page.html.contains("id=\"decision-form\""), "{}", page.html);
    assert_contains(
        &page,
        &["You asked for this request, so you cannot decide it"],
    );
    let forged = sam
        .post(
            &app,
            &decision_path(&scene),
            &decision_form(
                &session_csrf(&sam),
                &scene.stage,
                "Approve",
                "self-approval",
            ),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.html);
    assert_contains(
        &forged,
        &[
            "role=\"alert\" id=\"notice\"",
            "the requestor and the target cannot decide their own request",
        ],
    );
    assert_eq!(api_stage(&app, &scene).await["status"], "InProgress");

    // CSRF missing or wrong: a 403 page, nothing changed.
    let mut ann = signed_in(&app, "annapprover").await;
    ann.get(&app, &approval_path(&scene)).await;
    for form in [
        format!("stage={}&decision=Approve&justification=ok", scene.stage),
        decision_form("not-the-token", &scene.stage, "Approve", "ok"),
    ] {
        let refused = ann.post(&app, &decision_path(&scene), &form).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
        assert!(refused.html.contains("Form expired"), "{}", refused.html);
    }
    // A decision that is neither Approve nor Deny: a 400 page with the form again.
    let page = ann.get(&app, &approval_path(&scene)).await;
    let odd = ann
        .post(
            &app,
            &decision_path(&scene),
            &decision_form(&page.csrf(), &scene.stage, "Maybe", "ok"),
        )
        .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST, "{}", odd.html);
    assert_contains(&odd, &["Choose Approve or Deny", "id=\"decision-form\""]);
    assert_eq!(api_stage(&app, &scene).await["status"], "InProgress");

    // A bearer token opens no page, even the approver's own.
    let token = login(&app, "annapprover").await;
    let reply = app
        .request(Method::GET, &approval_path(&scene), Some(&token), None, &[])
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // Without a session, the page sends the browser to sign in, returning here.
    let mut anonymous = Browser::default();
    let page = anonymous.get(&app, &approval_path(&scene)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location().unwrap().contains("login"),
        "{:?}",
        page.location()
    );
    let _ = &scene.s;
}

async fn the_inbox_is_paged_oldest_first(backend: Backend) {
    let app = app(backend).await;
    let scene = scene(&app).await;
    let sam = login(&app, "samsponsor").await;
    let mut requests = vec![scene.request.clone()];
    for n in 0..104 {
        let agent = create_agent(
            &app,
            &scene.s.fleet,
            &format!("queue-agent-{n:03}"),
            &[&scene.s.sponsor],
        )
        .await
        .id();
        requests.push(
            ask(
                &app,
                &sam,
                &scene.s.package,
                &scene.policy,
                &scene.question,
                &agent,
            )
            .await,
        );
    }
    // A pass takes a batch of jobs: run them until none is left.
    while run_jobs(&app).await.completed > 0 {}
    let mut ann = signed_in(&app, "annapprover").await;
    let first = ann.get(&app, "/portal/approvals").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    assert_contains(&first, &["<h1>Waiting for your decision (105)</h1>"]);
    assert_eq!(first.html.matches("Review the request of").count(), 100);
    // The oldest first: the scene's own request leads.
    let scene_row = first.html.find("support-agent-7").unwrap();
    assert!(scene_row < first.html.find("queue-agent-000").unwrap());
    let marker = "<a href=\"/portal/approvals?page=";
    let start = first.html.find(marker).expect("a next page link") + "<a href=\"".len();
    let next = &first.html[start..start + first.html[start..].find('"').unwrap()];
    let second = ann.get(&app, &next.replace("&amp;", "&")).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);
    assert_eq!(second.html.matches("Review the request of").count(), 5);
    assert_contains(
        &second,
        &["queue-agent-103", "<h1>Waiting for your decision (5)</h1>"],
    );
    assert!(!second.html.contains("support-agent-7"));

    // Ann decides them all through the API, two at each instant: her history pages newest
    // first, ties by id, without losing or repeating one.
    let token = login(&app, "annapprover").await;
    for (n, request) in requests.iter().enumerate() {
        if n % 2 == 0 {
            app.clock.advance(time::Duration::seconds(1));
        }
        let approval = app.get(&format!("{APPROVALS}/{request}"), &token).await;
        let stage = approval.body["stages"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let reply = app
            .send(
                Method::PATCH,
                &format!("{APPROVALS}/{request}/stages/{stage}"),
                &token,
                json!({"reviewResult": "Deny", "justification": format!("decision {n}")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }
    let mut seen = Vec::new();
    let mut next = Some("/portal/approvals/history".to_owned());
    let mut pages = 0;
    while let Some(uri) = next {
        let page = ann.get(&app, &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}: {}", page.html);
        pages += 1;
        let mut rest = page.html.as_str();
        while let Some(at) = rest.find("decision ") {
            let tail = &rest[at + "decision ".len()..];
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                seen.push(digits.parse::<usize>().unwrap());
            }
            rest = tail;
        }
        next = page
            .html
            .find("<a href=\"/portal/approvals/history?after=")
            .map(|at| {
                let start = at + "<a href=\"".len();
                page.html[start..start + page.html[start..].find('"').unwrap()]
                    .replace("&amp;", "&")
            });
    }
    assert_eq!(pages, 2);
    assert_eq!(seen.len(), 105, "{seen:?}");
    // Newest first: each instant's pair after the later instants'.
    assert_eq!(seen[0] / 2, 52);
    assert!(seen.windows(2).all(|w| w[0] / 2 >= w[1] / 2), "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..105).collect::<Vec<_>>());
}

async fn a_sponsor_removed_since_cannot_decide(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let pia = app.create_user("Pia Partner").await;
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{}/sponsors/$ref", s.agent),
            &app.admin,
            json!({"@odata.id": user_url(&pia)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let policy = post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents ask, their sponsors approve",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": true},
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false,
            "stages": [{"isApproverJustificationRequired": false, "isEscalationEnabled": false,
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]}]
        },
        "accessPackage": {"id": s.package},
    }))
    .await;
    let (agent, _) = agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;
    let created = post_request(
        &app,
        &agent,
        json!({
            "requestType": "userAdd",
            "assignment": {"accessPackageId": s.package, "assignmentPolicyId": policy["id"]},
        }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let request = created.id();
    run_jobs(&app).await;
    let path = format!("/portal/approvals/{request}");

    let mut sam = signed_in(&app, "samsponsor").await;
    let page = sam.get(&app, &path).await;
    assert!(page.html.contains("id=\"decision-form\""), "{}", page.html);
    let marker = "name=\"stage\" value=\"";
    let start = page.html.find(marker).unwrap() + marker.len();
    let stage = page.html[start..start + page.html[start..].find('"').unwrap()].to_owned();

    // Sam stops sponsoring the agent; the form he still holds is refused with the domain's 403.
    let reply = app
        .request(
            Method::DELETE,
            &format!(
                "/v1.0/servicePrincipals/{}/sponsors/{}/$ref",
                s.agent, s.sponsor
            ),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let refused = sam
        .post(
            &app,
            &format!("{path}/decision"),
            &decision_form(&page.csrf(), &stage, "Approve", ""),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);
    assert_contains(
        &refused,
        &[
            "role=\"alert\" id=\"notice\"",
            "the caller is no longer an approver of this stage",
            "waits for other approvers",
        ],
    );
    assert!(!refused.html.contains("id=\"decision-form\""));
    assert_eq!(request_state(&app, &request).await, "pendingApproval");
    let inbox = sam.get(&app, "/portal/approvals").await;
    assert_contains(&inbox, &["<h1>Waiting for your decision (0)</h1>"]);
    // Pia, still a sponsor, decides it.
    let mut pia_browser = signed_in(&app, "piapartner").await;
    let inbox = pia_browser.get(&app, "/portal/approvals").await;
    assert_contains(&inbox, &["<h1>Waiting for your decision (1)</h1>"]);
}

async fn a_request_denied_by_timeout_is_explained(backend: Backend) {
    let mut app = app(backend).await;
    let scene = scene(&app).await;
    // The stage's two days pass undecided.
    app.clock
        .advance(time::Duration::days(2) + time::Duration::seconds(1));
    app.refresh_admin().await;
    while run_jobs(&app).await.completed > 0 {}
    assert_eq!(request_state(&app, &scene.request).await, "denied");
    let mut ann = signed_in(&app, "annapprover").await;
    let page = ann.get(&app, &approval_path(&scene)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(!page.html.contains("id=\"decision-form\""), "{}", page.html);
    assert_contains(
        &page,
        &["This request was denied automatically: no approver decided in time."],
    );
    let late = ann
        .post(
            &app,
            &decision_path(&scene),
            &decision_form(&session_csrf(&ann), &scene.stage, "Approve", "late"),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.html);
    assert_contains(
        &late,
        &[
            "Nothing was changed: this request was denied automatically, because no approver decided in time.",
        ],
    );
}

crate::on_both_backends!(
    a_request_denied_by_timeout_is_explained,
    a_sponsor_removed_since_cannot_decide,
    the_inbox_is_paged_oldest_first,
    an_approver_sees_the_stage_and_its_context,
    approving_delivers_and_the_api_shows_the_decision,
    denying_ends_the_request_and_a_second_approver_is_told,
    others_get_no_page_and_the_requestor_cannot_decide,
);

//! The portal's requests pages (issue 17, part C) through the in-process router, with a
//! browser's cookies: My requests lists what a sponsor asked for agents (and nobody else's), a
//! request's page shows what was asked and its stages to whoever the API shows the request,
//! cancel acts as the API's (one audit record; a decided request is a 409 page that says so),
//! every form refuses a missing or wrong CSRF token, a bearer token opens no page, and each
//! email link opens after sign-in and changes nothing.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::email::action_link;
use writ_domain::model::OutboxEvent;
use writ_domain::store::AuditStore;
use writ_store::Backend;

use crate::agents::{create_agent, fleet};
use crate::assignments::run_jobs;
use crate::browser_sign_in::{Browser, enc};
use crate::harness::{PASSWORD, PUBLIC_URL, TestApp, app, id, nickname};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";

async fn token(app: &TestApp, name: &str) -> String {
    let reply = app
        .password_token(&format!("{}@example.org", nickname(name)), PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

/// Sam sponsors agent "ledger-bot", Tina "tally-bot"; each asked for package "Ledger access"
/// for their agent (approval by Avery, one question). Both requests are pending approval.
struct World {
    sam_token: String,
    tina_token: String,
    avery_token: String,
    /// Sam's request for ledger-bot, and Tina's for tally-bot.
    sams: String,
    tinas: String,
    /// Makes another agent of Sam's; the body of a request for an agent.
    fleet: crate::agents::Fleet,
    sam: String,
    ask: Box<dyn Fn(&str) -> Value + Send + Sync>,
}

async fn world(app: &TestApp) -> World {
    let fleet = fleet(app).await;
    let tina = app.create_user("Tina Othersponsor").await;
    let avery = app.create_user("Avery Approver").await;
    let ledger_bot = id(&create_agent(app, &fleet, "ledger-bot", &[&fleet.sponsor])
        .await
        .body);
    let tally_bot = id(&create_agent(app, &fleet, "tally-bot", &[&tina]).await.body);
    let post = |path: &str, body: Value| {
        let path = format!("{EM}{path}");
        async move {
            let reply = app.send(Method::POST, &path, &app.admin, body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
            reply.body
        }
    };
    let catalog = id(&post("/catalogs", json!({"displayName": "Finance"})).await);
    let package = id(&post(
        "/accessPackages",
        json!({"displayName": "Ledger access", "catalog": {"id": catalog}}),
    )
    .await);
    let policy = post("/assignmentPolicies", json!({
        "displayName": "Agents, approved by Avery",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {
            "enableOnBehalfRequestorsToAddAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": true, "isRequestorJustificationRequired": true,
            "stages": [{
                "durationBeforeAutomaticDenial": "P7D",
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": avery}]
            }]
        },
        "questions": [{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
                       "text": "Which ticket asks for it?", "isRequired": true, "sequence": 1,
                       "isSingleLineQuestion": true}],
        "accessPackage": {"id": package},
    }))
    .await;
    let question = policy["questions"][0]["id"].as_str().unwrap().to_owned();
    let policy = id(&policy);
    let ask = move |target: &str, justification: &str, ticket: &str| {
        json!({
            "requestType": "userAdd", "justification": justification,
            "assignment": {"accessPackageId": package, "assignmentPolicyId": policy, "targetId": target},
            "answers": [{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": ticket,
                         "answeredQuestion": {"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "id": question}}],
        })
    };
    let sam_token = token(app, "Sam Sponsor").await;
    let tina_token = token(app, "Tina Othersponsor").await;
    let avery_token = token(app, "Avery Approver").await;
    let mut made = Vec::new();
    for (token, target, justification, ticket) in [
        (
            &sam_token,
            &ledger_bot,
            "Month-end close <b>now</b>",
            "FIN-1042",
        ),
        (&tina_token, &tally_bot, "Quarterly audit", "FIN-2001"),
    ] {
        let reply = app
            .send(
                Method::POST,
                &format!("{EM}/assignmentRequests"),
                token,
                ask(target, justification, ticket),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        made.push(id(&reply.body));
    }
    run_jobs(app).await;
    let [sams, tinas] = <[String; 2]>::try_from(made).unwrap();
    let sam = fleet.sponsor.clone();
    let world = World {
        fleet,
        sam,
        ask: Box::new(move |target: &str| ask(target, "more work", "FIN-3000")),
        sam_token,
        tina_token,
        avery_token,
        sams,
        tinas,
    };
    for request in [&world.sams, &world.tinas] {
        assert_eq!(state_of(app, request).await, "pendingApproval");
    }
    world
}

async fn state_of(app: &TestApp, request: &str) -> String {
    let reply = app
        .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["state"].as_str().unwrap().to_owned()
}

/// A browser signed in as the user `name`.
async fn signed_in(app: &TestApp, name: &str) -> Browser {
    let mut browser = Browser::default();
    let page = browser
        .sign_in(
            app,
            &format!("{}@example.org", nickname(name)),
            PASSWORD,
            "/portal/requests",
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    browser
}

/// Decides the first stage of `request` as the holder of `token`.
async fn decide(app: &TestApp, token: &str, request: &str, decision: &str, why: &str) {
    let stages = app
        .get(&format!("{APPROVALS}/{request}/stages"), token)
        .await;
    let stage = stages.body["value"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", stages.body))
        .to_owned();
    let reply = app
        .send(
            Method::PATCH,
            &format!("{APPROVALS}/{request}/stages/{stage}"),
            token,
            json!({"reviewResult": decision, "justification": why}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

async fn cancel_records(app: &TestApp, request: &str) -> usize {
    app.store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.activity_display_name == "Cancel access package assignment request"
                && r.target_resources.iter().any(|t| t.id == request)
        })
        .count()
}

/// A sponsor's request for an agent is in their My requests with its status and a link to
/// its page; another sponsor's is not; someone who asked nothing is told how to ask.
async fn my_requests_lists_what_i_asked_for_agents(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let mut sam = signed_in(&app, "Sam Sponsor").await;
    let page = sam.get(&app, "/portal/requests").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let html = &page.html;
    assert!(
        html.contains("<h1 id=\"my-requests\">My requests</h1>"),
        "{html}"
    );
    assert!(html.contains("<table id=\"requests\">"), "{html}");
    assert!(
        html.contains(&format!(
            "<a href=\"/portal/requests/{}\">Request of ledger-bot for Ledger access</a>",
            w.sams
        )),
        "{html}"
    );
    assert!(html.contains("<span class=\"badge wait\">Waiting for approval</span>"));
    assert!(html.contains("<td>New access</td>"));
    assert!(
        !html.contains("tally-bot") && !html.contains(&w.tinas),
        "{html}"
    );
    assert!(html.contains("aria-current=\"page\">My requests"), "{html}");

    let mut tina = signed_in(&app, "Tina Othersponsor").await;
    let page = tina.get(&app, "/portal/requests").await;
    assert!(page.html.contains("Request of tally-bot for Ledger access"));
    assert!(!page.html.contains("ledger-bot"), "{}", page.html);

    let mut avery = signed_in(&app, "Avery Approver").await;
    let page = avery.get(&app, "/portal/requests").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("id=\"requests\""), "{}", page.html);
    assert!(
        page.html.contains("<p class=\"empty\">")
            && page
                .html
                .contains("<a href=\"/portal/agents\">My agents</a>"),
        "{}",
        page.html
    );
    // A continuation that is not one is a clear 400 page, not a failure.
    let page = sam.get(&app, "/portal/requests?after=garbage").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
}

/// The request's page shows what was asked (justification, answers, schedule) and its stage;
/// after a denial, who denied it and why. Another sponsor, and an id that does not exist, get
/// the 404 page, as from the API.
async fn the_request_page_shows_what_was_asked_and_its_stages(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let mut sam = signed_in(&app, "Sam Sponsor").await;
    let path = format!("/portal/requests/{}", w.sams);
    let page = sam.get(&app, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let html = &page.html;
    assert!(
        html.contains("<h1 id=\"request\">Request of ledger-bot for Ledger access</h1>"),
        "{html}"
    );
    for expected in [
        "Month-end close &#60;b&#62;now&#60;/b&#62;",
        "<dt>Which ticket asks for it?</dt><dd>FIN-1042</dd>",
        "<dt>Start asked</dt><dd>When delivered</dd>",
        "<dt>End asked</dt><dd>As the policy sets it</dd>",
        "<th scope=\"row\">Stage 1</th>",
        "Waiting for a decision",
        "<dd>Sam Sponsor</dd>",
        "id=\"cancel-form\"",
        "Cancel the request of ledger-bot for Ledger access",
        // The stages hold no link: their scrolling wrapper (at phone width) takes the focus.
        "<div class=\"table-wrap\" role=\"region\" tabindex=\"0\" aria-labelledby=\"approval-heading\">\n<table id=\"stages\"",
    ] {
        assert!(html.contains(expected), "{expected} not in {html}");
    }
    assert!(!html.contains("<b>now</b>"), "escaped: {html}");

    decide(
        &app,
        &w.avery_token,
        &w.sams,
        "Deny",
        "Use the shared ledger",
    )
    .await;
    let page = sam.get(&app, &path).await;
    let html = &page.html;
    for expected in [
        "<span class=\"badge bad\">Denied</span>",
        "Denied by Avery Approver at approval stage 1. Their reason: “Use the shared ledger”",
        "<td>Avery Approver</td>",
    ] {
        assert!(html.contains(expected), "{expected} not in {html}");
    }
    assert!(
        !html.contains("cancel-form"),
        "no cancel once decided: {html}"
    );

    let mut tina = signed_in(&app, "Tina Othersponsor").await;
    let page = tina.get(&app, &path).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
    assert!(!page.html.contains("ledger-bot"), "{}", page.html);
    let api = app
        .get(
            &format!("{EM}/assignmentRequests/{}", w.sams),
            &w.tina_token,
        )
        .await;
    assert_eq!(api.status, StatusCode::NOT_FOUND, "the API agrees");
    let page = sam.get(&app, "/portal/requests/no-such-request").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

/// Cancel while pending: the API's cancel (state canceled, one audit record), a 303 to the page
/// announcing it. Without the CSRF token or with a wrong one: 403, nothing changed. Another
/// sponsor: the 404 page. After a decision (a stale page's form): the page again, 409, with an
/// alert that explains it.
async fn cancel_acts_as_the_api_and_explains_a_decided_request(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let mut sam = signed_in(&app, "Sam Sponsor").await;
    let path = format!("/portal/requests/{}", w.sams);
    let action = format!("{path}/cancel");
    let csrf = sam.get(&app, &path).await.csrf();
    let audits = app.audit_count().await;
    for form in [String::new(), "csrf_token=wrong".to_owned()] {
        let page = sam.post(&app, &action, &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{form}: {}", page.html);
    }
    assert_eq!(state_of(&app, &w.sams).await, "pendingApproval");
    assert_eq!(app.audit_count().await, audits, "nothing changed");

    let mut tina = signed_in(&app, "Tina Othersponsor").await;
    let tina_csrf = tina
        .get(&app, &format!("/portal/requests/{}", w.tinas))
        .await
        .csrf();
    let page = tina
        .post(&app, &action, &format!("csrf_token={}", enc(&tina_csrf)))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.html);
    assert_eq!(state_of(&app, &w.sams).await, "pendingApproval");

    let page = sam
        .post(&app, &action, &format!("csrf_token={}", enc(&csrf)))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(
        page.location(),
        Some(format!("{path}?done=canceled").as_str())
    );
    assert_eq!(state_of(&app, &w.sams).await, "canceled");
    assert_eq!(cancel_records(&app, &w.sams).await, 1);
    let page = sam.get(&app, &format!("{path}?done=canceled")).await;
    assert!(
        page.html
            .contains("role=\"status\" id=\"notice\">The request was canceled.</div>"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("<span class=\"badge off\">Canceled</span>")
    );
    // Sent again (a reload of the form): the domain's 409, explained, nothing more recorded.
    let page = sam
        .post(&app, &action, &format!("csrf_token={}", enc(&csrf)))
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.html);
    assert_eq!(cancel_records(&app, &w.sams).await, 1);

    // Tina's page was read while pending; Avery approves; her form is sent after.
    decide(&app, &w.avery_token, &w.tinas, "Approve", "fine").await;
    let page = tina
        .post(
            &app,
            &format!("/portal/requests/{}/cancel", w.tinas),
            &format!("csrf_token={}", enc(&tina_csrf)),
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.html);
    assert!(
        page.html.contains("role=\"alert\" id=\"notice\">This request can no longer be canceled: it was decided or changed meanwhile"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("<h1 id=\"request\">Request of tally-bot for Ledger access</h1>")
    );
    assert_eq!(cancel_records(&app, &w.tinas).await, 0);
}

/// A bearer token opens none of these pages, whoever's (the 401 page), and changes nothing.
async fn a_bearer_token_gets_the_401_page(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let audits = app.audit_count().await;
    for (method, path) in [
        (Method::GET, "/portal/requests".to_owned()),
        (Method::GET, format!("/portal/requests/{}", w.sams)),
        (Method::POST, format!("/portal/requests/{}/cancel", w.sams)),
    ] {
        for token in [&w.sam_token, &app.admin] {
            let reply = app
                .request(method.clone(), &path, Some(token), None, &[])
                .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }
    assert_eq!(state_of(&app, &w.sams).await, "pendingApproval");
    assert_eq!(app.audit_count().await, audits);
}

/// The link of an email event about `request` / `assignment`.
fn link_of(event_type: &str, request: &str, assignment: &str) -> String {
    let event = OutboxEvent::new(
        event_type,
        writ_domain::clock::Clock::now(&writ_domain::clock::SystemClock),
        json!({"requestId": request, "assignmentId": assignment, "targetId": "t", "accessPackageId": "p"}),
        Vec::new(),
    );
    let link = action_link(&event, PUBLIC_URL).expect("a link");
    link.url.strip_prefix(PUBLIC_URL).unwrap().to_owned()
}

/// Follows the email link `url` signed out: the sign-in page returning to its exact path,
/// nothing changed; then signs in with it and lands on the page.
async fn follow_signed_out(app: &TestApp, url: &str, person: &str) {
    let path = url.split('#').next().unwrap();
    let audits = app.audit_count().await;
    let mut browser = Browser::default();
    let page = browser.get(app, path).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}: {}", page.html);
    let expected = format!(
        "/{}/login?return_to={}",
        app.state.settings.tenant_id,
        enc(path)
    );
    assert_eq!(page.location(), Some(expected.as_str()), "{path}");
    assert_eq!(
        app.audit_count().await,
        audits,
        "following {path} changed nothing"
    );
    let signed = browser
        .sign_in(
            app,
            &format!("{}@example.org", nickname(person)),
            PASSWORD,
            path,
        )
        .await;
    assert_eq!(signed.location(), Some(path), "{}", signed.html);
    let page = browser.get(app, path).await;
    assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
}

/// `request.approved` / `request.denied` link to the request's page: followed signed out, it
/// leads to sign-in and back, and changes nothing.
async fn request_email_links_open_after_sign_in(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    for event_type in ["request.approved", "request.denied"] {
        let url = link_of(event_type, &w.sams, "unused");
        assert_eq!(url, format!("/portal/requests/{}", w.sams));
        follow_signed_out(&app, &url, "Sam Sponsor").await;
    }
    assert_eq!(state_of(&app, &w.sams).await, "pendingApproval");
}

/// My requests pages by 100, newest first: the 101st request is on the second page, reached
/// by "Next page", and no request is on both.
async fn my_requests_are_paged_newest_first(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let mut newest = String::new();
    for n in 0..100 {
        app.clock.advance(time::Duration::seconds(1));
        let agent = id(
            &create_agent(&app, &w.fleet, &format!("bot-{n}"), &[&w.sam])
                .await
                .body,
        );
        let reply = app
            .send(
                Method::POST,
                &format!("{EM}/assignmentRequests"),
                &w.sam_token,
                (w.ask)(&agent),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        newest = id(&reply.body);
    }
    let mut sam = signed_in(&app, "Sam Sponsor").await;
    let first = sam.get(&app, "/portal/requests").await;
    let rows = |html: &str| {
        html.matches("<th scope=\"row\"><a href=\"/portal/requests/")
            .count()
    };
    assert_eq!(rows(&first.html), 100);
    let newest_at = first.html.find(&newest).unwrap();
    assert!(first.html[..newest_at].contains("<tbody>"));
    assert!(
        !first.html.contains(&w.sams),
        "the oldest is on the next page"
    );
    let marker = "<a href=\"/portal/requests?after=";
    let start = first.html.find(marker).expect("a next page link") + "<a href=\"".len();
    let end = start + first.html[start..].find('"').unwrap();
    let next = first.html[start..end].replace("&#38;", "&");
    assert!(first.html[end..].starts_with("\" rel=\"next\">Next page</a>"));
    let second = sam.get(&app, &next).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.html);
    assert_eq!(rows(&second.html), 1, "{}", second.html);
    assert!(second.html.contains(&w.sams));
    assert!(!second.html.contains("Next page"));
    assert!(
        second
            .html
            .contains("<a href=\"/portal/requests\">Newest requests</a>")
    );
}

crate::on_both_backends!(
    my_requests_lists_what_i_asked_for_agents,
    my_requests_are_paged_newest_first,
    the_request_page_shows_what_was_asked_and_its_stages,
    cancel_acts_as_the_api_and_explains_a_decided_request,
    a_bearer_token_gets_the_401_page,
    request_email_links_open_after_sign_in,
);

/// The other email links (approvals, assignments) lead to pages of parts A and B of issue 17:
/// signed out, each leads to sign-in with its exact path and changes nothing.
async fn other_email_links_open_after_sign_in(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    // Sam's request approved and delivered: an assignment Sam may see. Tina's stays pending
    // for Avery.
    decide(&app, &w.avery_token, &w.sams, "Approve", "fine").await;
    run_jobs(&app).await;
    let read = app
        .get(
            &format!("{EM}/assignmentRequests/{}?$expand=assignment", w.sams),
            &app.admin,
        )
        .await;
    let assignment = read.body["assignment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", read.body))
        .to_owned();
    for (event_type, person) in [
        ("approval.stageAssigned", "Avery Approver"),
        ("approval.escalated", "Avery Approver"),
        ("assignment.expiringSoon", "Sam Sponsor"),
        ("assignment.delivered", "Sam Sponsor"),
        ("assignment.extended", "Sam Sponsor"),
        ("assignment.expired", "Sam Sponsor"),
        ("assignment.removed", "Sam Sponsor"),
    ] {
        let url = link_of(event_type, &w.tinas, &assignment);
        follow_signed_out(&app, &url, person).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_email_links_open_after_sign_in_sqlite() {
    other_email_links_open_after_sign_in(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_email_links_open_after_sign_in_postgres() {
    other_email_links_open_after_sign_in(Backend::Postgres).await
}

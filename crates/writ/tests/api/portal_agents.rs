//! The portal's agents pages (issue 17, part A) through the in-process router, signed in with a
//! browser's session cookie: My agents lists exactly the agents the person sponsors or owns
//! (directly, through a sponsor group, as an owner), another sponsor's agent gets 404 pages and
//! its forms change nothing, the request page offers only eligible packages, and requesting,
//! extending and removing make the requests the API then shows, refused with the domain's
//! message; every form checks its CSRF token, and a bearer token opens no page.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::clock::Clock;
use writ_domain::store::EntitlementStore;
use writ_store::Backend;

use crate::agents::{create_agent, fleet};
use crate::assignments::run_jobs;
use crate::browser_sign_in::{Browser, Page, enc};
use crate::harness::{PASSWORD, PUBLIC_URL, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

/// Sam sponsors `a` directly, `b` through the group "Agent Sponsors", and owns `c`; Otto
/// sponsors `b`, `c` and `o`. "Sponsors request" (on `open`) lets an agent's sponsors and
/// owners request, extend (with approval by Otto) and remove, with a justification and two
/// questions; `held` has the same rights and `a` holds it (delivered); `admin` is for
/// administrators only.
struct Scene {
    sam: String,
    a: String,
    b: String,
    c: String,
    o: String,
    open_policy: String,
    held_policy: String,
    held_assignment: String,
    text_q: String,
    choice_q: String,
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let reply = app.send(Method::POST, path, &app.admin, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
    reply.body
}

async fn link(app: &TestApp, path: &str, object: &str) {
    let reply = app
        .send(
            Method::POST,
            path,
            &app.admin,
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/directoryObjects/{object}")}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NO_CONTENT,
        "{path}: {}",
        reply.body
    );
}

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

fn sponsors_policy(package: &str, name: &str) -> Value {
    json!({
        "displayName": name, "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "P7D"},
        "requestorSettings": {
            "enableOnBehalfRequestorsToAddAccess": true,
            "enableOnBehalfRequestorsToUpdateAccess": true,
            "enableOnBehalfRequestorsToRemoveAccess": true,
            "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": true,
            "isRequestorJustificationRequired": true,
            "stages": [{"durationBeforeAutomaticDenial": "P7D", "primaryApprovers": [
                {"@odata.type": "#microsoft.graph.singleUser", "userId": "OTTO"}
            ]}]
        },
        "questions": [
            {"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "Ticket?",
             "isRequired": true, "sequence": 1, "isSingleLineQuestion": true},
            {"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "text": "Region?",
             "isRequired": false, "sequence": 2, "isMultipleSelectionAllowed": false,
             "choices": [{"actualValue": "eu", "text": "Europe"}, {"actualValue": "us", "text": "United States"}]}
        ],
        "accessPackage": {"id": package},
    })
}

async fn scene(app: &TestApp) -> Scene {
    let fleet = fleet(app).await;
    let sam = fleet.sponsor.clone();
    let otto_id = app.create_user("Otto Other").await;
    let group = app.create_group("Agent Sponsors").await;
    link(app, &format!("/v1.0/groups/{group}/members/$ref"), &sam).await;
    let agent = |name: &'static str, sponsor: String| {
        let fleet = &fleet;
        async move {
            let reply = create_agent(app, fleet, name, &[&sponsor]).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            reply.id()
        }
    };
    let a = agent("agent-alpha", sam.clone()).await;
    let b = agent("agent-bravo", otto_id.clone()).await;
    let c = agent("agent-charlie", otto_id.clone()).await;
    let o = agent("agent-oscar", otto_id.clone()).await;
    link(
        app,
        &format!("/v1.0/servicePrincipals/{b}/sponsors/$ref"),
        &group,
    )
    .await;
    link(
        app,
        &format!("/v1.0/servicePrincipals/{c}/owners/$ref"),
        &sam,
    )
    .await;

    let catalog = id(&post(
        app,
        &format!("{EM}/catalogs"),
        json!({"displayName": "Agents"}),
    )
    .await);
    let package = |name: &str| json!({"displayName": name, "catalog": {"id": catalog}});
    let open = id(&post(
        app,
        &format!("{EM}/accessPackages"),
        package("Ticket triage"),
    )
    .await);
    let held = id(&post(
        app,
        &format!("{EM}/accessPackages"),
        package("Read mailbox"),
    )
    .await);
    let admin = id(&post(
        app,
        &format!("{EM}/accessPackages"),
        package("Admin console"),
    )
    .await);
    let with_otto =
        |v: Value| serde_json::from_str::<Value>(&v.to_string().replace("OTTO", &otto_id)).unwrap();
    let open_policy = post(
        app,
        &format!("{EM}/assignmentPolicies"),
        with_otto(sponsors_policy(&open, "Sponsors request")),
    )
    .await;
    let held_policy = id(&post(
        app,
        &format!("{EM}/assignmentPolicies"),
        with_otto(sponsors_policy(&held, "Sponsors request mail")),
    )
    .await);
    let admin_policy = app.admin_policy(&app.admin, &admin).await;
    let question = |n: usize| {
        open_policy["questions"][n]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let assigned = post(
        app,
        &format!("{EM}/assignmentRequests"),
        json!({"requestType": "adminAdd", "assignment": {
            "targetId": a, "assignmentPolicyId": held_policy, "accessPackageId": held}}),
    )
    .await;
    // Otto's agent holds the admin-only package, so Sam must not see it anywhere.
    post(
        app,
        &format!("{EM}/assignmentRequests"),
        json!({"requestType": "adminAdd", "assignment": {
            "targetId": o, "assignmentPolicyId": admin_policy, "accessPackageId": admin}}),
    )
    .await;
    run_jobs(app).await;
    let read = app
        .get(
            &format!(
                "{EM}/assignmentRequests/{}?$expand=assignment",
                id(&assigned)
            ),
            &app.admin,
        )
        .await;
    assert_eq!(read.body["state"], "delivered", "{}", read.body);
    Scene {
        sam,
        a,
        b,
        c,
        o,
        open_policy: id(&open_policy),
        held_policy,
        held_assignment: read.body["assignment"]["id"].as_str().unwrap().to_owned(),
        text_q: question(0),
        choice_q: question(1),
    }
}

async fn signed_in(app: &TestApp, upn: &str) -> Browser {
    let mut browser = Browser::default();
    let page = browser.sign_in(app, upn, PASSWORD, "/portal/agents").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    browser
}

async fn sam(app: &TestApp) -> Browser {
    signed_in(app, "samsponsor@example.org").await
}

async fn otto(app: &TestApp) -> Browser {
    signed_in(app, "ottoother@example.org").await
}

/// The number of requests and of live assignments, read through the API.
async fn counts(app: &TestApp) -> (i64, usize) {
    let requests = app
        .get(&format!("{EM}/assignmentRequests?$count=true"), &app.admin)
        .await;
    let assignments = app.get(&format!("{EM}/assignments"), &app.admin).await;
    let live = assignments.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] != "expired")
        .count();
    (requests.body["@odata.count"].as_i64().unwrap(), live)
}

/// The text of the element with id `id` up to its closing tag `end`.
fn element<'a>(page: &'a Page, id: &str, end: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let start = page
        .html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {}", page.html));
    let stop = page.html[start..]
        .find(end)
        .map_or(page.html.len(), |e| start + e);
    &page.html[start..stop]
}

fn notice(page: &Page) -> &str {
    element(page, "notice", "</div>")
}

async fn my_agents_lists_exactly_the_persons_agents(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let mut sam = sam(&app).await;
    let page = sam.get(&app, "/portal/agents").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<h1>My agents</h1>"));
    let table = element(&page, "agents", "</table>");
    for (agent, name) in [
        (&s.a, "agent-alpha"),
        (&s.b, "agent-bravo"),
        (&s.c, "agent-charlie"),
    ] {
        assert!(
            table.contains(&format!("<a href=\"/portal/agents/{agent}\">{name}</a>")),
            "{name}: {table}"
        );
    }
    assert!(!table.contains("agent-oscar"), "{table}");
    assert!(!table.contains(&s.o), "{table}");
    // By name; agent-alpha holds one live assignment, ending in 7 days.
    let alpha = table.find("agent-alpha").unwrap();
    assert!(alpha < table.find("agent-bravo").unwrap());
    assert!(table.find("agent-bravo").unwrap() < table.find("agent-charlie").unwrap());
    let row = &table[alpha..table[alpha..].find("</tr>").unwrap() + alpha];
    assert!(row.contains("1 assignment; the first ends"), "{row}");
    assert!(row.contains("days)"), "{row}");
    assert!(row.contains("Support agent blueprint"), "{row}");
    assert!(row.contains("Sam Sponsor"), "{row}");

    // Otto sponsors b, c, o, not a.
    let mut otto = otto(&app).await;
    let page = otto.get(&app, "/portal/agents").await;
    let table = element(&page, "agents", "</table>");
    assert!(!table.contains("agent-alpha"), "{table}");
    for name in ["agent-bravo", "agent-charlie", "agent-oscar"] {
        assert!(table.contains(name), "{name}: {table}");
    }

    // Someone who sponsors nothing sees what to do next.
    app.create_user("Nadia Nobody").await;
    let mut nadia = signed_in(&app, "nadianobody@example.org").await;
    let page = nadia.get(&app, "/portal/agents").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("id=\"agents\""));
    assert!(
        page.html.contains("An administrator makes you a sponsor"),
        "{}",
        page.html
    );
    assert!(page.html.contains("href=\"/portal/approvals\""));

    // A page number out of range is a clear 400.
    let page = sam.get(&app, "/portal/agents?page=x").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

async fn the_agent_page_shows_its_access(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let mut sam = sam(&app).await;
    let page = sam.get(&app, &format!("/portal/agents/{}", s.a)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<h1>agent-alpha</h1>"));
    assert!(page.html.contains("Support agent blueprint"));
    let live = element(&page, "assignments", "</table>");
    assert!(live.contains("Read mailbox"), "{live}");
    assert!(live.contains("Delivered"), "{live}");
    assert!(
        live.contains(&format!(
            "<a href=\"/portal/assignments/{}\">Extend or remove access to Read mailbox</a>",
            s.held_assignment
        )),
        "{live}"
    );
    assert!(page.html.contains(&format!(
        "<a href=\"/portal/agents/{}/request\">Request access for agent-alpha</a>",
        s.a
    )));
    // The adminAdd that gave it is history.
    let history = element(&page, "history", "</table>");
    assert!(
        history.contains("Access request: Read mailbox"),
        "{history}"
    );
    // Through the group and as an owner, too.
    for agent in [&s.b, &s.c] {
        let page = sam.get(&app, &format!("/portal/agents/{agent}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    }
}

async fn another_sponsors_agent_gets_404_pages_and_its_forms_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let before = counts(&app).await;
    let mut otto = otto(&app).await;
    // A form of Otto's own: the request form for his agent.
    let csrf = otto
        .get(
            &app,
            &format!("/portal/agents/{}/request?policy={}", s.o, s.open_policy),
        )
        .await
        .csrf();
    for path in [
        format!("/portal/agents/{}", s.a),
        format!("/portal/agents/{}/request", s.a),
        format!("/portal/agents/{}/request?policy={}", s.a, s.open_policy),
        format!("/portal/assignments/{}", s.held_assignment),
        "/portal/agents/not-an-agent".to_owned(),
        format!("/portal/assignments/{}", "x".repeat(300)),
    ] {
        let page = otto.get(&app, &path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
        assert!(page.html.contains("<h1>Not found</h1>"), "{path}");
    }
    for (path, form) in [
        (
            format!("/portal/agents/{}/request", s.a),
            format!(
                "csrf_token={csrf}&policy={}&justification=x&answer.{}=T1",
                s.open_policy, s.text_q
            ),
        ),
        (
            format!("/portal/assignments/{}/extend", s.held_assignment),
            format!("csrf_token={csrf}&justification=x&answer.{}=T1", s.text_q),
        ),
        (
            format!("/portal/assignments/{}/remove", s.held_assignment),
            format!("csrf_token={csrf}&confirm=yes"),
        ),
    ] {
        let page = otto.post(&app, &path, &form).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
    }
    assert_eq!(counts(&app).await, before);
}

async fn the_request_page_offers_only_eligible_packages(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let mut sam = sam(&app).await;
    let page = sam
        .get(&app, &format!("/portal/agents/{}/request", s.a))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html
            .contains("<h1>Request access for agent-alpha</h1>")
    );
    let packages = element(&page, "packages", "</table>");
    assert!(
        packages.contains(&format!(
            "href=\"/portal/agents/{}/request?policy={}#request-form\"",
            s.a, s.open_policy
        )),
        "{packages}"
    );
    assert!(packages.contains("Needs a justification."), "{packages}");
    assert!(packages.contains("Asks 2 questions."), "{packages}");
    // Held already: shown as such, not requestable.
    let mail = &packages[packages.find("Read mailbox").unwrap()..];
    let mail = &mail[..mail.find("</tr>").unwrap()];
    assert!(mail.contains("Not requestable"), "{mail}");
    assert!(!mail.contains(&s.held_policy), "{mail}");
    assert!(!packages.contains("Admin console"), "{packages}");
    assert!(!page.html.contains("id=\"request-form\""));

    // A policy's form: its questions, justification required, no custom schedule.
    let page = sam
        .get(
            &app,
            &format!("/portal/agents/{}/request?policy={}", s.a, s.open_policy),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let form = element(&page, "request-form", "</form>");
    assert!(
        form.contains(&format!("name=\"answer.{}\"", s.text_q)),
        "{form}"
    );
    assert!(
        form.contains(&format!("<select id=\"q-{}\"", s.choice_q)),
        "{form}"
    );
    assert!(form.contains("Ticket? (required)"), "{form}");
    assert!(form.contains("Justification (required)"), "{form}");
    assert!(
        form.contains("Access lasts 7 days from its start."),
        "{form}"
    );
    assert!(!form.contains("name=\"start\""), "{form}");
    assert!(
        form.contains("Request Ticket triage for agent-alpha"),
        "{form}"
    );
    // The held package's policy offers no form; an unknown policy is a 404 page.
    let page = sam
        .get(
            &app,
            &format!("/portal/agents/{}/request?policy={}", s.a, s.held_policy),
        )
        .await;
    assert!(!page.html.contains("id=\"request-form\""));
    assert!(
        notice(&page).contains("cannot be requested now"),
        "{}",
        page.html
    );
    let page = sam
        .get(&app, &format!("/portal/agents/{}/request?policy=nope", s.a))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

async fn requesting_with_answers_creates_the_request_the_api_shows(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let mut sam = sam(&app).await;
    let path = format!("/portal/agents/{}/request", s.a);
    let page = sam
        .get(&app, &format!("{path}?policy={}", s.open_policy))
        .await;
    let form = format!(
        "csrf_token={}&policy={}&justification={}&answer.{}=T-42&answer.{}=eu",
        page.csrf(),
        s.open_policy,
        enc("triage rota"),
        s.text_q,
        s.choice_q
    );
    let done = sam.post(&app, &path, &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let location = done.location().unwrap();
    let request_id = location
        .strip_prefix("/portal/requests/")
        .and_then(|l| l.strip_suffix("?done=requested"))
        .unwrap_or_else(|| panic!("{location}"));
    // The request's page the form leads to announces the outcome.
    let landed = sam.get(&app, location).await;
    assert_eq!(landed.status, StatusCode::OK, "{}", landed.html);
    assert!(
        notice(&landed).contains("Your request was sent."),
        "{}",
        landed.html
    );
    let read = app
        .get(
            &format!("{EM}/assignmentRequests/{request_id}?$expand=requestor"),
            &app.admin,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["requestType"], "userAdd");
    let stored = app
        .store
        .assignment_request(request_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.target_id, s.a);
    assert_eq!(read.body["requestor"]["objectId"], s.sam.as_str());
    assert_eq!(read.body["justification"], "triage rota");
    let answers = read.body["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 2, "{}", read.body);
    assert_eq!(answers[0]["value"], "T-42");
    assert_eq!(answers[1]["value"], "eu");
    assert_eq!(answers[1]["displayValue"], "Europe");
}

async fn refused_requests_show_the_domains_message_and_create_nothing(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let mut sam = sam(&app).await;
    let path = format!("/portal/agents/{}/request", s.a);
    let csrf = sam
        .get(&app, &format!("/portal/assignments/{}", s.held_assignment))
        .await
        .csrf();
    let before = counts(&app).await;
    // No justification: the form again, the answers kept, the domain's message.
    let page = sam
        .post(
            &app,
            &path,
            &format!(
                "csrf_token={csrf}&policy={}&answer.{}=T-7",
                s.open_policy, s.text_q
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(
        notice(&page).contains("this policy requires a justification"),
        "{}",
        page.html
    );
    let form = element(&page, "request-form", "</form>");
    assert!(form.contains("value=\"T-7\""), "{form}");
    // A schedule where the policy allows none; a date that is not one.
    let page = sam
        .post(
            &app,
            &path,
            &format!(
                "csrf_token={csrf}&policy={}&justification=x&answer.{}=T&end=2030-01-01T10%3A00",
                s.open_policy, s.text_q
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(notice(&page).contains("does not allow a custom schedule"));
    let page = sam
        .post(
            &app,
            &path,
            &format!(
                "csrf_token={csrf}&policy={}&justification=x&answer.{}=T&end=tomorrow",
                s.open_policy, s.text_q
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(notice(&page).contains("is not a date and time"));
    assert_eq!(counts(&app).await, before);
}

async fn a_held_package_is_refused_with_the_domains_message(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let held_questions = app
        .get(
            &format!("{EM}/assignmentPolicies/{}", s.held_policy),
            &app.admin,
        )
        .await;
    let text_q = held_questions.body["questions"][0]["id"].as_str().unwrap();
    let mut sam = sam(&app).await;
    let csrf = sam
        .get(&app, &format!("/portal/assignments/{}", s.held_assignment))
        .await
        .csrf();
    let before = counts(&app).await;
    let page = sam
        .post(
            &app,
            &format!("/portal/agents/{}/request", s.a),
            &format!(
                "csrf_token={csrf}&policy={}&justification=x&answer.{text_q}=T-1",
                s.held_policy
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(
        notice(&page).contains("the target already has an assignment of this access package"),
        "{}",
        page.html
    );
    assert_eq!(counts(&app).await, before);
}

async fn extend_makes_a_user_update_and_the_end_waits_for_approval(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let assignment_path = format!("{EM}/assignments/{}", s.held_assignment);
    let end_before =
        app.get(&assignment_path, &app.admin).await.body["schedule"]["expiration"]["endDateTime"]
            .clone();
    let mut sam = sam(&app).await;
    let page = sam
        .get(&app, &format!("/portal/assignments/{}", s.held_assignment))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("<h1>Read mailbox for agent-alpha</h1>"));
    let form = element(&page, "extend-form", "</form>");
    assert!(
        form.contains("An approver must approve the extension"),
        "{form}"
    );
    assert!(
        form.contains("Extend access of agent-alpha to Read mailbox"),
        "{form}"
    );
    assert!(page.html.contains("id=\"remove-form\""));
    let held = app
        .get(
            &format!("{EM}/assignmentPolicies/{}", s.held_policy),
            &app.admin,
        )
        .await;
    let text_q = held.body["questions"][0]["id"].as_str().unwrap();
    let done = sam
        .post(
            &app,
            &format!("/portal/assignments/{}/extend", s.held_assignment),
            &format!(
                "csrf_token={}&justification=more&answer.{text_q}=T-9",
                page.csrf()
            ),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let location = done.location().unwrap();
    let request_id = location
        .strip_prefix("/portal/requests/")
        .and_then(|l| l.strip_suffix("?done=extension-requested"))
        .unwrap_or_else(|| panic!("{location}"));
    let landed = sam.get(&app, location).await;
    assert_eq!(landed.status, StatusCode::OK, "{}", landed.html);
    assert!(
        notice(&landed).contains("Your extension request was sent."),
        "{}",
        landed.html
    );
    run_jobs(&app).await;
    let read = app
        .get(&format!("{EM}/assignmentRequests/{request_id}"), &app.admin)
        .await;
    assert_eq!(read.body["requestType"], "userUpdate", "{}", read.body);
    assert_eq!(read.body["state"], "pendingApproval", "{}", read.body);
    let stored = app
        .store
        .assignment_request(request_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.assignment_id.as_deref(),
        Some(s.held_assignment.as_str())
    );
    let after = app.get(&assignment_path, &app.admin).await;
    assert_eq!(
        after.body["schedule"]["expiration"]["endDateTime"],
        end_before
    );
    // The page names the open extension and offers no second one.
    let page = sam
        .get(&app, &format!("/portal/assignments/{}", s.held_assignment))
        .await;
    assert!(
        page.html
            .contains(&format!("/portal/requests/{request_id}"))
    );
    assert!(!page.html.contains("id=\"extend-form\""));
    assert!(page.html.contains("An extension request is already open."));
}

async fn remove_ends_the_assignment_once_confirmed(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let mut sam = sam(&app).await;
    let path = format!("/portal/assignments/{}", s.held_assignment);
    let csrf = sam.get(&app, &path).await.csrf();
    let before = counts(&app).await;
    // Without the confirmation: nothing removed.
    let page = sam
        .post(
            &app,
            &format!("{path}/remove"),
            &format!("csrf_token={csrf}"),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(notice(&page).contains("tick the box"));
    assert_eq!(counts(&app).await, before);
    let done = sam
        .post(
            &app,
            &format!("{path}/remove"),
            &format!("csrf_token={csrf}&confirm=yes"),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(
        done.location(),
        Some(format!("{path}?done=removed").as_str())
    );
    let read = app
        .get(
            &format!("{EM}/assignments/{}", s.held_assignment),
            &app.admin,
        )
        .await;
    assert_eq!(read.body["state"], "expired", "{}", read.body);
    assert_eq!(read.body["status"], "Removed", "{}", read.body);
    let page = sam.get(&app, &format!("{path}?done=removed")).await;
    assert!(notice(&page).contains("Access removed"), "{}", page.html);
    assert!(!page.html.contains("id=\"remove-form\""));
    assert!(!page.html.contains("id=\"extend-form\""));
}

async fn every_form_refuses_a_missing_or_wrong_csrf_token(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let mut sam = sam(&app).await;
    let before = counts(&app).await;
    for token in ["", "csrf_token=wrong&"] {
        for (path, form) in [
            (
                format!("/portal/agents/{}/request", s.a),
                format!(
                    "policy={}&justification=x&answer.{}=T",
                    s.open_policy, s.text_q
                ),
            ),
            (
                format!("/portal/assignments/{}/extend", s.held_assignment),
                "justification=x".to_owned(),
            ),
            (
                format!("/portal/assignments/{}/remove", s.held_assignment),
                "confirm=yes".to_owned(),
            ),
        ] {
            let page = sam.post(&app, &path, &format!("{token}{form}")).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.html);
        }
    }
    assert_eq!(counts(&app).await, before);
}

async fn a_bearer_token_opens_no_page_and_links_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let (agent_token, _) =
        crate::agents::agent_token(&app, &s.a, "https://graph.microsoft.com/.default").await;
    for token in [&app.admin, &agent_token] {
        for path in [
            "/portal/agents".to_owned(),
            format!("/portal/agents/{}", s.a),
            format!("/portal/agents/{}/request", s.a),
            format!("/portal/assignments/{}", s.held_assignment),
        ] {
            let reply = app.get(&path, token).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
        }
    }
    // Following every link twice changes nothing.
    let mut sam = sam(&app).await;
    let before = counts(&app).await;
    for _ in 0..2 {
        for path in [
            "/portal/agents".to_owned(),
            format!("/portal/agents/{}", s.a),
            format!("/portal/agents/{}/request", s.a),
            format!("/portal/agents/{}/request?policy={}", s.a, s.open_policy),
            format!("/portal/assignments/{}", s.held_assignment),
            format!("/portal/assignments/{}?done=removed", s.held_assignment),
        ] {
            let page = sam.get(&app, &path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
        }
    }
    assert_eq!(counts(&app).await, before);
    // Signed out, a page sends to sign-in and returns here.
    let page = Browser::default()
        .get(&app, &format!("/portal/agents/{}", s.a))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

async fn my_agents_pages_by_a_hundred(backend: Backend) {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    for n in 0..150 {
        let reply = create_agent(&app, &fleet, &format!("bulk-{n:03}"), &[&fleet.sponsor]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let mut sam = sam(&app).await;
    let first = sam.get(&app, "/portal/agents").await;
    let table = element(&first, "agents", "</table>");
    assert_eq!(table.matches("<tr>").count(), 101, "a header and 100 rows");
    assert!(table.contains("bulk-000") && table.contains("bulk-099"));
    assert!(!table.contains("bulk-100"));
    assert!(
        first
            .html
            .contains("<a href=\"/portal/agents?page=1\">Next page</a>")
    );
    assert!(!first.html.contains("Previous page"));
    let second = sam.get(&app, "/portal/agents?page=1").await;
    let table = element(&second, "agents", "</table>");
    assert_eq!(table.matches("<tr>").count(), 51);
    assert!(table.contains("bulk-100") && table.contains("bulk-149"));
    assert!(
        second
            .html
            .contains("<a href=\"/portal/agents?page=0\">Previous page</a>")
    );
    assert!(!second.html.contains("Next page"));
}

async fn a_custom_schedule_is_asked_only_where_the_policy_allows_it(backend: Backend) {
    let app = app(backend).await;
    let s = scene(&app).await;
    let catalog = app.get(&format!("{EM}/catalogs"), &app.admin).await.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["displayName"] == "Agents")
        .map(id)
        .unwrap();
    let package = id(&post(
        &app,
        &format!("{EM}/accessPackages"),
        json!({"displayName": "Night shift", "catalog": {"id": catalog}}),
    )
    .await);
    let policy = id(&post(
        &app,
        &format!("{EM}/assignmentPolicies"),
        json!({
            "displayName": "Sponsors choose when", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "P7D"},
            "requestorSettings": {
                "enableOnBehalfRequestorsToAddAccess": true, "allowCustomAssignmentSchedule": true,
                "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
            },
            "accessPackage": {"id": package},
        }),
    )
    .await);
    let mut sam = sam(&app).await;
    let path = format!("/portal/agents/{}/request", s.b);
    let page = sam.get(&app, &format!("{path}?policy={policy}")).await;
    let form = element(&page, "request-form", "</form>");
    assert!(form.contains("<label for=\"start\">"), "{form}");
    assert!(form.contains("<label for=\"end\">"), "{form}");
    assert!(form.contains("Justification (optional)"), "{form}");
    let end = app.clock.now() + time::Duration::days(2);
    let end_text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        end.year(),
        u8::from(end.month()),
        end.day(),
        end.hour(),
        end.minute()
    );
    let done = sam
        .post(
            &app,
            &path,
            &format!(
                "csrf_token={}&policy={policy}&end={}",
                page.csrf(),
                enc(&end_text)
            ),
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let request_id = done
        .location()
        .unwrap()
        .strip_prefix("/portal/requests/")
        .unwrap()
        .strip_suffix("?done=requested")
        .unwrap()
        .to_owned();
    let read = app
        .get(&format!("{EM}/assignmentRequests/{request_id}"), &app.admin)
        .await;
    assert_eq!(read.body["schedule"]["expiration"]["type"], "afterDateTime");
    assert_eq!(
        read.body["schedule"]["expiration"]["endDateTime"],
        format!("{end_text}:00Z")
    );
}

crate::on_both_backends!(
    my_agents_lists_exactly_the_persons_agents,
    the_agent_page_shows_its_access,
    another_sponsors_agent_gets_404_pages_and_its_forms_change_nothing,
    the_request_page_offers_only_eligible_packages,
    requesting_with_answers_creates_the_request_the_api_shows,
    refused_requests_show_the_domains_message_and_create_nothing,
    a_held_package_is_refused_with_the_domains_message,
    extend_makes_a_user_update_and_the_end_waits_for_approval,
    remove_ends_the_assignment_once_confirmed,
    every_form_refuses_a_missing_or_wrong_csrf_token,
    a_bearer_token_opens_no_page_and_links_change_nothing,
    my_agents_pages_by_a_hundred,
    a_custom_schedule_is_asked_only_where_the_policy_allows_it,
);

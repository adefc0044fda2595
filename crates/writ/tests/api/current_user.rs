//! `filterByCurrentUser(on='…')` of assignment requests, assignments and approvals, for every
//! value of each `on` enumeration: which rows each caller gets and which it does not (a sponsor
//! through a sponsor group, the sponsor of an agent user's parent, a human owner but not an agent
//! owner, a manager, a sponsor of a human who is not an agent), the parameter in any case and with
//! percent-encoded quotes, `$filter`/paging/`$count` applied in the query, and `400 invalidRequest`
//! listing the accepted values for `unknownFutureValue` and unknown values.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::json;
use writ_store::Backend;

use crate::agents::{Fleet, agent_token, fleet, user_url};
use crate::harness::{PUBLIC_URL, TestApp, app, id, post};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";

async fn link(app: &TestApp, method: Method, path: &str, object: &str) {
    let reply = app
        .send(
            method,
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

async fn run_jobs(app: &TestApp) {
    app.run_jobs().await;
}

async fn login(app: &TestApp, nickname: &str) -> String {
    let reply = app
        .password_token(&format!("{nickname}@example.org"), "a long passphrase 1")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

/// An agent identity of the fleet with the given sponsors (users or groups).
async fn agent(app: &TestApp, fleet: &Fleet, name: &str, sponsors: &[&str]) -> String {
    let binds: Vec<String> = sponsors
        .iter()
        .map(|s| format!("{PUBLIC_URL}/v1.0/directoryObjects/{s}"))
        .collect();
    id(&post(
        app,
        &app.admin,
        "/v1.0/servicePrincipals",
        json!({
            "@odata.type": "#microsoft.graph.agentIdentity",
            "displayName": name,
            "agentIdentityBlueprintId": fleet.blueprint_app_id,
            "sponsors@odata.bind": binds,
        }),
    )
    .await)
}

/// The ids of every item of a collection, following `@odata.nextLink`.
async fn ids(app: &TestApp, path: &str, token: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut next = Some(path.to_owned());
    while let Some(uri) = next {
        let reply = app.get(&uri, token).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
        for item in reply.body["value"].as_array().unwrap() {
            assert!(out.insert(id(item)), "{uri}: an item twice: {}", reply.body);
        }
        next = reply.body["@odata.nextLink"]
            .as_str()
            .map(|l| l.strip_prefix(PUBLIC_URL).unwrap().to_owned());
    }
    out
}

fn set(items: &[&String]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).clone()).collect()
}

/// The directory and the requests of the scenario. Sam sponsors agents A and C and the human
/// Hugh; Gina is a member of the group that sponsors agent B; Olive and agent A own C; Pat
/// sponsors agent D, whose agent user U has no sponsor of its own; Mona is Hugh's manager.
pub(crate) struct World {
    pub sam: String,
    pub gina: String,
    pub olive: String,
    pub pat: String,
    pub mona: String,
    pub hugh: String,
    pub a: String,
    pub b: String,
    pub c: String,
    pub d: String,
    pub u: String,
    pub p2: String,
    /// The administrator's adminAdd of P1 for A, B, C, U, Hugh (delivered).
    pub r1: String,
    pub r2: String,
    pub r3: String,
    pub r4: String,
    pub r5: String,
    /// Sam's userAdd of P2 for A and C's userAdd of P2 for itself (delivered); B's userAdd of P3
    /// for itself, pending its sponsor group's approval.
    pub r6: String,
    pub r7: String,
    pub r8: String,
}

pub(crate) async fn world(app: &TestApp) -> World {
    let fleet = fleet(app).await;
    let sam = fleet.sponsor.clone();
    let gina = app.create_user("Gina Groupmember").await;
    let olive = app.create_user("Olive Owner").await;
    let pat = app.create_user("Pat Parentsponsor").await;
    let mona = app.create_user("Mona Manager").await;
    let hugh = app.create_user("Hugh Human").await;
    let group = app.create_group("Agent Sponsors").await;
    link(
        app,
        Method::POST,
        &format!("/v1.0/groups/{group}/members/$ref"),
        &gina,
    )
    .await;
    let reply = app
        .send(
            Method::PUT,
            &format!("/v1.0/users/{hugh}/manager/$ref"),
            &app.admin,
            json!({"@odata.id": user_url(&mona)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    // Sam sponsors Hugh, a human: that makes no request of Hugh's an agent sponsor's.
    link(
        app,
        Method::POST,
        &format!("/v1.0/users/{hugh}/sponsors/$ref"),
        &sam,
    )
    .await;

    // A: sponsored by Sam. B: by the group. C: by Sam, owned by Olive and by agent A.
    // D: sponsored by Pat; U, an agent user of D, without sponsors of its own.
    let a = agent(app, &fleet, "agent-a", &[&sam]).await;
    let b = agent(app, &fleet, "agent-b", &[&group]).await;
    let c = agent(app, &fleet, "agent-c", &[&sam]).await;
    let d = agent(app, &fleet, "agent-d", &[&pat]).await;
    for owner in [&olive, &a] {
        link(
            app,
            Method::POST,
            &format!("/v1.0/servicePrincipals/{c}/owners/$ref"),
            owner,
        )
        .await;
    }
    let u = id(&post(
        app,
        &app.admin,
        "/v1.0/users",
        json!({
            "@odata.type": "#microsoft.graph.agentUser",
            "displayName": "agent-d user", "userPrincipalName": "agent-d@example.org",
            "mailNickname": "agent-d", "accountEnabled": true, "identityParentId": d,
        }),
    )
    .await);

    let catalog = id(&post(
        app,
        &app.admin,
        &format!("{EM}/catalogs"),
        json!({"displayName": "Agents"}),
    )
    .await);
    let package = |name: &str| json!({"displayName": name, "catalog": {"id": catalog}});
    let p1 = id(&post(
        app,
        &app.admin,
        &format!("{EM}/accessPackages"),
        package("P1"),
    )
    .await);
    let p2 = id(&post(
        app,
        &app.admin,
        &format!("{EM}/accessPackages"),
        package("P2"),
    )
    .await);
    let p3 = id(&post(
        app,
        &app.admin,
        &format!("{EM}/accessPackages"),
        package("P3"),
    )
    .await);
    let admin_only = id(&post(
        app,
        &app.admin,
        &format!("{EM}/assignmentPolicies"),
        json!({
            "displayName": "Admin only", "allowedTargetScope": "notSpecified",
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "accessPackage": {"id": p1},
        }),
    )
    .await);
    let self_service = |package: &str, approval: bool| {
        json!({
            "displayName": "Agents and sponsors", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "requestorSettings": {
                "enableTargetsToSelfAddAccess": true, "enableOnBehalfRequestorsToAddAccess": true,
                "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
            },
            "requestApprovalSettings": if approval {
                json!({"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false, "stages": [{
                    "durationBeforeAutomaticDenial": "P7D",
                    "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
                }]})
            } else {
                json!({"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "stages": []})
            },
            "accessPackage": {"id": package},
        })
    };
    let y = id(&post(
        app,
        &app.admin,
        &format!("{EM}/assignmentPolicies"),
        self_service(&p2, false),
    )
    .await);
    let z = id(&post(
        app,
        &app.admin,
        &format!("{EM}/assignmentPolicies"),
        self_service(&p3, true),
    )
    .await);

    let requests = format!("{EM}/assignmentRequests");
    let mut admin_adds = Vec::new();
    for target in [&a, &b, &c, &u, &hugh] {
        admin_adds.push(id(&post(app, &app.admin, &requests, json!({
            "requestType": "adminAdd",
            "assignment": {"targetId": target, "assignmentPolicyId": admin_only, "accessPackageId": p1},
        }))
        .await));
    }
    let sam_token = login(app, "samsponsor").await;
    let r6 = id(&post(
        app,
        &sam_token,
        &requests,
        json!({
            "requestType": "userAdd",
            "assignment": {"targetId": a, "assignmentPolicyId": y, "accessPackageId": p2},
        }),
    )
    .await);
    let (c_token, _) = agent_token(app, &c, "https://graph.microsoft.com/.default").await;
    let r7 = id(&post(
        app,
        &c_token,
        &requests,
        json!({
            "requestType": "userAdd",
            "assignment": {"assignmentPolicyId": y, "accessPackageId": p2},
        }),
    )
    .await);
    let (b_token, _) = agent_token(app, &b, "https://graph.microsoft.com/.default").await;
    let r8 = id(&post(
        app,
        &b_token,
        &requests,
        json!({
            "requestType": "userAdd",
            "assignment": {"assignmentPolicyId": z, "accessPackageId": p3},
        }),
    )
    .await);
    run_jobs(app).await;
    let [r1, r2, r3, r4, r5] = <[String; 5]>::try_from(admin_adds).unwrap();
    World {
        sam,
        gina,
        olive,
        pat,
        mona,
        hugh,
        a,
        b,
        c,
        d,
        u,
        p2,
        r1,
        r2,
        r3,
        r4,
        r5,
        r6,
        r7,
        r8,
    }
}

/// The assignment each request created, by request id.
async fn assignment_of(app: &TestApp, request: &str) -> String {
    let reply = app
        .get(
            &format!("{EM}/assignmentRequests/{request}?$expand=assignment"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.body["state"], "delivered", "{}", reply.body);
    id(&reply.body["assignment"])
}

async fn every_on_value_selects_the_callers_rows(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let sam = login(&app, "samsponsor").await;
    let gina = login(&app, "ginagroupmember").await;
    let olive = login(&app, "oliveowner").await;
    let pat = login(&app, "patparentsponsor").await;
    let mona = login(&app, "monamanager").await;
    let hugh = login(&app, "hughhuman").await;
    let (a, _) = agent_token(&app, &w.a, "https://graph.microsoft.com/.default").await;
    let (b, _) = agent_token(&app, &w.b, "https://graph.microsoft.com/.default").await;
    let (c, _) = agent_token(&app, &w.c, "https://graph.microsoft.com/.default").await;

    let requests = |on: &str| format!("{EM}/assignmentRequests/filterByCurrentUser(on='{on}')");
    let cases: Vec<(&str, &str, &String, BTreeSet<String>)> = vec![
        ("target", "agent A", &a, set(&[&w.r1, &w.r6])),
        ("target", "Hugh", &hugh, set(&[&w.r5])),
        ("target", "Sam", &sam, set(&[])),
        ("createdBy", "Sam", &sam, set(&[&w.r6])),
        ("createdBy", "agent C", &c, set(&[&w.r7])),
        ("targetOrRequestor", "agent C", &c, set(&[&w.r3, &w.r7])),
        ("targetOrRequestor", "Sam", &sam, set(&[&w.r6])),
        ("targetOrRequestor", "agent B", &b, set(&[&w.r2, &w.r8])),
        ("requestForOthers", "Sam", &sam, set(&[&w.r6])),
        ("requestForOthers", "agent C (for itself)", &c, set(&[])),
        ("targetManager", "Mona", &mona, set(&[&w.r5])),
        ("targetManager", "Sam", &sam, set(&[])),
        // Sam sponsors A and C (not Hugh, a human it sponsors, nor B, U).
        (
            "targetAgentIdentitySponsorOrOwner",
            "Sam",
            &sam,
            set(&[&w.r1, &w.r6, &w.r3, &w.r7]),
        ),
        // Gina through the sponsor group of B.
        (
            "targetAgentIdentitySponsorOrOwner",
            "Gina",
            &gina,
            set(&[&w.r2, &w.r8]),
        ),
        // Olive owns C.
        (
            "targetAgentIdentitySponsorOrOwner",
            "Olive",
            &olive,
            set(&[&w.r3, &w.r7]),
        ),
        // Pat sponsors D, the parent of agent user U.
        (
            "targetAgentIdentitySponsorOrOwner",
            "Pat",
            &pat,
            set(&[&w.r4]),
        ),
        // Agent A owns C too, but an agent never sponsors or owns in this sense.
        ("targetAgentIdentitySponsorOrOwner", "agent A", &a, set(&[])),
        ("targetAgentIdentitySponsorOrOwner", "Hugh", &hugh, set(&[])),
        // The stage of B's request for P3 went to its sponsor group: Gina.
        ("approver", "Gina", &gina, set(&[&w.r8])),
        ("approver", "Sam", &sam, set(&[])),
        ("approver", "agent B", &b, set(&[])),
    ];
    let mut failures = Vec::new();
    for (on, who, token, expected) in &cases {
        let got = ids(&app, &requests(on), token).await;
        if &got != expected {
            failures.push(format!(
                "requests on='{on}' as {who}: expected {expected:?}, got {got:?}"
            ));
        }
    }

    // Assignments: target, createdBy (the creating request's requestor), targetManager, sponsors.
    let a1 = assignment_of(&app, &w.r1).await;
    let a2 = assignment_of(&app, &w.r2).await;
    let a3 = assignment_of(&app, &w.r3).await;
    let a4 = assignment_of(&app, &w.r4).await;
    let a5 = assignment_of(&app, &w.r5).await;
    let a6 = assignment_of(&app, &w.r6).await;
    let a7 = assignment_of(&app, &w.r7).await;
    let assignments = |on: &str| format!("{EM}/assignments/filterByCurrentUser(on='{on}')");
    let cases: Vec<(&str, &str, &String, BTreeSet<String>)> = vec![
        ("target", "agent A", &a, set(&[&a1, &a6])),
        ("createdBy", "Sam", &sam, set(&[&a6])),
        ("createdBy", "agent C", &c, set(&[&a7])),
        ("targetManager", "Mona", &mona, set(&[&a5])),
        ("targetManager", "Gina", &gina, set(&[])),
        (
            "targetAgentIdentitySponsorOrOwner",
            "Sam",
            &sam,
            set(&[&a1, &a6, &a3, &a7]),
        ),
        (
            "targetAgentIdentitySponsorOrOwner",
            "Gina",
            &gina,
            set(&[&a2]),
        ),
        (
            "targetAgentIdentitySponsorOrOwner",
            "Olive",
            &olive,
            set(&[&a3, &a7]),
        ),
        (
            "targetAgentIdentitySponsorOrOwner",
            "Pat",
            &pat,
            set(&[&a4]),
        ),
        ("targetAgentIdentitySponsorOrOwner", "agent A", &a, set(&[])),
        ("targetAgentIdentitySponsorOrOwner", "Mona", &mona, set(&[])),
    ];
    for (on, who, token, expected) in &cases {
        let got = ids(&app, &assignments(on), token).await;
        if &got != expected {
            failures.push(format!(
                "assignments on='{on}' as {who}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // $filter, paging and $count apply inside the caller's rows.
    let sponsored = requests("targetAgentIdentitySponsorOrOwner");
    let page = app
        .get(&format!("{sponsored}?$top=3&$count=true"), &sam)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["value"].as_array().unwrap().len(), 3);
    assert_eq!(page.body["@odata.count"], 4);
    assert!(page.body["@odata.nextLink"].is_string(), "{}", page.body);
    assert_eq!(
        ids(&app, &format!("{sponsored}?$top=1"), &sam).await.len(),
        4,
        "one at a time, following the links"
    );
    assert_eq!(
        ids(
            &app,
            &format!("{sponsored}?$filter=accessPackage/id%20eq%20'{}'", w.p2),
            &sam
        )
        .await,
        set(&[&w.r6, &w.r7])
    );
    let expanded = app
        .get(
            &format!(
                "{}?$filter=target/objectId%20eq%20'{}'&$expand=requestor",
                requests("targetOrRequestor"),
                w.c
            ),
            &c,
        )
        .await;
    assert_eq!(expanded.status, StatusCode::OK, "{}", expanded.body);
    for item in expanded.body["value"].as_array().unwrap() {
        assert!(item["requestor"]["objectId"].is_string(), "{item}");
    }
    let bad = app
        .get(&format!("{sponsored}?$filter=displayName%20eq%20'x'"), &sam)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert_eq!(bad.error_code(), "invalidRequest");

    // What these lists show the caller, it may read one by one; others still get 404.
    let readable = |path: String, token: &String| {
        let app = &app;
        let token = token.clone();
        async move { app.get(&path, &token).await.status }
    };
    assert_eq!(
        readable(format!("{EM}/assignmentRequests/{}", w.r5), &mona).await,
        StatusCode::OK,
        "the target's manager"
    );
    assert_eq!(
        readable(format!("{EM}/assignments/{a5}"), &mona).await,
        StatusCode::OK
    );
    assert_eq!(
        readable(format!("{EM}/assignmentRequests/{}", w.r6), &sam).await,
        StatusCode::OK,
        "a sponsor of the target"
    );
    let (_, outsider) = app.user_token("Otto Outsider").await;
    assert_eq!(
        readable(format!("{EM}/assignmentRequests/{}", w.r5), &outsider).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        readable(format!("{EM}/assignments/{a5}"), &outsider).await,
        StatusCode::NOT_FOUND
    );
}

async fn the_on_parameter_is_an_evolvable_enumeration(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let sam = login(&app, "samsponsor").await;
    let mona = login(&app, "monamanager").await;
    let sponsored = set(&[&w.r1, &w.r6, &w.r3, &w.r7]);
    // Any case, literal or percent-encoded quotes, the enumeration's qualified literal.
    for path in [
        "assignmentRequests/filterByCurrentUser(on='TARGETAGENTIDENTITYSPONSOROROWNER')",
        "assignmentRequests/filterByCurrentUser(on=%27targetAgentIdentitySponsorOrOwner%27)",
        "assignmentRequests/filterByCurrentUser(on=%27TargetAgentIdentitySponsorOrOwner%27)",
        "assignmentRequests/filterByCurrentUser(on=microsoft.graph.accessPackageAssignmentRequestFilterByCurrentUserOptions'targetAgentIdentitySponsorOrOwner')",
    ] {
        assert_eq!(
            ids(&app, &format!("{EM}/{path}"), &sam).await,
            sponsored,
            "{path}"
        );
    }
    for path in [
        "assignments/filterByCurrentUser(on='TargetManager')",
        "assignments/filterByCurrentUser(on=%27targetmanager%27)",
    ] {
        assert_eq!(
            ids(&app, &format!("{EM}/{path}"), &mona).await.len(),
            1,
            "{path}"
        );
    }
    assert_eq!(
        ids(
            &app,
            &format!("{EM}/assignmentRequests/filterByCurrentUser(on='CreatedBy')"),
            &sam
        )
        .await,
        set(&[&w.r6])
    );
    assert_eq!(
        app.get(
            &format!("{EM}/accessPackages/filterByCurrentUser(on=%27ALLOWEDREQUESTOR%27)"),
            &sam
        )
        .await
        .status,
        StatusCode::OK
    );
    let beta = app
        .get(
            "/beta/identityGovernance/entitlementManagement/assignmentRequests/filterByCurrentUser(on='createdBy')",
            &sam,
        )
        .await;
    assert_eq!(beta.status, StatusCode::OK, "{}", beta.body);

    // unknownFutureValue, unknown values, members of another function's enumeration, and
    // malformed arguments: 400 invalidRequest, naming the accepted values where it helps.
    let refused: &[(&str, &[&str])] = &[
        (
            "assignmentRequests/filterByCurrentUser(on='unknownFutureValue')",
            &[
                "'targetOrRequestor'",
                "'targetAgentIdentitySponsorOrOwner'",
                "'approver'",
            ],
        ),
        (
            "assignmentRequests/filterByCurrentUser(on=%27UnknownFutureValue%27)",
            &["'requestForOthers'"],
        ),
        (
            "assignmentRequests/filterByCurrentUser(on='everyone')",
            &["'target'", "'createdBy'", "'targetManager'"],
        ),
        (
            "assignments/filterByCurrentUser(on='approver')",
            &[
                "'target'",
                "'createdBy'",
                "'targetManager'",
                "'targetAgentIdentitySponsorOrOwner'",
            ],
        ),
        (
            "assignments/filterByCurrentUser(on='unknownFutureValue')",
            &["'targetAgentIdentitySponsorOrOwner'"],
        ),
        (
            "assignments/filterByCurrentUser(on='requestForOthers')",
            &["'targetManager'"],
        ),
        (
            "accessPackageAssignmentApprovals/filterByCurrentUser(on='targetManager')",
            &["'approver'", "'target'", "'createdBy'"],
        ),
        (
            "accessPackageAssignmentApprovals/filterByCurrentUser(on='unknownFutureValue')",
            &["'approver'"],
        ),
        (
            "accessPackages/filterByCurrentUser(on='unknownFutureValue')",
            &["'allowedRequestor'"],
        ),
        (
            "assignmentRequests/filterByCurrentUser(on=target)",
            &["'target'"],
        ),
        ("assignmentRequests/filterByCurrentUser()", &["'target'"]),
        (
            "assignmentRequests/filterByCurrentUser(by='target')",
            &["'on'"],
        ),
    ];
    for (path, names) in refused {
        let reply = app.get(&format!("{EM}/{path}"), &sam).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "invalidRequest", "{path}");
        let message = reply.body["error"]["message"].as_str().unwrap();
        for name in *names {
            assert!(message.contains(name), "{path}: {message}");
        }
        assert!(
            !message.contains("'unknownFutureValue',"),
            "unknownFutureValue is not offered: {message}"
        );
    }
    // Without a token: 401 before anything is parsed.
    let reply = app
        .request(
            Method::GET,
            &format!("{EM}/assignmentRequests/filterByCurrentUser(on='nonsense')"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

async fn approvals_of_the_current_user(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let sam = login(&app, "samsponsor").await;
    let gina = login(&app, "ginagroupmember").await;
    let (b, _) = agent_token(&app, &w.b, "https://graph.microsoft.com/.default").await;
    let approvals = |on: &str| format!("{APPROVALS}/filterByCurrentUser(on='{on}')");

    // Gina may decide B's request: its approval, as GET …/{id} answers it, stages inline.
    let mine = app.get(&approvals("approver"), &gina).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.body);
    assert!(
        mine.body["@odata.context"].as_str().unwrap().ends_with(
            "$metadata#identityGovernance/entitlementManagement/accessPackageAssignmentApprovals"
        ),
        "{}",
        mine.body
    );
    let items = mine.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", mine.body);
    assert_eq!(items[0]["id"], w.r8.as_str());
    let single = app.get(&format!("{APPROVALS}/{}", w.r8), &gina).await;
    let mut listed = items[0].clone();
    listed["@odata.context"] = single.body["@odata.context"].clone();
    assert_eq!(
        listed, single.body,
        "the list item is the approval as read alone"
    );
    assert_eq!(items[0]["stages"][0]["assignedToMe"], true);
    assert_eq!(items[0]["stages"][0]["status"], "InProgress");

    // The target and the requestor (B asked for itself) see it too; nobody else does. Requests
    // without approval stages have no approval.
    assert_eq!(ids(&app, &approvals("target"), &b).await, set(&[&w.r8]));
    assert_eq!(ids(&app, &approvals("CreatedBy"), &b).await, set(&[&w.r8]));
    let as_target = app.get(&approvals("target"), &b).await;
    assert_eq!(
        as_target.body["value"][0]["stages"][0]["assignedToMe"],
        false
    );
    for (on, token) in [("approver", &sam), ("approver", &b), ("target", &gina)] {
        assert!(
            ids(&app, &approvals(on), token).await.is_empty(),
            "{on} as another caller"
        );
    }
    assert!(
        ids(&app, &approvals("createdBy"), &sam).await.is_empty(),
        "Sam's on-behalf request had no approval"
    );
    // $filter on id, $count, and a property an approval does not have.
    let filtered = app
        .get(
            &format!(
                "{}?$filter=id%20eq%20'{}'&$count=true",
                approvals("approver"),
                w.r8
            ),
            &gina,
        )
        .await;
    assert_eq!(filtered.body["@odata.count"], 1, "{}", filtered.body);
    let bad = app
        .get(
            &format!(
                "{}?$filter=state%20eq%20'pendingApproval'",
                approvals("approver")
            ),
            &gina,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // Once decided, it is no longer Gina's to decide; the requests list follows.
    let stage = id(&items[0]["stages"][0]);
    let decided = app
        .send(
            Method::PATCH,
            &format!("{APPROVALS}/{}/stages/{stage}", w.r8),
            &gina,
            json!({"reviewResult": "Approve"}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::NO_CONTENT, "{}", decided.body);
    assert!(ids(&app, &approvals("approver"), &gina).await.is_empty());
    assert!(
        ids(
            &app,
            &format!("{EM}/assignmentRequests/filterByCurrentUser(on='approver')"),
            &gina
        )
        .await
        .is_empty()
    );
    let after = app.get(&approvals("target"), &b).await;
    assert_eq!(
        after.body["value"][0]["stages"][0]["reviewResult"],
        "Approved"
    );
}

crate::on_both_backends!(
    every_on_value_selects_the_callers_rows,
    the_on_parameter_is_an_evolvable_enumeration,
    approvals_of_the_current_user,
);

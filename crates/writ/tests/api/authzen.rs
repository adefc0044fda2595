//! Access evaluation (issue 18 part F, DESIGN section 16; OpenID AuthZEN Authorization API 1.0):
//! a decision that follows delivery, expiry and removal at their exact instants; a denial that
//! lists the packages the subject may request (and not a hidden one, or one it may not request),
//! whose request body, posted as given, gets the access; every kind of grant; who may ask about
//! whom, without revealing who exists; batch defaults and semantics; bad bodies; the metadata.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::jobs::PassReport;
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet, user_url};
use crate::harness::{PUBLIC_URL, Reply, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const API_SCOPE: &str = "https://graph.microsoft.com/.default";
const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
const ORDERS_READ_ROLE: &str = "4b1a7c2e-1f3d-4e5a-8b6c-7d8e9f0a1b2c";
const NOTES_READ: &str = "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b";
const NOTES_WRITE: &str = "8b2d3f4a-5c6e-4f7a-9b0c-1d2e3f4a5b6c";
const NOWHERE: &str = "6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b";

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

async fn run_jobs(app: &TestApp) -> PassReport {
    app.run_jobs().await
}

async fn login(app: &TestApp, nickname: &str) -> String {
    let reply = app
        .password_token(&format!("{nickname}@example.org"), crate::harness::PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

fn subject(agent: &str) -> Value {
    json!({"type": "agent", "id": agent})
}

fn group(group: &str) -> Value {
    json!({"type": "group", "id": group})
}

fn ask(subject: Value, resource: Value, action: &str) -> Value {
    json!({"subject": subject, "resource": resource, "action": {"name": action}})
}

async fn evaluate(app: &TestApp, token: &str, body: Value) -> Reply {
    app.send(Method::POST, "/access/v1/evaluation", token, body)
        .await
}

/// The decision, asserting a `200`.
async fn decision(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = evaluate(app, token, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn add_member(app: &TestApp, group: &str, member: &str) {
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{group}/members/$ref"),
            &app.admin,
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/directoryObjects/{member}")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

struct Setup {
    catalog: String,
    agent: String,
    sponsor: String,
    group: String,
    package: String,
    policy: String,
}

/// An agent sponsored by Sam; a group in a catalog; "Release duty" granting its membership
/// under a policy agents may request (two hours, justification required, no approval); a
/// hidden package granting the same under the same kind of policy; "Admins only" granting the
/// same under an administrators' policy.
async fn setup(app: &TestApp) -> Setup {
    let fleet = fleet(app).await;
    let agent = id(
        &create_agent(app, &fleet, "release-agent", &[&fleet.sponsor])
            .await
            .body,
    );
    let group = app.create_group("Release managers").await;
    let catalog = app
        .created(
            &app.admin,
            &format!("{EM}/catalogs"),
            json!({"displayName": "Release"}),
        )
        .await;
    app.onboard_group(&app.admin, &catalog, &group).await;
    let agents_policy = |package: &str, name: &str| {
        json!({
            "displayName": name, "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "requestorSettings": {"enableTargetsToSelfAddAccess": true},
            "requestApprovalSettings": {"isApprovalRequiredForAdd": false, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": true, "stages": []},
            "accessPackage": {"id": package},
        })
    };
    let package = app
        .member_package(&app.admin, &catalog, &group, "Release duty")
        .await;
    let policy = app
        .created(
            &app.admin,
            &format!("{EM}/assignmentPolicies"),
            agents_policy(&package, "Agents, two hours"),
        )
        .await;
    let hidden = app
        .member_package(&app.admin, &catalog, &group, "Hidden duty")
        .await;
    let reply = app
        .send(
            Method::PATCH,
            &format!("{EM}/accessPackages/{hidden}"),
            &app.admin,
            json!({"isHidden": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    app.created(
        &app.admin,
        &format!("{EM}/assignmentPolicies"),
        agents_policy(&hidden, "Agents, hidden"),
    )
    .await;
    let admins = app
        .member_package(&app.admin, &catalog, &group, "Admins only")
        .await;
    app.admin_policy(&app.admin, &admins).await;
    Setup {
        catalog,
        agent,
        sponsor: fleet.sponsor,
        group,
        package,
        policy,
    }
}

async fn a_denial_names_what_to_request_and_the_decision_follows_the_grant(backend: Backend) {
    let mut app = app(backend).await;
    // Whole seconds, so the assignment's end is an instant the test can set the clock to.
    let start = app.clock.now().replace_nanosecond(0).unwrap();
    app.clock.set(start);
    let s = setup(&app).await;
    let (token, _) = agent_token(&app, &s.agent, API_SCOPE).await;
    let question = ask(subject(&s.agent), group(&s.group), "member");

    let denied = decision(&app, &token, question.clone()).await;
    assert_eq!(denied["decision"], false, "{denied}");
    assert_eq!(denied["context"]["reason"], "notGranted");
    let requestable = denied["context"]["requestable"].as_array().unwrap();
    // Only the package the agent may request: not the hidden one, not the administrators'.
    assert_eq!(requestable.len(), 1, "{denied}");
    let offer = &requestable[0];
    assert_eq!(offer["accessPackageId"], s.package.as_str());
    assert_eq!(offer["accessPackageDisplayName"], "Release duty");
    assert_eq!(offer["assignmentPolicyId"], s.policy.as_str());
    assert_eq!(offer["isApprovalRequired"], false);
    assert_eq!(offer["isRequestorJustificationRequired"], true);
    assert_eq!(offer["maximumDuration"], "PT2H");
    assert_eq!(
        offer["requestUrl"],
        format!("{PUBLIC_URL}{EM}/assignmentRequests")
    );
    assert_eq!(
        offer["requestBody"]["assignment"]["targetId"],
        s.agent.as_str()
    );

    // The body as given, with a justification written, gets the access.
    let mut body = offer["requestBody"].clone();
    body["justification"] = json!("release 4.2 needs a release manager");
    let url = offer["requestUrl"].as_str().unwrap();
    let path = url.strip_prefix(PUBLIC_URL).unwrap();
    let reply = app.send(Method::POST, path, &token, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let request = id(&reply.body);
    run_jobs(&app).await;
    let state = app
        .get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await;
    assert_eq!(state.body["state"], "delivered", "{}", state.body);

    let allowed = decision(&app, &token, question.clone()).await;
    assert_eq!(allowed, json!({"decision": true}));
    // AuthZEN's request identifier comes back.
    let reply = app
        .request(
            Method::POST,
            "/access/v1/evaluation",
            Some(&token),
            Some(axum::body::Body::from(question.to_string())),
            &[
                ("content-type", "application/json"),
                ("x-request-id", "pep-42"),
            ],
        )
        .await;
    assert_eq!(reply.headers.get("x-request-id").unwrap(), "pep-42");

    // A second before the assignment's end it is held; at the end it is not.
    app.clock
        .set(start + Duration::hours(2) - Duration::seconds(1));
    app.refresh_admin().await;
    let body = decision(&app, &app.admin, question.clone()).await;
    assert_eq!(body["decision"], true, "{body}");
    app.clock.set(start + Duration::hours(2));
    let body = decision(&app, &app.admin, question.clone()).await;
    assert_eq!(body["decision"], false, "{body}");
    assert_eq!(
        body["context"]["requestable"][0]["accessPackageId"],
        s.package.as_str()
    );

    // A direct membership: held from when it is added until it is removed.
    add_member(&app, &s.group, &s.agent).await;
    let body = decision(&app, &app.admin, question.clone()).await;
    assert_eq!(body["decision"], true, "{body}");
    let reply = app
        .delete(
            &format!("/v1.0/groups/{}/members/{}/$ref", s.group, s.agent),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let body = decision(&app, &app.admin, question).await;
    assert_eq!(body["decision"], false, "{body}");
}

async fn every_kind_of_grant_is_decided_as_tokens_carry_it(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let (token, _) = agent_token(&app, &s.agent, API_SCOPE).await;

    // An app role on a resource's service principal.
    let api = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({
            "displayName": "Orders API",
            "appRoles": [{"id": ORDERS_READ_ROLE, "allowedMemberTypes": ["Application"], "displayName": "Read orders", "description": "Read", "value": "Orders.Read", "isEnabled": true}],
            "api": {"oauth2PermissionScopes": [
                {"id": NOTES_READ, "value": "Notes.Read", "type": "User", "isEnabled": true, "adminConsentDisplayName": "Read notes", "adminConsentDescription": "Read notes"},
                {"id": NOTES_WRITE, "value": "Notes.Write", "type": "User", "isEnabled": true, "adminConsentDisplayName": "Write notes", "adminConsentDescription": "Write notes"},
            ]},
        }))
        .await;
    assert_eq!(api.status, StatusCode::CREATED, "{}", api.body);
    let api_sp = app
        .created(
            &app.admin,
            "/v1.0/servicePrincipals",
            json!({"appId": api.body["appId"]}),
        )
        .await;
    let app_role =
        json!({"type": "appRole", "id": ORDERS_READ_ROLE, "properties": {"resourceId": api_sp}});
    let body = decision(
        &app,
        &token,
        ask(subject(&s.agent), app_role.clone(), "assigned"),
    )
    .await;
    assert_eq!(body["decision"], false, "{body}");
    assert_eq!(body["context"]["requestable"], json!([]));
    app.created(
        &app.admin,
        &format!("/v1.0/servicePrincipals/{api_sp}/appRoleAssignedTo"),
        json!({"principalId": s.agent, "resourceId": api_sp, "appRoleId": ORDERS_READ_ROLE}),
    )
    .await;
    let body = decision(&app, &token, ask(subject(&s.agent), app_role, "assigned")).await;
    assert_eq!(body["decision"], true, "{body}");

    // A directory role.
    let role = json!({"type": "directoryRole", "id": DIRECTORY_READERS});
    let body = decision(
        &app,
        &token,
        ask(subject(&s.agent), role.clone(), "assigned"),
    )
    .await;
    assert_eq!(body["decision"], false, "{body}");
    app.created(
        &app.admin,
        "/v1.0/roleManagement/directory/roleAssignments",
        json!({"principalId": s.agent, "roleDefinitionId": DIRECTORY_READERS, "directoryScopeId": "/"}),
    )
    .await;
    let body = decision(&app, &token, ask(subject(&s.agent), role, "assigned")).await;
    assert_eq!(body["decision"], true, "{body}");

    // Group ownership, apart from membership.
    let owner = ask(subject(&s.agent), group(&s.group), "owner");
    assert_eq!(
        decision(&app, &token, owner.clone()).await["decision"],
        false
    );
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{}/owners/$ref", s.group),
            &app.admin,
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/directoryObjects/{}", s.agent)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(decision(&app, &token, owner).await["decision"], true);
    let member = ask(subject(&s.agent), group(&s.group), "member");
    assert_eq!(decision(&app, &token, member).await["decision"], false);

    // A delegated scope is a user's: an agent identity never holds one; a person holds it
    // through a grant to itself, matched in any case.
    let scope = json!({"type": "oauth2PermissionScope", "id": "Notes.Read", "properties": {"resourceId": api_sp}});
    let body = decision(
        &app,
        &token,
        ask(subject(&s.agent), scope.clone(), "granted"),
    )
    .await;
    assert_eq!(body["decision"], false, "{body}");
    let (uma, uma_token) = app.user_token("Uma User").await;
    let me = json!({"type": "user", "id": uma});
    let body = decision(&app, &uma_token, ask(me.clone(), scope.clone(), "granted")).await;
    assert_eq!(body["decision"], false, "{body}");
    app.created(
        &app.admin,
        "/v1.0/oauth2PermissionGrants",
        json!({"clientId": api_sp, "consentType": "Principal", "principalId": uma, "resourceId": api_sp, "scope": "Notes.Read"}),
    )
    .await;
    let lower = json!({"type": "oauth2PermissionScope", "id": "notes.read", "properties": {"resourceId": api_sp}});
    let body = decision(&app, &uma_token, ask(me.clone(), lower, "granted")).await;
    assert_eq!(body["decision"], true, "{body}");
    let other = json!({"type": "oauth2PermissionScope", "id": "Notes.Write", "properties": {"resourceId": api_sp}});
    let body = decision(&app, &uma_token, ask(me.clone(), other.clone(), "granted")).await;
    assert_eq!(body["decision"], false, "{body}");
    assert_eq!(body["context"]["requestable"], json!([]));

    // A package with that delegated permission, which people may request, is then offered;
    // catalogs name the permission by its id, the evaluation by its value.
    app.created(
        &app.admin,
        &format!("{EM}/resourceRequests"),
        json!({"requestType": "adminAdd", "catalog": {"id": s.catalog}, "resource": {"originId": api_sp, "originSystem": "AadApplication"}}),
    )
    .await;
    let package = app
        .created(
            &app.admin,
            &format!("{EM}/accessPackages"),
            json!({"displayName": "Note writers", "catalog": {"id": s.catalog}}),
        )
        .await;
    let roles = app
        .get(
            &format!("{EM}/catalogs/{}/resourceRoles", s.catalog),
            &app.admin,
        )
        .await;
    let write = roles.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["originId"] == NOTES_WRITE)
        .unwrap()["id"]
        .clone();
    app.created(
        &app.admin,
        &format!("{EM}/accessPackages/{package}/resourceRoleScopes"),
        json!({"role": {"id": write}}),
    )
    .await;
    let policy = app
        .created(
            &app.admin,
            &format!("{EM}/assignmentPolicies"),
            json!({
                "displayName": "Members, a week", "allowedTargetScope": "allMemberUsers",
                "expiration": {"type": "afterDuration", "duration": "P7D"},
                "requestorSettings": {"enableTargetsToSelfAddAccess": true},
                "requestApprovalSettings": {"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false, "stages": [{"durationBeforeAutomaticDenial": "P2D", "primaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": s.sponsor}]}]},
                "accessPackage": {"id": package},
            }),
        )
        .await;
    let body = decision(&app, &uma_token, ask(me, other.clone(), "granted")).await;
    let offer = &body["context"]["requestable"][0];
    assert_eq!(offer["accessPackageId"], package.as_str(), "{body}");
    assert_eq!(offer["assignmentPolicyId"], policy.as_str());
    assert_eq!(offer["isApprovalRequired"], true);
    assert_eq!(offer["isRequestorJustificationRequired"], false);
    assert_eq!(offer["maximumDuration"], "P7D");
    assert!(offer["requestBody"].get("justification").is_none());
    // An agent is not in that policy's scope.
    let body = decision(&app, &token, ask(subject(&s.agent), other, "granted")).await;
    assert_eq!(body["context"]["requestable"], json!([]), "{body}");
}

async fn who_may_ask_about_whom(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let fleet_two = fleet_two(&app, &s).await;
    let (token, _) = agent_token(&app, &s.agent, API_SCOPE).await;
    let (uma, stranger) = app.user_token("Uma User").await;
    let sponsor = login(&app, "samsponsor").await;
    let about = |who: &str| ask(subject(who), group(&s.group), "member");

    // Another agent, an unknown id, a malformed one: the same refusal for an agent and a
    // stranger, so it says nothing of who exists.
    for caller in [&token, &stranger] {
        for other in [
            fleet_two.as_str(),
            NOWHERE,
            "not-a-guid",
            s.sponsor.as_str(),
        ] {
            let reply = evaluate(&app, caller, about(other)).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{other}: {}",
                reply.body
            );
            assert_eq!(reply.error_code(), "accessDenied");
        }
    }
    let refused = evaluate(&app, &token, about(&fleet_two)).await;
    let unknown = evaluate(&app, &token, about(NOWHERE)).await;
    assert_eq!(
        refused.body["error"]["message"],
        unknown.body["error"]["message"]
    );

    // The sponsor and an administrator may ask about the agent.
    for caller in [&sponsor, &app.admin] {
        let body = decision(&app, caller, about(&s.agent)).await;
        assert_eq!(body["decision"], false, "{body}");
        assert_eq!(
            body["context"]["requestable"][0]["accessPackageId"],
            s.package.as_str()
        );
    }
    // A batch about both of the sponsor's agents (and itself); one subject it does not sponsor
    // refuses all.
    let batch = |third: &str| {
        json!({"resource": group(&s.group), "action": {"name": "member"}, "evaluations": [
            {"subject": subject(&s.agent)}, {"subject": subject(&fleet_two)}, {"subject": subject(third)},
        ]})
    };
    let reply = app
        .send(
            Method::POST,
            "/access/v1/evaluations",
            &sponsor,
            batch(&s.sponsor),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["evaluations"].as_array().unwrap().len(), 3);
    for third in [NOWHERE, uma.as_str()] {
        let reply = app
            .send(
                Method::POST,
                "/access/v1/evaluations",
                &sponsor,
                batch(third),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    }
    // An administrator asking about no one gets a plain `false`.
    let body = decision(&app, &app.admin, about(NOWHERE)).await;
    assert_eq!(body["context"]["requestable"], json!([]), "{body}");

    // The agent about itself: an unknown group, a malformed id, the wrong subject type.
    for question in [
        ask(subject(&s.agent), group(NOWHERE), "member"),
        ask(subject(&s.agent), group("not-a-guid"), "member"),
        ask(
            json!({"type": "user", "id": s.agent}),
            group(&s.group),
            "member",
        ),
    ] {
        let body = decision(&app, &token, question).await;
        assert_eq!(body["decision"], false, "{body}");
    }
    // The subject's type picks which packages: as a service principal it is the same agent.
    let body = decision(
        &app,
        &token,
        ask(
            json!({"type": "servicePrincipal", "id": s.agent.to_uppercase()}),
            group(&s.group),
            "member",
        ),
    )
    .await;
    assert_eq!(
        body["context"]["requestable"][0]["accessPackageId"],
        s.package.as_str()
    );

    // No token, no answer.
    let reply = app
        .request(
            Method::POST,
            "/access/v1/evaluation",
            None,
            Some(axum::body::Body::from(about(&s.agent).to_string())),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

/// A second agent, sponsored by Sam too.
async fn fleet_two(app: &TestApp, s: &Setup) -> String {
    let reply = app
        .get(
            "/v1.0/applications?$filter=displayName%20eq%20'Support%20agent%20blueprint'",
            &app.admin,
        )
        .await;
    let blueprint = reply.body["value"][0]["appId"].as_str().unwrap().to_owned();
    let other = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({
                "@odata.type": "#microsoft.graph.agentIdentity",
                "displayName": "other-agent",
                "agentIdentityBlueprintId": blueprint,
                "sponsors@odata.bind": [user_url(&s.sponsor)],
            }),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    id(&other.body)
}

async fn batches_take_defaults_and_stop_as_asked(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let other_group = app.create_group("Auditors").await;
    add_member(&app, &other_group, &s.agent).await;
    let (token, _) = agent_token(&app, &s.agent, API_SCOPE).await;
    let batch = |options: Value| {
        json!({
            "subject": subject(&s.agent),
            "action": {"name": "member"},
            "context": {"note": "ignored"},
            "options": options,
            "evaluations": [
                {"resource": group(&s.group)},
                {"resource": group(&other_group)},
                {"resource": group(&other_group), "action": {"name": "owner"}},
            ],
        })
    };
    let decisions = |reply: Reply| -> Vec<Value> {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["decision"].clone())
            .collect()
    };
    let post = |body: Value| app.send(Method::POST, "/access/v1/evaluations", &token, body);
    assert_eq!(
        decisions(post(batch(json!({}))).await),
        [json!(false), json!(true), json!(false)]
    );
    assert_eq!(
        decisions(post(batch(json!({"evaluations_semantic": "execute_all"}))).await),
        [json!(false), json!(true), json!(false)]
    );
    assert_eq!(
        decisions(post(batch(json!({"evaluations_semantic": "deny_on_first_deny"}))).await),
        [json!(false)]
    );
    assert_eq!(
        decisions(
            post(batch(
                json!({"evaluations_semantic": "permit_on_first_permit"})
            ))
            .await
        ),
        [json!(false), json!(true)]
    );
    // Each denial carries its own context.
    let reply = post(batch(json!({}))).await;
    assert_eq!(
        reply.body["evaluations"][0]["context"]["requestable"][0]["accessPackageId"],
        s.package.as_str()
    );
    assert!(reply.body["evaluations"][1].get("context").is_none());

    // Without items it is one evaluation, answered as `/evaluation` answers.
    let reply = post(ask(subject(&s.agent), group(&other_group), "member")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"decision": true}));

    // One item about another principal refuses the whole batch.
    let mut body = batch(json!({}));
    body["evaluations"][1]["subject"] = subject(NOWHERE);
    assert_eq!(post(body).await.status, StatusCode::FORBIDDEN);

    // At most 100 items.
    let items: Vec<Value> = (0..101)
        .map(|_| json!({"resource": group(&s.group)}))
        .collect();
    let mut body = batch(json!({}));
    body["evaluations"] = json!(items);
    let reply = post(body).await;
    reply.assert_invalid_request("at most 100", "101 evaluations");
    let items: Vec<Value> = (0..100)
        .map(|_| json!({"resource": group(&s.group)}))
        .collect();
    let mut body = batch(json!({}));
    body["evaluations"] = json!(items);
    assert_eq!(decisions(post(body).await).len(), 100);
}

async fn bad_bodies_are_refused_naming_the_property(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let (token, _) = agent_token(&app, &s.agent, API_SCOPE).await;
    let me = subject(&s.agent);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/access/v1/evaluation",
            json!({"resource": group(&s.group), "action": {"name": "member"}}),
            "'subject' is required",
        ),
        (
            "/access/v1/evaluation",
            json!({"subject": "me", "resource": group(&s.group), "action": {"name": "member"}}),
            "'subject' must be an object",
        ),
        (
            "/access/v1/evaluation",
            ask(
                json!({"type": "robot", "id": s.agent}),
                group(&s.group),
                "member",
            ),
            "'subject.type'",
        ),
        (
            "/access/v1/evaluation",
            ask(json!({"type": "agent"}), group(&s.group), "member"),
            "'subject.id' is required",
        ),
        (
            "/access/v1/evaluation",
            ask(json!({"type": "agent", "id": 7}), group(&s.group), "member"),
            "'subject.id' must be a string",
        ),
        (
            "/access/v1/evaluation",
            ask(me.clone(), group(&s.group), "assigned"),
            "'action.name' must be 'member' or 'owner'",
        ),
        (
            "/access/v1/evaluation",
            ask(me.clone(), json!({"type": "file", "id": "x"}), "read"),
            "'resource.type'",
        ),
        (
            "/access/v1/evaluation",
            ask(
                me.clone(),
                json!({"type": "appRole", "id": ORDERS_READ_ROLE}),
                "assigned",
            ),
            "'resource.properties.resourceId' is required",
        ),
        (
            "/access/v1/evaluation",
            ask(
                me.clone(),
                json!({"type": "group", "id": "x".repeat(300)}),
                "member",
            ),
            "longer than 256",
        ),
        (
            "/access/v1/evaluation",
            json!({"subject": me, "resource": group(&s.group), "action": {"name": "member"}, "extra": 1}),
            "'extra'",
        ),
        (
            "/access/v1/evaluation",
            json!({"subject": me, "resource": group(&s.group), "action": {"name": "member"}, "context": []}),
            "'context' must be an object",
        ),
        (
            "/access/v1/evaluations",
            json!({"evaluations": {}}),
            "'evaluations' must be an array",
        ),
        (
            "/access/v1/evaluations",
            json!({"evaluations": [7]}),
            "'evaluations[0]' must be an object",
        ),
        (
            "/access/v1/evaluations",
            json!({"subject": me, "evaluations": [{"resource": group(&s.group)}]}),
            "'evaluations[0].action' is required",
        ),
        (
            "/access/v1/evaluations",
            json!({"subject": me, "action": {"name": "member"}, "evaluations": [{"resource": group(&s.group)}, {"resource": group(&s.group), "action": {"name": "granted"}}]}),
            "'evaluations[1].action.name'",
        ),
        (
            "/access/v1/evaluations",
            json!({"subject": me, "action": {"name": "member"}, "options": {"evaluations_semantic": "first"}, "evaluations": [{"resource": group(&s.group)}]}),
            "'options.evaluations_semantic'",
        ),
    ];
    for (path, body, expected) in cases {
        let reply = app.send(Method::POST, path, &token, body.clone()).await;
        reply.assert_invalid_request(expected, &body.to_string());
    }
    let reply = app
        .raw(Method::POST, "/access/v1/evaluation", &token, "{not json")
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "invalidRequest");
}

async fn the_metadata_names_the_endpoints(backend: Backend) {
    let app = app(backend).await;
    let reply = app
        .request(
            Method::GET,
            "/.well-known/authzen-configuration",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({
            "policy_decision_point": PUBLIC_URL,
            "access_evaluation_endpoint": format!("{PUBLIC_URL}/access/v1/evaluation"),
            "access_evaluations_endpoint": format!("{PUBLIC_URL}/access/v1/evaluations"),
        })
    );
}

crate::on_both_backends!(
    a_denial_names_what_to_request_and_the_decision_follows_the_grant,
    every_kind_of_grant_is_decided_as_tokens_carry_it,
    who_may_ask_about_whom,
    batches_take_defaults_and_stop_as_asked,
    bad_bodies_are_refused_naming_the_property,
    the_metadata_names_the_endpoints,
);

//! Delivery of every kind of resource role an access package grants — group ownership, a
//! directory role, a delegated permission (to an agent user, for its parent agent identity) —
//! as grants held by the assignment and gone when it ends; a role that cannot reach a target
//! leaves the request `partiallyDelivered`; `reprocess` retries a request and re-enforces an
//! assignment, applying only what read-back shows is missing.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::jobs::PassReport;
use writ_domain::store::AuditStore;
use writ_store::Backend;

use crate::agents::{create_agent, fleet};
use crate::harness::{Reply, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
const NOTES_READ: &str = "7a1c2e3f-4b5d-4e6f-8a9b-0c1d2e3f4a5b";

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let reply = app
        .send(Method::POST, &format!("{EM}{path}"), &app.admin, body)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
    reply.body
}

async fn run_jobs(app: &TestApp) -> PassReport {
    app.run_jobs().await
}

struct Setup {
    catalog: String,
    package: String,
    policy: String,
    group: String,
    notes_sp: String,
    agent: String,
    agent_user: String,
    delegated_role_scope: String,
}

/// A package with three kinds of role: ownership of a group, the Directory Readers role and the
/// delegated permission `Notes.Read` of an API; an "All agents" policy; an agent identity and an
/// agent user acting through it.
async fn setup(app: &TestApp) -> Setup {
    let fleet = fleet(app).await;
    let agent = id(&create_agent(app, &fleet, "notes-agent", &[&fleet.sponsor])
        .await
        .body);
    let agent_user = app
        .send(
            Method::POST,
            "/v1.0/users/microsoft.graph.agentUser",
            &app.admin,
            json!({
                "displayName": "Notes agent user", "userPrincipalName": "notes-agent@example.org",
                "mailNickname": "notes-agent", "accountEnabled": true, "identityParentId": agent,
            }),
        )
        .await;
    assert_eq!(
        agent_user.status,
        StatusCode::CREATED,
        "{}",
        agent_user.body
    );
    let agent_user = id(&agent_user.body);
    let group = app.create_group("Release managers").await;
    let notes = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({
            "displayName": "Notes API",
            "api": {"oauth2PermissionScopes": [{"id": NOTES_READ, "value": "Notes.Read", "type": "User", "isEnabled": true,
                "adminConsentDisplayName": "Read notes", "adminConsentDescription": "Read notes"}]},
        }))
        .await;
    assert_eq!(notes.status, StatusCode::CREATED, "{}", notes.body);
    let notes_sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": notes.body["appId"]}),
        )
        .await;
    let notes_sp = id(&notes_sp.body);
    let catalog = id(&post(app, "/catalogs", json!({"displayName": "Release"})).await);
    for (system, origin) in [
        ("AadGroup", group.as_str()),
        ("AadApplication", notes_sp.as_str()),
        ("DirectoryRole", DIRECTORY_READERS),
    ] {
        post(app, "/resourceRequests", json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": origin, "originSystem": system}})).await;
    }
    let package = id(&post(
        app,
        "/accessPackages",
        json!({"displayName": "Release duty", "catalog": {"id": catalog}}),
    )
    .await);
    let roles = app
        .get(
            &format!("{EM}/catalogs/{catalog}/resourceRoles"),
            &app.admin,
        )
        .await;
    let mut delegated_role_scope = String::new();
    for role in roles.body["value"].as_array().unwrap() {
        if role["displayName"] == "Owner"
            || role["originId"] == NOTES_READ
            || role["originId"] == "Active"
        {
            let scope = post(
                app,
                &format!("/accessPackages/{package}/resourceRoleScopes"),
                json!({"role": {"id": role["id"]}}),
            )
            .await;
            if role["originId"] == NOTES_READ {
                delegated_role_scope = id(&scope);
            }
        }
    }
    assert!(!delegated_role_scope.is_empty());
    let policy = id(&post(
        app,
        "/assignmentPolicies",
        json!({
            "displayName": "Agents, a day",
            "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "P1D"},
            "accessPackage": {"id": package},
        }),
    )
    .await);
    Setup {
        catalog,
        package,
        policy,
        group,
        notes_sp,
        agent,
        agent_user,
        delegated_role_scope,
    }
}

async fn admin_add(app: &TestApp, s: &Setup, target: &str) -> String {
    let created = app
        .send(Method::POST, &format!("{EM}/assignmentRequests"), &app.admin, json!({
            "requestType": "adminAdd",
            "assignment": {"targetId": target, "assignmentPolicyId": s.policy, "accessPackageId": s.package},
        }))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    id(&created.body)
}

/// `POST …/{collection}/{id}/reprocess` as the holder of `token`.
async fn reprocess(app: &TestApp, collection: &str, id: &str, token: &str) -> Reply {
    app.send(
        Method::POST,
        &format!("{EM}/{collection}/{id}/reprocess"),
        token,
        Value::Null,
    )
    .await
}

async fn request(app: &TestApp, request: &str) -> Value {
    app.get(&format!("{EM}/assignmentRequests/{request}"), &app.admin)
        .await
        .body
}

async fn owner_ids(app: &TestApp, group: &str) -> Vec<String> {
    let reply = app
        .get(&format!("/v1.0/groups/{group}/owners"), &app.admin)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

async fn members(app: &TestApp, group: &str) -> String {
    app.get(&format!("/v1.0/groups/{group}/members"), &app.admin)
        .await
        .body["value"]
        .to_string()
}

async fn directory_roles_of(app: &TestApp, principal: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!(
                "/v1.0/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20'{principal}'"
            ),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["value"].as_array().unwrap().clone()
}

async fn delegated_grants_of(app: &TestApp, principal: &str) -> Vec<Value> {
    let reply = app.get("/v1.0/oauth2PermissionGrants", &app.admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["principalId"] == principal)
        .cloned()
        .collect()
}

async fn assignment_of(app: &TestApp, request_id: &str) -> Value {
    let assignment = request(app, request_id).await["assignment"]["id"].clone();
    let assignment = match assignment {
        Value::String(id) => id,
        _ => {
            let with = app
                .get(
                    &format!("{EM}/assignmentRequests/{request_id}?$expand=assignment"),
                    &app.admin,
                )
                .await;
            with.body["assignment"]["id"].as_str().unwrap().to_owned()
        }
    };
    app.get(&format!("{EM}/assignments/{assignment}"), &app.admin)
        .await
        .body
}

async fn every_kind_of_role_is_delivered_and_released(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;

    // The agent user receives all three.
    let to_user = admin_add(&app, &s, &s.agent_user).await;
    run_jobs(&app).await;
    let delivered = request(&app, &to_user).await;
    assert_eq!(delivered["state"], "delivered", "{delivered}");
    assert!(owner_ids(&app, &s.group).await.contains(&s.agent_user));
    let roles = directory_roles_of(&app, &s.agent_user).await;
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(roles[0]["roleDefinitionId"], DIRECTORY_READERS);
    let grants = delegated_grants_of(&app, &s.agent_user).await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["consentType"], "Principal");
    assert_eq!(grants[0]["scope"], "Notes.Read");
    assert_eq!(grants[0]["resourceId"], s.notes_sp.as_str());
    assert_eq!(
        grants[0]["clientId"],
        s.agent.as_str(),
        "an agent user's delegated grant is for its parent agent identity"
    );

    // A grant the package holds is not the directory's to remove.
    let role_id = roles[0]["id"].as_str().unwrap();
    let refused = app
        .send(
            Method::DELETE,
            &format!("/v1.0/roleManagement/directory/roleAssignments/{role_id}"),
            &app.admin,
            Value::Null,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(refused.error_code(), "conflict");
    let grant_id = grants[0]["id"].as_str().unwrap();
    let refused = app
        .send(
            Method::DELETE,
            &format!("/v1.0/oauth2PermissionGrants/{grant_id}"),
            &app.admin,
            Value::Null,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    // The package's ownership is not the directory's to remove either.
    let refused = app
        .send(
            Method::DELETE,
            &format!("/v1.0/groups/{}/owners/{}/$ref", s.group, s.agent_user),
            &app.admin,
            Value::Null,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    // A direct ownership of the same group outlives the package's.
    let direct = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{}/owners/$ref", s.group),
            &app.admin,
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{}", s.agent_user)}),
        )
        .await;
    assert_eq!(direct.status, StatusCode::NO_CONTENT, "{}", direct.body);

    // Removal takes the package's grants away in the transaction that records it.
    let assignment = assignment_of(&app, &to_user).await;
    let removed = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests"),
            &app.admin,
            json!({
                "requestType": "adminRemove", "assignment": {"id": assignment["id"]},
            }),
        )
        .await;
    assert_eq!(removed.status, StatusCode::CREATED, "{}", removed.body);
    assert!(directory_roles_of(&app, &s.agent_user).await.is_empty());
    assert!(delegated_grants_of(&app, &s.agent_user).await.is_empty());
    assert!(
        owner_ids(&app, &s.group).await.contains(&s.agent_user),
        "the direct ownership stays"
    );
    let unowned = app
        .send(
            Method::DELETE,
            &format!("/v1.0/groups/{}/owners/{}/$ref", s.group, s.agent_user),
            &app.admin,
            Value::Null,
        )
        .await;
    assert_eq!(unowned.status, StatusCode::NO_CONTENT, "{}", unowned.body);
    assert!(!owner_ids(&app, &s.group).await.contains(&s.agent_user));
}

async fn a_role_that_cannot_reach_the_target_is_partial_and_reprocess_retries(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;

    // A delegated permission never reaches an agent identity (a service principal).
    let to_agent = admin_add(&app, &s, &s.agent).await;
    run_jobs(&app).await;
    let partial = request(&app, &to_agent).await;
    assert_eq!(partial["state"], "partiallyDelivered", "{partial}");
    assert_eq!(partial["status"], "PartiallyDelivered");
    let assignment = assignment_of(&app, &to_agent).await;
    assert_eq!(assignment["state"], "partiallyDelivered", "{assignment}");
    assert!(owner_ids(&app, &s.group).await.contains(&s.agent));
    assert_eq!(directory_roles_of(&app, &s.agent).await.len(), 1);

    // Who may not reprocess: the agent itself; what may not be: an unknown request.
    let (agent_token, _) =
        crate::agents::agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;
    let refused = reprocess(&app, "assignmentRequests", &to_agent, &agent_token).await;
    assert!(
        refused.status == StatusCode::FORBIDDEN || refused.status == StatusCode::NOT_FOUND,
        "{}: {}",
        refused.status,
        refused.body
    );
    let unknown = reprocess(
        &app,
        "assignmentRequests",
        "00000000-0000-0000-0000-000000000000",
        &app.admin,
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);

    // Reprocessing retries; the failure is permanent, so the request ends partial again, with
    // no grant applied twice.
    let accepted = reprocess(&app, "assignmentRequests", &to_agent, &app.admin).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    let delivering = request(&app, &to_agent).await;
    assert_eq!(delivering["state"], "delivering", "{delivering}");
    assert!(delivering["completedDateTime"].is_null());
    run_jobs(&app).await;
    assert_eq!(
        request(&app, &to_agent).await["state"],
        "partiallyDelivered"
    );
    assert_eq!(directory_roles_of(&app, &s.agent).await.len(), 1);

    // Without the role that cannot reach it, a reprocess completes the delivery.
    let removed = app
        .send(
            Method::DELETE,
            &format!(
                "{EM}/accessPackages/{}/resourceRoleScopes/{}",
                s.package, s.delegated_role_scope
            ),
            &app.admin,
            Value::Null,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
    let accepted = reprocess(&app, "assignmentRequests", &to_agent, &app.admin).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    run_jobs(&app).await;
    let done = request(&app, &to_agent).await;
    assert_eq!(done["state"], "delivered", "{done}");
    assert_eq!(done["status"], "Delivered");
    assert!(done["completedDateTime"].is_string());
    let assignment = assignment_of(&app, &to_agent).await;
    assert_eq!(assignment["state"], "delivered", "{assignment}");
    assert_eq!(directory_roles_of(&app, &s.agent).await.len(), 1);

    // A delivered request is not reprocessed.
    let again = reprocess(&app, "assignmentRequests", &to_agent, &app.admin).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.error_code(), "conflict");
}

async fn reprocessing_an_assignment_applies_roles_added_since(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let to_user = admin_add(&app, &s, &s.agent_user).await;
    run_jobs(&app).await;
    let assignment = assignment_of(&app, &to_user).await;
    let assignment_id = id(&assignment);

    // The package gains the group's membership after the assignment was delivered.
    let roles = app
        .get(
            &format!("{EM}/catalogs/{}/resourceRoles", s.catalog),
            &app.admin,
        )
        .await;
    let member = roles.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["displayName"] == "Member")
        .unwrap()["id"]
        .clone();
    post(
        &app,
        &format!("/accessPackages/{}/resourceRoleScopes", s.package),
        json!({"role": {"id": member}}),
    )
    .await;
    assert!(!members(&app, &s.group).await.contains(&s.agent_user));

    // Nobody without the catalog's assignment rights reprocesses it.
    let (_, nobody) = app.user_token("Nobody").await;
    let refused = reprocess(&app, "assignments", &assignment_id, &nobody).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.body);
    let audit_before = app.store.audit_records(10_000).await.unwrap().len();
    let accepted = reprocess(&app, "assignments", &assignment_id, &app.admin).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    assert_eq!(run_jobs(&app).await.completed, 1);
    assert!(members(&app, &s.group).await.contains(&s.agent_user));
    // Read back: what it held already is not applied again.
    assert_eq!(directory_roles_of(&app, &s.agent_user).await.len(), 1);
    assert_eq!(delegated_grants_of(&app, &s.agent_user).await.len(), 1);
    let records = app.store.audit_records(10_000).await.unwrap();
    let activities: Vec<&str> = records[audit_before..]
        .iter()
        .map(|r| r.activity_display_name.as_str())
        .collect();
    assert_eq!(
        activities,
        [
            "Reprocess access package assignment",
            "Deliver access package assignment"
        ]
    );
    let delivered = records.last().unwrap();
    assert_eq!(
        delivered.on_behalf_of.as_deref(),
        Some(s.agent_user.as_str())
    );
    assert!(
        delivered
            .additional_details
            .iter()
            .any(|(k, v)| k == "grantsApplied" && v == "1"),
        "{delivered:?}"
    );

    // A role removed from the package leaves its live assignments too (as Entra does).
    let scopes = app
        .get(
            &format!(
                "{EM}/accessPackages/{}/resourceRoleScopes?$expand=role",
                s.package
            ),
            &app.admin,
        )
        .await;
    assert_eq!(scopes.status, StatusCode::OK, "{}", scopes.body);
    let directory_role_scope = scopes.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rs| rs["role"]["originId"] == "Active")
        .unwrap_or_else(|| panic!("{}", scopes.body))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed_role = app
        .send(
            Method::DELETE,
            &format!(
                "{EM}/accessPackages/{}/resourceRoleScopes/{directory_role_scope}",
                s.package
            ),
            &app.admin,
            Value::Null,
        )
        .await;
    assert_eq!(
        removed_role.status,
        StatusCode::NO_CONTENT,
        "{}",
        removed_role.body
    );
    assert_eq!(directory_roles_of(&app, &s.agent_user).await.len(), 1);
    assert_eq!(run_jobs(&app).await.completed, 1);
    assert!(directory_roles_of(&app, &s.agent_user).await.is_empty());
    assert!(members(&app, &s.group).await.contains(&s.agent_user));
    let last = app.store.audit_records(10_000).await.unwrap();
    assert!(
        last.last()
            .unwrap()
            .additional_details
            .iter()
            .any(|(k, v)| k == "grantsRevoked" && v == "1"),
        "{:?}",
        last.last()
    );

    // An ended assignment is not reprocessed.
    let removed = app
        .send(
            Method::POST,
            &format!("{EM}/assignmentRequests"),
            &app.admin,
            json!({
                "requestType": "adminRemove", "assignment": {"id": assignment_id},
            }),
        )
        .await;
    assert_eq!(removed.status, StatusCode::CREATED, "{}", removed.body);
    let refused = reprocess(&app, "assignments", &assignment_id, &app.admin).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
}

crate::on_both_backends!(
    every_kind_of_role_is_delivered_and_released,
    a_role_that_cannot_reach_the_target_is_partial_and_reprocess_retries,
    reprocessing_an_assignment_applies_roles_added_since,
);

//! The directory's wire types are the shapes the API serves: every directory entity, read from
//! the API, deserialises into its `writ_server::wire::directory` type and serialises back to the
//! same JSON (so the type holds every property, with its name and `null`s); bodies read through
//! the wire types keep the messages clients see.

use axum::http::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use writ_server::routes::Kind;
use writ_server::wire::directory::{
    AppRoleAssignment, Application, DirectoryAudit, DirectoryObject, Group, OAuth2PermissionGrant,
    PasswordCredential, ServicePrincipal, UnifiedRoleAssignment, UnifiedRoleDefinition, User,
};
use writ_store::Backend;

use crate::agents::{create_agent, fleet, user_url};
use crate::harness::{PUBLIC_URL, TestApp, app};

const READER_ROLE: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
const REPORTS_READ_ROLE: &str = "6d1e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const REPORTS_SCOPE: &str = "7e2f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b";

/// `entity` (without its `@odata.context`) read into `T` and written back unchanged.
fn round_trip<T: DeserializeOwned + Serialize>(entity: &Value, what: &str) -> T {
    let mut expected = entity.clone();
    if let Some(m) = expected.as_object_mut() {
        m.remove("@odata.context");
    }
    let typed: T = serde_json::from_value(expected.clone())
        .unwrap_or_else(|e| panic!("{what} does not read into its wire type: {e}: {expected}"));
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        expected,
        "{what} reads back into the same JSON"
    );
    typed
}

/// Every item of a collection reply, each round-tripped through `T`.
fn round_trip_all<T: DeserializeOwned + Serialize>(
    reply: &crate::harness::Reply,
    what: &str,
) -> Vec<T> {
    assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
    let items = reply.body["value"].as_array().unwrap();
    assert!(
        !items.is_empty(),
        "{what}: an empty collection checks nothing"
    );
    items.iter().map(|item| round_trip(item, what)).collect()
}

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path, &app.admin).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

async fn directory_entities_read_into_their_wire_types(backend: Backend) {
    let app = app(backend).await;

    // Users, a manager, and the manager expanded.
    let manager = app.create_user("Mona Manager").await;
    let user = app.create_user("Walt Wire").await;
    let reply = app
        .send(
            Method::PUT,
            &format!("/v1.0/users/{user}/manager/$ref"),
            &app.admin,
            json!({"@odata.id": user_url(&manager)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let read: User = round_trip(&get_ok(&app, &format!("/v1.0/users/{user}")).await, "user");
    assert_eq!(read.id, user);
    assert!(read.odata_type.is_none() && read.manager.is_none());
    let expanded: User = round_trip(
        &get_ok(&app, &format!("/v1.0/users/{user}?$expand=manager")).await,
        "user with its manager",
    );
    let boss = expanded.manager.flatten().expect("the manager is expanded");
    assert_eq!(boss.id, manager);
    assert_eq!(boss.odata_type.as_deref(), Some("#microsoft.graph.user"));
    let as_object: User = round_trip(
        &get_ok(&app, &format!("/v1.0/users/{user}/manager")).await,
        "manager",
    );
    assert_eq!(as_object.id, manager);
    let users: Vec<User> = round_trip_all(&app.get("/v1.0/users", &app.admin).await, "users");
    assert!(users.iter().any(|u| u.id == user));

    // Agents: blueprint (an application), blueprint principal and agent identity (service
    // principals), an agent user, and a sponsor list of directory objects.
    let fleet = fleet(&app).await;
    let agent = create_agent(&app, &fleet, "wire-agent", &[&fleet.sponsor]).await;
    assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.body);
    let agent_sp: ServicePrincipal = round_trip(&agent.body, "agent identity (created)");
    assert_eq!(
        agent_sp.agent_identity_blueprint_id,
        Some(Some(fleet.blueprint_app_id.clone()))
    );
    let agent_id = agent_sp.id.clone();
    let agent_user = app
        .send(
            Method::POST,
            "/v1.0/users",
            &app.admin,
            json!({
                "@odata.type": "#microsoft.graph.agentUser",
                "displayName": "wire-agent user",
                "userPrincipalName": "wire-agent@example.org",
                "mailNickname": "wire-agent",
                "accountEnabled": true,
                "identityParentId": agent_id,
                "sponsors@odata.bind": [user_url(&fleet.sponsor)],
            }),
        )
        .await;
    assert_eq!(
        agent_user.status,
        StatusCode::CREATED,
        "{}",
        agent_user.body
    );
    let agent_user: User = round_trip(&agent_user.body, "agent user");
    assert_eq!(agent_user.identity_parent_id, Some(Some(agent_id.clone())));
    round_trip_all::<User>(
        &app.get("/v1.0/users/microsoft.graph.agentUser", &app.admin)
            .await,
        "agent users",
    );
    let sponsors: Vec<DirectoryObject> = round_trip_all(
        &app.get(
            &format!("/v1.0/servicePrincipals/{agent_id}/sponsors"),
            &app.admin,
        )
        .await,
        "sponsors",
    );
    assert!(matches!(&sponsors[0], DirectoryObject::User(u) if u.id == fleet.sponsor));
    round_trip_all::<ServicePrincipal>(
        &app.get(
            "/v1.0/servicePrincipals/microsoft.graph.agentIdentity",
            &app.admin,
        )
        .await,
        "agent identities",
    );
    round_trip_all::<Application>(
        &app.get(
            "/v1.0/applications/microsoft.graph.agentIdentityBlueprint",
            &app.admin,
        )
        .await,
        "blueprints",
    );

    // An application with roles, scopes and a secret; its service principal.
    let created = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            json!({
                "displayName": "Reports API",
                "identifierUris": ["api://reports"],
                "appRoles": [{"id": REPORTS_READ_ROLE, "allowedMemberTypes": ["User", "Application"], "displayName": "Read reports", "description": "Read", "value": "Reports.Read"}],
                "api": {"oauth2PermissionScopes": [{"id": REPORTS_SCOPE, "value": "Reports.Read", "type": "User", "adminConsentDisplayName": "Read reports", "adminConsentDescription": "Read reports"}]},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let api: Application = round_trip(&created.body, "application (created)");
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/applications/{}/addPassword", api.id),
            &app.admin,
            json!({"passwordCredential": {"displayName": "ci"}}),
        )
        .await;
    assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
    let secret: PasswordCredential = round_trip(&secret.body, "addPassword");
    assert!(secret.secret_text.is_some(), "the secret is shown once");
    let read: Application = round_trip(
        &get_ok(&app, &format!("/v1.0/applications/{}", api.id)).await,
        "application",
    );
    assert_eq!(read.app_roles[0].origin, "Application");
    assert_eq!(read.api.oauth2_permission_scopes[0].id, REPORTS_SCOPE);
    assert_eq!(read.password_credentials[0].key_id, secret.key_id);
    assert_eq!(read.password_credentials[0].secret_text, None);
    round_trip_all::<Application>(
        &app.get("/v1.0/applications", &app.admin).await,
        "applications",
    );
    let sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": api.app_id}),
        )
        .await;
    assert_eq!(sp.status, StatusCode::CREATED, "{}", sp.body);
    let sp: ServicePrincipal = round_trip(&sp.body, "service principal (created)");
    let read: ServicePrincipal = round_trip(
        &get_ok(&app, &format!("/v1.0/servicePrincipals/{}", sp.id)).await,
        "service principal",
    );
    assert_eq!(read.app_roles.map(|r| r.len()), Some(1));
    assert_eq!(
        read.service_principal_names,
        vec![api.app_id.clone(), "api://reports".to_owned()]
    );
    round_trip::<ServicePrincipal>(
        &get_ok(
            &app,
            &format!("/v1.0/servicePrincipals(appId='{}')", api.app_id),
        )
        .await,
        "service principal by appId",
    );
    round_trip_all::<ServicePrincipal>(
        &app.get("/v1.0/servicePrincipals", &app.admin).await,
        "service principals",
    );

    // Direct grants.
    let assigned = app
        .send(
            Method::POST,
            &format!("/v1.0/users/{user}/appRoleAssignments"),
            &app.admin,
            json!({"resourceId": sp.id, "appRoleId": REPORTS_READ_ROLE}),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::CREATED, "{}", assigned.body);
    let assignment: AppRoleAssignment = round_trip(&assigned.body, "app role assignment");
    assert_eq!(assignment.deleted_date_time, None);
    round_trip_all::<AppRoleAssignment>(
        &app.get(
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", sp.id),
            &app.admin,
        )
        .await,
        "appRoleAssignedTo",
    );
    let grant = app
        .send(
            Method::POST,
            "/v1.0/oauth2PermissionGrants",
            &app.admin,
            json!({"clientId": agent_id, "consentType": "AllPrincipals", "resourceId": sp.id, "scope": "Reports.Read"}),
        )
        .await;
    assert_eq!(grant.status, StatusCode::CREATED, "{}", grant.body);
    let grant: OAuth2PermissionGrant = round_trip(&grant.body, "permission grant");
    assert_eq!(grant.principal_id, None);
    round_trip::<OAuth2PermissionGrant>(
        &get_ok(&app, &format!("/v1.0/oauth2PermissionGrants/{}", grant.id)).await,
        "permission grant (read)",
    );
    round_trip_all::<OAuth2PermissionGrant>(
        &app.get("/v1.0/oauth2PermissionGrants", &app.admin).await,
        "permission grants",
    );

    // Groups, with members and owners expanded as directory objects.
    let group = app.create_group("Wire Group").await;
    for (navigation, member) in [
        ("members", &agent_id),
        ("members", &user),
        ("owners", &manager),
    ] {
        let path = format!("/v1.0/groups/{group}/{navigation}/$ref");
        let reply = app
            .send(
                Method::POST,
                &path,
                &app.admin,
                json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/directoryObjects/{member}")}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NO_CONTENT,
            "{path}: {}",
            reply.body
        );
    }
    let read: Group = round_trip(
        &get_ok(
            &app,
            &format!("/v1.0/groups/{group}?$expand=members,owners"),
        )
        .await,
        "group with members and owners",
    );
    let members = read.members.unwrap();
    assert!(
        members
            .iter()
            .any(|m| matches!(m, DirectoryObject::ServicePrincipal(sp) if sp.id == agent_id))
    );
    assert!(
        members
            .iter()
            .any(|m| matches!(m, DirectoryObject::User(u) if u.id == user))
    );
    assert_eq!(read.owners.unwrap()[0].id(), manager);
    round_trip_all::<Group>(&app.get("/v1.0/groups", &app.admin).await, "groups");
    round_trip_all::<DirectoryObject>(
        &app.get(&format!("/v1.0/groups/{group}/members"), &app.admin)
            .await,
        "members",
    );

    // Any object by id, each of the four kinds.
    for (id, odata_type) in [
        (&user, "#microsoft.graph.user"),
        (&group, "#microsoft.graph.group"),
        (&sp.id, "#microsoft.graph.servicePrincipal"),
        (&api.id, "#microsoft.graph.application"),
        (&agent_user.id, "#microsoft.graph.agentUser"),
    ] {
        let object: DirectoryObject = round_trip(
            &get_ok(&app, &format!("/v1.0/directoryObjects/{id}")).await,
            odata_type,
        );
        assert_eq!(object.id(), id.as_str());
        assert_eq!(object.odata_type(), Some(odata_type));
    }

    // Directory roles, on both versions (`isPrivileged` on /beta only).
    for version in ["v1.0", "beta"] {
        let definitions: Vec<UnifiedRoleDefinition> = round_trip_all(
            &app.get(
                &format!("/{version}/roleManagement/directory/roleDefinitions"),
                &app.admin,
            )
            .await,
            "role definitions",
        );
        assert_eq!(
            definitions.iter().all(|d| d.is_privileged.is_some()),
            version == "beta"
        );
    }
    let role = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": user, "roleDefinitionId": READER_ROLE}),
        )
        .await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    let role: UnifiedRoleAssignment = round_trip(&role.body, "role assignment");
    assert_eq!(role.directory_scope_id, "/");
    round_trip::<UnifiedRoleAssignment>(
        &get_ok(
            &app,
            &format!("/v1.0/roleManagement/directory/roleAssignments/{}", role.id),
        )
        .await,
        "role assignment (read)",
    );
    round_trip_all::<UnifiedRoleAssignment>(
        &app.get("/v1.0/roleManagement/directory/roleAssignments", &app.admin)
            .await,
        "role assignments",
    );

    // The audit log of all of the above.
    let audits: Vec<DirectoryAudit> = round_trip_all(
        &app.get("/v1.0/auditLogs/directoryAudits?$top=999", &app.admin)
            .await,
        "audit records",
    );
    let first = &audits[0];
    round_trip::<DirectoryAudit>(
        &get_ok(
            &app,
            &format!("/v1.0/auditLogs/directoryAudits/{}", first.id),
        )
        .await,
        "audit record",
    );
    assert!(
        audits.iter().any(|a| a.initiated_by.app.is_some()),
        "the administrator client is an app"
    );
}

async fn bodies_read_through_wire_types_keep_their_messages(backend: Backend) {
    let app = app(backend).await;
    let user = app.create_user("Body Checker").await;
    let api = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            json!({"displayName": "Body API"}),
        )
        .await;
    let api = api.id();
    for (path, method, body, expected) in [
        (
            "/v1.0/users",
            Method::POST,
            json!({"displayName": 5}),
            "property 'displayName' must be a string",
        ),
        (
            "/v1.0/users",
            Method::POST,
            json!({"accountEnabled": "yes"}),
            "property 'accountEnabled' must be a boolean",
        ),
        (
            "/v1.0/users",
            Method::POST,
            json!({"businessPhones": [1]}),
            "property 'businessPhones' must be an array of strings",
        ),
        (
            "/v1.0/users",
            Method::POST,
            json!({"passwordProfile": {"password": 1}}),
            "property 'passwordProfile.password' must be a string",
        ),
        (
            "/v1.0/users",
            Method::POST,
            json!({"passwordProfile": {"pin": "1"}}),
            "Property 'pin' does not exist on type 'microsoft.graph.passwordProfile'.",
        ),
        (
            "/v1.0/users",
            Method::POST,
            json!({"passwordProfile": "x"}),
            "property 'passwordProfile' must be an object",
        ),
        (
            "/v1.0/users",
            Method::POST,
            json!({"sponsors@odata.bind": "x"}),
            "property 'sponsors@odata.bind' must be an array of URLs",
        ),
        (
            "/v1.0/users",
            Method::POST,
            json!({"sponsors@odata.bind": ["nope"]}),
            "'nope' in sponsors@odata.bind does not name a directory object",
        ),
        (
            "/v1.0/groups",
            Method::POST,
            json!({"owners@odata.bind": [7]}),
            "property 'owners@odata.bind' must be an array of URLs",
        ),
        (
            "/v1.0/applications",
            Method::POST,
            json!({"appRoles": {}}),
            "property 'appRoles' must be an array",
        ),
        (
            "/v1.0/applications",
            Method::POST,
            json!({"appRoles": [{"id": "x", "colour": "red"}]}),
            "Property 'colour' does not exist on type 'microsoft.graph.appRole'.",
        ),
        (
            "/v1.0/applications",
            Method::POST,
            json!({"appRoles": [{"allowedMemberTypes": []}]}),
            "property 'appRoles' is not valid: missing field `id`",
        ),
        (
            "/v1.0/applications",
            Method::POST,
            json!({"api": {"preAuthorizedApplications": []}}),
            "api.preAuthorizedApplications is not supported by Writ",
        ),
        (
            "/v1.0/applications",
            Method::POST,
            json!({"api": {"oauth2PermissionScopes": 1}}),
            "property 'api.oauth2PermissionScopes' must be an array",
        ),
        (
            "/v1.0/servicePrincipals",
            Method::POST,
            json!({"tags": "x"}),
            "property 'tags' must be an array of strings",
        ),
        (
            &format!("/v1.0/applications/{api}/addPassword"),
            Method::POST,
            json!({"passwordCredential": {"secretText": "mine"}}),
            "passwordCredential.secretText cannot be set: the server generates the secret",
        ),
        (
            &format!("/v1.0/applications/{api}/addPassword"),
            Method::POST,
            json!({"passwordCredential": {"endDateTime": "soon"}}),
            "passwordCredential.endDateTime must be an ISO 8601 date-time",
        ),
        (
            &format!("/v1.0/applications/{api}/addPassword"),
            Method::POST,
            json!({"passwordCredential": {"displayName": 1}}),
            "passwordCredential.displayName must be a string",
        ),
        (
            &format!("/v1.0/applications/{api}/removePassword"),
            Method::POST,
            json!({"keyId": "x"}),
            "keyId must be a GUID",
        ),
        (
            &format!("/v1.0/applications/{api}/removePassword"),
            Method::POST,
            json!({}),
            "property 'keyId' is required",
        ),
        (
            &format!("/v1.0/users/{user}/appRoleAssignments"),
            Method::POST,
            json!({"resourceId": api}),
            "property 'appRoleId' is required",
        ),
        (
            "/v1.0/oauth2PermissionGrants",
            Method::POST,
            json!({"clientId": api}),
            "property 'consentType' is required",
        ),
        (
            "/v1.0/roleManagement/directory/roleAssignments",
            Method::POST,
            json!({"principalId": true}),
            "property 'principalId' must be a string",
        ),
    ] {
        let reply = app.send(method, path, &app.admin, body.clone()).await;
        reply.assert_invalid_request(expected, &format!("{path} {body}"));
    }
}

/// The route sections of the directory half.
const DIRECTORY_SECTIONS: &[&str] = &[
    "users",
    "groups",
    "applications",
    "servicePrincipals",
    "oauth2PermissionGrants",
    "roleManagement",
    "auditLogs",
    "directoryObjects",
];

#[test]
fn every_directory_route_names_its_schemas() {
    let document = writ_server::openapi_document();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut checked = 0;
    for doc in writ_server::route_docs() {
        if !DIRECTORY_SECTIONS.contains(&doc.tag) {
            continue;
        }
        checked += 1;
        if matches!(doc.kind, Kind::Collection | Kind::Entity | Kind::Create) {
            let name = doc
                .returns
                .unwrap_or_else(|| panic!("{:?} {} names no schema", doc.method, doc.path));
            assert!(schemas.contains_key(name), "{}: {name}", doc.path);
        }
        // Graph's `revokeSignInSessions` is an action without a body.
        if matches!(
            doc.method,
            writ_server::routes::Method::Post
                | writ_server::routes::Method::Patch
                | writ_server::routes::Method::Put
        ) && !doc.path.ends_with("/revokeSignInSessions")
        {
            let body = doc
                .body
                .unwrap_or_else(|| panic!("{:?} {} names no body", doc.method, doc.path));
            assert!(schemas.contains_key(body), "{}: {body}", doc.path);
        }
    }
    assert_eq!(
        checked,
        2 * 90,
        "the directory's 90 routes under /v1.0 and /beta"
    );
}

crate::on_both_backends!(
    directory_entities_read_into_their_wire_types,
    bodies_read_through_wire_types_keep_their_messages
);

//! The caller path in one read (issue 20 item 4): the statement that resolves an API call's
//! caller (`caller_record`) and the one a `client_credentials` token is decided on
//! (`client_record`) find exactly what the separate reads they replace find — the principal,
//! its risk state, its directory role paths (its own and through a role-assignable group), a
//! user's catalog roles, a client's secrets — for people, agents and applications, on both
//! backends; and a change made between two calls holds at the second, with nothing cached.

use axum::http::{Method, StatusCode};
use serde_json::json;
use writ_domain::clock::Clock;
use writ_domain::model::PrincipalKind;
use writ_domain::store::{
    CallerStore, ClientRecord, DirectoryStore, EntitlementStore, PrincipalRecord, RiskStore,
};
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet};
use crate::harness::{ADMIN_CLIENT_ID, PUBLIC_URL, TestApp, app};

const GLOBAL_ADMIN_ROLE: &str = "62e90394-69f5-4237-9190-012177145e10";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
const CATALOG_OWNER: &str = "ae79f266-94d4-4dab-b730-feca7e132178";
const EM_ROLES: &str = "/v1.0/roleManagement/entitlementManagement/roleAssignments";
const DIRECTORY_ROLES: &str = "/v1.0/roleManagement/directory/roleAssignments";

/// What the separate reads find for the principal, in the shape of one [`PrincipalRecord`],
/// with its lists sorted.
async fn separately(app: &TestApp, kind: PrincipalKind, id: &str) -> Option<PrincipalRecord> {
    let store = &app.store;
    let now = app.clock.now();
    let (login_name, display_name, enabled, is_agent) = match kind {
        PrincipalKind::User => {
            let u = store.user(id).await.unwrap()?;
            let agent = u.kind == writ_domain::model::UserKind::AgentUser;
            (
                u.user_principal_name,
                u.display_name,
                u.account_enabled,
                agent,
            )
        }
        PrincipalKind::ServicePrincipal => {
            let sp = store.service_principal(id).await.unwrap()?;
            let agent = sp.is_agent();
            (sp.app_id, sp.display_name, sp.account_enabled, agent)
        }
    };
    let catalog_roles = match kind {
        PrincipalKind::User => store.em_roles_of(id).await.unwrap(),
        PrincipalKind::ServicePrincipal => Vec::new(),
    };
    Some(sorted(PrincipalRecord {
        id: id.to_owned(),
        kind,
        is_agent,
        display_name,
        login_name,
        enabled,
        risk_state: store.agent_risk_state(id).await.unwrap(),
        directory_role_paths: store.effective_directory_roles(id, now).await.unwrap(),
        catalog_roles,
    }))
}

fn sorted(mut record: PrincipalRecord) -> PrincipalRecord {
    record.directory_role_paths.sort();
    record.catalog_roles.sort();
    record
}

async fn in_one_read(app: &TestApp, kind: PrincipalKind, id: &str) -> Option<PrincipalRecord> {
    app.store
        .caller_record(kind, id, app.clock.now())
        .await
        .unwrap()
        .map(sorted)
}

/// What the separate reads find about an `appId`, as `client_record` answers it.
async fn client_separately(app: &TestApp, app_id: &str) -> ClientRecord {
    let store = &app.store;
    let application_id = store
        .application_by_app_id(app_id)
        .await
        .unwrap()
        .map(|a| a.id);
    let sp = store.service_principal_by_app_id(app_id).await.unwrap();
    let principal = match &sp {
        Some(sp) => separately(app, PrincipalKind::ServicePrincipal, &sp.id).await,
        None => None,
    };
    let owner = application_id
        .clone()
        .or_else(|| sp.as_ref().map(|sp| sp.id.clone()));
    let mut secrets = match owner {
        Some(owner) => store.password_credentials(&owner).await.unwrap(),
        None => Vec::new(),
    };
    secrets.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    ClientRecord {
        application_id,
        principal,
        secrets,
    }
}

async fn client_in_one_read(app: &TestApp, app_id: &str) -> ClientRecord {
    let mut record = app
        .store
        .client_record(app_id, app.clock.now())
        .await
        .unwrap();
    record.principal = record.principal.map(sorted);
    record.secrets.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    record
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

async fn one_read_finds_what_the_separate_reads_find(backend: Backend) {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let created = create_agent(&app, &fleet, "caller-agent", &[&fleet.sponsor]).await;
    let agent = created.id();
    let agent_app_id = created.body["appId"].as_str().unwrap().to_owned();
    let (person, _) = app.user_token("Caller Person").await;
    // Roles by every path: the person's own Global Reader, Global Administrator through a
    // role-assignable group both are members of, and a catalog role.
    let group = app
        .created(
            &app.admin,
            "/v1.0/groups",
            json!({
            "displayName": "Caller admins", "mailNickname": "caller-admins",
            "mailEnabled": false, "securityEnabled": true, "isAssignableToRole": true}),
        )
        .await;
    app.created(
        &app.admin,
        DIRECTORY_ROLES,
        json!({
        "principalId": group, "roleDefinitionId": GLOBAL_ADMIN_ROLE, "directoryScopeId": "/"}),
    )
    .await;
    app.created(
        &app.admin,
        DIRECTORY_ROLES,
        json!({
        "principalId": person, "roleDefinitionId": GLOBAL_READER, "directoryScopeId": "/"}),
    )
    .await;
    add_member(&app, &group, &person).await;
    add_member(&app, &group, &agent).await;
    let catalog = app
        .created(
            &app.admin,
            "/v1.0/identityGovernance/entitlementManagement/catalogs",
            json!({"displayName": "Caller catalog"}),
        )
        .await;
    app.created(&app.admin, EM_ROLES, json!({"principalId": person,
        "roleDefinitionId": CATALOG_OWNER, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}))
        .await;
    let (_, _) = agent_token(&app, &agent, "https://graph.microsoft.com/.default").await;
    let admin_sp = app
        .store
        .service_principal_by_app_id(ADMIN_CLIENT_ID)
        .await
        .unwrap()
        .unwrap();

    let check = |when: &'static str| {
        let (app, person, agent, admin_sp) = (&app, &person, &agent, &admin_sp.id);
        async move {
            for (kind, id) in [
                (PrincipalKind::User, person.as_str()),
                (PrincipalKind::ServicePrincipal, agent.as_str()),
                (PrincipalKind::ServicePrincipal, admin_sp.as_str()),
                // The wrong kind for the id, and an id that names nothing.
                (PrincipalKind::ServicePrincipal, person.as_str()),
                (PrincipalKind::User, agent.as_str()),
                (PrincipalKind::User, "00000000-0000-4000-8000-000000000000"),
            ] {
                assert_eq!(
                    in_one_read(app, kind, id).await,
                    separately(app, kind, id).await,
                    "{when}: {kind:?} {id}"
                );
            }
        }
    };
    check("roles by every path").await;
    let found = in_one_read(&app, PrincipalKind::User, &person)
        .await
        .unwrap();
    assert_eq!(found.directory_role_paths.len(), 2, "{found:?}");
    assert_eq!(found.catalog_roles.len(), 1, "{found:?}");
    let found = in_one_read(&app, PrincipalKind::ServicePrincipal, &agent)
        .await
        .unwrap();
    assert!(found.is_agent);
    // The store reports the group's path; the identity rules drop the privileged role.
    assert_eq!(found.directory_role_paths.len(), 1, "{found:?}");

    for app_id in [
        ADMIN_CLIENT_ID,
        agent_app_id.as_str(),
        fleet.blueprint_app_id.as_str(),
        "00000000-0000-4000-8000-000000000000",
    ] {
        assert_eq!(
            client_in_one_read(&app, app_id).await,
            client_separately(&app, app_id).await,
            "{app_id}"
        );
    }
    let agent_client = client_in_one_read(&app, &agent_app_id).await;
    assert_eq!(agent_client.application_id, None);
    assert_eq!(agent_client.secrets.len(), 1, "{agent_client:?}");
    let admin_client = client_in_one_read(&app, ADMIN_CLIENT_ID).await;
    assert!(admin_client.application_id.is_some());
    assert!(!admin_client.secrets.is_empty());
    assert_eq!(
        admin_client.principal.as_ref().map(|p| p.id.as_str()),
        Some(admin_sp.id.as_str())
    );

    // Changes: the agent compromised and disabled, the person out of the group.
    let reply = app
        .send(
            Method::POST,
            "/beta/identityProtection/riskyAgents/confirmCompromised",
            &app.admin,
            json!({"agentIds": [agent]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{agent}"),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = app
        .delete(
            &format!("/v1.0/groups/{group}/members/{person}/$ref"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    check("after the changes").await;
    let found = in_one_read(&app, PrincipalKind::ServicePrincipal, &agent)
        .await
        .unwrap();
    assert!(!found.enabled);
    assert!(found.risk_state.is_some());
    let found = in_one_read(&app, PrincipalKind::User, &person)
        .await
        .unwrap();
    assert_eq!(found.directory_role_paths.len(), 1, "{found:?}");
    assert_eq!(
        client_in_one_read(&app, &agent_app_id).await,
        client_separately(&app, &agent_app_id).await
    );
}

/// Every call re-reads: a person's role through a group ends at the call after the membership
/// does, and an application disabled between two token requests gets no second token.
async fn a_change_holds_at_the_next_call(backend: Backend) {
    let app = app(backend).await;
    let (person, token) = app.user_token("Group Reader").await;
    let group = app
        .created(
            &app.admin,
            "/v1.0/groups",
            json!({
            "displayName": "Readers", "mailNickname": "readers",
            "mailEnabled": false, "securityEnabled": true, "isAssignableToRole": true}),
        )
        .await;
    app.created(
        &app.admin,
        DIRECTORY_ROLES,
        json!({
        "principalId": group, "roleDefinitionId": GLOBAL_ADMIN_ROLE, "directoryScopeId": "/"}),
    )
    .await;
    add_member(&app, &group, &person).await;
    assert_eq!(
        app.create_group_as(&token, "Made through the group").await,
        StatusCode::CREATED
    );
    let reply = app
        .delete(
            &format!("/v1.0/groups/{group}/members/{person}/$ref"),
            &app.admin,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(
        app.create_group_as(&token, "Made after leaving").await,
        StatusCode::FORBIDDEN
    );

    // An application with its own secret: a token, then none once its principal is disabled.
    let application = app
        .created(
            &app.admin,
            "/v1.0/applications",
            json!({"displayName": "Caller app"}),
        )
        .await;
    let app_id = app
        .get(&format!("/v1.0/applications/{application}"), &app.admin)
        .await
        .body["appId"]
        .as_str()
        .unwrap()
        .to_owned();
    let sp = app
        .created(
            &app.admin,
            "/v1.0/servicePrincipals",
            json!({"appId": app_id}),
        )
        .await;
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/applications/{application}/addPassword"),
            &app.admin,
            json!({"passwordCredential": {"displayName": "key"}}),
        )
        .await;
    assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
    let secret = secret.body["secretText"].as_str().unwrap().to_owned();
    let form = format!(
        "grant_type=client_credentials&client_id={app_id}&client_secret={secret}\
         &scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
    );
    let reply = app.token_request(&form).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let first = reply.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/v1.0/servicePrincipals/{sp}"), &first)
            .await
            .status,
        StatusCode::OK
    );
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{sp}"),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    app.token_request(&form).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        "The application has no enabled service principal in this tenant.",
    );
    assert_eq!(
        app.get(&format!("/v1.0/servicePrincipals/{sp}"), &first)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A wrong secret says nothing more than an unknown client.
    let wrong = form.replace(&secret, "not-the-secret");
    let reply = app.token_request(&wrong).await;
    assert_eq!(reply.body["error"], "invalid_client", "{}", reply.body);
}

crate::on_both_backends!(
    one_read_finds_what_the_separate_reads_find,
    a_change_holds_at_the_next_call,
);

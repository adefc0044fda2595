//! The agent directory: blueprints, blueprint principals, agent identities and their sponsors,
//! agents' own credentials and tokens, app roles in resource tokens, directory roles, and what
//! deleting a sponsor does.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::clock::Clock;
use writ_domain::store::{AuditStore, DirectoryStore};
use writ_store::Backend;

use crate::harness::{PUBLIC_URL, TestApp, app};

const READER_ROLE: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";
const GLOBAL_ADMIN_ROLE: &str = "62e90394-69f5-4237-9190-012177145e10";
const ORDERS_READ_ROLE: &str = "4b1a7c2e-1f3d-4e5a-8b6c-7d8e9f0a1b2c";
const ORDERS_WRITE_ROLE: &str = "5c2b8d3f-2a4e-4f6b-9c7d-8e9f0a1b2c3d";

pub(crate) fn user_url(id: &str) -> String {
    format!("{PUBLIC_URL}/v1.0/users/{id}")
}

pub(crate) struct Fleet {
    pub sponsor: String,
    pub blueprint_app_id: String,
    blueprint_id: String,
}

pub(crate) async fn fleet(app: &TestApp) -> Fleet {
    let sponsor = app.create_user("Sam Sponsor").await;
    let blueprint = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            json!({
                "@odata.type": "#microsoft.graph.agentIdentityBlueprint",
                "displayName": "Support agent blueprint",
                "sponsors@odata.bind": [user_url(&sponsor)],
            }),
        )
        .await;
    assert_eq!(blueprint.status, StatusCode::CREATED, "{}", blueprint.body);
    assert_eq!(
        blueprint.body["@odata.type"],
        "#microsoft.graph.agentIdentityBlueprint"
    );
    let blueprint_app_id = blueprint.body["appId"].as_str().unwrap().to_owned();
    let principal = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
            &app.admin,
            json!({"appId": blueprint_app_id}),
        )
        .await;
    assert_eq!(principal.status, StatusCode::CREATED, "{}", principal.body);
    assert_eq!(
        principal.body["@odata.type"],
        "#microsoft.graph.agentIdentityBlueprintPrincipal"
    );
    Fleet {
        sponsor,
        blueprint_app_id,
        blueprint_id: blueprint.body["id"].as_str().unwrap().to_owned(),
    }
}

pub(crate) async fn create_agent(
    app: &TestApp,
    fleet: &Fleet,
    name: &str,
    sponsors: &[&str],
) -> crate::harness::Reply {
    let binds: Vec<String> = sponsors.iter().map(|s| user_url(s)).collect();
    app.send(
        Method::POST,
        "/v1.0/servicePrincipals",
        &app.admin,
        json!({
            "@odata.type": "#microsoft.graph.agentIdentity",
            "displayName": name,
            "agentIdentityBlueprintId": fleet.blueprint_app_id,
            "sponsors@odata.bind": binds,
        }),
    )
    .await
}

pub(crate) async fn agent_token(app: &TestApp, agent_id: &str, scope: &str) -> (String, Value) {
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{agent_id}/addPassword"),
            &app.admin,
            json!({"passwordCredential": {"displayName": "agent key"}}),
        )
        .await;
    assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
    let text = secret.body["secretText"].as_str().unwrap().to_owned();
    assert_eq!(secret.body["hint"], text[..3]);
    let agent = app
        .get(&format!("/v1.0/servicePrincipals/{agent_id}"), &app.admin)
        .await;
    let app_id = agent.body["appId"].as_str().unwrap().to_owned();
    let reply = app
        .token_request(&format!(
            "grant_type=client_credentials&client_id={app_id}&client_secret={text}&scope={}",
            scope.replace(':', "%3A").replace('/', "%2F")
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.body["access_token"].as_str().unwrap().to_owned();
    let claims = crate::harness::claims_of(&token);
    (token, claims)
}

async fn agents_are_created_with_sponsors_and_authenticate(backend: Backend) {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let co_sponsor = app.create_user("Cora Cosponsor").await;
    let reply = create_agent(&app, &fleet, "support-agent-1", &[&fleet.sponsor]).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let agent = reply.body["id"].as_str().unwrap().to_owned();
    let agent_app_id = reply.body["appId"].as_str().unwrap().to_owned();
    assert_eq!(reply.body["@odata.type"], "#microsoft.graph.agentIdentity");
    assert_eq!(
        reply.body["agentIdentityBlueprintId"],
        fleet.blueprint_app_id.as_str()
    );
    assert_eq!(reply.body["servicePrincipalType"], "ServiceIdentity");
    assert_ne!(
        reply.body["appId"],
        fleet.blueprint_app_id.as_str(),
        "an agent has its own appId"
    );

    // Sponsors are listed, and a second one can be added.
    let sponsors = app
        .get(
            &format!("/v1.0/servicePrincipals/{agent}/sponsors"),
            &app.admin,
        )
        .await;
    assert_eq!(sponsors.body["value"][0]["id"], fleet.sponsor.as_str());
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{agent}/sponsors/$ref"),
            &app.admin,
            json!({"@odata.id": user_url(&co_sponsor)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let sponsors = app
        .get(
            &format!("/v1.0/servicePrincipals/{agent}/sponsors?$count=true"),
            &app.admin,
        )
        .await;
    assert_eq!(sponsors.body["@odata.count"], 2);

    // Casts list only their type.
    let agents = app
        .get(
            "/v1.0/servicePrincipals/microsoft.graph.agentIdentity",
            &app.admin,
        )
        .await;
    let ids: Vec<&str> = agents.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [agent.as_str()]);
    let blueprints = app
        .get(
            "/v1.0/applications/microsoft.graph.agentIdentityBlueprint",
            &app.admin,
        )
        .await;
    assert_eq!(blueprints.body["value"].as_array().unwrap().len(), 1);
    let all = app.get("/v1.0/servicePrincipals", &app.admin).await;
    assert_eq!(
        all.body["value"].as_array().unwrap().len(),
        5,
        "admin, Writ's command-line and portal clients, blueprint principal, agent"
    );
    let by_app_id = app
        .get(
            &format!("/v1.0/servicePrincipals(appId='{agent_app_id}')"),
            &app.admin,
        )
        .await;
    assert_eq!(by_app_id.body["id"], agent.as_str());

    // The agent authenticates with its own secret and reads itself, but not another agent.
    let other = create_agent(&app, &fleet, "support-agent-2", &[&fleet.sponsor]).await;
    let other = other.body["id"].as_str().unwrap().to_owned();
    let (token, claims) = agent_token(&app, &agent, "https://graph.microsoft.com/.default").await;
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["oid"], agent.as_str());
    assert_eq!(
        app.get(&format!("/v1.0/servicePrincipals/{agent}"), &token)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/v1.0/servicePrincipals/{other}"), &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/v1.0/servicePrincipals", &token).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("/v1.0/users/{}", fleet.sponsor), &token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // An agent cannot create agents.
    let reply = app
        .send(Method::POST, "/v1.0/servicePrincipals", &token, json!({"@odata.type": "#microsoft.graph.agentIdentity", "displayName": "x", "agentIdentityBlueprintId": fleet.blueprint_app_id, "sponsors@odata.bind": [user_url(&fleet.sponsor)]}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // An agent user hangs off its agent identity.
    let reply = app
        .send(
            Method::POST,
            "/v1.0/users",
            &app.admin,
            json!({
                "@odata.type": "#microsoft.graph.agentUser",
                "displayName": "support-agent-1 user",
                "userPrincipalName": "support-agent-1@example.org",
                "mailNickname": "support-agent-1",
                "accountEnabled": true,
                "identityParentId": agent,
                "sponsors@odata.bind": [user_url(&fleet.sponsor)],
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["@odata.type"], "#microsoft.graph.agentUser");
    assert_eq!(reply.body["identityParentId"], agent.as_str());
    let agent_user = reply.body["id"].as_str().unwrap().to_owned();
    let agent_users = app
        .get("/v1.0/users/microsoft.graph.agentUser", &app.admin)
        .await;
    assert_eq!(agent_users.body["value"].as_array().unwrap().len(), 1);
    let sponsors = app
        .get(&format!("/v1.0/users/{agent_user}/sponsors"), &app.admin)
        .await;
    assert_eq!(sponsors.body["value"][0]["id"], fleet.sponsor.as_str());
    // The agent identity cannot be deleted while its agent user exists.
    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/servicePrincipals/{agent}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
}

async fn invalid_agents_are_refused_without_change(backend: Backend) {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let (_, human) = app.user_token("Hugh Human").await;
    let plain_sp = app
        .store
        .service_principal_by_app_id(crate::harness::ADMIN_CLIENT_ID)
        .await
        .unwrap()
        .unwrap();
    let agent = create_agent(&app, &fleet, "the-agent", &[&fleet.sponsor]).await;
    let agent = agent.body["id"].as_str().unwrap().to_owned();
    let agent_user = app
        .send(
            Method::POST,
            "/v1.0/users/microsoft.graph.agentUser",
            &app.admin,
            json!({
                "displayName": "au", "userPrincipalName": "au@example.org", "mailNickname": "au",
                "accountEnabled": true, "identityParentId": agent,
            }),
        )
        .await;
    assert_eq!(
        agent_user.status,
        StatusCode::CREATED,
        "{}",
        agent_user.body
    );
    let agent_user = agent_user.body["id"].as_str().unwrap().to_owned();
    // A blueprint without a principal.
    let orphan = app
        .send(Method::POST, "/v1.0/applications/microsoft.graph.agentIdentityBlueprint", &app.admin, json!({"displayName": "No principal", "sponsors@odata.bind": [user_url(&fleet.sponsor)]}))
        .await;
    let orphan_app_id = orphan.body["appId"].as_str().unwrap().to_owned();

    let sps_before = app
        .store
        .list_service_principals(
            &writ_domain::query::ListQuery {
                top: 999,
                count: true,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap()
        .count;
    let audits_before = app.audit_count().await;
    let agent_body = |blueprint: &str, sponsors: Vec<String>| {
        json!({
            "@odata.type": "#microsoft.graph.agentIdentity",
            "displayName": "refused",
            "agentIdentityBlueprintId": blueprint,
            "sponsors@odata.bind": sponsors,
        })
    };
    let cases = vec![
        (
            "no sponsor",
            agent_body(&fleet.blueprint_app_id, vec![]),
            "sponsor",
        ),
        (
            "service principal sponsor",
            agent_body(
                &fleet.blueprint_app_id,
                vec![format!(
                    "{PUBLIC_URL}/v1.0/servicePrincipals/{}",
                    plain_sp.id
                )],
            ),
            "users or groups",
        ),
        (
            "agent user sponsor",
            agent_body(&fleet.blueprint_app_id, vec![user_url(&agent_user)]),
            "agent user",
        ),
        (
            "unknown blueprint",
            agent_body(
                "6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b",
                vec![user_url(&fleet.sponsor)],
            ),
            "blueprint",
        ),
        (
            "no blueprint principal",
            agent_body(&orphan_app_id, vec![user_url(&fleet.sponsor)]),
            "Blueprint Principal",
        ),
        (
            "missing blueprint id",
            json!({"@odata.type": "#microsoft.graph.agentIdentity", "displayName": "x", "sponsors@odata.bind": [user_url(&fleet.sponsor)]}),
            "agentIdentityBlueprintId",
        ),
    ];
    for (name, body, mentions) in cases {
        let reply = app
            .send(Method::POST, "/v1.0/servicePrincipals", &app.admin, body)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            reply.body
        );
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(mentions),
            "{name}: '{message}' should mention '{mentions}'"
        );
    }
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{agent}"),
            &app.admin,
            json!({"agentIdentityBlueprintId": orphan_app_id}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "blueprint id is immutable"
    );
    let reply = app
        .request(
            Method::DELETE,
            &format!(
                "/v1.0/servicePrincipals/{agent}/sponsors/{}/$ref",
                fleet.sponsor
            ),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "the last sponsor stays: {}",
        reply.body
    );
    let reply = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &human,
            agent_body(&fleet.blueprint_app_id, vec![user_url(&fleet.sponsor)]),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "a non-admin creating agents"
    );
    // An agent never receives a privileged directory role; an unprivileged one is fine.
    for principal in [&agent, &agent_user] {
        let reply = app
            .send(Method::POST, "/v1.0/roleManagement/directory/roleAssignments", &app.admin, json!({"principalId": principal, "roleDefinitionId": GLOBAL_ADMIN_ROLE, "directoryScopeId": "/"}))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("privileged")
        );
    }
    let sps_after = app
        .store
        .list_service_principals(
            &writ_domain::query::ListQuery {
                top: 999,
                count: true,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap()
        .count;
    assert_eq!(sps_after, sps_before);
    assert_eq!(
        app.audit_count().await,
        audits_before,
        "refusals leave no audit record"
    );
    let sponsors = app
        .get(
            &format!("/v1.0/servicePrincipals/{agent}/sponsors"),
            &app.admin,
        )
        .await;
    assert_eq!(sponsors.body["value"].as_array().unwrap().len(), 1);

    let reply = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": agent, "roleDefinitionId": READER_ROLE, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    // Directory Readers lets the agent list users now, decided from the database on this call.
    let (token, claims) = agent_token(&app, &agent, "https://graph.microsoft.com/.default").await;
    assert_eq!(claims["wids"], json!([READER_ROLE]));
    assert_eq!(app.get("/v1.0/users", &token).await.status, StatusCode::OK);
    let assignment = reply.body["id"].as_str().unwrap().to_owned();
    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/roleManagement/directory/roleAssignments/{assignment}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v1.0/users", &token).await.status,
        StatusCode::FORBIDDEN,
        "the same token loses the right at once"
    );
}

async fn resource_tokens_carry_exactly_the_assigned_app_roles(backend: Backend) {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let agent = create_agent(&app, &fleet, "orders-agent", &[&fleet.sponsor]).await;
    let agent = agent.body["id"].as_str().unwrap().to_owned();
    let api = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({
            "displayName": "Orders API",
            "identifierUris": ["api://orders"],
            "appRoles": [
                {"id": ORDERS_READ_ROLE, "allowedMemberTypes": ["Application"], "displayName": "Read orders", "description": "Read", "value": "Orders.Read", "isEnabled": true},
                {"id": ORDERS_WRITE_ROLE, "allowedMemberTypes": ["User"], "displayName": "Write orders", "description": "Write", "value": "Orders.Write", "isEnabled": true},
            ],
        }))
        .await;
    assert_eq!(api.status, StatusCode::CREATED, "{}", api.body);
    let api_app_id = api.body["appId"].as_str().unwrap().to_owned();
    let api_sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": api_app_id}),
        )
        .await;
    assert_eq!(api_sp.status, StatusCode::CREATED, "{}", api_sp.body);
    let api_sp = api_sp.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&format!("/v1.0/servicePrincipals/{api_sp}"), &app.admin)
            .await
            .body["appRoles"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A role for users only cannot go to an agent.
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{api_sp}/appRoleAssignedTo"),
            &app.admin,
            json!({"principalId": agent, "resourceId": api_sp, "appRoleId": ORDERS_WRITE_ROLE}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{api_sp}/appRoleAssignedTo"),
            &app.admin,
            json!({"principalId": agent, "resourceId": api_sp, "appRoleId": ORDERS_READ_ROLE}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["principalType"], "ServicePrincipal");
    assert_eq!(reply.body["resourceDisplayName"], "Orders API");
    let assignment = reply.body["id"].as_str().unwrap().to_owned();
    let listed = app
        .get(
            &format!("/v1.0/servicePrincipals/{agent}/appRoleAssignments"),
            &app.admin,
        )
        .await;
    assert_eq!(listed.body["value"][0]["id"], assignment.as_str());

    let now = app.clock.now().unix_timestamp();
    let (token, claims) = agent_token(&app, &agent, &format!("api://{api_app_id}/.default")).await;
    assert_eq!(claims["aud"], api_app_id.as_str());
    assert_eq!(claims["roles"], json!(["Orders.Read"]));
    assert_eq!(claims["idtyp"], "app");
    let lifetime = claims["exp"].as_i64().unwrap() - now;
    assert!(
        (0..=600).contains(&lifetime),
        "resource tokens live at most tokens.resource_lifetime: {lifetime}"
    );
    // By identifier URI too.
    let (_, by_uri) = agent_token(&app, &agent, "api://orders/.default").await;
    assert_eq!(by_uri["roles"], json!(["Orders.Read"]));
    // A resource token is not a token for Writ.
    assert_eq!(
        app.get(&format!("/v1.0/servicePrincipals/{agent}"), &token)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/servicePrincipals/{api_sp}/appRoleAssignedTo/{assignment}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let (_, claims) = agent_token(&app, &agent, &format!("api://{api_app_id}/.default")).await;
    assert!(
        claims.get("roles").is_none(),
        "no role after the assignment is removed: {claims}"
    );

    // An unknown resource is invalid_scope.
    let reply = app
        .token_request(&format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=api%3A%2F%2F6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b%2F.default",
            crate::harness::ADMIN_CLIENT_ID,
            crate::harness::ADMIN_SECRET
        ))
        .await;
    assert_eq!(reply.body["error"], "invalid_scope");
    // Without valid credentials the server says nothing about which resources exist.
    let reply = app
        .token_request("grant_type=client_credentials&client_id=x&client_secret=y&scope=api%3A%2F%2F6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b%2F.default")
        .await;
    assert_eq!(reply.body["error"], "invalid_client");
}

async fn deleting_a_sponsor_hands_agents_to_the_manager(backend: Backend) {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let manager = app.create_user("Mona Manager").await;
    let reply = app
        .send(
            Method::PUT,
            &format!("/v1.0/users/{}/manager/$ref", fleet.sponsor),
            &app.admin,
            json!({"@odata.id": user_url(&manager)}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let handed = create_agent(&app, &fleet, "handed-over", &[&fleet.sponsor])
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lonely_sponsor = app.create_user("Lonely Sponsor").await;
    let orphaned = create_agent(&app, &fleet, "orphaned", &[&lonely_sponsor])
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for user in [&fleet.sponsor, &lonely_sponsor] {
        let reply = app
            .request(
                Method::DELETE,
                &format!("/v1.0/users/{user}"),
                Some(&app.admin),
                None,
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }
    let sponsors = app
        .get(
            &format!("/v1.0/servicePrincipals/{handed}/sponsors"),
            &app.admin,
        )
        .await;
    assert_eq!(sponsors.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(sponsors.body["value"][0]["id"], manager.as_str());
    let blueprint_sponsors = app
        .get(
            &format!("/v1.0/applications/{}/sponsors", fleet.blueprint_id),
            &app.admin,
        )
        .await;
    assert_eq!(
        blueprint_sponsors.body["value"][0]["id"],
        manager.as_str(),
        "the blueprint's sponsorship passes too"
    );
    let sponsors = app
        .get(
            &format!("/v1.0/servicePrincipals/{orphaned}/sponsors"),
            &app.admin,
        )
        .await;
    assert_eq!(sponsors.body["value"], json!([]));

    let records = app.store.audit_records(1000).await.unwrap();
    let transfer = records
        .iter()
        .find(|r| {
            r.activity_display_name == "Transfer sponsorship to manager"
                && r.target_resources[0].id == handed
        })
        .expect("an audit record of the transfer");
    assert!(
        transfer
            .additional_details
            .contains(&("newSponsorId".to_owned(), manager.clone()))
    );
    let left = records
        .iter()
        .find(|r| r.activity_display_name == "Agent left without sponsor")
        .expect("an audit record of the agent left without sponsor");
    assert_eq!(left.target_resources[0].id, orphaned);
    assert!(left.result_reason.is_some());
}

async fn role_definitions_and_grants(backend: Backend) {
    let app = app(backend).await;
    let v1 = app
        .get("/v1.0/roleManagement/directory/roleDefinitions", &app.admin)
        .await;
    let defs = v1.body["value"].as_array().unwrap();
    assert_eq!(defs.len(), 4);
    assert!(
        defs.iter().all(|d| d.get("isPrivileged").is_none()),
        "v1.0 has no isPrivileged"
    );
    let beta = app
        .get(
            &format!("/beta/roleManagement/directory/roleDefinitions/{READER_ROLE}"),
            &app.admin,
        )
        .await;
    assert_eq!(beta.body["isPrivileged"], false);
    assert_eq!(beta.body["displayName"], "Directory Readers");
    let admins = app
        .get(&format!("/v1.0/roleManagement/directory/roleAssignments?$filter=roleDefinitionId%20eq%20'{GLOBAL_ADMIN_ROLE}'"), &app.admin)
        .await;
    let only = admins.body["value"].as_array().unwrap();
    assert_eq!(only.len(), 1);
    let reply = app
        .request(
            Method::DELETE,
            &format!(
                "/v1.0/roleManagement/directory/roleAssignments/{}",
                only[0]["id"].as_str().unwrap()
            ),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CONFLICT,
        "the last Global Administrator stays"
    );

    // Delegated grants name scopes the resource defines.
    let client = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            json!({"displayName": "Client"}),
        )
        .await;
    let client_sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": client.body["appId"]}),
        )
        .await;
    let api = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({"displayName": "Api", "api": {"oauth2PermissionScopes": [
            {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "value": "Files.Read", "type": "User", "adminConsentDisplayName": "Read files", "adminConsentDescription": "Read files"}
        ]}}))
        .await;
    assert_eq!(api.status, StatusCode::CREATED, "{}", api.body);
    let api_sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": api.body["appId"]}),
        )
        .await;
    let user = app.create_user("Grant Target").await;
    let body = |scope: &str| json!({"clientId": client_sp.body["id"], "consentType": "Principal", "principalId": user, "resourceId": api_sp.body["id"], "scope": scope});
    let bad = app
        .send(
            Method::POST,
            "/v1.0/oauth2PermissionGrants",
            &app.admin,
            body("Files.Delete"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let grant = app
        .send(
            Method::POST,
            "/v1.0/oauth2PermissionGrants",
            &app.admin,
            body("files.read"),
        )
        .await;
    assert_eq!(grant.status, StatusCode::CREATED, "{}", grant.body);
    assert_eq!(grant.body["scope"], "Files.Read");
    let id = grant.body["id"].as_str().unwrap();
    let listed = app.get("/v1.0/oauth2PermissionGrants", &app.admin).await;
    assert_eq!(listed.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.request(
            Method::DELETE,
            &format!("/v1.0/oauth2PermissionGrants/{id}"),
            Some(&app.admin),
            None,
            &[]
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/v1.0/oauth2PermissionGrants/{id}"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn application_secrets_are_shown_once_and_revocable(backend: Backend) {
    let app = app(backend).await;
    let created = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            json!({"displayName": "Worker"}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let app_id = created.body["appId"].as_str().unwrap().to_owned();
    app.send(
        Method::POST,
        "/v1.0/servicePrincipals",
        &app.admin,
        json!({"appId": app_id}),
    )
    .await;
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/applications/{id}/addPassword"),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
    let text = secret.body["secretText"].as_str().unwrap().to_owned();
    let key_id = secret.body["keyId"].as_str().unwrap().to_owned();
    let read = app
        .get(&format!("/v1.0/applications/{id}"), &app.admin)
        .await;
    assert_eq!(
        read.body["passwordCredentials"][0]["keyId"],
        key_id.as_str()
    );
    assert_eq!(
        read.body["passwordCredentials"][0]["secretText"],
        Value::Null,
        "never shown again"
    );
    let form = format!(
        "grant_type=client_credentials&client_id={app_id}&client_secret={text}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
    );
    assert_eq!(app.token_request(&form).await.status, StatusCode::OK);
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/applications/{id}/removePassword"),
            &app.admin,
            json!({"keyId": key_id}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.token_request(&form).await.body["error"],
        "invalid_client"
    );
    // A plain service principal does not hold its own secrets.
    let sp = app
        .get(
            &format!("/v1.0/servicePrincipals(appId='{app_id}')"),
            &app.admin,
        )
        .await;
    let reply = app
        .send(
            Method::POST,
            &format!(
                "/v1.0/servicePrincipals/{}/addPassword",
                sp.body["id"].as_str().unwrap()
            ),
            &app.admin,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

async fn admin_roles_never_reach_agents_and_the_last_admin_stays(backend: Backend) {
    let app = app(backend).await;
    let fleet = fleet(&app).await;
    let agent = create_agent(&app, &fleet, "grouped-agent", &[&fleet.sponsor])
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = app
        .send(Method::POST, "/v1.0/groups", &app.admin, json!({
            "displayName": "Tenant admins", "mailNickname": "tenant-admins", "mailEnabled": false,
            "securityEnabled": true, "isAssignableToRole": true,
        }))
        .await;
    let group = group.body["id"].as_str().unwrap().to_owned();
    let reply = app
        .send(Method::POST, "/v1.0/roleManagement/directory/roleAssignments", &app.admin, json!({"principalId": group, "roleDefinitionId": GLOBAL_ADMIN_ROLE, "directoryScopeId": "/"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let (human_id, human) = app.user_token("Group Admin").await;
    for member in [&agent, &human_id] {
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
    // The human member administers through the group...
    assert_eq!(
        app.create_group_as(&human, "Made by a group admin").await,
        StatusCode::CREATED
    );
    // ...the agent member never does, and its token does not claim the role.
    let (token, claims) = agent_token(&app, &agent, "https://graph.microsoft.com/.default").await;
    assert!(claims.get("wids").is_none(), "{claims}");
    assert_eq!(
        app.create_group_as(&token, "Made by an agent").await,
        StatusCode::FORBIDDEN
    );

    // The bootstrap administrator is the last enabled direct Global Administrator.
    let admin_sp = app
        .store
        .service_principal_by_app_id(crate::harness::ADMIN_CLIENT_ID)
        .await
        .unwrap()
        .unwrap();
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{}", admin_sp.id),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    let (other_admin, other_token) = app.user_token("Second Admin").await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": other_admin, "roleDefinitionId": GLOBAL_ADMIN_ROLE}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{}", admin_sp.id),
            &other_token,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/users/{other_admin}"),
            Some(&other_token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "a user cannot delete itself"
    );
}

crate::on_both_backends!(
    admin_roles_never_reach_agents_and_the_last_admin_stays,
    agents_are_created_with_sponsors_and_authenticate,
    invalid_agents_are_refused_without_change,
    resource_tokens_carry_exactly_the_assigned_app_roles,
    deleting_a_sponsor_hands_agents_to_the_manager,
    role_definitions_and_grants,
    application_secrets_are_shown_once_and_revocable,
);

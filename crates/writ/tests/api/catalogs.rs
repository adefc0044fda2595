//! Entitlement management, the administrator's side: catalogs, resources, packages and the
//! delegation of catalogs to human users, on both backends.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_store::Backend;

use crate::harness::{PUBLIC_URL, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const EM_ROLES: &str = "/v1.0/roleManagement/entitlementManagement/roleAssignments";
const CATALOG_CREATOR: &str = "ba92d953-d8e0-4e39-a797-0cbedb0a89e8";
const CATALOG_OWNER: &str = "ae79f266-94d4-4dab-b730-feca7e132178";
const CATALOG_READER: &str = "44272f93-9762-48e8-af59-1b5351b1d6b3";
const PACKAGE_MANAGER: &str = "7f480852-ebdc-47d4-87de-0d8498384a83";
const ASSIGNMENT_MANAGER: &str = "e2182095-804a-4656-ae11-64734e9b7ae5";
const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";

fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn create_catalog(app: &TestApp, token: &str, name: &str) -> crate::harness::Reply {
    app.send(
        Method::POST,
        &format!("{EM}/catalogs"),
        token,
        json!({"displayName": name, "description": "for tests", "isExternallyVisible": false}),
    )
    .await
}

async fn add_resource(
    app: &TestApp,
    token: &str,
    catalog: &str,
    system: &str,
    origin: &str,
) -> crate::harness::Reply {
    app.send(
        Method::POST,
        &format!("{EM}/resourceRequests"),
        token,
        json!({"requestType": "adminAdd", "catalog": {"id": catalog}, "resource": {"originId": origin, "originSystem": system}}),
    )
    .await
}

async fn grant_role(app: &TestApp, principal: &str, role: &str, scope: &str) {
    let reply = app
        .send(
            Method::POST,
            EM_ROLES,
            &app.admin,
            json!({"principalId": principal, "roleDefinitionId": role, "appScopeId": scope}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

fn id(reply: &crate::harness::Reply) -> String {
    reply.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", reply.body))
        .to_owned()
}

async fn catalogs_resources_and_packages(backend: Backend) {
    let app = app(backend).await;
    let general = app
        .get(
            &format!("{EM}/catalogs?$filter=catalogType%20eq%20'serviceDefault'"),
            &app.admin,
        )
        .await;
    assert_eq!(general.body["value"][0]["displayName"], "General");
    let catalog = create_catalog(&app, &app.admin, "Support Fleet").await;
    assert_eq!(catalog.status, StatusCode::CREATED, "{}", catalog.body);
    assert_eq!(catalog.body["catalogType"], "userManaged");
    assert_eq!(catalog.body["state"], "published");
    let catalog = id(&catalog);
    let found = app
        .get(
            &format!(
                "{EM}/catalogs?$filter={}",
                enc("contains(tolower(displayName),'fleet')")
            ),
            &app.admin,
        )
        .await;
    assert_eq!(
        found.body["value"].as_array().unwrap().len(),
        1,
        "{}",
        found.body
    );

    // A group, an API's application permission and a directory role become resources.
    let group = app.create_group("Support Tier 1").await;
    let reply = add_resource(&app, &app.admin, &catalog, "AadGroup", &group).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["state"], "delivered");
    assert_eq!(reply.body["requestType"], "adminAdd");
    let duplicate = add_resource(&app, &app.admin, &catalog, "AadGroup", &group).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let api = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({"displayName": "Tickets API", "appRoles": [
            {"id": "3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b", "allowedMemberTypes": ["Application"], "value": "Tickets.Read", "displayName": "Read tickets", "isEnabled": true}
        ]}))
        .await;
    let api_sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": api.body["appId"]}),
        )
        .await;
    let api_sp = id(&api_sp);
    assert_eq!(
        add_resource(&app, &app.admin, &catalog, "AadApplication", &api_sp)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        add_resource(
            &app,
            &app.admin,
            &catalog,
            "DirectoryRole",
            DIRECTORY_READERS
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let unsupported = add_resource(&app, &app.admin, &catalog, "SharePointOnline", &group).await;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
    let missing = add_resource(
        &app,
        &app.admin,
        &catalog,
        "AadGroup",
        "6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b",
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);

    let resources = app
        .get(
            &format!("{EM}/catalogs/{catalog}/resources?$expand=roles,scopes"),
            &app.admin,
        )
        .await;
    assert_eq!(resources.status, StatusCode::OK, "{}", resources.body);
    let items = resources.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let group_resource = items
        .iter()
        .find(|r| r["originSystem"] == "AadGroup")
        .unwrap();
    let role_ids: Vec<&str> = group_resource["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["originId"].as_str().unwrap())
        .collect();
    assert_eq!(
        role_ids,
        [format!("Member_{group}"), format!("Owner_{group}")]
    );
    assert_eq!(group_resource["scopes"][0]["isRootScope"], true);
    let app_resource = items
        .iter()
        .find(|r| r["originSystem"] == "AadApplication")
        .unwrap();
    assert_eq!(app_resource["roles"][0]["type"], "application");
    let role_resource = items
        .iter()
        .find(|r| r["originSystem"] == "DirectoryRole")
        .unwrap();
    assert_eq!(role_resource["roles"][0]["originId"], "Active");

    // The documented resourceRoles query.
    let resource_id = group_resource["id"].as_str().unwrap();
    let filter = enc(&format!(
        "(originSystem eq 'AadGroup' and resource/id eq '{resource_id}')"
    ));
    let roles = app
        .get(
            &format!("{EM}/catalogs/{catalog}/resourceRoles?$filter={filter}&$expand=resource"),
            &app.admin,
        )
        .await;
    assert_eq!(roles.status, StatusCode::OK, "{}", roles.body);
    let roles = roles.body["value"].as_array().unwrap().clone();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[0]["resource"]["originId"], group.as_str());
    let member_role = roles.iter().find(|r| r["displayName"] == "Member").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let scopes = app
        .get(
            &format!("{EM}/catalogs/{catalog}/resourceScopes"),
            &app.admin,
        )
        .await;
    assert_eq!(scopes.body["value"].as_array().unwrap().len(), 3);

    // A package grants the group membership (by role id) and the app role (by origin id).
    let package = app
        .send(Method::POST, &format!("{EM}/accessPackages"), &app.admin, json!({"displayName": "Support agent access", "description": "Tier 1", "isHidden": false, "catalog": {"id": catalog}}))
        .await;
    assert_eq!(package.status, StatusCode::CREATED, "{}", package.body);
    let package = id(&package);
    let rs = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages/{package}/resourceRoleScopes"),
            &app.admin,
            json!({"role": {"id": member_role}, "scope": {"originId": group}}),
        )
        .await;
    assert_eq!(rs.status, StatusCode::CREATED, "{}", rs.body);
    let rs_id = id(&rs);
    assert!(rs_id.starts_with(&format!("{member_role}_")), "{rs_id}");
    assert_eq!(rs.body["role"]["originId"], format!("Member_{group}"));
    let again = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages/{package}/resourceRoleScopes"),
            &app.admin,
            json!({"role": {"id": member_role}}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let by_origin = app
        .send(Method::POST, &format!("{EM}/accessPackages/{package}/resourceRoleScopes"), &app.admin, json!({
            "role": {"originId": "3f1c2a4b-5d6e-4f70-8a9b-0c1d2e3f4a5b", "originSystem": "AadApplication", "resource": {"id": app_resource["id"]}},
            "scope": {"originId": api_sp, "originSystem": "AadApplication"}
        }))
        .await;
    assert_eq!(by_origin.status, StatusCode::CREATED, "{}", by_origin.body);
    let expanded = app
        .get(
            &format!(
                "{EM}/accessPackages/{package}?$expand={}",
                enc("resourceRoleScopes($expand=role,scope),catalog")
            ),
            &app.admin,
        )
        .await;
    assert_eq!(expanded.status, StatusCode::OK, "{}", expanded.body);
    assert_eq!(expanded.body["catalog"]["id"], catalog.as_str());
    assert_eq!(
        expanded.body["resourceRoleScopes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        expanded.body["resourceRoleScopes"][0]["scope"]["isRootScope"]
            .as_bool()
            .unwrap()
    );
    let with_packages = app
        .get(
            &format!("{EM}/catalogs/{catalog}?$expand=accessPackages"),
            &app.admin,
        )
        .await;
    assert_eq!(
        with_packages.body["accessPackages"][0]["id"],
        package.as_str()
    );

    // Dependents refuse removal: a resource a package uses, a catalog holding packages.
    let remove = app
        .send(Method::POST, &format!("{EM}/resourceRequests"), &app.admin, json!({"requestType": "adminRemove", "catalog": {"id": catalog}, "resource": {"originId": group, "originSystem": "AadGroup"}}))
        .await;
    assert_eq!(remove.status, StatusCode::CONFLICT, "{}", remove.body);
    let delete = app
        .request(
            Method::DELETE,
            &format!("{EM}/catalogs/{catalog}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(delete.status, StatusCode::CONFLICT);
    let general_id = general.body["value"][0]["id"].as_str().unwrap().to_owned();
    let delete_general = app
        .request(
            Method::DELETE,
            &format!("{EM}/catalogs/{general_id}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(delete_general.status, StatusCode::BAD_REQUEST);

    // Taking the role out frees the resource; then package and catalog go.
    let reply = app
        .request(
            Method::DELETE,
            &format!("{EM}/accessPackages/{package}/resourceRoleScopes/{rs_id}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let remove = app
        .send(Method::POST, &format!("{EM}/resourceRequests"), &app.admin, json!({"requestType": "adminRemove", "catalog": {"id": catalog}, "resource": {"originId": group, "originSystem": "AadGroup"}}))
        .await;
    assert_eq!(remove.status, StatusCode::CREATED, "{}", remove.body);
    assert_eq!(
        app.request(
            Method::DELETE,
            &format!("{EM}/accessPackages/{package}"),
            Some(&app.admin),
            None,
            &[]
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.request(
            Method::DELETE,
            &format!("{EM}/catalogs/{catalog}"),
            Some(&app.admin),
            None,
            &[]
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("{EM}/catalogs/{catalog}"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn refresh_picks_up_new_app_roles(backend: Backend) {
    let app = app(backend).await;
    let catalog = id(&create_catalog(&app, &app.admin, "Refreshing").await);
    let api = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            json!({"displayName": "Evolving API"}),
        )
        .await;
    let api_app = id(&api);
    let api_sp = id(&app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": api.body["appId"]}),
        )
        .await);
    let added = add_resource(&app, &app.admin, &catalog, "AadApplication", &api_sp).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let roles = app
        .get(
            &format!("{EM}/catalogs/{catalog}/resourceRoles"),
            &app.admin,
        )
        .await;
    assert_eq!(roles.body["value"], json!([]));
    app.send(Method::PATCH, &format!("/v1.0/applications/{api_app}"), &app.admin, json!({"appRoles": [
        {"id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "allowedMemberTypes": ["User"], "value": "Reports.View", "displayName": "View reports", "isEnabled": true}
    ]})).await;
    let resources = app
        .get(&format!("{EM}/catalogs/{catalog}/resources"), &app.admin)
        .await;
    let resource = resources.body["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app
        .request(
            Method::POST,
            &format!("{EM}/catalogs/{catalog}/resources/{resource}/refresh"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let roles = app
        .get(
            &format!("{EM}/catalogs/{catalog}/resourceRoles"),
            &app.admin,
        )
        .await;
    assert_eq!(roles.body["value"][0]["displayName"], "View reports");
}

async fn catalogs_are_delegated_to_human_users(backend: Backend) {
    let app = app(backend).await;
    let (creator, creator_token) = app.user_token("Cat Creator").await;
    grant_role(&app, &creator, CATALOG_CREATOR, "/").await;
    let (outsider, outsider_token) = app.user_token("Other Owner").await;
    let (reader, reader_token) = app.user_token("Cat Reader").await;
    let (manager, manager_token) = app.user_token("Pkg Manager").await;
    let (assigner, assigner_token) = app.user_token("Assign Manager").await;
    let (_, plain_token) = app.user_token("Plain User").await;

    // The creator's catalog is its own; another owner has another one.
    let mine = create_catalog(&app, &creator_token, "Creator's catalog").await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);
    let mine = id(&mine);
    let theirs = id(&create_catalog(&app, &app.admin, "Someone else's catalog").await);
    grant_role(
        &app,
        &outsider,
        CATALOG_OWNER,
        &format!("/AccessPackageCatalog/{theirs}"),
    )
    .await;
    assert_eq!(
        create_catalog(&app, &outsider_token, "not a creator")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    for (user, role) in [
        (&reader, CATALOG_READER),
        (&manager, PACKAGE_MANAGER),
        (&assigner, ASSIGNMENT_MANAGER),
    ] {
        let reply = app
            .send(Method::POST, EM_ROLES, &creator_token, json!({"principalId": user, "roleDefinitionId": role, "appScopeId": format!("/AccessPackageCatalog/{mine}")}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "the owner delegates its catalog: {}",
            reply.body
        );
    }
    // Lists are filtered in the query; another's catalog is invisible (404), never 403.
    let listed = app.get(&format!("{EM}/catalogs"), &creator_token).await;
    let names: Vec<&str> = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Creator's catalog"]);
    assert_eq!(
        app.get(&format!("{EM}/catalogs/{theirs}"), &creator_token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("{EM}/catalogs/{mine}"), &outsider_token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("{EM}/catalogs"), &plain_token).await.body["value"],
        json!([])
    );

    // Onboarding: a group the owner owns, yes; one it does not own or a directory role, no.
    let owned = app.create_group("Owned Group").await;
    app.send(
        Method::POST,
        &format!("/v1.0/groups/{owned}/owners/$ref"),
        &app.admin,
        json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/users/{creator}")}),
    )
    .await;
    let foreign = app.create_group("Foreign Group").await;
    assert_eq!(
        add_resource(&app, &creator_token, &mine, "AadGroup", &owned)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        add_resource(&app, &creator_token, &mine, "AadGroup", &foreign)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        add_resource(
            &app,
            &creator_token,
            &mine,
            "DirectoryRole",
            DIRECTORY_READERS
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Another catalog's owner cannot even see this catalog to add to it.
    assert_eq!(
        add_resource(&app, &outsider_token, &mine, "AadGroup", &owned)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Package manager: packages yes, catalog no. Assignment manager and reader: read only.
    let package_body = json!({"displayName": "Delegated package", "catalog": {"id": mine}});
    let package = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages"),
            &manager_token,
            package_body.clone(),
        )
        .await;
    assert_eq!(package.status, StatusCode::CREATED, "{}", package.body);
    let package = id(&package);
    assert_eq!(
        app.send(
            Method::PATCH,
            &format!("{EM}/catalogs/{mine}"),
            &manager_token,
            json!({"description": "x"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    for token in [&assigner_token, &reader_token] {
        assert_eq!(
            app.get(&format!("{EM}/accessPackages/{package}"), token)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            app.send(
                Method::POST,
                &format!("{EM}/accessPackages"),
                token,
                package_body.clone()
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.send(
                Method::PATCH,
                &format!("{EM}/accessPackages/{package}"),
                token,
                json!({"isHidden": true})
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            add_resource(&app, token, &mine, "AadGroup", &foreign)
                .await
                .status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        app.get(&format!("{EM}/accessPackages/{package}"), &outsider_token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("{EM}/accessPackages/{package}"), &plain_token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A package cannot be created in a catalog the caller cannot see.
    let elsewhere = app
        .send(
            Method::POST,
            &format!("{EM}/accessPackages"),
            &manager_token,
            json!({"displayName": "x", "catalog": {"id": theirs}}),
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
    // Role assignments: the reader reads this catalog's, only the owner changes them.
    let assignments = app.get(EM_ROLES, &reader_token).await;
    assert!(
        assignments.body["value"].as_array().unwrap().len() >= 4,
        "{}",
        assignments.body
    );
    let reply = app
        .send(Method::POST, EM_ROLES, &manager_token, json!({"principalId": outsider, "roleDefinitionId": CATALOG_OWNER, "appScopeId": format!("/AccessPackageCatalog/{mine}")}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

async fn catalog_roles_belong_to_human_users(backend: Backend) {
    let app = app(backend).await;
    let catalog = id(&create_catalog(&app, &app.admin, "Humans only").await);
    let group = app.create_group("A Group").await;
    let admin_sp = {
        use writ_domain::store::DirectoryStore;
        app.store
            .service_principal_by_app_id(crate::harness::ADMIN_CLIENT_ID)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    for principal in [group.as_str(), admin_sp.as_str()] {
        let reply = app
            .send(Method::POST, EM_ROLES, &app.admin, json!({"principalId": principal, "roleDefinitionId": CATALOG_OWNER, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    }
    let (user, _) = app.user_token("Scoped Creator").await;
    let reply = app
        .send(Method::POST, EM_ROLES, &app.admin, json!({"principalId": user, "roleDefinitionId": CATALOG_CREATOR, "appScopeId": format!("/AccessPackageCatalog/{catalog}")}))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "catalog creator is tenant-wide"
    );
    let reply = app
        .send(Method::POST, EM_ROLES, &app.admin, json!({"principalId": user, "roleDefinitionId": CATALOG_OWNER, "appScopeId": "/Nonsense"}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let defs = app
        .get(
            "/v1.0/roleManagement/entitlementManagement/roleDefinitions",
            &app.admin,
        )
        .await;
    assert_eq!(defs.body["value"].as_array().unwrap().len(), 5);
    let value: &Value = &defs.body["value"][0];
    assert!(value.get("id").is_some());
}

crate::on_both_backends!(
    catalogs_resources_and_packages,
    refresh_picks_up_new_app_roles,
    catalogs_are_delegated_to_human_users,
    catalog_roles_belong_to_human_users,
);

//! Applications as OAuth clients (issue 16): `publicClient`, `spa`, `web` and
//! `isFallbackPublicClient` set, read, `$select`ed and refused in each invalid form; Writ's own
//! clients created at start and not again at a restart, readable and protected; who may set
//! redirect URIs; and `parameters` on assignment requests.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::directory::writ_clients::{
    PORTAL_REDIRECT_PATH, WRIT_PORTAL_CLIENT_ID, WRIT_PUBLIC_CLIENT_ID,
};
use writ_store::Backend;

use crate::harness::{ADMIN_CLIENT_ID, ADMIN_SECRET, PUBLIC_URL, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
const GOVERNANCE_ADMIN: &str = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e";

async fn new_app(app: &TestApp, body: Value) -> crate::harness::Reply {
    app.send(Method::POST, "/v1.0/applications", &app.admin, body)
        .await
}

async fn patch(app: &TestApp, id: &str, body: Value) -> crate::harness::Reply {
    app.send(
        Method::PATCH,
        &format!("/v1.0/applications/{id}"),
        &app.admin,
        body,
    )
    .await
}

async fn redirect_uris_are_set_read_patched_and_selected(backend: Backend) {
    let app = app(backend).await;
    let created = new_app(
        &app,
        json!({
            "displayName": "Console",
            "publicClient": {"redirectUris": ["http://localhost", "msal0a1b2c3d://auth"]},
            "spa": {"@odata.type": "#microsoft.graph.spaApplication", "redirectUris": ["https://spa.example/"]},
            "web": {
                "redirectUris": ["https://web.example/signin-oidc", "http://127.0.0.1:5000/cb"],
                "logoutUrl": "https://web.example/signout",
                "homePageUrl": "https://web.example/",
                "implicitGrantSettings": {"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false},
            },
            "isFallbackPublicClient": true,
        }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.id();
    let read = app
        .get(&format!("/v1.0/applications/{id}"), &app.admin)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(
        read.body["publicClient"]["redirectUris"],
        json!(["http://localhost", "msal0a1b2c3d://auth"])
    );
    assert_eq!(
        read.body["spa"]["redirectUris"],
        json!(["https://spa.example/"])
    );
    assert_eq!(
        read.body["web"]["redirectUris"],
        json!([
            "https://web.example/signin-oidc",
            "http://127.0.0.1:5000/cb"
        ])
    );
    assert_eq!(read.body["web"]["logoutUrl"], "https://web.example/signout");
    assert_eq!(read.body["web"]["homePageUrl"], "https://web.example/");
    assert_eq!(
        read.body["web"]["implicitGrantSettings"],
        json!({"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false})
    );
    assert_eq!(read.body["isFallbackPublicClient"], true);

    // PATCH: what is named changes; `web`'s other properties are kept.
    let patched = patch(
        &app,
        &id,
        json!({"web": {"redirectUris": ["https://web.example/cb2"]}, "isFallbackPublicClient": false, "spa": null}),
    )
    .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let read = app
        .get(&format!("/v1.0/applications/{id}"), &app.admin)
        .await;
    assert_eq!(
        read.body["web"]["redirectUris"],
        json!(["https://web.example/cb2"])
    );
    assert_eq!(read.body["web"]["logoutUrl"], "https://web.example/signout");
    assert_eq!(read.body["spa"]["redirectUris"], json!([]));
    assert_eq!(read.body["isFallbackPublicClient"], false);
    let cleared = patch(&app, &id, json!({"web": {"logoutUrl": null}})).await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT);
    let read = app
        .get(&format!("/v1.0/applications/{id}"), &app.admin)
        .await;
    assert_eq!(read.body["web"]["logoutUrl"], Value::Null);

    // $select names them, alone or together.
    let selected = app
        .get(
            &format!("/v1.0/applications/{id}?$select=publicClient,isFallbackPublicClient"),
            &app.admin,
        )
        .await;
    assert_eq!(selected.status, StatusCode::OK, "{}", selected.body);
    assert_eq!(
        selected.body["publicClient"]["redirectUris"][0],
        "http://localhost"
    );
    assert!(selected.body.get("web").is_none());
    assert!(selected.body.get("displayName").is_none());
    let listed = app
        .get("/v1.0/applications?$select=id,web,spa", &app.admin)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let mine = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap();
    assert_eq!(mine["web"]["redirectUris"][0], "https://web.example/cb2");

    // An update is audited with the properties it changed.
    let audits = app
        .get(
            "/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName%20eq%20'Update%20application'",
            &app.admin,
        )
        .await;
    assert!(
        audits.body.to_string().contains("isFallbackPublicClient"),
        "{}",
        audits.body
    );
}

async fn each_invalid_redirect_form_is_a_named_400(backend: Backend) {
    let app = app(backend).await;
    let id = new_app(&app, json!({"displayName": "Target"})).await.id();
    let long = format!("https://app.example/{}", "a".repeat(256));
    let many: Vec<String> = (0..257)
        .map(|i| format!("https://app.example/{i}"))
        .collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "relative",
            json!({"web": {"redirectUris": ["/cb"]}}),
            "not an absolute URI",
        ),
        (
            "fragment",
            json!({"web": {"redirectUris": ["https://a.example/cb#x"]}}),
            "fragment",
        ),
        (
            "plain http",
            json!({"spa": {"redirectUris": ["http://a.example/cb"]}}),
            "only https",
        ),
        (
            "custom scheme on web",
            json!({"web": {"redirectUris": ["myapp://auth"]}}),
            "custom scheme",
        ),
        (
            "custom scheme on spa",
            json!({"spa": {"redirectUris": ["myapp://auth"]}}),
            "custom scheme",
        ),
        (
            "javascript",
            json!({"publicClient": {"redirectUris": ["javascript:alert(1)"]}}),
            "scheme",
        ),
        (
            "wildcard",
            json!({"web": {"redirectUris": ["https://*.a.example/cb"]}}),
            "wildcard",
        ),
        (
            "userinfo",
            json!({"web": {"redirectUris": ["https://u:p@a.example/cb"]}}),
            "user information",
        ),
        (
            "too long",
            json!({"web": {"redirectUris": [long]}}),
            "256 characters",
        ),
        (
            "too many",
            json!({"web": {"redirectUris": many}}),
            "at most 256 redirect URIs",
        ),
        (
            "duplicate",
            json!({"web": {"redirectUris": ["https://a.example/", "https://a.example/"]}}),
            "registered twice",
        ),
        (
            "across kinds",
            json!({"web": {"redirectUris": ["https://a.example/"]}, "spa": {"redirectUris": ["https://a.example/"]}}),
            "registered twice",
        ),
        (
            "logout over http",
            json!({"web": {"logoutUrl": "http://a.example/out"}}),
            "web.logoutUrl",
        ),
        (
            "implicit flow",
            json!({"web": {"implicitGrantSettings": {"enableIdTokenIssuance": true}}}),
            "implicit flow",
        ),
        (
            "redirectUriSettings",
            json!({"web": {"redirectUriSettings": [{"uri": "https://a.example/"}]}}),
            "web.redirectUris",
        ),
        (
            "unknown property",
            json!({"publicClient": {"redirectUri": ["https://a.example/"]}}),
            "publicClient.redirectUri",
        ),
        (
            "not an object",
            json!({"spa": ["https://a.example/"]}),
            "spa",
        ),
        (
            "not strings",
            json!({"spa": {"redirectUris": [5]}}),
            "spa.redirectUris",
        ),
        (
            "fallback not a boolean",
            json!({"isFallbackPublicClient": "yes"}),
            "isFallbackPublicClient",
        ),
    ];
    for (case, body, expected) in cases {
        let reply = patch(&app, &id, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.body
        );
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{case}: {message}");
        let mut create = body.as_object().unwrap().clone();
        create.insert("displayName".into(), json!("refused"));
        let reply = new_app(&app, Value::Object(create)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "create {case}: {}",
            reply.body
        );
    }
    // Nothing of the refused changes was kept.
    let read = app
        .get(&format!("/v1.0/applications/{id}"), &app.admin)
        .await;
    assert_eq!(read.body["web"]["redirectUris"], json!([]));
    assert_eq!(read.body["web"]["logoutUrl"], Value::Null);
}

/// The ids of the applications and service principals with this appId.
async fn objects_with_app_id(app: &TestApp, app_id: &str) -> (Vec<Value>, Vec<Value>) {
    let mut found = (Vec::new(), Vec::new());
    for (path, into) in [
        ("/v1.0/applications?$top=999", &mut found.0),
        ("/v1.0/servicePrincipals?$top=999", &mut found.1),
    ] {
        let list = app.get(path, &app.admin).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        into.extend(
            list.body["value"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["appId"] == app_id)
                .cloned(),
        );
    }
    found
}

async fn restart(app: &TestApp, public_url: &str) {
    writ_server::start(
        Arc::new(app.store.clone()),
        Arc::new(app.clock.clone()),
        writ_server::ServerConfig {
            public_url: public_url.into(),
            bootstrap_client_id: Some(ADMIN_CLIENT_ID.into()),
            bootstrap_client_secret: Some(ADMIN_SECRET.into()),
            token_lifetime: time::Duration::hours(1),
            resource_token_lifetime: time::Duration::minutes(10),
            ..Default::default()
        },
    )
    .await
    .expect("restart");
}

async fn writ_clients_exist_once_across_restarts(backend: Backend) {
    let app = app(backend).await;
    let (apps, sps) = objects_with_app_id(&app, WRIT_PUBLIC_CLIENT_ID).await;
    assert_eq!((apps.len(), sps.len()), (1, 1));
    let cli = &apps[0];
    assert_eq!(cli["isFallbackPublicClient"], true);
    assert_eq!(
        cli["publicClient"]["redirectUris"],
        json!(["http://localhost"])
    );
    let (apps, sps) = objects_with_app_id(&app, WRIT_PORTAL_CLIENT_ID).await;
    assert_eq!((apps.len(), sps.len()), (1, 1));
    let portal = &apps[0];
    assert_eq!(portal["isFallbackPublicClient"], false);
    assert_eq!(
        portal["web"]["redirectUris"],
        json!([format!("{PUBLIC_URL}{PORTAL_REDIRECT_PATH}")])
    );
    let by_app_id = app
        .get(
            &format!("/v1.0/applications(appId='{WRIT_PUBLIC_CLIENT_ID}')"),
            &app.admin,
        )
        .await;
    assert_eq!(by_app_id.status, StatusCode::OK, "{}", by_app_id.body);

    let audits_before = app.audit_count().await;
    restart(&app, PUBLIC_URL).await;
    assert_eq!(
        app.audit_count().await,
        audits_before,
        "a restart writes nothing"
    );
    for client in [WRIT_PUBLIC_CLIENT_ID, WRIT_PORTAL_CLIENT_ID] {
        let (apps, sps) = objects_with_app_id(&app, client).await;
        assert_eq!((apps.len(), sps.len()), (1, 1), "{client}");
    }
    // A new public URL moves the portal's redirect URI, audited once.
    restart(&app, "https://writ.example.org/").await;
    assert_eq!(app.audit_count().await, audits_before + 1);
    let (apps, _) = objects_with_app_id(&app, WRIT_PORTAL_CLIENT_ID).await;
    assert_eq!(
        apps[0]["web"]["redirectUris"],
        json!([format!("https://writ.example.org{PORTAL_REDIRECT_PATH}")])
    );
    assert_eq!(apps[0]["id"], portal["id"]);
}

async fn writ_clients_cannot_be_changed_or_deleted(backend: Backend) {
    let app = app(backend).await;
    let (apps, sps) = objects_with_app_id(&app, WRIT_PUBLIC_CLIENT_ID).await;
    let app_id = apps[0]["id"].as_str().unwrap().to_owned();
    let sp_id = sps[0]["id"].as_str().unwrap().to_owned();
    let refused = patch(&app, &app_id, json!({"displayName": "mine now"})).await;
    refused.assert_invalid_request("one of Writ's own clients", "patch");
    let refused = app
        .delete(&format!("/v1.0/applications/{app_id}"), &app.admin)
        .await;
    refused.assert_invalid_request("cannot be deleted", "delete application");
    let refused = app
        .delete(&format!("/v1.0/servicePrincipals/{sp_id}"), &app.admin)
        .await;
    refused.assert_invalid_request("cannot be deleted", "delete service principal");
    let refused = app
        .send(
            Method::POST,
            &format!("/v1.0/applications/{app_id}/addPassword"),
            &app.admin,
            json!({}),
        )
        .await;
    refused.assert_invalid_request("cannot be given a secret", "addPassword");
    // Disabling its service principal is how an administrator stops its use; start-up leaves
    // that as the administrator set it.
    let disabled = app
        .send(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{sp_id}"),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT, "{}", disabled.body);
    restart(&app, PUBLIC_URL).await;
    let sp = app
        .get(&format!("/v1.0/servicePrincipals/{sp_id}"), &app.admin)
        .await;
    assert_eq!(sp.body["accountEnabled"], false);
}

async fn directory_role_user(app: &TestApp, name: &str, role: &str) -> String {
    let (user, token) = app.user_token(name).await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": user, "roleDefinitionId": role, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    token
}

async fn redirect_uris_are_set_by_whoever_may_update_an_application(backend: Backend) {
    let app = app(backend).await;
    let id = new_app(&app, json!({"displayName": "Guarded"})).await.id();
    let reader = directory_role_user(&app, "reader", GLOBAL_READER).await;
    let governance = directory_role_user(&app, "governance", GOVERNANCE_ADMIN).await;
    let (_, ordinary) = app.user_token("ordinary").await;
    let path = format!("/v1.0/applications/{id}");
    for (caller, token) in [
        ("global admin", app.admin.clone()),
        ("global reader", reader),
        ("governance admin", governance),
        ("ordinary user", ordinary),
    ] {
        let name = app
            .send(
                Method::PATCH,
                &path,
                &token,
                json!({"displayName": "Guarded"}),
            )
            .await
            .status;
        let uris = app
            .send(
                Method::PATCH,
                &path,
                &token,
                json!({"publicClient": {"redirectUris": ["http://localhost"]}, "isFallbackPublicClient": true}),
            )
            .await
            .status;
        assert_eq!(uris, name, "{caller}");
        let expected = if caller == "global admin" {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        };
        assert!(
            uris == expected || (uris == StatusCode::NOT_FOUND && caller == "ordinary user"),
            "{caller}: {uris}"
        );
    }
}

async fn request_parameters_are_stored_and_returned(backend: Backend) {
    let app = app(backend).await;
    let catalog = app
        .created(
            &app.admin,
            &format!("{EM}/catalogs"),
            json!({"displayName": "Params"}),
        )
        .await;
    let group = app.create_group("Param group").await;
    app.onboard_group(&app.admin, &catalog, &group).await;
    let package = app
        .member_package(&app.admin, &catalog, &group, "Param package")
        .await;
    let policy = app.admin_policy(&app.admin, &package).await;
    let user = app.create_user("Param target").await;
    let assignment =
        json!({"targetId": user, "assignmentPolicyId": policy, "accessPackageId": package});
    let path = format!("{EM}/assignmentRequests");
    for (case, parameters, expected) in [
        ("not an object", json!(true), "must be an object"),
        (
            "wrong type",
            json!({"bypassApproval": "yes"}),
            "bypassApproval",
        ),
        ("unknown", json!({"skip": true}), "skip"),
        (
            "wrong @odata.type",
            json!({"@odata.type": "#microsoft.graph.user"}),
            "@odata.type",
        ),
    ] {
        let reply = app
            .send(Method::POST, &path, &app.admin, json!({"requestType": "adminAdd", "assignment": assignment, "parameters": parameters}))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.body
        );
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{case}: {}",
            reply.body
        );
    }
    let created = app
        .send(
            Method::POST,
            &path,
            &app.admin,
            json!({
                "requestType": "adminAdd",
                "assignment": assignment,
                "parameters": {"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestParameters", "bypassApproval": true},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["parameters"], json!({"bypassApproval": true}));
    let id = created.id();
    let read = app.get(&format!("{path}/{id}"), &app.admin).await;
    assert_eq!(read.body["parameters"], json!({"bypassApproval": true}));
    let selected = app
        .get(&format!("{path}/{id}?$select=id,parameters"), &app.admin)
        .await;
    assert_eq!(selected.status, StatusCode::OK, "{}", selected.body);
    assert_eq!(selected.body["parameters"]["bypassApproval"], true);
    assert!(selected.body.get("state").is_none());
    // A request without parameters has none.
    let other = app.create_user("Plain target").await;
    let plain = app
        .send(Method::POST, &path, &app.admin, json!({"requestType": "adminAdd", "assignment": {"targetId": other, "assignmentPolicyId": policy, "accessPackageId": package}}))
        .await;
    assert_eq!(plain.status, StatusCode::CREATED, "{}", plain.body);
    assert_eq!(plain.body["parameters"], Value::Null);
}

crate::on_both_backends!(
    redirect_uris_are_set_read_patched_and_selected,
    each_invalid_redirect_form_is_a_named_400,
    writ_clients_exist_once_across_restarts,
    writ_clients_cannot_be_changed_or_deleted,
    redirect_uris_are_set_by_whoever_may_update_an_application,
    request_parameters_are_stored_and_returned
);

//! Users and groups end to end through the API: the Graph shapes, links between objects, and the
//! audit record each change leaves.

use axum::http::{Method, StatusCode};
use serde_json::json;
use writ_domain::store::{AuditStore, DirectoryStore};
use writ_store::Backend;

use crate::harness::{ADMIN_CLIENT_ID, PUBLIC_URL, app};

async fn users_are_created_read_updated_and_deleted(backend: Backend) {
    let app = app(backend).await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/users",
            &app.admin,
            json!({
                "@odata.type": "#microsoft.graph.user",
                "displayName": "Grace Hopper",
                "userPrincipalName": "grace@example.org",
                "mailNickname": "grace",
                "accountEnabled": true,
                "passwordProfile": {"password": "a long passphrase 1", "forceChangePasswordNextSignIn": false},
                "givenName": "Grace",
                "businessPhones": ["+1 555 0101"],
                "usageLocation": "US",
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.body["@odata.context"],
        format!("{PUBLIC_URL}/v1.0/$metadata#users/$entity")
    );
    assert_eq!(reply.body["userPrincipalName"], "grace@example.org");
    assert_eq!(reply.body["businessPhones"], json!(["+1 555 0101"]));
    assert_eq!(reply.body["userType"], "Member");
    assert!(
        reply.body.get("passwordProfile").is_none(),
        "passwords never leave the server"
    );
    assert!(
        reply.body["createdDateTime"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    // By id and by userPrincipalName.
    let by_upn = app.get("/v1.0/users/grace@example.org", &app.admin).await;
    assert_eq!(by_upn.body["id"], id.as_str());

    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"jobTitle": "Rear Admiral", "givenName": null, "department": "Navy"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let read = app
        .get(
            &format!("/v1.0/users/{id}?$select=jobTitle,givenName,department"),
            &app.admin,
        )
        .await;
    assert_eq!(read.body["jobTitle"], "Rear Admiral");
    assert_eq!(read.body["givenName"], serde_json::Value::Null);
    assert_eq!(read.body["department"], "Navy");

    // The new password works, the old one does not.
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"passwordProfile": {"password": "another passphrase 2"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.password_token("grace@example.org", "another passphrase 2")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.password_token("grace@example.org", "a long passphrase 1")
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/users/{id}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/v1.0/users/{id}"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let again = app
        .request(
            Method::DELETE,
            &format!("/v1.0/users/{id}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // One audit record per change, by the administrator's service principal, with the request id.
    let records = app.store.audit_records(100).await.unwrap();
    // (The user's own sign-ins are audited too, initiated by the user: not changes.)
    let activities: Vec<&str> = records
        .iter()
        .filter(|r| r.target_resources.iter().any(|t| t.id == id))
        .map(|r| r.activity_display_name.as_str())
        .filter(|activity| *activity != "Sign-in")
        .collect();
    assert_eq!(
        activities,
        ["Add user", "Update user", "Update user", "Delete user"]
    );
    let admin_sp = app
        .store
        .service_principal_by_app_id(ADMIN_CLIENT_ID)
        .await
        .unwrap()
        .unwrap();
    for r in records.iter().filter(|r| r.category == "UserManagement") {
        assert_eq!(r.initiated_by.id.as_deref(), Some(admin_sp.id.as_str()));
        assert_eq!(r.initiated_by.kind, "app");
        assert!(r.request_id.is_some());
    }
    let update = records
        .iter()
        .find(|r| r.activity_display_name == "Update user")
        .unwrap();
    let mut modified = update.target_resources[0].modified_properties.clone();
    modified.sort();
    assert_eq!(modified, ["department", "givenName", "jobTitle"]);
}

async fn groups_members_and_owners(backend: Backend) {
    let app = app(backend).await;
    let alice = app.create_user("Alice Member").await;
    let bob = app.create_user("Bob Member").await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/groups",
            &app.admin,
            json!({
                "displayName": "Fleet Ops", "description": "agents' operators",
                "mailNickname": "fleet-ops", "mailEnabled": false, "securityEnabled": true,
                "groupTypes": ["unified"], "visibility": "private",
                "members@odata.bind": [format!("https://graph.microsoft.com/v1.0/directoryObjects/{alice}")],
                "owners@odata.bind": [format!("{PUBLIC_URL}/v1.0/users/{bob}")],
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let group = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.body["groupTypes"], json!(["Unified"]));
    assert_eq!(reply.body["visibility"], "Private");

    let member_ref =
        |id: &str| json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/directoryObjects/{id}")});
    let reply = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{group}/members/$ref"),
            &app.admin,
            member_ref(&bob),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let duplicate = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{group}/members/$ref"),
            &app.admin,
            member_ref(&bob),
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::BAD_REQUEST);
    let itself = app
        .send(
            Method::POST,
            &format!("/v1.0/groups/{group}/members/$ref"),
            &app.admin,
            member_ref(&group),
        )
        .await;
    assert_eq!(itself.status, StatusCode::BAD_REQUEST);

    let members = app
        .get(
            &format!("/v1.0/groups/{group}/members?$count=true"),
            &app.admin,
        )
        .await;
    assert_eq!(members.status, StatusCode::OK);
    assert_eq!(members.body["@odata.count"], 2);
    assert_eq!(
        members.body["@odata.context"],
        format!("{PUBLIC_URL}/v1.0/$metadata#directoryObjects")
    );
    for m in members.body["value"].as_array().unwrap() {
        assert_eq!(m["@odata.type"], "#microsoft.graph.user");
    }
    let expanded = app
        .get(
            &format!("/v1.0/groups/{group}?$expand=members,owners&$select=displayName"),
            &app.admin,
        )
        .await;
    assert_eq!(expanded.status, StatusCode::OK, "{}", expanded.body);
    assert_eq!(expanded.body["members"].as_array().unwrap().len(), 2);
    assert_eq!(expanded.body["owners"][0]["id"], bob.as_str());
    assert!(expanded.body.get("description").is_none());

    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/groups/{group}/members/{alice}/$ref"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/groups/{group}/members/{alice}/$ref"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/groups/{group}/owners/{bob}/$ref"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let owners = app
        .get(&format!("/v1.0/groups/{group}/owners"), &app.admin)
        .await;
    assert_eq!(owners.body["value"], json!([]));

    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/groups/{group}"),
            &app.admin,
            json!({"description": null, "displayName": "Fleet Operations"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let read = app.get(&format!("/v1.0/groups/{group}"), &app.admin).await;
    assert_eq!(read.body["displayName"], "Fleet Operations");
    assert_eq!(read.body["description"], serde_json::Value::Null);
    let immutable = app
        .send(
            Method::PATCH,
            &format!("/v1.0/groups/{group}"),
            &app.admin,
            json!({"groupTypes": []}),
        )
        .await;
    assert_eq!(immutable.status, StatusCode::BAD_REQUEST);

    // Deleting a member removes it from the group.
    app.request(
        Method::DELETE,
        &format!("/v1.0/users/{bob}"),
        Some(&app.admin),
        None,
        &[],
    )
    .await;
    let members = app
        .get(&format!("/v1.0/groups/{group}/members"), &app.admin)
        .await;
    assert_eq!(members.body["value"], json!([]));

    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/groups/{group}"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/v1.0/groups/{group}"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let records = app.store.audit_records(100).await.unwrap();
    let activities: Vec<&str> = records
        .iter()
        .filter(|r| r.category == "GroupManagement")
        .map(|r| r.activity_display_name.as_str())
        .collect();
    assert_eq!(
        activities,
        [
            "Add group",
            "Add member to group",
            "Remove member from group",
            "Remove owner from group",
            "Update group",
            "Delete group"
        ]
    );
}

async fn managers_are_set_read_and_removed(backend: Backend) {
    let app = app(backend).await;
    let boss = app.create_user("Big Boss").await;
    let mid = app.create_user("Middle Manager").await;
    let worker = app.create_user("Worker Bee").await;
    let set = |user: &str, manager: &str| {
        (
            format!("/v1.0/users/{user}/manager/$ref"),
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/users/{manager}")}),
        )
    };
    for (user, manager) in [(&mid, &boss), (&worker, &mid)] {
        let (uri, body) = set(user, manager);
        let reply = app.send(Method::PUT, &uri, &app.admin, body).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    }
    let manager = app
        .get(&format!("/v1.0/users/{worker}/manager"), &app.admin)
        .await;
    assert_eq!(manager.body["id"], mid.as_str());
    assert_eq!(manager.body["@odata.type"], "#microsoft.graph.user");
    let expanded = app
        .get(&format!("/v1.0/users/{worker}?$expand=manager"), &app.admin)
        .await;
    assert_eq!(expanded.body["manager"]["id"], mid.as_str());

    // A cycle is refused, as is a manager that is not a user or does not exist.
    let (uri, body) = set(&boss, &worker);
    assert_eq!(
        app.send(Method::PUT, &uri, &app.admin, body).await.status,
        StatusCode::BAD_REQUEST
    );
    let (uri, body) = set(&boss, &boss);
    assert_eq!(
        app.send(Method::PUT, &uri, &app.admin, body).await.status,
        StatusCode::BAD_REQUEST
    );
    let group = app.create_group("Not A Manager").await;
    let reply = app
        .send(
            Method::PUT,
            &format!("/v1.0/users/{boss}/manager/$ref"),
            &app.admin,
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/groups/{group}")}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let (uri, body) = set(&boss, "6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b");
    assert_eq!(
        app.send(Method::PUT, &uri, &app.admin, body).await.status,
        StatusCode::BAD_REQUEST
    );

    let reply = app
        .request(
            Method::DELETE,
            &format!("/v1.0/users/{worker}/manager/$ref"),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/v1.0/users/{worker}/manager"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Deleting a manager clears the link of its reports.
    app.request(
        Method::DELETE,
        &format!("/v1.0/users/{boss}"),
        Some(&app.admin),
        None,
        &[],
    )
    .await;
    assert_eq!(
        app.get(&format!("/v1.0/users/{mid}/manager"), &app.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn directory_objects_are_typed(backend: Backend) {
    let app = app(backend).await;
    let user = app.create_user("Typed User").await;
    let group = app.create_group("Typed Group").await;
    for (id, ty) in [
        (&user, "#microsoft.graph.user"),
        (&group, "#microsoft.graph.group"),
    ] {
        let reply = app
            .get(&format!("/v1.0/directoryObjects/{id}"), &app.admin)
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body["@odata.type"], ty);
        assert_eq!(reply.body["id"], id.as_str());
    }
    let missing = app
        .get(
            "/v1.0/directoryObjects/6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b",
            &app.admin,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

crate::on_both_backends!(
    users_are_created_read_updated_and_deleted,
    groups_members_and_owners,
    managers_are_set_read_and_removed,
    directory_objects_are_typed,
);

//! `user.identities` (issue 16): the upstream accounts linked to a user, as Graph's
//! `objectIdentity` — written on create and PATCH (the whole collection replaced), read and
//! `$select`-ed, validated, one upstream account linked to one user, and written only by those
//! who may manage users.

use axum::http::{Method, StatusCode};
use serde_json::json;
use writ_store::Backend;

use crate::harness::{app, nickname};

const ISSUER: &str = "https://idp.example.org/realms/staff";

fn federated(sub: &str) -> serde_json::Value {
    json!({"signInType": "federated", "issuer": ISSUER, "issuerAssignedId": sub})
}

async fn identities_round_trip(backend: Backend) {
    let app = app(backend).await;
    let name = "Ida Federated";
    let nick = nickname(name);
    let created = app
        .send(
            Method::POST,
            "/v1.0/users",
            &app.admin,
            json!({
                "displayName": name,
                "userPrincipalName": format!("{nick}@example.org"),
                "mailNickname": nick,
                "accountEnabled": true,
                "passwordProfile": {"password": "correct horse battery"},
                "identities": [
                    {"signInType": "Federated", "issuer": ISSUER, "issuerAssignedId": "sub-1"}
                ],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["identities"], json!([federated("sub-1")]));
    let id = created.id();

    let read = app
        .get(
            &format!("/v1.0/users/{id}?$select=id,identities"),
            &app.admin,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["identities"], json!([federated("sub-1")]));
    assert!(read.body.get("displayName").is_none(), "{}", read.body);

    // PATCH replaces the whole collection.
    let patched = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"identities": [federated("sub-2"), federated("sub-3")]}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let read = app.get(&format!("/v1.0/users/{id}"), &app.admin).await;
    assert_eq!(
        read.body["identities"],
        json!([federated("sub-2"), federated("sub-3")])
    );
    let listed = app
        .get("/v1.0/users?$select=id,identities", &app.admin)
        .await;
    let mine = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        mine["identities"],
        json!([federated("sub-2"), federated("sub-3")])
    );

    // Another user cannot take an account already linked.
    let other = app.create_user("Otto Other").await;
    let taken = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{other}"),
            &app.admin,
            json!({"identities": [federated("sub-3")]}),
        )
        .await;
    taken.assert_invalid_request(
        "Another object with the same value for property identities already exists.",
        "linked elsewhere",
    );

    // `null` empties the collection; the account is free again.
    let cleared = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"identities": null}),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::NO_CONTENT, "{}", cleared.body);
    let read = app.get(&format!("/v1.0/users/{id}"), &app.admin).await;
    assert_eq!(read.body["identities"], json!([]));
    let moved = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{other}"),
            &app.admin,
            json!({"identities": [federated("sub-3")]}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::NO_CONTENT, "{}", moved.body);

    // Deleting the user frees its accounts.
    assert_eq!(
        app.delete(&format!("/v1.0/users/{other}"), &app.admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let reused = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"identities": [federated("sub-3")]}),
        )
        .await;
    assert_eq!(reused.status, StatusCode::NO_CONTENT, "{}", reused.body);
}

async fn identities_are_validated(backend: Backend) {
    let app = app(backend).await;
    let id = app.create_user("Val Idate").await;
    let path = format!("/v1.0/users/{id}");
    let long = "x".repeat(256);
    let cases = [
        (
            json!([{"signInType": "emailAddress", "issuer": ISSUER, "issuerAssignedId": "a"}]),
            "'emailAddress' is not a valid value for property 'identities.signInType' (federated)",
        ),
        (
            json!([{"signInType": "userPrincipalName", "issuer": "example.org", "issuerAssignedId": "a@example.org"}]),
            "identities: the userPrincipalName sign-in is the user's own userPrincipalName and password; Writ stores only 'federated' identities",
        ),
        (
            json!([{"signInType": "federated", "issuer": "", "issuerAssignedId": "a"}]),
            "property 'identities.issuer' cannot be empty",
        ),
        (
            json!([{"signInType": "federated", "issuer": ISSUER, "issuerAssignedId": long}]),
            "property 'identities.issuerAssignedId' is longer than 255 characters",
        ),
        (
            json!([federated("a"), federated("a")]),
            "property 'identities' lists the same issuer and issuerAssignedId twice",
        ),
        (
            json!(
                (0..11)
                    .map(|i| federated(&format!("s{i}")))
                    .collect::<Vec<_>>()
            ),
            "property 'identities' holds at most 10 identities",
        ),
        (
            json!([{"signInType": "federated", "issuer": ISSUER}]),
            "property 'identities.issuerAssignedId' is required",
        ),
        (
            json!([{"signInType": "federated", "issuer": ISSUER, "issuerAssignedId": "a", "extra": 1}]),
            "Property 'extra' does not exist on type 'microsoft.graph.objectIdentity'.",
        ),
        (json!("federated"), "property 'identities' must be an array"),
    ];
    for (identities, message) in cases {
        let reply = app
            .send(
                Method::PATCH,
                &path,
                &app.admin,
                json!({ "identities": identities }),
            )
            .await;
        reply.assert_invalid_request(message, message);
    }
    let read = app.get(&path, &app.admin).await;
    assert_eq!(read.body["identities"], json!([]));
}

/// A user holding a directory role, signed in: its token.
async fn with_role(app: &crate::harness::TestApp, name: &str, role: &str) -> String {
    let (user, _) = app.user_token(name).await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/roleManagement/directory/roleAssignments",
            &app.admin,
            json!({"principalId": user, "roleDefinitionId": role, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let reply = app
        .password_token(
            &format!("{}@example.org", nickname(name)),
            crate::harness::PASSWORD,
        )
        .await;
    reply.body["access_token"].as_str().unwrap().to_owned()
}

/// Who may write `identities` (those who may manage users: Global Administrators) and who may
/// read them (whoever may read the user).
async fn only_user_managers_write_identities(backend: Backend) {
    let app = app(backend).await;
    let target = app.create_user("Tara Target").await;
    let (me, own) = app.user_token("Petra Plain").await;
    let reader = with_role(&app, "Gil Reader", writ_domain::authz::roles::GLOBAL_READER).await;
    let governance = with_role(
        &app,
        "Iggy Governance",
        writ_domain::authz::roles::IDENTITY_GOVERNANCE_ADMINISTRATOR,
    )
    .await;
    let body = json!({"identities": [federated("mine")]});
    let rows: [(&str, &str, &str, StatusCode); 5] = [
        (
            "ordinary user, another user",
            &own,
            &target,
            StatusCode::FORBIDDEN,
        ),
        ("ordinary user, itself", &own, &me, StatusCode::FORBIDDEN),
        ("Global Reader", &reader, &target, StatusCode::FORBIDDEN),
        (
            "Identity Governance Administrator",
            &governance,
            &target,
            StatusCode::FORBIDDEN,
        ),
        (
            "Global Administrator",
            &app.admin,
            &target,
            StatusCode::NO_CONTENT,
        ),
    ];
    for (caller, token, user, expected) in rows {
        let reply = app
            .send(
                Method::PATCH,
                &format!("/v1.0/users/{user}"),
                token,
                body.clone(),
            )
            .await;
        assert_eq!(reply.status, expected, "{caller}: {}", reply.body);
    }
    // Read: the user itself and readers see the link.
    for token in [&reader, &app.admin] {
        let read = app.get(&format!("/v1.0/users/{target}"), token).await;
        assert_eq!(read.body["identities"], json!([federated("mine")]));
    }
    let read = app
        .get(&format!("/v1.0/users/{me}?$select=identities"), &own)
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.body["identities"], json!([]));
    // Creating a user with identities is the same right.
    let created = app
        .send(
            Method::POST,
            "/v1.0/users",
            &reader,
            json!({
                "displayName": "Nope", "userPrincipalName": "nope@example.org",
                "mailNickname": "nope", "accountEnabled": true,
                "passwordProfile": {"password": "correct horse battery"},
                "identities": [federated("other")],
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.body);
}

crate::on_both_backends!(
    identities_round_trip,
    identities_are_validated,
    only_user_managers_write_identities
);

//! Regressions of what the fuzzing and the route sweep found at the edges where input enters:
//! text the path and query extractors reject, U+0000 (which PostgreSQL refuses in text) in a
//! path, a query option, a JSON body, a token form or a forged skiptoken, a forged offset
//! skiptoken, a quoted non-date compared with a date-time property, and an undecodable tenant
//! segment on the token endpoint. Each answered 500 or an error outside Graph's envelope before.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use writ_store::Backend;

use crate::harness::{PUBLIC_URL, app};

/// `%FF` in an id segment: axum's path extractor refuses it in plain text; Writ answers in
/// Graph's envelope like every other error.
async fn edge_undecodable_path_segment_is_a_graph_error(backend: Backend) {
    let app = app(backend).await;
    for path in [
        "/v1.0/users/%FF",
        "/v1.0/groups/%C3%28/members",
        "/beta/identityGovernance/entitlementManagement/assignmentPolicies/%FF",
    ] {
        let reply = app.get(path, &app.admin).await;
        reply.assert_invalid_request("UTF-8", path);
    }
}

/// `%00` in a path or a query option is 400 on both backends (PostgreSQL answered 500, SQLite
/// 404 or 200).
async fn edge_nul_in_the_url_is_refused(backend: Backend) {
    let app = app(backend).await;
    for path in [
        "/v1.0/users/%00",
        "/v1.0/users/abc%00def/appRoleAssignments",
        "/v1.0/identityGovernance/entitlementManagement/assignmentPolicies/%00",
        "/v1.0/users?$filter=displayName%20eq%20%27%00%27",
        "/v1.0/users/$count?$filter=startswith(displayName,%27a%00%27)",
    ] {
        let reply = app.get(path, &app.admin).await;
        reply.assert_invalid_request("NUL", path);
    }
}

/// U+0000 anywhere in a JSON body is 400 naming where it is, and nothing is created.
async fn edge_nul_in_a_json_body_is_refused(backend: Backend) {
    let app = app(backend).await;
    let groups = app.group_count().await;
    let reply = app
        .send(
            Method::POST,
            "/v1.0/groups",
            &app.admin,
            json!({"displayName": "Nul", "description": "a\u{0}b", "mailNickname": "nul", "mailEnabled": false, "securityEnabled": true}),
        )
        .await;
    reply.assert_invalid_request("'description'", "a group's description");
    let nested = app
        .send(
            Method::POST,
            "/v1.0/identityGovernance/entitlementManagement/catalogs",
            &app.admin,
            json!({"displayName": "Nested", "x": [{"y\u{0}": 1}]}),
        )
        .await;
    nested.assert_invalid_request("x/0/y\\u0000", "a nested key");
    assert_eq!(app.group_count().await, groups);
}

/// U+0000 in a token request is OAuth's invalid_request (PostgreSQL answered server_error when
/// the user name was looked up).
async fn edge_nul_in_a_token_form_is_refused(backend: Backend) {
    let app = app(backend).await;
    let reply = app
        .token_request("grant_type=password&username=a%00b%40example.org&password=x")
        .await;
    reply.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "'username'");
}

/// A tenant segment that does not decode is answered the OAuth way, like any unknown tenant.
async fn edge_undecodable_tenant_is_an_oauth_error(backend: Backend) {
    let app = app(backend).await;
    let reply = app
        .request(
            Method::POST,
            "/%FF/oauth2/v2.0/token",
            None,
            Some(Body::from("grant_type=client_credentials")),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    reply.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "");
}

/// A forged offset on a small collection (sponsors, owners, app role assignments) at the top
/// of `usize` overflowed (a panic, 500 in a debug build); it is an empty page.
async fn edge_forged_offset_skiptoken_does_not_overflow(backend: Backend) {
    let app = app(backend).await;
    let sponsor = app.create_user("Offset Sponsor").await;
    let bind = json!([format!("{PUBLIC_URL}/v1.0/users/{sponsor}")]);
    let blueprint = app
        .created(&app.admin, "/v1.0/applications", json!({"@odata.type": "#microsoft.graph.agentIdentityBlueprint", "displayName": "offset bp", "sponsors@odata.bind": bind}))
        .await;
    for offset in ["18446744073709551615", "18446744073709551000"] {
        let token = URL_SAFE_NO_PAD.encode(format!("offset:{offset}"));
        let reply = app
            .get(
                &format!("/v1.0/applications/{blueprint}/sponsors?$top=999&$skiptoken={token}"),
                &app.admin,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["value"], json!([]));
        assert!(reply.body.get("@odata.nextLink").is_none());
    }
}

/// A quoted string compared with a date-time property, with a character across its 16th byte,
/// panicked in the OData compiler (500); it is 400 naming the property.
async fn edge_non_date_text_against_a_date_time_is_refused(backend: Backend) {
    let app = app(backend).await;
    let reply = app
        .get(
            "/v1.0/users?$filter=createdDateTime%20eq%20%27aaaaaaaaaaaaaaa%C3%A9%27",
            &app.admin,
        )
        .await;
    reply.assert_invalid_request("createdDateTime", "a quoted non-date");
}

/// A forged skiptoken whose key holds U+0000 reaches the database only as a bound value;
/// PostgreSQL refuses it, and that is the client's 400, not a 500.
async fn edge_nul_in_a_forged_skiptoken_is_not_a_server_error(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Page One").await;
    app.create_user("Page Two").await;
    let first = app.get("/v1.0/users?$top=1", &app.admin).await;
    let link = first.body["@odata.nextLink"].as_str().unwrap();
    let token = link.split("skiptoken=").nth(1).unwrap();
    let decoded: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token).unwrap()).unwrap();
    let forged = json!({"f": decoded["f"], "k": ["a\u{0}b"]});
    let forged = URL_SAFE_NO_PAD.encode(forged.to_string());
    let reply = app
        .get(
            &format!("/v1.0/users?$top=1&$skiptoken={forged}"),
            &app.admin,
        )
        .await;
    match backend {
        Backend::Postgres => {
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
            assert_eq!(reply.error_code(), "invalidRequest");
        }
        Backend::Sqlite => assert_eq!(reply.status, StatusCode::OK, "{}", reply.body),
    }
}

/// A token this server signed, with `exp` or `nbf` at the ends of `i64`: the lifetime check
/// overflowed (500 in a debug build) where it must refuse the token.
async fn edge_token_lifetime_at_the_ends_of_i64_is_refused(backend: Backend) {
    use writ_domain::clock::Clock;
    let app = app(backend).await;
    let real = app
        .state
        .tokens
        .verify(&app.admin, app.clock.now())
        .unwrap();
    for (exp, nbf) in [
        (i64::MAX, i64::MAX),
        (i64::MIN, real.nbf),
        (real.exp, i64::MIN),
        (i64::MAX, i64::MIN),
    ] {
        let mut claims = real.clone();
        claims.exp = exp;
        claims.nbf = nbf;
        let token = app.state.tokens.sign(&claims).unwrap();
        let reply = app.get("/v1.0/users", &token).await;
        // (i64::MAX, i64::MIN) spans now: valid as far as its lifetime goes, and it is a real
        // caller's token, so it may authenticate; the others may not.
        if (exp, nbf) == (i64::MAX, i64::MIN) {
            assert!(!reply.status.is_server_error(), "{}", reply.body);
        } else {
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{exp} {nbf}: {}",
                reply.body
            );
            assert_eq!(reply.error_code(), "InvalidAuthenticationToken");
        }
    }
}

crate::on_both_backends!(
    edge_token_lifetime_at_the_ends_of_i64_is_refused,
    edge_undecodable_path_segment_is_a_graph_error,
    edge_nul_in_the_url_is_refused,
    edge_nul_in_a_json_body_is_refused,
    edge_nul_in_a_token_form_is_refused,
    edge_undecodable_tenant_is_an_oauth_error,
    edge_forged_offset_skiptoken_does_not_overflow,
    edge_non_date_text_against_a_date_time_is_refused,
    edge_nul_in_a_forged_skiptoken_is_not_a_server_error,
);

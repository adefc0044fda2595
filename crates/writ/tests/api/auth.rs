//! Authentication and authorization: tokens that must be refused, the token endpoint's errors,
//! and callers who may read but not write, or not even see.

use axum::http::{Method, StatusCode};
use serde_json::json;
use writ_domain::clock::Clock;
use writ_server::tokens::Claims;
use writ_store::Backend;

use crate::harness::{ADMIN_CLIENT_ID, PUBLIC_URL, app};

async fn requests_without_a_valid_token_are_401(backend: Backend) {
    let app = app(backend).await;
    let valid: Claims = {
        let reply = app.get("/v1.0/users", &app.admin).await;
        assert_eq!(reply.status, StatusCode::OK);
        app.state
            .tokens
            .verify(&app.admin, app.clock.now())
            .unwrap()
    };
    let now = app.clock.now().unix_timestamp();
    let mut expired = valid.clone();
    expired.iat = now - 7200;
    expired.nbf = now - 7200;
    expired.exp = now - 3600;
    let mut other_tenant = valid.clone();
    other_tenant.tid = "11111111-2222-4333-8444-555555555555".into();
    let mut other_audience = valid.clone();
    other_audience.aud = "api://some-resource".into();
    let mut other_issuer = valid.clone();
    other_issuer.iss = format!("{PUBLIC_URL}/11111111-2222-4333-8444-555555555555/v2.0");
    let mut tampered = app.admin.clone();
    // Flip a character of the signature.
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let mut forged_payload = app.admin.split('.').map(str::to_owned).collect::<Vec<_>>();
    forged_payload[1] = forged_payload[1].chars().rev().collect();

    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("not-a-jwt".into())),
        ("expired", Some(app.state.tokens.sign(&expired).unwrap())),
        ("tampered signature", Some(tampered)),
        ("forged payload", Some(forged_payload.join("."))),
        (
            "other tenant",
            Some(app.state.tokens.sign(&other_tenant).unwrap()),
        ),
        (
            "other issuer",
            Some(app.state.tokens.sign(&other_issuer).unwrap()),
        ),
        (
            "other audience",
            Some(app.state.tokens.sign(&other_audience).unwrap()),
        ),
    ];
    for (name, token) in cases {
        let reply = app
            .request(Method::GET, "/v1.0/users", token.as_deref(), None, &[])
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "InvalidAuthenticationToken", "{name}");
        let challenge = reply
            .headers
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(challenge.starts_with("Bearer "), "{name}: {challenge}");
    }

    // The clock moving past the token's end makes it expire too.
    app.clock.advance(time::Duration::hours(2));
    let reply = app.get("/v1.0/users", &app.admin).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

async fn token_endpoint_errors_follow_rfc_6749(backend: Backend) {
    let app = app(backend).await;
    let scope = "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default";
    let cases = [
        (
            format!(
                "grant_type=client_credentials&client_id={ADMIN_CLIENT_ID}&client_secret=wrong&{scope}"
            ),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id=5b0e6a3c-1111-4222-8333-444455556666&client_secret=x&{scope}"
            ),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=client_credentials&client_id={ADMIN_CLIENT_ID}&client_secret=admin-secret-for-tests-only&scope=api%3A%2F%2Fnothing%2F.default"
            ),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
        (
            format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&{scope}"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        // Supported since issue 16 (authorize.rs): without a client_id, invalid_request.
        (
            format!("grant_type=authorization_code&code=x&{scope}"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "client_id=x".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "grant_type=password&username=nobody%40example.org&password=whatever1".to_owned(),
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
    ];
    for (form, status, error) in cases {
        let reply = app.token_request(&form).await;
        assert_eq!(reply.status, status, "{form}: {}", reply.body);
        assert_eq!(reply.body["error"], error, "{form}");
        assert!(reply.body["error_description"].is_string());
    }
}

async fn tokens_verify_against_the_published_jwks(backend: Backend) {
    let app = app(backend).await;
    let tenant = app.state.settings.tenant_id.clone();
    let discovery = app
        .request(
            Method::GET,
            &format!("/{tenant}/v2.0/.well-known/openid-configuration"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(discovery.status, StatusCode::OK);
    assert_eq!(
        discovery.body["issuer"],
        format!("{PUBLIC_URL}/{tenant}/v2.0")
    );
    let jwks = app
        .request(
            Method::GET,
            &format!("/{tenant}/discovery/v2.0/keys"),
            None,
            None,
            &[],
        )
        .await;
    let key = &jwks.body["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["alg"], "ES256");
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        key["x"].as_str().unwrap(),
        key["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[PUBLIC_URL]);
    let header = jsonwebtoken::decode_header(&app.admin).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let data =
        jsonwebtoken::decode::<serde_json::Value>(&app.admin, &decoding, &validation).unwrap();
    let claims = data.claims;
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["tid"], tenant.as_str());
    assert_eq!(claims["appid"], ADMIN_CLIENT_ID);
    assert_eq!(
        claims["wids"],
        json!(["62e90394-69f5-4237-9190-012177145e10"]),
        "the bootstrap administrator holds Global Administrator"
    );
    // Another tenant's endpoints do not exist here.
    let reply = app
        .request(
            Method::GET,
            "/11111111-2222-4333-8444-555555555555/discovery/v2.0/keys",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

async fn password_grant_issues_user_tokens_and_is_rate_limited(backend: Backend) {
    let app = app(backend).await;
    let (id, token) = app.user_token("Rita Reader").await;
    let claims = app.state.tokens.verify(&token, app.clock.now()).unwrap();
    assert_eq!(claims.idtyp, "user");
    assert_eq!(claims.oid, id);
    assert_eq!(claims.upn.as_deref(), Some("ritareader@example.org"));
    let me = app.get("/v1.0/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], id.as_str());

    // A disabled user can neither sign in nor use a token issued before.
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v1.0/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let reply = app
        .password_token("ritareader@example.org", "a long passphrase 1")
        .await;
    assert_eq!(reply.body["error"], "invalid_grant");

    // Guessing is throttled per user: the bucket holds 10 attempts.
    let mut throttled = None;
    for attempt in 0..12 {
        let reply = app
            .password_token("ritareader@example.org", "wrong guess 123")
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(attempt);
            assert!(reply.headers.get("retry-after").is_some());
            break;
        }
        assert_eq!(reply.body["error"], "invalid_grant");
    }
    assert!(
        throttled.is_some(),
        "12 wrong passwords in a row were never throttled"
    );
}

async fn non_administrators_cannot_write_the_directory(backend: Backend) {
    let app = app(backend).await;
    let (reader_id, reader) = app.user_token("Nora Normal").await;
    let victim = app.create_user("Victor Victim").await;
    let group = app.create_group("Admins").await;
    let users_before = app.user_count().await;
    let audits_before = app.audit_count().await;

    // A human user reads users and groups (Entra's default member permissions)...
    assert_eq!(app.get("/v1.0/users", &reader).await.status, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/v1.0/groups/{group}"), &reader)
            .await
            .status,
        StatusCode::OK
    );
    // ...but every write is 403.
    let writes = [
        (
            Method::POST,
            "/v1.0/users".to_owned(),
            json!({"displayName": "x", "userPrincipalName": "x@example.org", "mailNickname": "x", "accountEnabled": true, "passwordProfile": {"password": "a long passphrase 1"}}),
        ),
        (
            Method::PATCH,
            format!("/v1.0/users/{victim}"),
            json!({"displayName": "pwned"}),
        ),
        (
            Method::PATCH,
            format!("/v1.0/users/{reader_id}"),
            json!({"jobTitle": "Global Admin"}),
        ),
        (
            Method::POST,
            "/v1.0/groups".to_owned(),
            json!({"displayName": "g", "mailNickname": "g", "mailEnabled": false, "securityEnabled": true}),
        ),
        (
            Method::POST,
            format!("/v1.0/groups/{group}/members/$ref"),
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/users/{reader_id}")}),
        ),
        (
            Method::PUT,
            format!("/v1.0/users/{victim}/manager/$ref"),
            json!({"@odata.id": format!("{PUBLIC_URL}/v1.0/users/{reader_id}")}),
        ),
    ];
    for (method, uri, body) in writes {
        let reply = app.send(method.clone(), &uri, &reader, body).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{method} {uri}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "accessDenied");
    }
    for uri in [
        format!("/v1.0/users/{victim}"),
        format!("/v1.0/groups/{group}"),
    ] {
        let reply = app
            .request(Method::DELETE, &uri, Some(&reader), None, &[])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "DELETE {uri}");
    }
    assert_eq!(app.user_count().await, users_before);
    assert_eq!(
        app.audit_count().await,
        audits_before,
        "refused writes leave no audit record"
    );
    let victim_now = app.get(&format!("/v1.0/users/{victim}"), &app.admin).await;
    assert_eq!(victim_now.body["displayName"], "Victor Victim");
}

async fn principals_without_directory_rights_see_only_themselves(backend: Backend) {
    use writ_domain::directory::{Application, ClientSecret, ServicePrincipal};
    use writ_domain::store::Store;
    let app = app(backend).await;
    let user = app.create_user("Hidden Person").await;
    let group = app.create_group("Hidden Group").await;
    // A service principal with a secret and no role, as the agent-directory issue will create.
    let now = app.clock.now();
    let app_id = "7c2f4e1a-8b3d-4c5e-9f60-1a2b3c4d5e6f";
    let sp_id = writ_domain::ids::new_object_id();
    let mut tx = app.store.begin().await.unwrap();
    let application = Application::new(
        writ_domain::ids::new_object_id(),
        app_id.into(),
        "plain app".into(),
        now,
    );
    tx.insert_application(&application).await.unwrap();
    tx.insert_service_principal(&ServicePrincipal::new(
        sp_id.clone(),
        app_id.into(),
        "plain app".into(),
        now,
    ))
    .await
    .unwrap();
    tx.insert_client_secret(&ClientSecret {
        key_id: "k1".into(),
        owner_id: application.id.clone(),
        secret_hash: writ_domain::secrets::hash_client_secret("plain-app-secret-123"),
        hint: "pla".into(),
        display_name: None,
        start_date_time: now,
        end_date_time: now + time::Duration::days(1),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let token = app.client_token(app_id, "plain-app-secret-123").await;

    // Lists it may not read at all: 403. Objects it may not see: 404, as if absent.
    assert_eq!(
        app.get("/v1.0/users", &token).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/v1.0/groups", &token).await.status,
        StatusCode::FORBIDDEN
    );
    for uri in [
        format!("/v1.0/users/{user}"),
        format!("/v1.0/groups/{group}"),
        format!("/v1.0/groups/{group}/members"),
        format!("/v1.0/directoryObjects/{user}"),
    ] {
        let reply = app.get(&uri, &token).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}: {}", reply.body);
    }
    // A write to an object it cannot see is also 404, not 403.
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{user}"),
            &token,
            json!({"jobTitle": "x"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // It reads itself.
    let me = app
        .get(&format!("/v1.0/directoryObjects/{sp_id}"), &token)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["@odata.type"], "#microsoft.graph.servicePrincipal");
    assert_eq!(me.body["appId"], app_id);
    // App-only tokens have no /me.
    assert_eq!(
        app.get("/v1.0/me", &token).await.status,
        StatusCode::BAD_REQUEST
    );
}

crate::on_both_backends!(
    requests_without_a_valid_token_are_401,
    token_endpoint_errors_follow_rfc_6749,
    tokens_verify_against_the_published_jwks,
    password_grant_issues_user_tokens_and_is_rate_limited,
    non_administrators_cannot_write_the_directory,
    principals_without_directory_rights_see_only_themselves,
);

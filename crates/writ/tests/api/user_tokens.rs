//! Tokens for people (DESIGN section 14): the id token (verified with the published JWKS, nonce
//! echoed, `aud` = the client), `client_info`, `scp`, the rotating refresh tokens with reuse
//! detection and revocation (user disabled, deleted, password changed, `revokeSignInSessions`),
//! their sliding and absolute expiry on the test clock, scope narrowing, client binding and
//! authentication, and `/oidc/userinfo`.

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::Duration;
use writ_store::Backend;

use crate::harness::{PASSWORD, PUBLIC_URL, Reply, TestApp, app, claims_of, nickname};

const WRIT_PUBLIC_CLIENT: &str = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001";
const FULL_SCOPE: &str =
    "https%3A%2F%2Fgraph.microsoft.com%2F.default+openid+profile+offline_access";

fn upn(name: &str) -> String {
    format!("{}%40example.org", nickname(name))
}

/// A password sign-in of the user `name` made by `create_user`, with `extra` form fields.
async fn sign_in(app: &TestApp, name: &str, extra: &str) -> Reply {
    let reply = app
        .token_request(&format!(
            "grant_type=password&username={}&password={}{extra}",
            upn(name),
            PASSWORD.replace(' ', "+")
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

async fn refresh_token_of(app: &TestApp, name: &str) -> String {
    let reply = sign_in(app, name, &format!("&scope={FULL_SCOPE}")).await;
    reply.body["refresh_token"].as_str().unwrap().to_owned()
}

async fn refresh(app: &TestApp, token: &str, extra: &str) -> Reply {
    app.token_request(&format!(
        "grant_type=refresh_token&client_id={WRIT_PUBLIC_CLIENT}&refresh_token={token}{extra}"
    ))
    .await
}

fn rt(reply: &Reply) -> String {
    reply.body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {}", reply.body))
        .to_owned()
}

/// Verifies `token` with the JWKS the server publishes, for `audience`.
async fn verified(app: &TestApp, token: &str, audience: &str) -> Value {
    let tenant = app.state.settings.tenant_id.clone();
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
    let decoding = jsonwebtoken::DecodingKey::from_ec_components(
        key["x"].as_str().unwrap(),
        key["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[format!("{PUBLIC_URL}/{tenant}/v2.0")]);
    jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .unwrap()
        .claims
}

async fn user_grant_answers_id_token_client_info_and_scp(backend: Backend) {
    let app = app(backend).await;
    let id = app.create_user("Ada Person").await;
    let patched = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"mail": "ada@example.org", "givenName": "Ada"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    let before = crate::harness::now();
    let reply = sign_in(
        &app,
        "Ada Person",
        &format!("&scope={FULL_SCOPE}&client_info=1&nonce=n-0S6_WzA2Mj"),
    )
    .await;
    let body = &reply.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["scope"],
        "https://graph.microsoft.com/.default openid profile offline_access"
    );
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(body["ext_expires_in"], body["expires_in"]);
    assert_eq!(rt(&reply).len(), 43, "a 256-bit opaque value");
    let tenant = app.state.settings.tenant_id.clone();
    // The id token: ES256 under the published key, for the client, with the nonce echoed.
    let id_token = verified(&app, body["id_token"].as_str().unwrap(), WRIT_PUBLIC_CLIENT).await;
    assert_eq!(id_token["aud"], WRIT_PUBLIC_CLIENT);
    assert_eq!(id_token["oid"], id.as_str());
    assert_eq!(id_token["tid"], tenant.as_str());
    assert_eq!(id_token["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id_token["preferred_username"], "adaperson@example.org");
    assert_eq!(id_token["name"], "Ada Person");
    assert_eq!(id_token["email"], "ada@example.org");
    assert_eq!(id_token["ver"], "2.0");
    assert!(id_token["auth_time"].as_i64().unwrap() >= before.unix_timestamp() - 1);
    let sub = id_token["sub"].as_str().unwrap().to_owned();
    assert_ne!(
        sub, id,
        "sub is pairwise per application, oid is the stable id"
    );
    // client_info, which MSAL builds its account from.
    let info: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info, json!({"uid": id, "utid": tenant}));
    // The access token carries the delegated scopes; the id token is no access token.
    let access = body["access_token"].as_str().unwrap();
    let claims = claims_of(access);
    assert_eq!(
        claims["scp"],
        "Directory.AccessAsUser.All EntitlementManagement.ReadWrite.All"
    );
    assert_eq!(claims["idtyp"], "user");
    assert_eq!(app.get("/v1.0/me", access).await.status, StatusCode::OK);
    let by_id_token = app
        .get("/v1.0/me", body["id_token"].as_str().unwrap())
        .await;
    assert_eq!(by_id_token.status, StatusCode::UNAUTHORIZED);
    // Without offline_access nor client_info: no refresh token, no client_info; an id token
    // nonetheless (every user grant answers one).
    let plain = sign_in(&app, "Ada Person", "").await;
    assert!(plain.body.get("refresh_token").is_none(), "{}", plain.body);
    assert!(plain.body.get("client_info").is_none());
    assert!(plain.body["id_token"].is_string());
    assert!(
        claims_of(plain.body["id_token"].as_str().unwrap())
            .get("nonce")
            .is_none()
    );
    // Writ's public client may be named, as MSAL always names a client.
    let named = sign_in(
        &app,
        "Ada Person",
        &format!("&client_id={WRIT_PUBLIC_CLIENT}"),
    )
    .await;
    assert_eq!(
        claims_of(named.body["id_token"].as_str().unwrap())["aud"],
        WRIT_PUBLIC_CLIENT
    );
    // An application's token carries no scp.
    assert!(claims_of(&app.admin).get("scp").is_none());
    // A wrong password, and a name that is nobody.
    for who in [upn("Ada Person"), "nobody%40example.org".to_owned()] {
        app.token_request(&format!(
            "grant_type=password&username={who}&password=wrong+guess+123"
        ))
        .await
        .assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "incorrect");
    }
    // Each sign-in is audited, and the refused one of an existing user.
    use writ_domain::store::AuditStore;
    let records = app.store.audit_records(1000).await.unwrap();
    let sign_ins = records
        .iter()
        .filter(|r| {
            r.activity_display_name == "Sign-in"
                && r.initiated_by.id.as_deref() == Some(id.as_str())
        })
        .count();
    assert_eq!(sign_ins, 4);
    let failed: Vec<_> = records
        .iter()
        .filter(|r| r.activity_display_name == "Sign-in" && r.result == "failure")
        .collect();
    assert_eq!(failed.len(), 1, "only the existing user's refusal is filed");
    assert_eq!(failed[0].category, "Authentication");
    assert_eq!(failed[0].target_resources[0].id, id);
    assert!(
        failed[0]
            .result_reason
            .as_deref()
            .unwrap()
            .contains("incorrect")
    );
    // An overlong nonce is refused.
    let long = app
        .token_request(&format!(
            "grant_type=password&username={}&password={}&nonce={}",
            upn("Ada Person"),
            PASSWORD.replace(' ', "+"),
            "n".repeat(600)
        ))
        .await;
    long.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "nonce");
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let app = app(backend).await;
    let id = app.create_user("Rita Rotate").await;
    let first = refresh_token_of(&app, "Rita Rotate").await;
    let second = refresh(&app, &first, "&client_info=1").await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let rotated = rt(&second);
    assert_ne!(rotated, first);
    assert!(second.body["id_token"].is_string());
    assert!(second.body["client_info"].is_string());
    assert_eq!(
        second.body["scope"],
        "https://graph.microsoft.com/.default openid profile offline_access"
    );
    let access = second.body["access_token"].as_str().unwrap();
    assert_eq!(claims_of(access)["oid"], id.as_str());
    assert_eq!(app.get("/v1.0/me", access).await.status, StatusCode::OK);
    // The id token of a refresh keeps the sign-in's auth_time.
    let signed_in = claims_of(second.body["id_token"].as_str().unwrap())["auth_time"].clone();
    app.clock.advance(Duration::minutes(30));
    let third = refresh(&app, &rotated, "").await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.body);
    assert_eq!(
        claims_of(third.body["id_token"].as_str().unwrap())["auth_time"],
        signed_in
    );
    let live = rt(&third);
    // The first token comes back: reuse. Every token of the family ends, the live one too.
    let reused = refresh(&app, &first, "").await;
    reused.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "already used");
    refresh(&app, &live, "").await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "revoked",
    );
    use writ_domain::store::AuditStore;
    let records = app.store.audit_records(1000).await.unwrap();
    let detected = records
        .iter()
        .find(|r| r.activity_display_name == "Refresh token reuse detected")
        .expect("the reuse is audited");
    assert_eq!(detected.result, "failure");
    assert_eq!(detected.target_resources[0].id, id);
    // Another sign-in starts a new family, unaffected.
    let fresh = refresh_token_of(&app, "Rita Rotate").await;
    assert_eq!(refresh(&app, &fresh, "").await.status, StatusCode::OK);
    // Stored hashed: the value handed out is nowhere in the table.
    let rows: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(!rows.contains(&fresh) && !rows.contains(&first));
}

async fn refresh_ends_with_the_user_and_on_revocation(backend: Backend) {
    let app = app(backend).await;
    let mut tokens = Vec::new();
    for name in [
        "Dora Disabled",
        "Dan Deleted",
        "Pat Password",
        "Sam Self",
        "Ann Admin",
    ] {
        let id = app.create_user(name).await;
        tokens.push((id, refresh_token_of(&app, name).await));
    }
    let [disabled, deleted, password, own, by_admin] = &tokens[..] else {
        unreachable!()
    };
    let patch = |id: &str, body: Value| {
        let path = format!("/v1.0/users/{id}");
        let app = &app;
        async move {
            let reply = app.send(Method::PATCH, &path, &app.admin, body).await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        }
    };
    patch(&disabled.0, json!({"accountEnabled": false})).await;
    // Enabled again: its old refresh tokens stay ended.
    patch(&disabled.0, json!({"accountEnabled": true})).await;
    assert_eq!(
        app.delete(&format!("/v1.0/users/{}", deleted.0), &app.admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    patch(
        &password.0,
        json!({"passwordProfile": {"password": "another long passphrase 2"}}),
    )
    .await;
    // The user themself, with an access token from the same sign-in's family.
    let access = refresh(&app, &own.1, "").await;
    assert_eq!(access.status, StatusCode::OK);
    let own_live = rt(&access);
    let revoked = app
        .request(
            Method::POST,
            "/v1.0/me/revokeSignInSessions",
            Some(access.body["access_token"].as_str().unwrap()),
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.body["value"], true);
    assert_eq!(
        revoked.body["@odata.context"],
        format!("{PUBLIC_URL}/v1.0/$metadata#Edm.Boolean")
    );
    // A user administrator, for someone else.
    let revoked = app
        .request(
            Method::POST,
            &format!("/v1.0/users/{}/revokeSignInSessions", by_admin.0),
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    for (case, token) in [
        ("disabled", &disabled.1),
        ("deleted", &deleted.1),
        ("password changed", &password.1),
        ("revoked by themself", &own_live),
        ("revoked by an administrator", &by_admin.1),
    ] {
        let reply = refresh(&app, token, "").await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.body
        );
        assert_eq!(reply.body["error"], "invalid_grant", "{case}");
    }
    // Unknown user: 404.
    let missing = app
        .request(
            Method::POST,
            "/v1.0/users/00000000-0000-0000-0000-000000000000/revokeSignInSessions",
            Some(&app.admin),
            None,
            &[],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    use writ_domain::store::AuditStore;
    let records = app.store.audit_records(1000).await.unwrap();
    assert_eq!(
        records
            .iter()
            .filter(|r| r.activity_display_name == "Revoke sign-in sessions")
            .count(),
        2
    );
}

async fn refresh_tokens_slide_under_an_absolute_cap(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Sly Slide").await;
    // Sliding: each use lasts P90D (the default) from then.
    let mut token = refresh_token_of(&app, "Sly Slide").await;
    for _ in 0..4 {
        app.clock.advance(Duration::days(80));
        let reply = refresh(&app, &token, "").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        token = rt(&reply);
    }
    // Day 320 of the family: the next rotation would outlive P365D from the sign-in.
    app.clock.advance(Duration::days(46));
    refresh(&app, &token, "").await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "expired",
    );
    // Unused for longer than the sliding lifetime: expired.
    let idle = refresh_token_of(&app, "Sly Slide").await;
    app.clock.advance(Duration::days(90));
    refresh(&app, &idle, "").await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "expired",
    );
    // The next sign-in sweeps the dead rows away (a bounded number per sign-in); only its own
    // new token remains.
    let pool = app.store.pool().clone();
    let stored = |value: String| {
        let pool = pool.clone();
        async move {
            let hash = writ_domain::identity::user_tokens::refresh_token_hash(&value);
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = $1")
                    .bind(hash)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            n
        }
    };
    assert_eq!(
        stored(idle.clone()).await,
        1,
        "the expired token is still stored"
    );
    let fresh = refresh_token_of(&app, "Sly Slide").await;
    assert_eq!(stored(idle).await, 0, "swept by the next sign-in");
    assert_eq!(stored(fresh).await, 1);
}

async fn concurrent_redemptions_of_one_token_let_one_through(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Cora Race").await;
    let token = refresh_token_of(&app, "Cora Race").await;
    let (a, b) = tokio::join!(refresh(&app, &token, ""), refresh(&app, &token, ""));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::BAD_REQUEST],
        "{} / {}",
        a.body,
        b.body
    );
    // The loser counts as reuse: the family, the winner's new token included, is revoked.
    let winner = if a.status == StatusCode::OK { a } else { b };
    refresh(&app, &rt(&winner), "").await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "revoked",
    );
}

async fn refresh_scope_narrows_but_never_widens(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Nora Narrow").await;
    let token = refresh_token_of(&app, "Nora Narrow").await;
    let wider = refresh(
        &app,
        &token,
        "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default+email",
    )
    .await;
    wider.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "email");
    let other = refresh(&app, &token, "&scope=api%3A%2F%2Fsomething%2F.default").await;
    other.assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "never widen");
    // The refusals rotated nothing: the token still works, narrower.
    let narrower = refresh(
        &app,
        &token,
        "&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default+openid+offline_access",
    )
    .await;
    assert_eq!(narrower.status, StatusCode::OK, "{}", narrower.body);
    assert_eq!(
        narrower.body["scope"],
        "https://graph.microsoft.com/.default openid offline_access"
    );
    // The family keeps what the sign-in granted.
    let again = refresh(&app, &rt(&narrower), "").await;
    assert_eq!(
        again.body["scope"],
        "https://graph.microsoft.com/.default openid profile offline_access"
    );
}

async fn resource_tokens_for_people_carry_its_scopes_and_survive_a_refused_refresh(
    backend: Backend,
) {
    let app = app(backend).await;
    app.create_user("Rhea Resource").await;
    let api = app
        .send(Method::POST, "/v1.0/applications", &app.admin, json!({"displayName": "Orders API", "api": {"oauth2PermissionScopes": [
            {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "value": "Orders.Read", "type": "User", "isEnabled": true, "adminConsentDisplayName": "Read orders", "adminConsentDescription": "Read orders"},
            {"id": "1a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6e", "value": "Orders.Write", "type": "User", "isEnabled": true, "adminConsentDisplayName": "Write orders", "adminConsentDescription": "Write orders"}
        ]}}))
        .await;
    assert_eq!(api.status, StatusCode::CREATED, "{}", api.body);
    let app_id = api.body["appId"].as_str().unwrap().to_owned();
    let sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": app_id}),
        )
        .await;
    assert_eq!(sp.status, StatusCode::CREATED, "{}", sp.body);
    let sp_id = sp.id();
    let signed_in = sign_in(
        &app,
        "Rhea Resource",
        &format!("&scope=api%3A%2F%2F{app_id}%2F.default+openid+offline_access"),
    )
    .await;
    let access = claims_of(signed_in.body["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], app_id.as_str());
    assert_eq!(access["scp"], "Orders.Read Orders.Write");
    let token = rt(&signed_in);
    // The resource is disabled: the refresh is refused and spends nothing.
    let set_enabled = |enabled: bool| {
        let path = format!("/v1.0/servicePrincipals/{sp_id}");
        let app = &app;
        async move {
            let reply = app
                .send(
                    Method::PATCH,
                    &path,
                    &app.admin,
                    json!({"accountEnabled": enabled}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        }
    };
    set_enabled(false).await;
    refresh(&app, &token, "").await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "disabled",
    );
    set_enabled(true).await;
    let again = refresh(&app, &token, "").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(
        claims_of(again.body["access_token"].as_str().unwrap())["scp"],
        "Orders.Read Orders.Write"
    );
}

async fn refresh_binds_the_client_and_authenticates_confidential_ones(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Carl Client").await;
    let created = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            json!({"displayName": "confidential web app"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let app_id = created.body["appId"].as_str().unwrap().to_owned();
    let object = created.id();
    let sp = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            json!({"appId": app_id}),
        )
        .await;
    assert_eq!(sp.status, StatusCode::CREATED, "{}", sp.body);
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/applications/{object}/addPassword"),
            &app.admin,
            json!({}),
        )
        .await;
    let secret = secret.body["secretText"].as_str().unwrap().to_owned();
    let signed_in = sign_in(
        &app,
        "Carl Client",
        &format!("&scope={FULL_SCOPE}&client_id={app_id}"),
    )
    .await;
    let id_token = verified(&app, signed_in.body["id_token"].as_str().unwrap(), &app_id).await;
    assert_eq!(id_token["aud"], app_id.as_str());
    let token = rt(&signed_in);
    let with = |extra: String| {
        let token = token.clone();
        let app = &app;
        async move {
            app.token_request(&format!(
                "grant_type=refresh_token&refresh_token={token}{extra}"
            ))
            .await
        }
    };
    with(format!("&client_id={app_id}"))
        .await
        .assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "not valid");
    with(format!("&client_id={app_id}&client_secret=wrong"))
        .await
        .assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "not valid");
    // Another client presenting it: bound to the one it was issued to.
    with(format!("&client_id={WRIT_PUBLIC_CLIENT}"))
        .await
        .assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "another client");
    with(String::new()).await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "client_id",
    );
    let ok = with(format!("&client_id={app_id}&client_secret={secret}")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // The userinfo sub is the id token's for this client.
    let info = app
        .get("/oidc/userinfo", ok.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info.body["sub"], id_token["sub"]);
}

async fn bad_refresh_requests_are_refused_plainly(backend: Backend) {
    let app = app(backend).await;
    app.token_request(&format!(
        "grant_type=refresh_token&client_id={WRIT_PUBLIC_CLIENT}"
    ))
    .await
    .assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token");
    refresh(&app, "not-a-token", "").await.assert_oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "not valid",
    );
    refresh(&app, &"x".repeat(2000), "")
        .await
        .assert_oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "not valid");
    app.token_request("grant_type=refresh_token&client_id=not-a-guid&refresh_token=abc")
        .await
        .assert_oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "not valid");
}

async fn userinfo_answers_for_people_only(backend: Backend) {
    let app = app(backend).await;
    let id = app.create_user("Uma Info").await;
    app.send(
        Method::PATCH,
        &format!("/v1.0/users/{id}"),
        &app.admin,
        json!({"givenName": "Uma", "surname": "Info", "mail": "uma@example.org"}),
    )
    .await;
    let signed_in = sign_in(&app, "Uma Info", "").await;
    let access = signed_in.body["access_token"].as_str().unwrap();
    let id_token = claims_of(signed_in.body["id_token"].as_str().unwrap());
    for method in [Method::GET, Method::POST] {
        let info = app
            .request(method, "/oidc/userinfo", Some(access), None, &[])
            .await;
        assert_eq!(info.status, StatusCode::OK, "{}", info.body);
        assert_eq!(info.body["sub"], id_token["sub"]);
        assert_eq!(info.body["oid"], id.as_str());
        assert_eq!(info.body["name"], "Uma Info");
        assert_eq!(info.body["given_name"], "Uma");
        assert_eq!(info.body["family_name"], "Info");
        assert_eq!(info.body["email"], "uma@example.org");
    }
    for (case, token) in [
        ("an application's token", Some(app.admin.as_str())),
        ("no token", None),
        ("garbage", Some("garbage")),
    ] {
        let reply = app
            .request(Method::GET, "/oidc/userinfo", token, None, &[])
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        assert!(
            reply.headers.get("www-authenticate").is_some(),
            "{case}: WWW-Authenticate"
        );
    }
    // A disabled person's token no longer answers.
    app.send(
        Method::PATCH,
        &format!("/v1.0/users/{id}"),
        &app.admin,
        json!({"accountEnabled": false}),
    )
    .await;
    let reply = app.get("/oidc/userinfo", access).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

crate::on_both_backends!(
    user_grant_answers_id_token_client_info_and_scp,
    refresh_rotates_and_reuse_revokes_the_family,
    refresh_ends_with_the_user_and_on_revocation,
    refresh_tokens_slide_under_an_absolute_cap,
    concurrent_redemptions_of_one_token_let_one_through,
    refresh_scope_narrows_but_never_widens,
    refresh_binds_the_client_and_authenticates_confidential_ones,
    resource_tokens_for_people_carry_its_scopes_and_survive_a_refused_refresh,
    bad_refresh_requests_are_refused_plainly,
    userinfo_answers_for_people_only
);

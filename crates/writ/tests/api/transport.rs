//! Issue 16's transport and discovery: the tenant aliases `common` and `organizations` on every
//! `{tenant}` route, the complete OpenID discovery document of DESIGN section 14, and whether a
//! request came over https (own TLS, or a trusted proxy's `X-Forwarded-Proto`). TLS itself is
//! tested in `writ-server`'s `tls` unit tests and end to end (`tests/e2e/test_client_libraries.py`).

use axum::http::{Method, StatusCode};
use serde_json::Value;
use writ_domain::clock::Clock;
use writ_server::client_address::{Https, TrustedProxies};
use writ_store::Backend;

use crate::harness::{ADMIN_CLIENT_ID, ADMIN_SECRET, PUBLIC_URL, TestApp, app, call};

async fn get(app: &TestApp, path: &str) -> crate::harness::Reply {
    app.request(Method::GET, path, None, None, &[]).await
}

/// Every field DESIGN section 14 lists, pointing at the paths of the parts that serve them, and
/// the same issuer whichever name of the tenant the document was asked under.
async fn discovery_is_complete_under_every_name_of_the_tenant(backend: Backend) {
    let app = app(backend).await;
    let tenant = app.state.settings.tenant_id.clone();
    let issuer = format!("{PUBLIC_URL}/{tenant}/v2.0");
    for (segment, expected) in [
        (tenant.clone(), tenant.clone()),
        (tenant.to_ascii_uppercase(), tenant.clone()),
        ("common".to_owned(), "common".to_owned()),
        ("organizations".to_owned(), "organizations".to_owned()),
        ("Common".to_owned(), "common".to_owned()),
    ] {
        let reply = get(
            &app,
            &format!("/{segment}/v2.0/.well-known/openid-configuration"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{segment}: {}", reply.body);
        let doc = &reply.body;
        let at = |path: &str| format!("{PUBLIC_URL}/{expected}{path}");
        assert_eq!(doc["issuer"], issuer, "{segment}");
        assert_eq!(doc["authorization_endpoint"], at("/oauth2/v2.0/authorize"));
        assert_eq!(doc["token_endpoint"], at("/oauth2/v2.0/token"));
        assert_eq!(
            doc["device_authorization_endpoint"],
            at("/oauth2/v2.0/devicecode")
        );
        assert_eq!(doc["end_session_endpoint"], at("/oauth2/v2.0/logout"));
        assert_eq!(doc["jwks_uri"], at("/discovery/v2.0/keys"));
        assert_eq!(
            doc["userinfo_endpoint"],
            format!("{PUBLIC_URL}/oidc/userinfo")
        );
        let strings = |name: &str| -> Vec<String> {
            doc[name]
                .as_array()
                .unwrap_or_else(|| panic!("{name} is a list: {doc}"))
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(strings("response_types_supported"), ["code"]);
        assert_eq!(strings("response_modes_supported"), ["query", "form_post"]);
        assert_eq!(strings("code_challenge_methods_supported"), ["S256"]);
        assert_eq!(strings("id_token_signing_alg_values_supported"), ["ES256"]);
        assert_eq!(strings("subject_types_supported"), ["pairwise"]);
        let grants = strings("grant_types_supported");
        for grant in [
            "client_credentials",
            "password",
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
        ] {
            assert!(grants.iter().any(|g| g == grant), "{grant}: {grants:?}");
        }
        let scopes = strings("scopes_supported");
        for scope in ["openid", "profile", "email", "offline_access"] {
            assert!(scopes.iter().any(|s| s == scope), "{scope}: {scopes:?}");
        }
        let claims = strings("claims_supported");
        for claim in [
            "iss",
            "sub",
            "aud",
            "oid",
            "tid",
            "preferred_username",
            "name",
            "nonce",
        ] {
            assert!(claims.iter().any(|c| c == claim), "{claim}: {claims:?}");
        }
        let methods = strings("token_endpoint_auth_methods_supported");
        assert!(
            methods.iter().any(|m| m == "client_secret_post"),
            "{methods:?}"
        );
        assert!(
            methods.iter().any(|m| m == "client_secret_basic"),
            "{methods:?}"
        );
        // What MSAL reads besides.
        assert_eq!(doc["request_uri_parameter_supported"], false);
        assert_eq!(doc["msgraph_host"], "writ.test");
        assert_eq!(doc["cloud_instance_name"], "writ.test");
        assert!(doc.get("tenant_region_scope").is_some());
    }
}

/// `consumers` and other tenants stay unknown, on discovery, keys and token.
async fn other_tenants_and_consumers_are_refused(backend: Backend) {
    let app = app(backend).await;
    for segment in [
        "consumers",
        "11111111-2222-4333-8444-555555555555",
        "commons",
    ] {
        let reply = get(
            &app,
            &format!("/{segment}/v2.0/.well-known/openid-configuration"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{segment}");
        let reply = get(&app, &format!("/{segment}/discovery/v2.0/keys")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{segment}");
        let form = format!(
            "grant_type=client_credentials&client_id={ADMIN_CLIENT_ID}&client_secret={ADMIN_SECRET}"
        );
        let reply = app
            .request(
                Method::POST,
                &format!("/{segment}/oauth2/v2.0/token"),
                None,
                Some(axum::body::Body::from(form)),
                &[("content-type", "application/x-www-form-urlencoded")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{segment}");
        assert_eq!(reply.body["error"], "invalid_request", "{segment}");
    }
}

/// `common` and `organizations` reach the token endpoint and the keys: the token is the same
/// tenant's, with the one issuer.
async fn aliases_issue_tokens_and_serve_keys(backend: Backend) {
    let app = app(backend).await;
    let tenant = app.state.settings.tenant_id.clone();
    let keys = get(&app, &format!("/{tenant}/discovery/v2.0/keys")).await;
    for segment in ["common", "organizations", "ORGANIZATIONS"] {
        let reply = get(&app, &format!("/{segment}/discovery/v2.0/keys")).await;
        assert_eq!(reply.status, StatusCode::OK, "{segment}");
        assert_eq!(reply.body, keys.body, "{segment}");
        let form = format!(
            "grant_type=client_credentials&client_id={ADMIN_CLIENT_ID}\
             &client_secret={ADMIN_SECRET}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        );
        let reply = app
            .request(
                Method::POST,
                &format!("/{segment}/oauth2/v2.0/token"),
                None,
                Some(axum::body::Body::from(form)),
                &[("content-type", "application/x-www-form-urlencoded")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{segment}: {}", reply.body);
        let token = reply.body["access_token"].as_str().unwrap();
        let claims = app.state.tokens.verify(token, app.clock.now()).unwrap();
        assert_eq!(claims.tid, tenant, "{segment}");
        // And the token works.
        let me = app
            .request(
                Method::GET,
                "/v1.0/servicePrincipals",
                Some(token),
                None,
                &[],
            )
            .await;
        assert_eq!(me.status, StatusCode::OK, "{segment}: {}", me.body);
    }
    assert!(app.state.settings.is_this_tenant(&tenant));
    assert!(!app.state.settings.is_this_tenant("consumers"));
    assert!(!app.state.settings.is_this_tenant(""));
}

/// The `Https` extractor: own TLS, or `X-Forwarded-Proto: https` from a trusted proxy only.
async fn https_comes_from_own_tls_or_a_trusted_proxy(backend: Backend) {
    let app = app(backend).await;
    let probe = |tls: bool, proxies: &[&str]| {
        let mut state = app.state.clone();
        let mut settings = (*state.settings).clone();
        settings.tls = tls;
        settings.trusted_proxies =
            TrustedProxies::parse(&proxies.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
                .unwrap();
        state.settings = std::sync::Arc::new(settings);
        axum::Router::new()
            .route(
                "/probe",
                axum::routing::get(
                    |Https(https): Https| async move { axum::Json(Value::Bool(https)) },
                ),
            )
            .with_state(state)
    };
    let ask = |router: axum::Router, peer: &str, proto: Option<&str>| {
        let mut builder = axum::http::Request::builder().uri("/probe");
        if let Some(proto) = proto {
            builder = builder.header("x-forwarded-proto", proto);
        }
        let mut request = builder.body(axum::body::Body::empty()).unwrap();
        let peer: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        async move { call(&router, request).await.body }
    };
    let proxies = ["10.0.0.0/8"];
    assert_eq!(
        ask(probe(false, &proxies), "10.1.2.3", Some("https")).await,
        true
    );
    assert_eq!(
        ask(probe(false, &proxies), "10.1.2.3", Some("http")).await,
        false
    );
    assert_eq!(ask(probe(false, &proxies), "10.1.2.3", None).await, false);
    assert_eq!(
        ask(probe(false, &proxies), "203.0.113.7", Some("https")).await,
        false
    );
    assert_eq!(
        ask(probe(false, &[]), "10.1.2.3", Some("https")).await,
        false
    );
    assert_eq!(ask(probe(true, &[]), "203.0.113.7", None).await, true);
    assert_eq!(
        ask(probe(true, &proxies), "10.1.2.3", Some("http")).await,
        true
    );
}

/// MSAL's password grant first asks `/common/userrealm/{name}` at the authority's host: every
/// name, existing or not, gets the same "managed" answer (no way to learn who has an account).
async fn user_realm_is_managed_for_every_name(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Realm Person").await;
    let known = get(
        &app,
        "/common/userrealm/realmperson@example.org?api-version=1.0",
    )
    .await;
    let unknown = get(&app, "/common/userrealm/nobody@example.org?api-version=1.0").await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(known.body, unknown.body);
    assert_eq!(known.body["account_type"], "Managed");
    assert_eq!(known.body["domain_name"], "example.org");
    assert_eq!(
        known.body["cloud_instance_name"],
        PUBLIC_URL.trim_start_matches("http://")
    );
    // Not a name at all: still the same shape, no error that would differ.
    let odd = get(&app, "/common/userrealm/not-an-address").await;
    assert_eq!(odd.status, StatusCode::OK);
    assert_eq!(odd.body["account_type"], "Managed");
    assert_eq!(odd.body["domain_name"], "");
}

crate::on_both_backends!(
    user_realm_is_managed_for_every_name,
    discovery_is_complete_under_every_name_of_the_tenant,
    other_tenants_and_consumers_are_refused,
    aliases_issue_tokens_and_serve_keys,
    https_comes_from_own_tls_or_a_trusted_proxy
);

//! The authorization code flow with PKCE (issue 16, DESIGN section 14) through the in-process
//! router, cookies carried by hand as a browser would: `authorize` (exact redirect matching,
//! state, prompt, max_age, form_post, refusals as pages or at the redirect URI) and the
//! `authorization_code` grant (PKCE, one use, reuse, expiry, confidential clients).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::identity::WRIT_PUBLIC_CLIENT_ID;
use writ_domain::identity::authorization_codes::s256;
use writ_store::Backend;

use crate::harness::{ADMIN_CLIENT_ID, ADMIN_SECRET, PASSWORD, TestApp, app, claims_of, exchange};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const LOOPBACK: &str = "http://localhost:53123";
const SCOPE: &str = "https://graph.microsoft.com/.default openid profile offline_access";

#[derive(Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.html.find(marker).expect("a CSRF field") + marker.len();
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_owned()
    }

    fn location(&self) -> Option<&str> {
        self.headers.get("location").map(|v| v.to_str().unwrap())
    }

    /// The query pairs of the redirect (`Location`), which must go to `prefix`.
    fn redirected_to(&self, prefix: &str) -> BTreeMap<String, String> {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.html);
        let location = self.location().expect("a Location");
        let query = location
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('?'))
            .unwrap_or_else(|| panic!("{location} does not go to {prefix}"));
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }
}

impl Browser {
    async fn send(&mut self, app: &TestApp, method: Method, uri: &str, form: Option<&str>) -> Page {
        let mut builder = Request::builder().method(method).uri(uri);
        if !self.cookies.is_empty() {
            let cookie: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            builder = builder.header("cookie", cookie.join("; "));
        }
        if form.is_some() {
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = builder
            .body(
                form.map(|f| Body::from(f.to_owned()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        let (status, headers, bytes) = exchange(&app.router, request).await;
        for value in headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Page {
            status,
            headers,
            html: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn get(&mut self, app: &TestApp, uri: &str) -> Page {
        self.send(app, Method::GET, uri, None).await
    }

    /// Follows a redirect to the sign-in page, signs in as `name`, and follows the redirect
    /// back: the answer of the page returned to.
    async fn sign_in_from(&mut self, app: &TestApp, to_sign_in: &Page, name: &str) -> Page {
        let sign_in = to_sign_in
            .location()
            .expect("to the sign-in page")
            .to_owned();
        let path = format!("/{}/login", app.state.settings.tenant_id);
        assert!(sign_in.starts_with(&format!("{path}?")), "{sign_in}");
        let return_to = form_urlencoded::parse(sign_in.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
            .expect("a return_to");
        let form = self.get(app, &sign_in).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        let body = format!(
            "csrf_token={}&username={}&password={}&return_to={}",
            form.csrf(),
            enc(&upn(name)),
            enc(PASSWORD),
            enc(&return_to)
        );
        let signed_in = self.send(app, Method::POST, &path, Some(&body)).await;
        assert_eq!(signed_in.location(), Some(return_to.as_str()));
        self.get(app, &return_to).await
    }
}

fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn upn(name: &str) -> String {
    format!("{}@example.org", crate::harness::nickname(name))
}

fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    format!(
        "/{}/oauth2/v2.0/authorize?{query}",
        app.state.settings.tenant_id
    )
}

/// The parameters MSAL's public client sends, with `extra` replacing or adding some.
fn cli_params<'a>(
    redirect: &'a str,
    challenge: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("client_id", WRIT_PUBLIC_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", SCOPE),
        ("state", "the-state"),
        ("nonce", "the-nonce"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        params.push((k, v));
    }
    params.retain(|(_, v)| !v.is_empty());
    params
}

async fn redeem(app: &TestApp, code: &str, redirect: &str, verifier: &str) -> (StatusCode, Value) {
    let reply = app
        .token_request(&format!(
            "grant_type=authorization_code&client_id={WRIT_PUBLIC_CLIENT_ID}&code={}&redirect_uri={}&code_verifier={}&scope={}",
            enc(code),
            enc(redirect),
            enc(verifier),
            enc(SCOPE)
        ))
        .await;
    (reply.status, reply.body)
}

async fn code_audits(app: &TestApp) -> Vec<(String, String)> {
    use writ_domain::store::AuditStore;
    app.store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.activity_display_name.starts_with("Authorization code"))
        .map(|r| {
            (
                r.activity_display_name,
                r.initiated_by.login_name.unwrap_or_default(),
            )
        })
        .collect()
}

/// A signed-in browser and the code it received for the CLI client at `redirect`.
async fn signed_in_code(app: &TestApp, name: &str, redirect: &str) -> (Browser, String) {
    let mut browser = Browser::default();
    let challenge = s256(VERIFIER);
    let first = browser
        .get(
            app,
            &authorize_url(app, &cli_params(redirect, &challenge, &[])),
        )
        .await;
    let back = browser.sign_in_from(app, &first, name).await;
    let answer = back.redirected_to(redirect);
    assert_eq!(answer["state"], "the-state");
    (browser, answer["code"].clone())
}

async fn code_flow_with_pkce_and_a_loopback_port(backend: Backend) {
    let app = app(backend).await;
    let id = app.create_user("Code Person").await;
    let (mut browser, code) = signed_in_code(&app, "Code Person", LOOPBACK).await;
    let (status, tokens) = redeem(&app, &code, LOOPBACK, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = claims_of(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["oid"], id);
    assert_eq!(claims["azp"], WRIT_PUBLIC_CLIENT_ID);
    let me = app
        .get(
            &format!("/v1.0/users/{id}"),
            tokens["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // The one issuing path of people's grants: an id token with the nonce, a refresh token.
    let id_claims = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_claims["nonce"], "the-nonce");
    assert_eq!(id_claims["aud"], WRIT_PUBLIC_CLIENT_ID);
    assert_eq!(id_claims["oid"], id);
    // A rotation before the reuse: the family, not just the first token, is revoked.
    let rotated = app
        .token_request(&format!(
            "grant_type=refresh_token&client_id={WRIT_PUBLIC_CLIENT_ID}&refresh_token={}",
            enc(tokens["refresh_token"].as_str().unwrap())
        ))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let refresh_token = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    // One use: the second redemption is invalid_grant, audited as reuse, and the refresh
    // token issued from the code is revoked.
    let (status, again) = redeem(&app, &code, LOOPBACK, VERIFIER).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{again}"
    );
    assert_eq!(
        code_audits(&app).await,
        [
            ("Authorization code redeemed".to_owned(), upn("Code Person")),
            (
                "Authorization code reuse detected".to_owned(),
                upn("Code Person")
            ),
        ]
    );
    let refreshed = app
        .token_request(&format!(
            "grant_type=refresh_token&client_id={WRIT_PUBLIC_CLIENT_ID}&refresh_token={}",
            enc(&refresh_token)
        ))
        .await;
    assert_eq!(
        (refreshed.status, refreshed.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{}",
        refreshed.body
    );
    // With the session, another loopback port gets a code at once, no page in between.
    let challenge = s256(VERIFIER);
    let other = "http://localhost:8400";
    let page = browser
        .get(
            &app,
            &authorize_url(&app, &cli_params(other, &challenge, &[])),
        )
        .await;
    let answer = page.redirected_to(other);
    assert_eq!(answer["state"], "the-state");
    let (status, body) = redeem(&app, &answer["code"], other, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // prompt=none with the session: a code, no page.
    let page = browser
        .get(
            &app,
            &authorize_url(&app, &cli_params(other, &challenge, &[("prompt", "none")])),
        )
        .await;
    assert!(page.redirected_to(other).contains_key("code"));
}

async fn bad_redirects_are_pages_never_redirects(backend: Backend) {
    let app = app(backend).await;
    let challenge = s256(VERIFIER);
    let mut browser = Browser::default();
    // Unregistered (another host, a path, https, a fragment): a page, no Location.
    for redirect in [
        "http://evil.example:53123",
        "http://localhost:53123/cb",
        "https://localhost:53123",
        "http://127.0.0.1:53123",
        "http://localhost:53123#x",
    ] {
        let page = browser
            .get(
                &app,
                &authorize_url(&app, &cli_params(redirect, &challenge, &[])),
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{redirect}");
        assert!(page.location().is_none(), "{redirect}");
        assert!(
            page.html.contains("redirect_uri is not registered"),
            "{redirect}"
        );
    }
    // Missing or unknown client; no redirect_uri where several are registered.
    let page = browser
        .get(
            &app,
            &authorize_url(
                &app,
                &cli_params(LOOPBACK, &challenge, &[("client_id", "")]),
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    let page = browser
        .get(
            &app,
            &authorize_url(
                &app,
                &cli_params(
                    LOOPBACK,
                    &challenge,
                    &[("client_id", "11111111-2222-3333-4444-555555555555")],
                ),
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    let two = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            json!({"displayName": "Two", "publicClient": {"redirectUris": ["http://localhost", "http://127.0.0.1"]}}),
        )
        .await;
    assert_eq!(two.status, StatusCode::CREATED, "{}", two.body);
    let two_id = two.body["appId"].as_str().unwrap().to_owned();
    let page = browser
        .get(
            &app,
            &authorize_url(
                &app,
                &cli_params("", &challenge, &[("client_id", two_id.as_str())]),
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.html);
    assert!(page.location().is_none());
    // Too long to echo the state: a page too.
    let long_state = "s".repeat(1025);
    let page = browser
        .get(
            &app,
            &authorize_url(
                &app,
                &cli_params(LOOPBACK, &challenge, &[("state", long_state.as_str())]),
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location().is_none());
    // Another tenant: a 404 page.
    let page = browser
        .get(
            &app,
            "/00000000-0000-0000-0000-000000000000/oauth2/v2.0/authorize?client_id=x",
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

async fn refusals_go_to_the_redirect_uri(backend: Backend) {
    let app = app(backend).await;
    let challenge = s256(VERIFIER);
    let mut browser = Browser::default();
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "")], "invalid_request"),
        // A public client without PKCE, with plain, or with a challenge without its method.
        (
            &[("code_challenge", ""), ("code_challenge_method", "")],
            "invalid_request",
        ),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge", "short")], "invalid_request"),
        (&[("prompt", "create")], "invalid_request"),
        (&[("scope", "api://nothing-here/.default")], "invalid_scope"),
    ];
    for (extra, error) in cases {
        let page = browser
            .get(
                &app,
                &authorize_url(&app, &cli_params(LOOPBACK, &challenge, extra)),
            )
            .await;
        let answer = page.redirected_to(LOOPBACK);
        assert_eq!(answer["error"], error, "{extra:?}");
        assert_eq!(answer["state"], "the-state", "{extra:?}");
        assert!(!answer.contains_key("code"));
    }
    // prompt=none without a session: login_required, never a page.
    let page = browser
        .get(
            &app,
            &authorize_url(
                &app,
                &cli_params(LOOPBACK, &challenge, &[("prompt", "none")]),
            ),
        )
        .await;
    assert_eq!(page.redirected_to(LOOPBACK)["error"], "login_required");
    // Without a session, the sign-in page, with login_hint, returning here.
    let page = browser
        .get(
            &app,
            &authorize_url(
                &app,
                &cli_params(
                    LOOPBACK,
                    &challenge,
                    &[("login_hint", "someone@example.org")],
                ),
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let location = page.location().unwrap();
    assert!(
        location.contains("login_hint=someone%40example.org"),
        "{location}"
    );
    assert!(location.contains("return_to=%2F"), "{location}");
    let form = browser.get(&app, location).await;
    assert!(form.html.contains("someone@example.org"));
}

async fn wrong_verifier_other_redirect_and_expiry(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Verifier Person").await;
    let (_, code) = signed_in_code(&app, "Verifier Person", LOOPBACK).await;
    let wrong = "eBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    for (redirect, verifier) in [
        (LOOPBACK, wrong),
        (LOOPBACK, ""),
        ("http://localhost:53124", VERIFIER),
    ] {
        let (status, body) = redeem(&app, &code, redirect, verifier).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{redirect} {verifier}: {body}"
        );
    }
    let (status, body) = redeem(&app, "no-such-code", LOOPBACK, VERIFIER).await;
    assert_eq!(body["error"], "invalid_grant", "{status}");
    // Past its 60 seconds, the code is refused.
    app.clock.advance(Duration::seconds(61));
    let (status, body) = redeem(&app, &code, LOOPBACK, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let refused = code_audits(&app)
        .await
        .into_iter()
        .filter(|(a, _)| a == "Authorization code refused")
        .count();
    assert_eq!(refused, 4);
}

async fn form_post_renders_an_auto_submitting_form(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Form Person").await;
    let (mut browser, _) = signed_in_code(&app, "Form Person", LOOPBACK).await;
    let challenge = s256(VERIFIER);
    let page = browser
        .get(
            &app,
            &authorize_url(
                &app,
                &cli_params(
                    LOOPBACK,
                    &challenge,
                    &[("response_mode", "form_post"), ("state", "a\"<b>")],
                ),
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.location().is_none());
    assert!(
        page.html
            .contains("<form method=\"post\" action=\"http://localhost:53123\">"),
        "{}",
        page.html
    );
    assert!(page.html.contains("name=\"code\" value=\""));
    // The state is echoed, escaped.
    assert!(
        page.html
            .contains("name=\"state\" value=\"a&#34;&#60;b&#62;\""),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("<script>document.forms[0].submit();</script>")
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    assert!(csp.contains("form-action http://localhost:53123;"), "{csp}");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    // Right after Writ's own sign-in form (same-origin), the query answer is a page that
    // navigates on (a 303 would be refused by the sign-in page's CSP form-action 'self').
    let cookie: Vec<String> = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let request = Request::builder()
        .uri(authorize_url(&app, &cli_params(LOOPBACK, &challenge, &[])))
        .header("cookie", cookie.join("; "))
        .header("sec-fetch-site", "same-origin")
        .body(Body::empty())
        .unwrap();
    let (status, headers, bytes) = exchange(&app.router, request).await;
    let html = String::from_utf8(bytes.to_vec()).unwrap();
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(headers.get("location").is_none());
    assert!(
        html.contains("<meta http-equiv=\"refresh\" content=\"0;url=http://localhost:53123?code="),
        "{html}"
    );
    assert!(html.contains("&#38;state=the-state"), "{html}");
    // The code in the form redeems.
    let marker = "name=\"code\" value=\"";
    let start = page.html.find(marker).unwrap() + marker.len();
    let code = &page.html[start..start + page.html[start..].find('"').unwrap()];
    let (status, body) = redeem(&app, code, LOOPBACK, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn prompt_login_and_max_age_ask_for_a_fresh_sign_in(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Fresh Person").await;
    let (mut browser, _) = signed_in_code(&app, "Fresh Person", LOOPBACK).await;
    let challenge = s256(VERIFIER);
    app.clock.advance(Duration::seconds(30));
    for extra in [
        [("prompt", "login")],
        [("max_age", "10")],
        [("prompt", "select_account")],
    ] {
        let page = browser
            .get(
                &app,
                &authorize_url(&app, &cli_params(LOOPBACK, &challenge, &extra)),
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{extra:?}");
        let location = page.location().unwrap().to_owned();
        assert!(location.contains("writ_auth_after"), "{location}");
        if extra[0].1 == "select_account" {
            assert!(location.contains(&enc(&upn("Fresh Person"))), "{location}");
        }
        // Returning without signing in again asks again (the session is older).
        let return_to = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert!(!return_to.contains("prompt="), "{return_to}");
        let again = browser.get(&app, &return_to).await;
        assert!(again.location().unwrap().contains("/login?"), "{extra:?}");
        // Signing in gives the code.
        let back = browser.sign_in_from(&app, &page, "Fresh Person").await;
        assert!(
            back.redirected_to(LOOPBACK).contains_key("code"),
            "{extra:?}"
        );
        app.clock.advance(Duration::seconds(30));
    }
    // prompt=none with a session older than max_age: login_required.
    let page = browser
        .get(
            &app,
            &authorize_url(
                &app,
                &cli_params(
                    LOOPBACK,
                    &challenge,
                    &[("prompt", "none"), ("max_age", "5")],
                ),
            ),
        )
        .await;
    assert_eq!(page.redirected_to(LOOPBACK)["error"], "login_required");
    // A disabled user's session is over: back to the sign-in page.
    let id = app
        .get(&format!("/v1.0/users/{}", upn("Fresh Person")), &app.admin)
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let page = browser
        .get(
            &app,
            &authorize_url(&app, &cli_params(LOOPBACK, &challenge, &[])),
        )
        .await;
    assert!(page.location().unwrap().contains("/login?"));
}

async fn confidential_clients_authenticate(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Web Person").await;
    let found = app
        .get(
            &format!("/v1.0/applications?$filter=appId eq '{ADMIN_CLIENT_ID}'").replace(' ', "%20"),
            &app.admin,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let object_id = found.body["value"][0]["id"].as_str().unwrap().to_owned();
    let web = "https://web.example/signin-oidc";
    let patched = app
        .send(
            Method::PATCH,
            &format!("/v1.0/applications/{object_id}"),
            &app.admin,
            json!({"web": {"redirectUris": [web]}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::NO_CONTENT, "{}", patched.body);
    // A confidential client need not send PKCE.
    let mut browser = Browser::default();
    let url = authorize_url(
        &app,
        &[
            ("client_id", ADMIN_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", web),
            ("scope", "openid"),
            ("state", "w"),
        ],
    );
    let first = browser.get(&app, &url).await;
    let back = browser.sign_in_from(&app, &first, "Web Person").await;
    let code = back.redirected_to(web)["code"].clone();
    let form = format!(
        "grant_type=authorization_code&client_id={ADMIN_CLIENT_ID}&code={}&redirect_uri={}",
        enc(&code),
        enc(web)
    );
    // Without its secret, or with a wrong one: invalid_client; a verifier it never sent: refused.
    let reply = app.token_request(&form).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.body["error"], "invalid_client");
    let reply = app
        .token_request(&format!("{form}&client_secret=wrong"))
        .await;
    assert_eq!(reply.body["error"], "invalid_client");
    let reply = app
        .token_request(&format!(
            "{form}&client_secret={}&code_verifier={VERIFIER}",
            enc(ADMIN_SECRET)
        ))
        .await;
    assert_eq!(reply.body["error"], "invalid_grant");
    let reply = app
        .token_request(&format!("{form}&client_secret={}", enc(ADMIN_SECRET)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let claims = claims_of(reply.body["access_token"].as_str().unwrap());
    assert_eq!(claims["azp"], ADMIN_CLIENT_ID);
    assert_eq!(claims["idtyp"], "user");
}

crate::on_both_backends!(
    code_flow_with_pkce_and_a_loopback_port,
    bad_redirects_are_pages_never_redirects,
    refusals_go_to_the_redirect_uri,
    wrong_verifier_other_redirect_and_expiry,
    form_post_renders_an_auto_submitting_form,
    prompt_login_and_max_age_ask_for_a_fresh_sign_in,
    confidential_clients_authenticate,
);

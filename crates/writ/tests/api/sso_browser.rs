//! Single sign-on in the browser (issue 16): `/signin/sso` and its callback through the
//! in-process router, with the upstream client of `writ-runtime` talking to the fake provider of
//! `sso.rs` on a loopback port and cookies carried as `browser_sign_in.rs`'s browser carries
//! them. The happy path ends in the same session cookie as the password page; a callback with
//! another `state`, a replayed one, an upstream error, an id token with another `nonce`, a
//! person with no Writ account and a disabled user each end on a page with the reason, no
//! session, and an audit record. `WRIT_SIGN_IN=sso` hides the password form and refuses the
//! password grant.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use writ_domain::identity::federation::{LinkBy, SignInMode};
use writ_server::state::{SignInSettings, SsoSettings};
use writ_store::Backend;

use crate::browser_sign_in::{Browser, Page, disable, enc};
use crate::harness::{PASSWORD, TestApp, app};
use crate::sso::{Fake, Key, claims, client, fake_provider, policy};

/// An app offering single sign-on through a fake provider signing with `key`.
async fn sso_app(backend: Backend, mode: SignInMode, create_users: bool) -> (TestApp, Fake, Key) {
    let mut app = app(backend).await;
    let key = Key::es256("k1");
    let fake = fake_provider(&[&key]).await;
    let mut state = app.state.clone();
    state.sign_in = SignInSettings {
        mode,
        sso: Some(SsoSettings {
            provider: Arc::new(client(&app, &fake)),
            policy: Arc::new(policy(&fake, LinkBy::UserPrincipalName, create_users)),
        }),
    };
    app.router = writ_server::router(state.clone());
    app.state = state;
    (app, fake, key)
}

/// A query parameter of a URL.
fn parameter(url: &str, name: &str) -> String {
    let query = url.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

/// Starts single sign-on in `browser`: the provider's `state` and `nonce`.
async fn start(
    app: &TestApp,
    fake: &Fake,
    browser: &mut Browser,
    return_to: &str,
) -> (String, String) {
    let page = browser
        .get(
            app,
            &format!(
                "/signin/sso?return_to={}&login_hint=x%40example.org",
                enc(return_to)
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let location = page.location().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/authorize?", fake.issuer)),
        "{location}"
    );
    assert_eq!(
        parameter(&location, "redirect_uri"),
        "http://writ.test/signin/sso/callback"
    );
    assert_eq!(parameter(&location, "code_challenge_method"), "S256");
    assert_eq!(parameter(&location, "login_hint"), "x@example.org");
    assert!(browser.cookies.contains_key("writ_sso"));
    (parameter(&location, "state"), parameter(&location, "nonce"))
}

/// The fake will answer the code exchange with an id token for `sub` with these claims.
fn next_token(
    app: &TestApp,
    fake: &Fake,
    key: &Key,
    sub: &str,
    nonce: &str,
    extra: serde_json::Value,
) {
    let token = key.sign(&claims(app, fake, sub, nonce, extra), None);
    fake.seen.lock().unwrap().next_id_token = token;
}

async fn callback(app: &TestApp, browser: &mut Browser, query: &str) -> Page {
    let page = browser
        .get(app, &format!("/signin/sso/callback?{query}"))
        .await;
    // The round trip is over, whatever happened.
    assert!(!browser.cookies.contains_key("writ_sso"));
    page
}

/// The single sign-on records: (result, reason).
async fn sso_audits(app: &TestApp) -> Vec<(String, String)> {
    use writ_domain::store::AuditStore;
    app.store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.activity_display_name == "Sign in with single sign-on")
        .map(|r| (r.result, r.result_reason.unwrap_or_default()))
        .collect()
}

fn refused(page: &Page, status: StatusCode, text: &str) {
    assert_eq!(page.status, status, "{}", page.html);
    assert!(page.html.contains(text), "{text} in {}", page.html);
    assert!(page.html.contains("role=\"alert\""));
    assert!(page.headers.get("location").is_none());
}

async fn sign_in_page_offers_sso_and_the_round_trip_signs_in(backend: Backend) {
    let (app, fake, key) = sso_app(backend, SignInMode::Both, false).await;
    let user = app.create_user("Ada Lovelace").await;
    let tenant = app.state.settings.tenant_id.clone();
    let mut browser = Browser::default();
    let form = browser
        .get(&app, &format!("/{tenant}/login?return_to=%2Fdevicelogin"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("Sign in with Fake IdP"), "{}", form.html);
    assert!(
        form.html
            .contains("href=\"/signin/sso?return_to=%2Fdevicelogin\""),
        "{}",
        form.html
    );
    assert!(form.html.contains("name=\"password\""));

    let (state, nonce) = start(&app, &fake, &mut browser, "/devicelogin").await;
    next_token(
        &app,
        &fake,
        &key,
        "upstream-ada",
        &nonce,
        json!({"preferred_username": "adalovelace@example.org"}),
    );
    let page = callback(
        &app,
        &mut browser,
        &format!("code=the-code&state={}", enc(&state)),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location(), Some("/devicelogin"));
    assert!(browser.cookies.contains_key("writ_session"));
    // The code went to the provider with the verifier kept for this browser.
    let form = fake
        .seen
        .lock()
        .unwrap()
        .token_forms
        .last()
        .unwrap()
        .clone();
    assert!(
        form.contains("code=the-code") && form.contains("code_verifier="),
        "{form}"
    );

    // The session is the password page's: the sign-out page knows who it is.
    let out = browser
        .get(&app, &format!("/{tenant}/oauth2/v2.0/logout"))
        .await;
    assert!(out.html.contains("adalovelace@example.org"), "{}", out.html);
    // Linked by UPN on this first sign-in.
    let read = app
        .get(
            &format!("/v1.0/users/{user}?$select=identities"),
            &app.admin,
        )
        .await;
    assert!(
        read.body.to_string().contains("upstream-ada"),
        "{}",
        read.body
    );
    assert_eq!(
        sso_audits(&app).await,
        [("success".to_owned(), String::new())]
    );

    // Without return_to: a page saying who is signed in.
    let mut other = Browser::default();
    let page = other.get(&app, "/signin/sso").await;
    let location = page.location().unwrap().to_owned();
    next_token(
        &app,
        &fake,
        &key,
        "upstream-ada",
        &parameter(&location, "nonce"),
        json!({}),
    );
    let page = callback(
        &app,
        &mut other,
        &format!("code=c2&state={}", parameter(&location, "state")),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html
            .contains("signed in to Writ as adalovelace@example.org")
    );
    assert!(other.cookies.contains_key("writ_session"));
}

async fn replayed_or_foreign_callbacks_are_refused(backend: Backend) {
    let (app, fake, key) = sso_app(backend, SignInMode::Both, false).await;
    app.create_user("Ada Lovelace").await;
    let mut browser = Browser::default();
    let (state, nonce) = start(&app, &fake, &mut browser, "/").await;
    next_token(
        &app,
        &fake,
        &key,
        "upstream-ada",
        &nonce,
        json!({"preferred_username": "adalovelace@example.org"}),
    );
    let cookie = browser.cookies["writ_sso"].clone();
    let query = format!("code=the-code&state={}", enc(&state));

    // Another browser (no cookie) with this browser's callback: nothing to finish.
    let mut thief = Browser::default();
    let page = callback(&app, &mut thief, &query).await;
    refused(
        &page,
        StatusCode::BAD_REQUEST,
        "was not started in this browser",
    );
    assert!(!thief.cookies.contains_key("writ_session"));

    // The right browser, another state: refused, and the round trip is spent.
    let page = callback(&app, &mut browser, "code=the-code&state=forged").await;
    refused(
        &page,
        StatusCode::BAD_REQUEST,
        "does not belong to this sign-in (state)",
    );
    assert!(!browser.cookies.contains_key("writ_session"));
    browser.cookies.insert("writ_sso".into(), cookie.clone());
    let page = callback(&app, &mut browser, &query).await;
    refused(&page, StatusCode::BAD_REQUEST, "finished already");

    // A round trip that succeeds cannot be replayed with its cookie either.
    let (state, nonce) = start(&app, &fake, &mut browser, "/").await;
    next_token(
        &app,
        &fake,
        &key,
        "upstream-ada",
        &nonce,
        json!({"preferred_username": "adalovelace@example.org"}),
    );
    let cookie = browser.cookies["writ_sso"].clone();
    let query = format!("code=the-code&state={}", enc(&state));
    let page = callback(&app, &mut browser, &query).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    let mut replay = Browser::default();
    replay.cookies.insert("writ_sso".into(), cookie);
    let page = callback(&app, &mut replay, &query).await;
    refused(&page, StatusCode::BAD_REQUEST, "finished already");
    assert!(!replay.cookies.contains_key("writ_session"));

    // A round trip expires after ten minutes.
    let (state, _) = start(&app, &fake, &mut browser, "/").await;
    app.clock.advance(time::Duration::minutes(11));
    let page = callback(&app, &mut browser, &format!("code=c&state={}", enc(&state))).await;
    refused(&page, StatusCode::BAD_REQUEST, "has expired");

    let audits = sso_audits(&app).await;
    assert_eq!(
        audits.iter().filter(|(r, _)| r == "failure").count(),
        5,
        "{audits:?}"
    );
    assert_eq!(
        audits.iter().filter(|(r, _)| r == "success").count(),
        1,
        "{audits:?}"
    );
}

async fn upstream_errors_and_bad_tokens_are_pages(backend: Backend) {
    let (app, fake, key) = sso_app(backend, SignInMode::Both, false).await;
    let user = app.create_user("Ada Lovelace").await;
    let ada = json!({"preferred_username": "adalovelace@example.org"});

    // The provider says no.
    let mut browser = Browser::default();
    let (state, _) = start(&app, &fake, &mut browser, "/").await;
    let page = callback(
        &app,
        &mut browser,
        &format!(
            "error=access_denied&error_description=The+user+said+%3Cno%3E&state={}",
            enc(&state)
        ),
    )
    .await;
    refused(
        &page,
        StatusCode::FORBIDDEN,
        "did not sign you in (access_denied)",
    );
    assert!(
        page.html.contains("The user said &#60;no&#62;"),
        "{}",
        page.html
    );
    assert!(!browser.cookies.contains_key("writ_session"));

    // An id token answering another sign-in (nonce).
    let (state, _) = start(&app, &fake, &mut browser, "/").await;
    next_token(
        &app,
        &fake,
        &key,
        "upstream-ada",
        "another nonce",
        ada.clone(),
    );
    let page = callback(&app, &mut browser, &format!("code=c&state={}", enc(&state))).await;
    refused(
        &page,
        StatusCode::FORBIDDEN,
        "does not answer this sign-in (nonce)",
    );
    assert!(!browser.cookies.contains_key("writ_session"));

    // No code.
    let (state, _) = start(&app, &fake, &mut browser, "/").await;
    let page = callback(&app, &mut browser, &format!("state={}", enc(&state))).await;
    refused(&page, StatusCode::BAD_REQUEST, "has no authorization code");

    // A disabled user.
    disable(&app, &user).await;
    let (state, nonce) = start(&app, &fake, &mut browser, "/").await;
    next_token(&app, &fake, &key, "upstream-ada", &nonce, ada.clone());
    let page = callback(&app, &mut browser, &format!("code=c&state={}", enc(&state))).await;
    refused(
        &page,
        StatusCode::FORBIDDEN,
        "The Writ account is disabled.",
    );
    assert!(!browser.cookies.contains_key("writ_session"));

    // A bad return_to never leaves for the provider.
    let page = browser
        .get(&app, "/signin/sso?return_to=%2F%2Fevil.example")
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(!browser.cookies.contains_key("writ_sso"));

    let audits = sso_audits(&app).await;
    assert_eq!(audits.len(), 4, "{audits:?}");
    assert!(audits.iter().all(|(r, _)| r == "failure"), "{audits:?}");
    assert!(
        audits.iter().any(|(_, why)| why.contains("nonce")),
        "{audits:?}"
    );
    assert!(
        audits.iter().any(|(_, why)| why.contains("access_denied")),
        "{audits:?}"
    );
}

async fn unlinked_people_without_creation_get_a_page_and_no_session(backend: Backend) {
    let (app, fake, key) = sso_app(backend, SignInMode::Both, false).await;
    let mut browser = Browser::default();
    let (state, nonce) = start(&app, &fake, &mut browser, "/").await;
    next_token(
        &app,
        &fake,
        &key,
        "upstream-nobody",
        &nonce,
        json!({"preferred_username": "nobody@example.org"}),
    );
    let page = callback(&app, &mut browser, &format!("code=c&state={}", enc(&state))).await;
    refused(
        &page,
        StatusCode::FORBIDDEN,
        "There is no Writ account for this person.",
    );
    assert!(!browser.cookies.contains_key("writ_session"));
    let audits = sso_audits(&app).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0].0, "failure");

    // With creation on, the same person gets an account and a session.
    let (app, fake, key) = sso_app(backend, SignInMode::Sso, true).await;
    let mut browser = Browser::default();
    let (state, nonce) = start(&app, &fake, &mut browser, "/").await;
    next_token(
        &app,
        &fake,
        &key,
        "upstream-new",
        &nonce,
        json!({"preferred_username": "newcomer@example.org", "name": "New Comer"}),
    );
    let page = callback(&app, &mut browser, &format!("code=c&state={}", enc(&state))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert!(browser.cookies.contains_key("writ_session"));
}

async fn sso_only_hides_the_password(backend: Backend) {
    let (app, _fake, _key) = sso_app(backend, SignInMode::Sso, false).await;
    app.create_user("Ada Lovelace").await;
    let tenant = app.state.settings.tenant_id.clone();
    let mut browser = Browser::default();
    let form = browser.get(&app, &format!("/{tenant}/login")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("Sign in with Fake IdP"));
    assert!(!form.html.contains("name=\"password\""), "{}", form.html);
    let page = browser
        .post(
            &app,
            &format!("/{tenant}/login"),
            &format!(
                "username=adalovelace%40example.org&password={}",
                enc(PASSWORD)
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.html);
    assert!(page.html.contains("Password sign-in is off"));
    assert!(!browser.cookies.contains_key("writ_session"));
    let reply = app
        .token_request(&format!(
            "grant_type=password&username=adalovelace%40example.org&password={}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
            enc(PASSWORD)
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.body["error"], "unsupported_grant_type");
    assert!(
        reply.body["error_description"]
            .as_str()
            .unwrap()
            .contains("single sign-on")
    );

    let discovery = app
        .request(
            axum::http::Method::GET,
            &format!("/{tenant}/v2.0/.well-known/openid-configuration"),
            None,
            None,
            &[],
        )
        .await;
    let grants = discovery.body["grant_types_supported"].as_array().unwrap();
    assert!(!grants.iter().any(|g| g == "password"), "{grants:?}");
    assert!(
        grants.iter().any(|g| g == "client_credentials"),
        "{grants:?}"
    );

    // Without single sign-on configured the routes say so.
    let plain = app_without_sso(backend).await;
    let mut browser = Browser::default();
    let page = browser.get(&plain, "/signin/sso").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = browser
        .get(&plain, "/signin/sso/callback?code=x&state=y")
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let form = browser
        .get(
            &plain,
            &format!("/{}/login", plain.state.settings.tenant_id),
        )
        .await;
    assert!(!form.html.contains("Sign in with"));
}

async fn app_without_sso(backend: Backend) -> TestApp {
    app(backend).await
}

crate::on_both_backends!(
    sign_in_page_offers_sso_and_the_round_trip_signs_in,
    replayed_or_foreign_callbacks_are_refused,
    upstream_errors_and_bad_tokens_are_pages,
    unlinked_people_without_creation_get_a_page_and_no_session,
    sso_only_hides_the_password
);

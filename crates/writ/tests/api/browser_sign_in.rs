//! Browser sign-in (issue 16, DESIGN section 14) through the in-process router, cookies carried
//! by hand as a browser would: the local sign-in page, sessions and their limits, CSRF, open
//! redirects, sign-out, and the device code flow from `devicecode` to the tokens.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::identity::WRIT_PUBLIC_CLIENT_ID;
use writ_store::Backend;

use crate::harness::{PASSWORD, TestApp, app, claims_of, exchange};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A browser: its cookies, and the last page it read.
#[derive(Default)]
pub(crate) struct Browser {
    pub(crate) cookies: BTreeMap<String, String>,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) html: String,
}

impl Page {
    pub(crate) fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.html.find(marker).expect("a CSRF field") + marker.len();
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_owned()
    }

    pub(crate) fn location(&self) -> Option<&str> {
        self.headers.get("location").map(|v| v.to_str().unwrap())
    }
}

impl Browser {
    pub(crate) async fn send(
        &mut self,
        app: &TestApp,
        method: Method,
        uri: &str,
        form: Option<&str>,
    ) -> Page {
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
            assert!(attributes.contains("HttpOnly"), "{text}");
            assert!(attributes.contains("SameSite=Lax"), "{text}");
            assert!(attributes.contains("Path=/"), "{text}");
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

    pub(crate) async fn get(&mut self, app: &TestApp, uri: &str) -> Page {
        self.send(app, Method::GET, uri, None).await
    }

    pub(crate) async fn post(&mut self, app: &TestApp, uri: &str, form: &str) -> Page {
        self.send(app, Method::POST, uri, Some(form)).await
    }

    /// Signs in through the page; the answer to the POST.
    pub(crate) async fn sign_in(
        &mut self,
        app: &TestApp,
        upn: &str,
        password: &str,
        return_to: &str,
    ) -> Page {
        let path = format!("/{}/login", app.state.settings.tenant_id);
        let form = self.get(app, &path).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.html);
        let body = format!(
            "csrf_token={}&username={}&password={}&return_to={}",
            form.csrf(),
            enc(upn),
            enc(password),
            enc(return_to)
        );
        self.post(app, &path, &body).await
    }
}

pub(crate) fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn upn(name: &str) -> String {
    format!("{}@example.org", crate::harness::nickname(name))
}

async fn sign_in_audits(app: &TestApp) -> Vec<(String, String, String)> {
    use writ_domain::store::AuditStore;
    app.store
        .audit_records(10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.activity_display_name.starts_with("Sign-")
                || r.activity_display_name.starts_with("Device")
        })
        .map(|r| {
            (
                r.activity_display_name,
                r.result,
                r.initiated_by.login_name.unwrap_or_default(),
            )
        })
        .collect()
}

pub(crate) async fn disable(app: &TestApp, user: &str) {
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{user}"),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

async fn sign_in_page_success_failure_disabled_limited(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Page Person").await;
    let who = upn("Page Person");

    // The form: accessible, with the security headers, never cached; login_hint fills the name.
    let mut browser = Browser::default();
    let form = browser
        .get(&app, &format!("/common/login?login_hint={}", enc(&who)))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.html.contains("<label for=\"username\">"));
    assert!(form.html.contains(&format!("value=\"{who}\"")));
    assert!(!form.html.contains("<script"));
    let h = &form.headers;
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    // Plain http: the cookie without the __Host- prefix.
    assert!(browser.cookies.contains_key("writ_signin"));
    assert_eq!(
        browser.get(&app, "/someone-else/login").await.status,
        StatusCode::NOT_FOUND
    );

    // A wrong password: the form again, with the error announced, audited.
    let wrong = browser.sign_in(&app, &who, "not the password", "").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.html.contains("role=\"alert\""));
    assert!(!browser.cookies.contains_key("writ_session"));

    // The right one: a session cookie and a redirect to the path asked for.
    let ok = browser.sign_in(&app, &who, PASSWORD, "/devicelogin").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
    assert_eq!(ok.location(), Some("/devicelogin"));
    let session = browser.cookies.get("writ_session").unwrap().clone();
    assert_eq!(session.len(), 43);
    let entry = browser.get(&app, "/devicelogin").await;
    assert_eq!(entry.status, StatusCode::OK);
    assert!(entry.html.contains(&who));

    // A disabled account is refused even with the right password.
    let (quiet, _) = app.user_token("Quiet Person").await;
    disable(&app, &quiet).await;
    let mut other = Browser::default();
    let refused = other
        .sign_in(&app, &upn("Quiet Person"), PASSWORD, "")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.html.contains("disabled"));
    assert!(!other.cookies.contains_key("writ_session"));

    let audits = sign_in_audits(&app).await;
    assert!(audits.contains(&("Sign-in".into(), "failure".into(), who.clone())));
    assert!(audits.contains(&("Sign-in".into(), "success".into(), who.clone())));
    assert!(audits.contains(&("Sign-in".into(), "failure".into(), upn("Quiet Person"))));
    // An unknown name is audited as typed.
    let mut stranger = Browser::default();
    stranger
        .sign_in(&app, "nobody@example.org", "guess", "")
        .await;
    assert!(sign_in_audits(&app).await.contains(&(
        "Sign-in".into(),
        "failure".into(),
        "nobody@example.org".into()
    )));

    // The password grant's limiter applies: wrong guesses at one account from one address end
    // in 429 with Retry-After, and the right password is refused too while it lasts.
    let mut guesser = Browser::default();
    let mut limited = None;
    for _ in 0..15 {
        let page = guesser.sign_in(&app, &who, "wrong guess", "").await;
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(page);
            break;
        }
    }
    let limited = limited.expect("the limiter refuses");
    assert!(limited.headers.contains_key("retry-after"));
}

async fn sessions_expire_idle_and_absolute(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Idle Person").await;
    let who = upn("Idle Person");

    let mut browser = Browser::default();
    browser.sign_in(&app, &who, PASSWORD, "").await;
    assert_eq!(
        browser.get(&app, "/devicelogin").await.status,
        StatusCode::OK
    );
    // Idle for just under 8 hours: still signed in (and the idle limit restarts).
    app.clock.advance(Duration::hours(8) - Duration::seconds(1));
    assert_eq!(
        browser.get(&app, "/devicelogin").await.status,
        StatusCode::OK
    );
    // Idle for 8 hours: signed out, sent to the sign-in page.
    app.clock.advance(Duration::hours(8));
    let gone = browser.get(&app, "/devicelogin").await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(
        gone.location()
            .unwrap()
            .contains("/login?return_to=%2Fdevicelogin")
    );

    // Used every 7 hours, a session still ends 24 hours after sign-in.
    let mut busy = Browser::default();
    busy.sign_in(&app, &who, PASSWORD, "").await;
    for _ in 0..3 {
        app.clock.advance(Duration::hours(7));
        assert_eq!(busy.get(&app, "/devicelogin").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::hours(3));
    assert_eq!(
        busy.get(&app, "/devicelogin").await.status,
        StatusCode::SEE_OTHER
    );
}

async fn session_ends_when_the_user_is_disabled(backend: Backend) {
    let app = app(backend).await;
    let id = app.create_user("Soon Disabled").await;
    let mut browser = Browser::default();
    browser
        .sign_in(&app, &upn("Soon Disabled"), PASSWORD, "")
        .await;
    assert_eq!(
        browser.get(&app, "/devicelogin").await.status,
        StatusCode::OK
    );
    disable(&app, &id).await;
    // The disable itself ended the session, in its own transaction (no sign-out record: the
    // "Update user" record is the change).
    assert_eq!(
        browser.get(&app, "/devicelogin").await.status,
        StatusCode::SEE_OTHER
    );
    // revokeSignInSessions ends every browser session of the user, as it ends refresh tokens.
    let (_, me) = app.user_token("Signed Out Everywhere").await;
    let mut first = Browser::default();
    let mut second = Browser::default();
    for browser in [&mut first, &mut second] {
        browser
            .sign_in(&app, &upn("Signed Out Everywhere"), PASSWORD, "")
            .await;
        assert_eq!(
            browser.get(&app, "/devicelogin").await.status,
            StatusCode::OK
        );
    }
    let revoked = app
        .send(
            Method::POST,
            "/v1.0/me/revokeSignInSessions",
            &me,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    for browser in [&mut first, &mut second] {
        assert_eq!(
            browser.get(&app, "/devicelogin").await.status,
            StatusCode::SEE_OTHER
        );
    }
    // A deleted user's session ends too.
    let gone = app.create_user("Soon Deleted").await;
    let mut deleted = Browser::default();
    deleted
        .sign_in(&app, &upn("Soon Deleted"), PASSWORD, "")
        .await;
    assert_eq!(
        deleted.get(&app, "/devicelogin").await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&format!("/v1.0/users/{gone}"), &app.admin)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        deleted.get(&app, "/devicelogin").await.status,
        StatusCode::SEE_OTHER
    );
    // Re-enabling does not bring the ended session back.
    let reply = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"accountEnabled": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        browser.get(&app, "/devicelogin").await.status,
        StatusCode::SEE_OTHER
    );
}

async fn csrf_missing_or_wrong_is_refused(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Careful Person").await;
    let who = upn("Careful Person");
    let path = format!("/{}/login", app.state.settings.tenant_id);

    // The sign-in form: no pre-session cookie, no token, a wrong token.
    let mut browser = Browser::default();
    let bare = browser
        .post(
            &app,
            &path,
            &format!("username={}&password={}", enc(&who), enc(PASSWORD)),
        )
        .await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    assert!(bare.html.contains("role=\"alert\""));
    browser.get(&app, &path).await;
    for token in ["", "&csrf_token=forged"] {
        let page = browser
            .post(
                &app,
                &path,
                &format!("username={}&password={}{token}", enc(&who), enc(PASSWORD)),
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{token}");
    }
    assert!(!browser.cookies.contains_key("writ_session"));

    // Another browser's token does not fit this one's cookie.
    let mut other = Browser::default();
    let other_form = other.get(&app, &path).await;
    let crossed = browser
        .post(
            &app,
            &path,
            &format!(
                "csrf_token={}&username={}&password={}",
                other_form.csrf(),
                enc(&who),
                enc(PASSWORD)
            ),
        )
        .await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);

    // Signed in: device code entry, decisions and sign-out refuse a missing or wrong token.
    browser.sign_in(&app, &who, PASSWORD, "").await;
    for (uri, form) in [
        ("/devicelogin", "user_code=BCDFGHJK"),
        (
            "/devicelogin/decision",
            "user_code=BCDFGHJK&decision=approve",
        ),
        (
            &format!("/{}/oauth2/v2.0/logout", app.state.settings.tenant_id)[..],
            "",
        ),
    ] {
        for token in ["", "&csrf_token=forged"] {
            let page = browser.post(&app, uri, &format!("{form}{token}")).await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{uri} {token}");
        }
    }
    // Still signed in: nothing changed.
    assert_eq!(
        browser.get(&app, "/devicelogin").await.status,
        StatusCode::OK
    );
}

async fn open_redirects_are_refused(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Redirected Person").await;
    let who = upn("Redirected Person");
    let path = format!("/{}/login", app.state.settings.tenant_id);
    for target in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/%5Cevil",
        "evil.example",
        "javascript:alert(1)",
        "/ok\r\nLocation: https://evil.example",
    ] {
        let mut browser = Browser::default();
        let shown = browser
            .get(&app, &format!("{path}?return_to={}", enc(target)))
            .await;
        let decoded = target.replace("%5C", "\\");
        if decoded != target {
            // `%5C` reaches the server already decoded once by the form: refused as `\`.
            assert_eq!(shown.status, StatusCode::OK, "{target}");
        } else {
            assert_eq!(shown.status, StatusCode::BAD_REQUEST, "{target}");
        }
        let page = browser.sign_in(&app, &who, PASSWORD, &decoded).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{target}");
        assert!(page.location().is_none(), "{target}");
        assert!(!browser.cookies.contains_key("writ_session"), "{target}");
    }
    // A path on this server is followed.
    let mut browser = Browser::default();
    let page = browser
        .sign_in(&app, &who, PASSWORD, "/devicelogin?x=1")
        .await;
    assert_eq!(page.location(), Some("/devicelogin?x=1"));
}

async fn sign_out_asks_then_ends_the_session(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Leaving Person").await;
    let who = upn("Leaving Person");
    let logout = format!("/{}/oauth2/v2.0/logout", app.state.settings.tenant_id);
    let mut browser = Browser::default();
    browser.sign_in(&app, &who, PASSWORD, "").await;
    // A GET only asks; it never signs out (not even with a redirect URI given).
    let ask = browser
        .get(
            &app,
            &format!("{logout}?post_logout_redirect_uri=https%3A%2F%2Fevil.example"),
        )
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.html.contains("Sign out"));
    assert_eq!(
        browser.get(&app, "/devicelogin").await.status,
        StatusCode::OK
    );
    let done = browser
        .post(&app, &logout, &format!("csrf_token={}", ask.csrf()))
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.location().is_none());
    assert!(done.html.contains("signed out"));
    assert!(!browser.cookies.contains_key("writ_session"));
    assert!(sign_in_audits(&app).await.contains(&(
        "Sign-out".into(),
        "success".into(),
        who.clone()
    )));
    // The old cookie, replayed, is dead.
    let mut replay = Browser::default();
    let fresh = browser.sign_in(&app, &who, PASSWORD, "").await;
    assert_eq!(fresh.status, StatusCode::OK);
    let old_session = browser.cookies["writ_session"].clone();
    let ask = browser.get(&app, &logout).await;
    browser
        .post(&app, &logout, &format!("csrf_token={}", ask.csrf()))
        .await;
    replay.cookies.insert("writ_session".into(), old_session);
    assert_eq!(
        replay.get(&app, "/devicelogin").await.status,
        StatusCode::SEE_OTHER
    );
    // Signed out already: the GET says so.
    let again = browser.get(&app, &logout).await;
    assert!(again.html.contains("signed out"));
}

async fn devicecode(app: &TestApp, client_id: &str, scope: &str) -> (StatusCode, Value) {
    let reply = app
        .request(
            Method::POST,
            &format!("/{}/oauth2/v2.0/devicecode", app.state.settings.tenant_id),
            None,
            Some(Body::from(format!(
                "client_id={client_id}&scope={}",
                enc(scope)
            ))),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    (reply.status, reply.body)
}

async fn poll(app: &TestApp, device_code: &str) -> (StatusCode, Value) {
    let reply = app
        .token_request(&format!(
            "grant_type={}&client_id={WRIT_PUBLIC_CLIENT_ID}&device_code={device_code}",
            enc(GRANT)
        ))
        .await;
    (reply.status, reply.body)
}

/// Signs `name` in, enters `user_code` and decides; the decision page.
async fn decide(app: &TestApp, name: &str, user_code: &str, decision: &str) -> Page {
    let mut browser = Browser::default();
    browser
        .sign_in(app, &upn(name), PASSWORD, "/devicelogin")
        .await;
    let entry = browser.get(app, "/devicelogin").await;
    // Typed in lower case with a space instead of the dash: still the code.
    let typed = user_code.to_lowercase().replace('-', " ");
    let consent = browser
        .post(
            app,
            "/devicelogin",
            &format!("csrf_token={}&user_code={}", entry.csrf(), enc(&typed)),
        )
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
    assert!(consent.html.contains("Writ command-line tools"));
    assert!(consent.html.contains("offline_access"));
    browser
        .post(
            app,
            "/devicelogin/decision",
            &format!(
                "csrf_token={}&user_code={}&decision={decision}",
                consent.csrf(),
                enc(user_code)
            ),
        )
        .await
}

async fn device_flow_pending_slow_down_approve_once(backend: Backend) {
    let app = app(backend).await;
    let id = app.create_user("Device Owner").await;
    let scope = "https://graph.microsoft.com/.default openid profile offline_access";
    let (status, body) = devicecode(&app, WRIT_PUBLIC_CLIENT_ID, scope).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user_code = body["user_code"].as_str().unwrap().to_owned();
    let device_code = body["device_code"].as_str().unwrap().to_owned();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert_eq!(body["verification_uri"], "http://writ.test/devicelogin");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["interval"], 5);
    assert!(body["message"].as_str().unwrap().contains(&user_code));

    assert_eq!(
        poll(&app, &device_code).await.1["error"],
        "authorization_pending"
    );
    // Polled again at once: slow down, and the interval is now 10 s.
    assert_eq!(poll(&app, &device_code).await.1["error"], "slow_down");
    app.clock.advance(Duration::seconds(6));
    assert_eq!(poll(&app, &device_code).await.1["error"], "slow_down");
    app.clock.advance(Duration::seconds(15));
    assert_eq!(
        poll(&app, &device_code).await.1["error"],
        "authorization_pending"
    );

    let done = decide(&app, "Device Owner", &user_code, "approve").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    app.clock.advance(Duration::seconds(15));
    let (status, tokens) = poll(&app, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = claims_of(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["oid"], id);
    assert_eq!(claims["azp"], WRIT_PUBLIC_CLIENT_ID);
    assert_eq!(claims["idtyp"], "user");
    // The token works against the API, as that person.
    let me = app
        .get(
            &format!("/v1.0/users/{id}"),
            tokens["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // Spent: a second poll is invalid_grant.
    app.clock.advance(Duration::seconds(15));
    let (status, again) = poll(&app, &device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(again["error"], "invalid_grant");
    // The user code cannot be used again either.
    let late = decide_expect_wrong(&app, &user_code).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(sign_in_audits(&app).await.contains(&(
        "Device code sign-in approved".into(),
        "success".into(),
        upn("Device Owner")
    )));
    // Another client may not poll with the code, nor use the flow.
    let (status, body) = poll_as(&app, "11111111-2222-3333-4444-555555555555", &device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (status, body) = devicecode(&app, crate::harness::ADMIN_CLIENT_ID, scope).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    let (status, body) =
        devicecode(&app, WRIT_PUBLIC_CLIENT_ID, "api://nothing-here/.default").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (status, body) = poll(&app, "not-a-device-code").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn poll_as(app: &TestApp, client_id: &str, device_code: &str) -> (StatusCode, Value) {
    let reply = app
        .token_request(&format!(
            "grant_type={}&client_id={client_id}&device_code={device_code}",
            enc(GRANT)
        ))
        .await;
    (reply.status, reply.body)
}

/// A fresh person enters `user_code`; the answer.
async fn decide_expect_wrong(app: &TestApp, user_code: &str) -> Page {
    let name = format!("Late {}", &user_code[..4]);
    app.create_user(&name).await;
    let mut browser = Browser::default();
    browser.sign_in(app, &upn(&name), PASSWORD, "").await;
    let entry = browser.get(app, "/devicelogin").await;
    browser
        .post(
            app,
            "/devicelogin",
            &format!("csrf_token={}&user_code={}", entry.csrf(), enc(user_code)),
        )
        .await
}

async fn device_flow_denied(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Device Refuser").await;
    let (_, body) = devicecode(&app, WRIT_PUBLIC_CLIENT_ID, "openid offline_access").await;
    let user_code = body["user_code"].as_str().unwrap();
    let device_code = body["device_code"].as_str().unwrap();
    let done = decide(&app, "Device Refuser", user_code, "deny").await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.html.contains("cancelled"));
    let (status, body) = poll(&app, device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "access_denied");
    assert!(sign_in_audits(&app).await.contains(&(
        "Device code sign-in denied".into(),
        "success".into(),
        upn("Device Refuser")
    )));
}

async fn device_flow_expires(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Slow Person").await;
    let (_, body) = devicecode(&app, WRIT_PUBLIC_CLIENT_ID, "openid offline_access").await;
    let user_code = body["user_code"].as_str().unwrap().to_owned();
    let device_code = body["device_code"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::seconds(900));
    let (status, body) = poll(&app, &device_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "expired_token");
    // The code cannot be entered any more.
    app.create_user("Late Person").await;
    let mut browser = Browser::default();
    browser
        .sign_in(&app, &upn("Late Person"), PASSWORD, "")
        .await;
    let entry = browser.get(&app, "/devicelogin").await;
    let page = browser
        .post(
            &app,
            "/devicelogin",
            &format!("csrf_token={}&user_code={}", entry.csrf(), enc(&user_code)),
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.html.contains("role=\"alert\""));
}

async fn wrong_user_codes_are_bounded(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Guessing Person").await;
    let (_, body) = devicecode(&app, WRIT_PUBLIC_CLIENT_ID, "openid offline_access").await;
    let real = body["user_code"].as_str().unwrap().to_owned();
    let mut browser = Browser::default();
    browser
        .sign_in(&app, &upn("Guessing Person"), PASSWORD, "")
        .await;
    let entry = browser.get(&app, "/devicelogin").await;
    let csrf = entry.csrf();
    let mut statuses = Vec::new();
    for guess in [
        "BBBB-BBBB",
        "not a code",
        "CCCC-CCCC",
        "DDDD-DDDD",
        "FFFF-FFFF",
    ] {
        let page = browser
            .post(
                &app,
                "/devicelogin",
                &format!("csrf_token={csrf}&user_code={}", enc(guess)),
            )
            .await;
        assert!(page.html.contains("role=\"alert\""));
        statuses.push(page.status);
    }
    assert!(
        statuses.iter().all(|s| *s == StatusCode::BAD_REQUEST),
        "{statuses:?}"
    );
    // The session has no tries left: even the real code is refused.
    let page = browser
        .post(
            &app,
            "/devicelogin",
            &format!("csrf_token={csrf}&user_code={}", enc(&real)),
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);

    // From one address, fresh sessions are bounded too (the address's own budget).
    let mut limited = false;
    for round in 0..4 {
        let name = format!("Guesser {round}");
        app.create_user(&name).await;
        let mut b = Browser::default();
        b.sign_in(&app, &upn(&name), PASSWORD, "").await;
        let entry = b.get(&app, "/devicelogin").await;
        for _ in 0..5 {
            let page = b
                .post(
                    &app,
                    "/devicelogin",
                    &format!("csrf_token={}&user_code=GGGG-GGGG", entry.csrf()),
                )
                .await;
            if page.status == StatusCode::TOO_MANY_REQUESTS
                && page.headers.contains_key("retry-after")
            {
                limited = true;
            }
        }
    }
    assert!(limited, "the address's budget ends");
}

/// After signing out the browser goes to `post_logout_redirect_uri` only when the `client_id` sent
/// with it registered that URI; anything else ends on Writ's own page.
async fn sign_out_follows_only_a_registered_redirect(backend: Backend) {
    let app = app(backend).await;
    app.create_user("Returning Person").await;
    let who = upn("Returning Person");
    let created = app
        .send(
            Method::POST,
            "/v1.0/applications",
            &app.admin,
            serde_json::json!({
                "displayName": "Signs people out",
                "web": {"redirectUris": ["https://app.example/signed-out"]},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let client_id = created.body["appId"].as_str().unwrap().to_owned();
    // A client acts in the tenant through its service principal.
    let principal = app
        .send(
            Method::POST,
            "/v1.0/servicePrincipals",
            &app.admin,
            serde_json::json!({"appId": client_id}),
        )
        .await;
    assert_eq!(principal.status, StatusCode::CREATED, "{}", principal.body);
    let logout = format!("/{}/oauth2/v2.0/logout", app.state.settings.tenant_id);
    let target = enc("https://app.example/signed-out");

    // Registered: the confirmation carries the request to the POST, which redirects with state.
    let mut browser = Browser::default();
    browser.sign_in(&app, &who, PASSWORD, "").await;
    let query = format!("post_logout_redirect_uri={target}&client_id={client_id}&state=s%201");
    let ask = browser.get(&app, &format!("{logout}?{query}")).await;
    assert_eq!(ask.status, StatusCode::OK);
    let done = browser
        .post(&app, &logout, &format!("csrf_token={}&{query}", ask.csrf()))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        done.location(),
        Some("https://app.example/signed-out?state=s+1")
    );
    assert!(!browser.cookies.contains_key("writ_session"));
    // Signed out already: the GET redirects at once (nothing changes).
    let again = browser.get(&app, &format!("{logout}?{query}")).await;
    assert_eq!(
        again.location(),
        Some("https://app.example/signed-out?state=s+1")
    );

    // Not registered, another client's, or no client named: Writ's page, no Location.
    for query in [
        format!(
            "post_logout_redirect_uri={}&client_id={client_id}",
            enc("https://evil.example/")
        ),
        format!(
            "post_logout_redirect_uri={target}&client_id={}",
            writ_domain::identity::WRIT_PUBLIC_CLIENT_ID
        ),
        format!("post_logout_redirect_uri={target}"),
    ] {
        let mut browser = Browser::default();
        browser.sign_in(&app, &who, PASSWORD, "").await;
        let ask = browser.get(&app, &format!("{logout}?{query}")).await;
        let done = browser
            .post(&app, &logout, &format!("csrf_token={}&{query}", ask.csrf()))
            .await;
        assert_eq!(done.status, StatusCode::OK, "{query}");
        assert!(done.location().is_none(), "{query}");
        assert!(done.html.contains("signed out"), "{query}");
    }
}

crate::on_both_backends!(
    sign_out_follows_only_a_registered_redirect,
    sign_in_page_success_failure_disabled_limited,
    sessions_expire_idle_and_absolute,
    session_ends_when_the_user_is_disabled,
    csrf_missing_or_wrong_is_refused,
    open_redirects_are_refused,
    sign_out_asks_then_ends_the_session,
    device_flow_pending_slow_down_approve_once,
    device_flow_denied,
    device_flow_expires,
    wrong_user_codes_are_bounded,
);

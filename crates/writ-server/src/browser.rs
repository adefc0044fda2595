//! Browser sign-in (DESIGN section 14): the session cookie, CSRF on every form, the local
//! sign-in page and sign-out. The rules (session lifetime, CSRF tokens, audit) are
//! `writ_domain::identity::sessions`; this file reads cookies and forms and renders pages.
//!
//! - **Cookies.** The session id travels in `__Host-writ_session` (HttpOnly, Secure, Path=/,
//!   SameSite=Lax) when the request came over https, and in `writ_session` (the same without
//!   Secure) on plain http, since browsers refuse a `__Host-` cookie that is not Secure. The
//!   sign-in form, shown before any session exists, is tied to a pre-session cookie
//!   (`__Host-writ_signin` / `writ_signin`) holding a random value its CSRF token derives from.
//!   [`came_over_https`] decides which.
//! - **CSRF.** Every POST here carries `csrf_token`, derived from the session id (or the
//!   pre-session value); one missing or wrong is a `403` page and changes nothing. No GET
//!   changes state.
//! - **Sign-in** (`/{tenant}/login`): the argon2 password through `Identity::authenticate_user`,
//!   with the password grant's limiter (per address, per account and address, per account);
//!   `login_hint` fills the user name; `return_to` must be a path on this server (it starts with
//!   one `/`, never `//` or `/\`, holds no backslash or control character), so the page is no
//!   open redirect. Every success and failure is audited. With single sign-on offered the page
//!   also links to it (`sso_browser`); with `WRIT_SIGN_IN=sso` it shows only that link and its
//!   POST is refused.
//! - **Sign-out** (`/{tenant}/oauth2/v2.0/logout`): a GET shows a confirmation form (it never
//!   signs out: a GET must not change state, and an `<img>` on another site could otherwise sign
//!   people out); its POST, with the CSRF token, ends the session, audited. The browser then goes
//!   to `post_logout_redirect_uri` only when the `client_id` sent with it registered that URI (a
//!   redirect URI or its `web.logoutUrl`, matched exactly); otherwise the page says the person is
//!   signed out ([`after_sign_out`]).

#![allow(
    clippy::result_large_err,
    reason = "a refused step answers with its page: the error is the response, returned once"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use writ_domain::identity::clients::BlockingCheck;
use writ_domain::identity::sessions::{self, SignInContext, SignedIn};
use writ_domain::identity::{Identity, IdentityError};

use crate::pages::{self, MessagePage, SignInPage, SignOutPage};
use crate::rate_limit::Admission;
use crate::request_context::RequestIds;
use crate::state::{AppState, ServerSettings};

/// The longest `state` echoed to a client after sign-out.
const MAX_STATE_CHARS: usize = 2048;
/// The longest `return_to` accepted.
pub const MAX_RETURN_TO_CHARS: usize = 2048;
/// The longest user name accepted (as the password grant's).
pub const MAX_USERNAME_CHARS: usize = crate::oauth::MAX_USERNAME_CHARS;
/// How long a sign-in form stays usable (the pre-session cookie's life).
const PRE_SESSION_SECS: i64 = 3600;

/// Whether the request came over https: decides the cookie names and `Secure`. Writ's own TLS,
/// or `X-Forwarded-Proto: https` from a trusted proxy ([`crate::client_address::is_https`]).
pub fn came_over_https(
    settings: &ServerSettings,
    peer: Option<IpAddr>,
    headers: &HeaderMap,
) -> bool {
    crate::client_address::is_https(settings.tls, peer, headers, &settings.trusted_proxies)
}

/// The session cookie's name.
pub fn session_cookie(https: bool) -> &'static str {
    if https {
        "__Host-writ_session"
    } else {
        "writ_session"
    }
}

/// The pre-session cookie's name (the sign-in form's CSRF).
pub fn pre_session_cookie(https: bool) -> &'static str {
    if https {
        "__Host-writ_signin"
    } else {
        "writ_signin"
    }
}

/// The value of the cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Adds a `Set-Cookie` for `name`; `max_age` 0 deletes it.
pub fn set_cookie(response: &mut Response, name: &str, value: &str, max_age: i64, https: bool) {
    let secure = if https { "; Secure" } else { "" };
    let cookie =
        format!("{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// What a page handler needs to know of its request.
pub struct PageRequest {
    pub headers: HeaderMap,
    pub https: bool,
    pub source: IpAddr,
    pub request_id: String,
    pub query: Option<String>,
}

impl PageRequest {
    pub fn of(state: &AppState, request: &Request) -> Self {
        let headers = request.headers().clone();
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // In-process calls (tests) have no peer: they share the unspecified address's budget.
        let source =
            crate::client_address::client_address(peer, &headers, &state.settings.trusted_proxies)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let request_id = request
            .extensions()
            .get::<RequestIds>()
            .map(|ids| ids.request_id.clone())
            .unwrap_or_default();
        Self {
            https: came_over_https(&state.settings, peer, &headers),
            headers,
            source,
            request_id,
            query: request.uri().query().map(str::to_owned),
        }
    }

    pub fn context(&self) -> SignInContext {
        SignInContext {
            request_id: Some(self.request_id.clone()),
            address: Some(self.source.to_string()),
        }
    }

    /// The live session of this request and its id, if any.
    pub async fn session(&self, state: &AppState) -> Result<Option<(String, SignedIn)>, Response> {
        let Some(secret) = cookie(&self.headers, session_cookie(self.https)) else {
            return Ok(None);
        };
        match Identity::of(&state.directory)
            .session(&secret, state.settings.browser.sessions)
            .await
        {
            Ok(found) => Ok(found.map(|s| (secret, s))),
            Err(err) => Err(failure(err)),
        }
    }

    /// The query string's pairs (empty when there is none); a bad one is a 400 page.
    pub fn query_pairs(&self) -> Result<Vec<(String, String)>, Response> {
        pages::pairs(self.query.as_deref().unwrap_or_default().as_bytes())
            .map_err(|m| bad_request(&m))
    }
}

/// A form body, bounded and parsed; a bad one is a 4xx page.
pub async fn read_form(request: Request) -> Result<Vec<(String, String)>, Response> {
    if !pages::is_form(request.headers()) {
        return Err(pages::render(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &MessagePage::error(
                "Unsupported form",
                "The form must be sent as application/x-www-form-urlencoded.",
            ),
        ));
    }
    let body = axum::body::to_bytes(request.into_body(), pages::MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            pages::render(
                StatusCode::PAYLOAD_TOO_LARGE,
                &MessagePage::error("Form too large", "The form sent is too large."),
            )
        })?;
    pages::pairs(&body).map_err(|m| bad_request(&m))
}

/// A 400 page saying what was wrong.
pub fn bad_request(message: &str) -> Response {
    pages::render(
        StatusCode::BAD_REQUEST,
        &MessagePage::error("Bad request", message),
    )
}

/// The 403 page of a form without a valid CSRF token.
pub fn csrf_refused() -> Response {
    pages::render(
        StatusCode::FORBIDDEN,
        &MessagePage::error(
            "Form expired",
            "This form has expired or did not come from this site, so nothing was changed. Go back, reload the page and try again.",
        ),
    )
}

/// The 429 page of the limiters.
pub fn too_many(retry_after_secs: u64) -> Response {
    let mut response = pages::render(
        StatusCode::TOO_MANY_REQUESTS,
        &MessagePage::error(
            "Too many attempts",
            "There were too many attempts from here. Wait a minute and try again.",
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

/// A 404 page for a tenant segment that is not this server's.
pub fn unknown_tenant(tenant: &str) -> Response {
    pages::render(
        StatusCode::NOT_FOUND,
        &MessagePage::error(
            "Unknown tenant",
            &format!(
                "Tenant '{}' was not found.",
                tenant.chars().take(64).collect::<String>()
            ),
        ),
    )
}

/// A 500 page for a failure that is not the person's (logged with detail, shown without).
pub fn failure(err: IdentityError) -> Response {
    tracing::error!(
        error.detail = %crate::redact::urls_in_text(&format!("{err:?}")),
        "sign-in page failure"
    );
    pages::render(
        StatusCode::INTERNAL_SERVER_ERROR,
        &MessagePage::error(
            "Something went wrong",
            "Writ could not complete this step. Try again in a moment.",
        ),
    )
}

/// `return_to` when it is a path on this server; `Err` for anything that could leave it
/// (`//host`, `/\host`, `https://…`, a relative path, control characters).
pub fn safe_return_to(raw: Option<&str>) -> Result<Option<String>, Response> {
    let Some(raw) = raw else { return Ok(None) };
    let local = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.contains('\\')
        && !raw.chars().any(char::is_control)
        && raw.chars().count() <= MAX_RETURN_TO_CHARS;
    if local {
        Ok(Some(raw.to_owned()))
    } else {
        Err(bad_request(
            "'return_to' must be a path on this server (starting with a single '/').",
        ))
    }
}

/// The sign-in page's path for this server's tenant, returning to `return_to`.
pub fn sign_in_path(settings: &ServerSettings, return_to: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    format!("/{}/login?return_to={encoded}", settings.tenant_id)
}

/// `GET /{tenant}/login`: the sign-in form.
pub async fn sign_in_form(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    request: Request,
) -> Response {
    let page = PageRequest::of(&state, &request);
    if !state.settings.is_this_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    let query = match page.query_pairs() {
        Ok(q) => q,
        Err(response) => return response,
    };
    let return_to = match safe_return_to(pages::field(&query, "return_to")) {
        Ok(r) => r.unwrap_or_default(),
        Err(response) => return response,
    };
    let hint: String = pages::field(&query, "login_hint")
        .unwrap_or_default()
        .chars()
        .take(MAX_USERNAME_CHARS)
        .collect();
    let (secret, fresh) = match cookie(&page.headers, pre_session_cookie(page.https)) {
        Some(secret) => (secret, false),
        None => match sessions::new_secret() {
            Ok(secret) => (secret, true),
            Err(err) => return failure(err.into()),
        },
    };
    let action = format!("/{tenant}/login");
    let sso = state
        .sign_in
        .sso()
        .map(|sso| (crate::sso_browser::start_path(&return_to, &hint), sso));
    let mut response = pages::render(
        StatusCode::OK,
        &SignInPage {
            action: &action,
            csrf: &sessions::csrf_token(&secret),
            return_to: &return_to,
            username: &hint,
            error: None,
            local: state.sign_in.allows_local(),
            sso: sso
                .as_ref()
                .map(|(href, sso)| (href.as_str(), sso.provider.display_name())),
        },
    );
    if fresh {
        set_cookie(
            &mut response,
            pre_session_cookie(page.https),
            &secret,
            PRE_SESSION_SECS,
            page.https,
        );
    }
    response
}

/// `POST /{tenant}/login`: checks the password and starts a session.
pub async fn sign_in(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    request: Request,
) -> Response {
    let page = PageRequest::of(&state, &request);
    if !state.settings.is_this_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    if !state.sign_in.allows_local() {
        return crate::sso_browser::local_sign_in_off(&state);
    }
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let Some(pre_session) = cookie(&page.headers, pre_session_cookie(page.https)) else {
        return csrf_refused();
    };
    if !sessions::csrf_matches(
        &pre_session,
        pages::field(&form, "csrf_token").unwrap_or_default(),
    ) {
        return csrf_refused();
    }
    let return_to = match safe_return_to(pages::field(&form, "return_to")) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let username = pages::field(&form, "username").unwrap_or_default();
    let password = pages::field(&form, "password").unwrap_or_default();
    let action = format!("/{tenant}/login");
    let csrf = sessions::csrf_token(&pre_session);
    let sso = state.sign_in.sso().map(|sso| {
        (
            crate::sso_browser::start_path(return_to.as_deref().unwrap_or_default(), username),
            sso,
        )
    });
    let again = |status: StatusCode, message: &str| {
        pages::render(
            status,
            &SignInPage {
                action: &action,
                csrf: &csrf,
                return_to: return_to.as_deref().unwrap_or_default(),
                username,
                error: Some(message),
                local: true,
                sso: sso
                    .as_ref()
                    .map(|(href, sso)| (href.as_str(), sso.provider.display_name())),
            },
        )
    };
    if username.is_empty() || password.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            "Enter your user name and your password.",
        );
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return again(StatusCode::BAD_REQUEST, "That user name is too long.");
    }
    let now = state.directory.clock().now();
    match state.password_limiter.admit(username, page.source, now) {
        Admission::Refused { retry_after_secs } => return too_many(retry_after_secs),
        // The account is being guessed at from many places: slow every attempt on it.
        Admission::Proceed { delay } if !delay.is_zero() => tokio::time::sleep(delay).await,
        Admission::Proceed { .. } => {}
    }
    let identity = Identity::of(&state.directory);
    // argon2 is deliberately slow: keep it off the async workers.
    let offload = |check: BlockingCheck| async move {
        tokio::task::spawn_blocking(check).await.unwrap_or(false)
    };
    let context = page.context();
    let user = match identity
        .authenticate_user(
            username,
            password.to_owned(),
            &state.dummy_password_hash,
            offload,
        )
        .await
    {
        Ok(user) => user,
        Err(err @ (IdentityError::WrongPassword | IdentityError::AccountDisabled)) => {
            let disabled = matches!(err, IdentityError::AccountDisabled);
            if !disabled {
                state
                    .password_limiter
                    .record_failure(username, page.source, now);
            }
            if let Err(err) = identity
                .audit_sign_in_failure(username, &err.to_string(), "password", &context)
                .await
            {
                return failure(err);
            }
            return if disabled {
                again(
                    StatusCode::FORBIDDEN,
                    "Your account is disabled. Ask an administrator to enable it.",
                )
            } else {
                again(
                    StatusCode::BAD_REQUEST,
                    "Your user name or password is incorrect.",
                )
            };
        }
        Err(err) => return failure(err),
    };
    let secret = match identity
        .start_session(&user, state.settings.browser.sessions, "password", &context)
        .await
    {
        Ok(secret) => secret,
        Err(err) => return failure(err),
    };
    let mut response = match &return_to {
        Some(path) => pages::see_other(path),
        None => pages::render(
            StatusCode::OK,
            &MessagePage::info(
                "Signed in",
                &format!("You are signed in to Writ as {}.", user.login_name),
            ),
        ),
    };
    let max_age = state.settings.browser.sessions.absolute.whole_seconds();
    set_cookie(
        &mut response,
        session_cookie(page.https),
        &secret,
        max_age,
        page.https,
    );
    set_cookie(
        &mut response,
        pre_session_cookie(page.https),
        "",
        0,
        page.https,
    );
    response
}

/// `GET /{tenant}/oauth2/v2.0/logout`: asks to confirm (a GET never signs out).
pub async fn sign_out_form(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    request: Request,
) -> Response {
    let page = PageRequest::of(&state, &request);
    if !state.settings.is_this_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    let query = match page.query_pairs() {
        Ok(query) => query,
        Err(response) => return response,
    };
    match page.session(&state).await {
        Err(response) => response,
        // Signed out already: nothing changes, so the registered redirect may follow at once.
        Ok(None) => match after_sign_out(&state, &query).await {
            Some(target) => pages::see_other(&target),
            None => signed_out_page(),
        },
        Ok(Some((secret, signed_in))) => pages::render(
            StatusCode::OK,
            &SignOutPage {
                action: &format!("/{tenant}/oauth2/v2.0/logout"),
                user: &signed_in.user.login_name,
                csrf: &sessions::csrf_token(&secret),
                post_logout_redirect_uri: pages::field(&query, "post_logout_redirect_uri"),
                client_id: pages::field(&query, "client_id"),
                state: pages::field(&query, "state"),
            },
        ),
    }
}

/// Where the browser goes after signing out: `post_logout_redirect_uri` when the client named by
/// `client_id` registered it (one of its redirect URIs, or its `web.logoutUrl`; the exact match
/// of `identity::oauth_clients`), with `state` appended; `None` for anything else, so the
/// sign-out is never an open redirect. Entra also accepts `id_token_hint` to name the client;
/// Writ asks for `client_id`, which OpenID RP-Initiated Logout allows in its place.
pub async fn after_sign_out(state: &AppState, pairs: &[(String, String)]) -> Option<String> {
    let uri = pages::field(pairs, "post_logout_redirect_uri")?;
    let client_id = pages::field(pairs, "client_id")?;
    if uri.chars().count() > MAX_RETURN_TO_CHARS || client_id.chars().count() > 64 {
        return None;
    }
    let client = Identity::of(&state.directory)
        .oauth_client(client_id)
        .await
        .ok()?;
    if client.redirect(uri).is_none() && client.logout_url() != Some(uri) {
        return None;
    }
    let mut target = uri.to_owned();
    if let Some(echo) =
        pages::field(pairs, "state").filter(|s| s.chars().count() <= MAX_STATE_CHARS)
    {
        target.push(if target.contains('?') { '&' } else { '?' });
        target.push_str("state=");
        target.extend(form_urlencoded::byte_serialize(echo.as_bytes()));
    }
    Some(target)
}

/// `POST /{tenant}/oauth2/v2.0/logout`: ends the session.
pub async fn sign_out(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    request: Request,
) -> Response {
    let page = PageRequest::of(&state, &request);
    if !state.settings.is_this_tenant(&tenant) {
        return unknown_tenant(&tenant);
    }
    let form = match read_form(request).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let (secret, signed_in) = match page.session(&state).await {
        Err(response) => return response,
        // Nothing to end: the person is signed out already.
        Ok(None) => {
            return match after_sign_out(&state, &form).await {
                Some(target) => pages::see_other(&target),
                None => signed_out_page(),
            };
        }
        Ok(Some(found)) => found,
    };
    if !sessions::csrf_matches(
        &secret,
        pages::field(&form, "csrf_token").unwrap_or_default(),
    ) {
        return csrf_refused();
    }
    if let Err(err) = Identity::of(&state.directory)
        .end_session(&signed_in, &page.context())
        .await
    {
        return failure(err);
    }
    let mut response = match after_sign_out(&state, &form).await {
        Some(target) => pages::see_other(&target),
        None => signed_out_page(),
    };
    set_cookie(&mut response, session_cookie(page.https), "", 0, page.https);
    response
}

fn signed_out_page() -> Response {
    pages::render(
        StatusCode::OK,
        &MessagePage::info(
            "Signed out",
            "You are signed out of Writ in this browser. You may close this window.",
        ),
    )
}

/// The sign-in and sign-out pages, and their stylesheet.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(Get, "/{tenant}/login", Plain, "Sign-in page", sign_in_form)
        .route(Post, "/{tenant}/login", Plain, "Sign in", sign_in)
        .route(
            Get,
            "/{tenant}/oauth2/v2.0/logout",
            Plain,
            "Sign-out page",
            sign_out_form,
        )
        .route(
            Post,
            "/{tenant}/oauth2/v2.0/logout",
            Plain,
            "Sign out",
            sign_out,
        )
        .route(
            Get,
            "/writ/assets/writ.css",
            Plain,
            "Stylesheet of the sign-in pages",
            pages::stylesheet,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(public_url: &str) -> ServerSettings {
        ServerSettings {
            public_url: public_url.into(),
            tenant_id: "3f6c1d2e-8a4b-4c5d-9e0f-1a2b3c4d5e6f".into(),
            resource_token_lifetime: time::Duration::minutes(10),
            trusted_proxies: Default::default(),
            metrics_on_own_listener: false,
            tls: public_url.starts_with("https://"),
            browser: Default::default(),
            refresh_token_lifetime: time::Duration::days(90),
        }
    }

    #[test]
    fn https_decides_the_cookie_names_and_secure() {
        let headers = HeaderMap::new();
        // Writ's own TLS, whatever the headers say; plain http unless a trusted proxy says https.
        assert!(came_over_https(
            &settings("https://writ.example.org"),
            None,
            &headers
        ));
        assert!(!came_over_https(
            &settings("http://127.0.0.1:8080"),
            None,
            &headers
        ));
        assert_eq!(session_cookie(true), "__Host-writ_session");
        assert_eq!(session_cookie(false), "writ_session");
        assert_eq!(pre_session_cookie(true), "__Host-writ_signin");
        let mut response = Response::new(axum::body::Body::empty());
        set_cookie(&mut response, session_cookie(true), "abc", 60, true);
        set_cookie(&mut response, session_cookie(false), "", 0, false);
        let cookies: Vec<&str> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            cookies,
            [
                "__Host-writ_session=abc; Max-Age=60; Path=/; HttpOnly; SameSite=Lax; Secure",
                "writ_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
            ]
        );
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; writ_session_x=2;  writ_session=abc ; x=y"),
        );
        assert_eq!(cookie(&headers, "writ_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "__Host-writ_session"), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("writ_session="));
        assert_eq!(cookie(&headers, "writ_session"), None);
        let long = format!("writ_session={}", "a".repeat(129));
        headers.insert(header::COOKIE, HeaderValue::from_str(&long).unwrap());
        assert_eq!(cookie(&headers, "writ_session"), None);
    }

    #[test]
    fn tenants_and_return_paths() {
        let s = settings("http://writ.test");
        assert!(s.is_this_tenant("3F6C1D2E-8A4B-4C5D-9E0F-1A2B3C4D5E6F"));
        assert!(s.is_this_tenant("common"));
        assert!(s.is_this_tenant("Organizations"));
        assert!(!s.is_this_tenant("consumers"));
        assert!(matches!(safe_return_to(None), Ok(None)));
        for ok in ["/", "/devicelogin", "/a/b?c=d&e=%2F%2F", "/%5Cx"] {
            assert!(matches!(safe_return_to(Some(ok)), Ok(Some(_))), "{ok}");
        }
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil",
            "evil",
            "",
            "/a\tb",
            "/a\nb",
        ] {
            assert!(safe_return_to(Some(bad)).is_err(), "{bad:?}");
        }
        assert!(safe_return_to(Some(&format!("/{}", "a".repeat(2048)))).is_err());
        assert_eq!(
            sign_in_path(&s, "/devicelogin?x=1"),
            "/3f6c1d2e-8a4b-4c5d-9e0f-1a2b3c4d5e6f/login?return_to=%2Fdevicelogin%3Fx%3D1"
        );
    }
}

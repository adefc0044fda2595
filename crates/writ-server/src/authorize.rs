//! The authorization endpoint (`GET`/`POST /{tenant}/oauth2/v2.0/authorize`: RFC 6749 section
//! 4.1, PKCE RFC 7636, loopback redirects RFC 8252, OAuth 2.0 Form Post Response Mode, OpenID
//! Connect Core section 3.1.2) and the token endpoint's `authorization_code` grant ([`redeem`],
//! the one arm `oauth.rs` dispatches to). The rules of codes — binding, lifetime, one use, PKCE,
//! reuse — are `writ_domain::identity::authorization_codes`; which redirect URIs a client may use
//! is `writ_domain::identity::oauth_clients`. This file reads parameters, decides whether to
//! answer with a page, the sign-in page or the redirect, and renders it.
//!
//! - **Who gets an error page, never a redirect**: a request without a known `client_id`, or whose
//!   `redirect_uri` is missing (with not exactly one registered), unregistered or too long, or
//!   whose `state` is too long to echo. Everything after that is answered at the redirect URI
//!   with RFC 6749's `error` (and `state`), as the client expects.
//! - **PKCE**: `code_challenge` with `code_challenge_method=S256` is required for public clients
//!   (`isFallbackPublicClient`, a `publicClient` or `spa` redirect); `plain`, or a challenge
//!   without a method (which RFC 7636 reads as `plain`), is refused. Confidential (`web`)
//!   clients may send one and are then held to it.
//! - **`prompt`**: `none` never shows a page (`login_required` without a usable session);
//!   `login` forces a fresh sign-in; `select_account` shows the sign-in page with the current
//!   account filled in (Writ's page offers one account: the one you sign in as); `consent` is
//!   accepted and asks nothing, because Writ has no user consent — what a token grants is what
//!   administrators assigned. Anything else is `invalid_request`.
//! - **A fresh sign-in** (`prompt=login`, `select_account`, or a session older than `max_age`)
//!   sends the browser to the sign-in page with `return_to` this request, without `prompt`, plus
//!   `writ_auth_after` (the instant, in Unix seconds): back here, a session that signed in before
//!   it is not used. A client that sets `writ_auth_after` itself can only make the rule
//!   stricter.
//! - **`response_mode=form_post`** renders a page whose form posts `code` and `state` to the
//!   redirect URI; the pages' CSP runs no script, so this page's own CSP allows exactly one
//!   constant script by its SHA-256 hash (see `pages::FORM_POST_SCRIPT`) and widens
//!   `form-action` to the redirect URI's origin. Without script the button does it.
//! - **After Writ's sign-in form** (`Sec-Fetch-Site: same-origin`), the query-mode answer is a
//!   page that navigates on by `<meta http-equiv="refresh">` (and a link) instead of a `303`:
//!   browsers check every redirect of a form submission against the submitting page's CSP
//!   `form-action 'self'`, which the application's origin fails (`pages::RedirectPage`).
//! - **Bounds**: every parameter is bounded (`client_id` 256, `redirect_uri` 1024, `state` 1024,
//!   `nonce` 512, `scope` 1024, `login_hint` 256 characters; `max_age` to a year), the query
//!   string to 8 KiB and a form to the pages' 16 KiB.

#![allow(
    clippy::result_large_err,
    reason = "a refused step answers with its page: the error is the response, returned once"
)]

use std::net::IpAddr;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use writ_domain::identity::authorization_codes::{self, CodeRedemption, CodeRequest, Presented};
use writ_domain::identity::sessions::{SignInContext, SignedIn};
use writ_domain::identity::{Identity, IdentityError, MatchedRedirect};

use crate::browser::{self, PageRequest};
use crate::oauth::OAuthError;
use crate::oauth::user_grant::{self, SignIn, UserGrant};
use crate::pages::{self, FormPostPage, MessagePage, RedirectPage};
use crate::state::AppState;

/// The token endpoint's `grant_type` of this flow.
pub const AUTHORIZATION_CODE_GRANT: &str = "authorization_code";
/// The largest query string or form of an authorization request.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
const MAX_ID_CHARS: usize = 256;
const MAX_REDIRECT_CHARS: usize = 1024;
const MAX_STATE_CHARS: usize = 1024;
const MAX_NONCE_CHARS: usize = 512;
const MAX_SCOPE_CHARS: usize = 1024;
const MAX_HINT_CHARS: usize = 256;
/// The largest `max_age` (a year, in seconds).
const MAX_MAX_AGE_SECS: i64 = 366 * 24 * 3600;
/// Writ's own parameter: sign in again unless the session signed in at or after this instant.
pub const AUTH_AFTER: &str = "writ_auth_after";
/// The longest code a grant presents (a code is 43 characters).
const MAX_CODE_CHARS: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Query,
    FormPost,
}

/// Where the answers of a request go once its client and redirect URI are known.
struct Reply<'a> {
    redirect: &'a str,
    mode: Mode,
    state: Option<&'a str>,
    /// The browser came from one of Writ's own pages (`Sec-Fetch-Site: same-origin`: the
    /// sign-in form's redirect chain): answer with a page that navigates on, not a `303`.
    from_writ_page: bool,
}

impl Reply<'_> {
    /// The authorization response `params` (plus `state`) at the redirect URI.
    fn send(&self, params: &[(&str, &str)]) -> Response {
        let mut fields: Vec<(&str, &str)> = params.to_vec();
        if let Some(state) = self.state {
            fields.push(("state", state));
        }
        match self.mode {
            Mode::Query => {
                let query: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields.iter())
                    .finish();
                let separator = if self.redirect.contains('?') {
                    '&'
                } else {
                    '?'
                };
                let location = format!("{}{separator}{query}", self.redirect);
                if self.from_writ_page {
                    pages::render(
                        StatusCode::OK,
                        &RedirectPage {
                            location: &location,
                        },
                    )
                } else {
                    pages::see_other(&location)
                }
            }
            Mode::FormPost => {
                let Some(origin) = origin_of(self.redirect) else {
                    return error_page(
                        "This application's redirect URI cannot receive a form post.",
                    );
                };
                let mut response = pages::render(
                    StatusCode::OK,
                    &FormPostPage {
                        action: self.redirect,
                        fields,
                        script: pages::FORM_POST_SCRIPT,
                    },
                );
                if let Ok(csp) = HeaderValue::from_str(&pages::form_post_csp(&origin)) {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_SECURITY_POLICY, csp);
                }
                response
            }
        }
    }

    fn error(&self, error: &str, description: &str) -> Response {
        self.send(&[("error", error), ("error_description", description)])
    }
}

/// `scheme://host[:port]` of an http(s) URI, when it is safe to write into a CSP source list.
fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let safe = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    safe.then(|| format!("{scheme}://{authority}"))
}

/// An error page: the request cannot be answered at a redirect URI.
fn error_page(text: &str) -> Response {
    pages::render(
        StatusCode::BAD_REQUEST,
        &MessagePage::error("Sign-in request not valid", text),
    )
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub async fn authorize_get(
    State(state): State<AppState>,
    tenant: Result<Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Response {
    let page = PageRequest::of(&state, &request);
    let tenant = tenant.map(|Path(t)| t).unwrap_or_default();
    if !state.settings.is_this_tenant(&tenant) {
        return browser::unknown_tenant(&tenant);
    }
    if page
        .query
        .as_deref()
        .is_some_and(|q| q.len() > MAX_REQUEST_BYTES)
    {
        return error_page("The sign-in request is too long.");
    }
    let pairs = match page.query_pairs() {
        Ok(pairs) => pairs,
        Err(response) => return response,
    };
    authorize(&state, &page, &pairs).await
}

/// `POST /{tenant}/oauth2/v2.0/authorize` (the same parameters as a form).
pub async fn authorize_post(
    State(state): State<AppState>,
    tenant: Result<Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Response {
    let page = PageRequest::of(&state, &request);
    let tenant = tenant.map(|Path(t)| t).unwrap_or_default();
    if !state.settings.is_this_tenant(&tenant) {
        return browser::unknown_tenant(&tenant);
    }
    let pairs = match browser::read_form(request).await {
        Ok(pairs) => pairs,
        Err(response) => return response,
    };
    authorize(&state, &page, &pairs).await
}

fn too_long(value: Option<&str>, max: usize) -> bool {
    value.is_some_and(|v| v.chars().count() > max)
}

/// The redirect URI of the request: the one named, when registered; else the only one
/// registered; else none (an error page).
fn redirect_of(
    client: &writ_domain::identity::OAuthClient,
    requested: Option<&str>,
) -> Option<MatchedRedirect> {
    if let Some(uri) = requested {
        return client.redirect(uri);
    }
    let registration = client.registration();
    let all: Vec<&String> = registration
        .public_client_redirect_uris
        .iter()
        .chain(registration.spa_redirect_uris.iter())
        .chain(registration.web.redirect_uris.iter())
        .collect();
    match all.as_slice() {
        [only] => client.redirect(only),
        _ => None,
    }
}

async fn authorize(state: &AppState, page: &PageRequest, pairs: &[(String, String)]) -> Response {
    let field = |name: &str| pages::field(pairs, name);
    let Some(client_id) = field("client_id") else {
        return error_page("The request names no application (client_id is missing).");
    };
    if too_long(Some(client_id), MAX_ID_CHARS) {
        return error_page("The application named (client_id) is not registered in this tenant.");
    }
    let identity = Identity::of(&state.directory);
    let client = match identity.oauth_client(client_id).await {
        Ok(client) => client,
        Err(IdentityError::Domain(err)) => return browser::failure(err.into()),
        Err(_) => {
            return error_page(
                "The application named (client_id) is not registered in this tenant.",
            );
        }
    };
    if too_long(field("redirect_uri"), MAX_REDIRECT_CHARS) {
        return error_page("The redirect_uri is not registered for this application.");
    }
    let Some(redirect) = redirect_of(&client, field("redirect_uri")) else {
        return error_page(if field("redirect_uri").is_some() {
            "The redirect_uri is not registered for this application."
        } else {
            "The request has no redirect_uri, and the application does not have exactly one."
        });
    };
    if too_long(field("state"), MAX_STATE_CHARS) {
        return error_page("The state parameter is too long.");
    }
    let mode = match field("response_mode") {
        Some("form_post") => Mode::FormPost,
        _ => Mode::Query,
    };
    let reply = Reply {
        redirect: &redirect.uri,
        mode,
        state: field("state"),
        from_writ_page: page
            .headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin"),
    };
    if !matches!(field("response_mode"), None | Some("query" | "form_post")) {
        return reply.error(
            "invalid_request",
            "response_mode must be query or form_post.",
        );
    }
    match field("response_type") {
        Some("code") => {}
        None => return reply.error("invalid_request", "response_type is required."),
        Some(_) => {
            return reply.error(
                "unsupported_response_type",
                "Only response_type=code is supported.",
            );
        }
    }
    let scope = field("scope").unwrap_or_default();
    for (name, max) in [
        ("scope", MAX_SCOPE_CHARS),
        ("nonce", MAX_NONCE_CHARS),
        ("login_hint", MAX_HINT_CHARS),
    ] {
        if too_long(field(name), max) {
            return reply.error(
                "invalid_request",
                &format!("{name} is longer than {max} characters."),
            );
        }
    }
    match identity
        .resolve_audience(Some(scope), false, &state.settings.public_url)
        .await
    {
        Ok(_) => {}
        Err(IdentityError::Domain(err)) => return browser::failure(err.into()),
        Err(err) => return reply.error("invalid_scope", &err.to_string()),
    }
    let challenge = field("code_challenge");
    match (challenge, field("code_challenge_method")) {
        (None, None) if client.is_public(Some(&redirect)) => {
            return reply.error(
                "invalid_request",
                "A public client must send a PKCE code_challenge (code_challenge_method=S256).",
            );
        }
        (None, None) => {}
        (Some(c), Some("S256")) if authorization_codes::is_s256_challenge(c) => {}
        (Some(_), Some("S256")) => {
            return reply.error(
                "invalid_request",
                "code_challenge must be 43 base64url characters (S256).",
            );
        }
        (Some(_), _) => {
            return reply.error(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not supported).",
            );
        }
        (None, Some(_)) => {
            return reply.error(
                "invalid_request",
                "code_challenge_method was sent without code_challenge.",
            );
        }
    }
    let prompt = field("prompt");
    if !matches!(
        prompt,
        None | Some("none" | "login" | "select_account" | "consent")
    ) {
        return reply.error(
            "invalid_request",
            "prompt must be none, login, select_account or consent.",
        );
    }
    let max_age = match field("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(secs)) if (0..=MAX_MAX_AGE_SECS).contains(&secs) => Some(Duration::seconds(secs)),
        Some(_) => {
            return reply.error(
                "invalid_request",
                "max_age must be a number of seconds from 0 to 31622400.",
            );
        }
    };
    let auth_after = match field(AUTH_AFTER).map(str::parse::<i64>) {
        None => None,
        Some(Ok(secs)) => match OffsetDateTime::from_unix_timestamp(secs) {
            Ok(at) => Some(at),
            Err(_) => return reply.error("invalid_request", "writ_auth_after is out of range."),
        },
        Some(Err(_)) => return reply.error("invalid_request", "writ_auth_after must be a number."),
    };

    let session = match page.session(state).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let now = state.directory.clock().now();
    let stale = |s: &SignedIn| {
        let too_old = max_age.is_some_and(|age| {
            s.session
                .auth_time
                .checked_add(age)
                .is_none_or(|limit| limit < now)
        });
        too_old || auth_after.is_some_and(|after| s.session.auth_time < after)
    };
    let usable = session.filter(|(_, s)| !stale(s));
    let forced = matches!(prompt, Some("login" | "select_account"));
    match (prompt, usable) {
        (Some("none"), None) => {
            reply.error("login_required", "The user is not signed in (prompt=none).")
        }
        (_, Some((_, signed_in))) if !forced => {
            let request = CodeRequest {
                client_id: client.client_id(),
                redirect_uri: &redirect.uri,
                scope,
                nonce: field("nonce"),
                code_challenge: challenge,
            };
            match identity
                .issue_authorization_code(&signed_in, &request)
                .await
            {
                Ok(code) => reply.send(&[("code", &code)]),
                Err(err) => browser::failure(err),
            }
        }
        (_, usable) => {
            // To the sign-in page, and back here without `prompt`, requiring a sign-in from now
            // on when one was forced or the session was too old.
            let fresh = forced || max_age.is_some() || auth_after.is_some();
            let hint = match (prompt, &usable) {
                (Some("select_account"), Some((_, s))) => Some(s.user.login_name.clone()),
                _ => field("login_hint").map(str::to_owned),
            };
            let mut back = form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                if k != "prompt" && k != AUTH_AFTER {
                    back.append_pair(k, v);
                }
            }
            if fresh {
                back.append_pair(AUTH_AFTER, &now.unix_timestamp().to_string());
            }
            let return_to = format!(
                "/{}/oauth2/v2.0/authorize?{}",
                state.settings.tenant_id,
                back.finish()
            );
            if return_to.chars().count() > browser::MAX_RETURN_TO_CHARS {
                return reply.error(
                    "invalid_request",
                    "The request is too long to return to after signing in.",
                );
            }
            let mut location = browser::sign_in_path(&state.settings, &return_to);
            if let Some(hint) = hint {
                let encoded: String = form_urlencoded::byte_serialize(hint.as_bytes()).collect();
                location.push_str("&login_hint=");
                location.push_str(&encoded);
            }
            pages::see_other(&location)
        }
    }
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// The token endpoint's `authorization_code` grant: the user, client id and audience the token
/// is issued for. A confidential client authenticates (`client_secret_basic` or `_post`); a
/// public one presents its `client_id` and the PKCE verifier. Every refusal is `invalid_grant`
/// but for client authentication (`invalid_client`).
///
/// The tokens come from the one issuing path of people's grants (`oauth::user_grant::respond`:
/// access token with `scp`, the id token with the code's `nonce` and `auth_time`, `client_info`,
/// a refresh token with `offline_access`); the refresh token family it starts is recorded on the
/// code, so that a reuse of the code revokes it.
pub(crate) async fn redeem(
    state: &AppState,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    source: IpAddr,
    request_id: &str,
) -> Result<Value, OAuthError> {
    let param = |name: &str| crate::pages::field(pairs, name);
    let basic = crate::oauth::basic_credentials(headers);
    let client_id = match (&basic, param("client_id")) {
        (Some((id, _)), Some(form_id)) if id != form_id => {
            return Err(OAuthError::invalid_request(
                "client_id differs from the client authenticated",
            ));
        }
        (Some((id, _)), _) => id.as_str(),
        (None, Some(id)) => id,
        (None, None) => {
            return Err(OAuthError::invalid_request(
                "parameter 'client_id' is required",
            ));
        }
    };
    let code =
        param("code").ok_or_else(|| OAuthError::invalid_request("parameter 'code' is required"))?;
    let redirect_uri = param("redirect_uri");
    let verifier = param("code_verifier");
    if client_id.chars().count() > MAX_ID_CHARS {
        return Err(OAuthError::invalid_client());
    }
    if code.chars().count() > MAX_CODE_CHARS
        || too_long(redirect_uri, MAX_REDIRECT_CHARS)
        || too_long(verifier, authorization_codes::VERIFIER_MAX)
    {
        return Err(invalid_grant("The authorization code is not valid."));
    }
    let identity = Identity::of(&state.directory);
    let client = match identity.oauth_client(client_id).await {
        Ok(client) => client,
        Err(IdentityError::Domain(err)) => return Err(err.into()),
        Err(_) => return Err(OAuthError::invalid_client()),
    };
    let matched = redirect_uri.and_then(|uri| client.redirect(uri));
    let secret = match &basic {
        Some((_, secret)) => Some(secret.as_str()),
        None => param("client_secret"),
    };
    match secret {
        Some(secret) => {
            identity.authenticate_client(client_id, secret).await?;
        }
        None if client.is_public(matched.as_ref()) => {}
        None => return Err(OAuthError::invalid_client()),
    }
    let context = SignInContext {
        request_id: Some(request_id.to_owned()),
        address: Some(source.to_string()),
    };
    let presented = Presented {
        client_id: client.client_id(),
        redirect_uri,
        code_verifier: verifier,
    };
    match identity
        .redeem_authorization_code(code, &presented, &context)
        .await?
    {
        CodeRedemption::Granted {
            user,
            scope,
            nonce,
            auth_time,
            code_hash,
        } => {
            let grant = UserGrant {
                principal: user,
                client_id: client.client_id().to_owned(),
                scope: Some(scope),
                nonce,
                auth_time,
                client_info: param("client_info") == Some("1"),
                sign_in: SignIn::New {
                    method: "authorizationCode",
                },
            };
            let body = user_grant::respond(state, grant, request_id).await?;
            if let Some(refresh_token) = body.get("refresh_token").and_then(Value::as_str) {
                identity
                    .record_code_refresh_token(&code_hash, refresh_token)
                    .await?;
            }
            Ok(body)
        }
        CodeRedemption::Invalid(description) => Err(invalid_grant(description)),
        CodeRedemption::Reused { .. } => Err(invalid_grant(
            "The authorization code was already redeemed; the tokens issued from it are revoked.",
        )),
    }
}

/// The authorization endpoint.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/{tenant}/oauth2/v2.0/authorize",
        Plain,
        "Authorization endpoint (code with PKCE)",
        authorize_get,
    )
    .route(
        Post,
        "/{tenant}/oauth2/v2.0/authorize",
        Plain,
        "Authorization endpoint (form)",
        authorize_post,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_for_the_form_post_csp() {
        assert_eq!(
            origin_of("http://localhost:8400/cb?x=1").as_deref(),
            Some("http://localhost:8400")
        );
        assert_eq!(
            origin_of("https://app.example.org").as_deref(),
            Some("https://app.example.org")
        );
        assert_eq!(
            origin_of("http://[::1]:9/x").as_deref(),
            Some("http://[::1]:9")
        );
        assert_eq!(origin_of("msal1234://auth"), None);
        assert_eq!(origin_of("https://a;b.example"), None);
        assert_eq!(origin_of("https://user@a.example"), None);
        assert_eq!(origin_of("https://"), None);
    }
}

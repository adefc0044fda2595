//! Single sign-on in the browser (DESIGN section 14, "Where people authenticate"): the round trip
//! through the upstream OpenID provider. The provider client (discovery, code exchange, strict id
//! token validation) is `writ_runtime::sso`, handed in as `AppState::sign_in`; the linking rules
//! are `writ_domain::identity::federation`; the round trip's secrets are kept by
//! `writ_domain::identity::sso_requests`. This file reads requests, sets cookies and renders pages.
//!
//! - **Start** (`GET /signin/sso?return_to=…&login_hint=…`, linked from the sign-in page as
//!   "Sign in with …"): asks the client for the authorization URL with fresh `state`, `nonce` and
//!   PKCE verifier, keeps them server-side for ten minutes under the hash of a random id set in a
//!   cookie (`__Host-writ_sso` over https, `writ_sso` on plain http; HttpOnly, SameSite=Lax, so
//!   it comes back on the provider's top-level redirect), and redirects. A GET: it changes no
//!   person's state (it signs no one in and out), and a link is what a button to another site is.
//! - **Callback** (`GET /signin/sso/callback`, the redirect URI registered at the provider): takes
//!   this browser's pending round trip (once: a replayed callback finds nothing), checks `state`,
//!   shows an upstream `error`, has the code exchanged and the id token validated against the
//!   kept `nonce` and verifier, finds the Writ user (linking or creating by the configured rules),
//!   and signs in exactly as the password page does (`Identity::start_session`: the same session
//!   cookie and audit record), then goes to `return_to` (a local path) or says who is signed in.
//!   Every refusal is a page with its reason and an audit record (category `Authentication`); the pending
//!   cookie is cleared on every answer.
//! - With `WRIT_SIGN_IN=sso` the password form is not shown and its POST is refused
//!   ([`local_sign_in_off`]); the token endpoint's password grant is refused too (`oauth.rs`).

#![allow(
    clippy::result_large_err,
    reason = "a refused step answers with its page: the error is the response, returned once"
)]

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use writ_domain::directory::RequestContext;
use writ_domain::identity::federation::{Federation, UpstreamError};
use writ_domain::identity::sso_requests::PENDING_LIFETIME;
use writ_domain::identity::{Identity, Principal};

use crate::browser::{
    MAX_USERNAME_CHARS, PageRequest, bad_request, cookie, failure, pre_session_cookie,
    safe_return_to, session_cookie, set_cookie, sign_in_path,
};
use crate::pages::{self, MessagePage};
use crate::state::{AppState, ServerSettings, SsoSettings};

/// Where single sign-on starts.
pub const START_PATH: &str = "/signin/sso";
/// The redirect URI to register at the provider, below `public_url`.
pub const CALLBACK_PATH: &str = "/signin/sso/callback";
/// The longest `code`, `state` or `error` value read from the provider's redirect.
const MAX_PARAMETER_CHARS: usize = 4096;
/// How much of an upstream `error_description` a page shows.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// The cookie naming this browser's pending round trip.
pub fn pending_cookie(https: bool) -> &'static str {
    if https { "__Host-writ_sso" } else { "writ_sso" }
}

/// The start of single sign-on, returning to `return_to` (a checked local path, or empty) with
/// `login_hint` passed on (or empty).
pub fn start_path(return_to: &str, login_hint: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if !return_to.is_empty() {
        query.append_pair("return_to", return_to);
    }
    if !login_hint.is_empty() {
        query.append_pair("login_hint", login_hint);
    }
    let query = query.finish();
    if query.is_empty() {
        START_PATH.to_owned()
    } else {
        format!("{START_PATH}?{query}")
    }
}

/// The redirect URI sent to the provider.
pub fn callback_uri(settings: &ServerSettings) -> String {
    format!("{}{CALLBACK_PATH}", settings.public_url)
}

/// The `403` page of the password form's POST when only single sign-on is offered.
pub fn local_sign_in_off(state: &AppState) -> Response {
    let start = start_path("", "");
    let label = state
        .sign_in
        .sso()
        .map(|sso| format!("Sign in with {}", sso.provider.display_name()));
    let mut page = MessagePage::error(
        "Password sign-in is off",
        "People sign in to Writ through single sign-on here, not with a Writ password.",
    );
    if let Some(label) = &label {
        page = page.with_link(&start, label);
    }
    pages::render(StatusCode::FORBIDDEN, &page)
}

fn not_offered() -> Response {
    pages::render(
        StatusCode::NOT_FOUND,
        &MessagePage::error(
            "Single sign-on is not offered",
            "This Writ server does not offer sign-in through an identity provider.",
        ),
    )
}

/// A one-line, bounded copy of text from the provider, for a page and an audit record.
fn shown(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// `GET /signin/sso`: keeps the round trip's secrets for this browser and sends it to the
/// provider.
pub async fn start(State(state): State<AppState>, request: Request) -> Response {
    let page = PageRequest::of(&state, &request);
    let Some(sso) = state.sign_in.sso() else {
        return not_offered();
    };
    let query = match page.query_pairs() {
        Ok(q) => q,
        Err(response) => return response,
    };
    let return_to = match safe_return_to(pages::field(&query, "return_to")) {
        Ok(r) => r,
        Err(response) => return response,
    };
    let hint = pages::field(&query, "login_hint");
    if hint.is_some_and(|h| h.chars().count() > MAX_USERNAME_CHARS) {
        return bad_request("'login_hint' is too long.");
    }
    let redirect_uri = callback_uri(&state.settings);
    let authorization = match sso
        .provider
        .authorization_request(&redirect_uri, hint)
        .await
    {
        Ok(authorization) => authorization,
        Err(err) => {
            let ctx = RequestContext {
                request_id: Some(page.request_id.clone()),
                via: None,
            };
            return refused(
                &state,
                sso,
                &ctx,
                return_to.as_deref(),
                &upstream_refusal(&err),
            )
            .await;
        }
    };
    let secret = match Identity::of(&state.directory)
        .begin_sso(&authorization, return_to.as_deref())
        .await
    {
        Ok(secret) => secret,
        Err(err) => return failure(err),
    };
    let mut response = pages::see_other(&authorization.url);
    set_cookie(
        &mut response,
        pending_cookie(page.https),
        &secret,
        PENDING_LIFETIME.whole_seconds(),
        page.https,
    );
    response
}

/// Why a sign-in stopped: the page's status and the reason shown and audited.
struct Refusal {
    status: StatusCode,
    reason: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }
}

fn upstream_refusal(err: &UpstreamError) -> Refusal {
    let status = match err {
        // The provider is down or misconfigured: not the person's doing.
        UpstreamError::Unreachable(_)
        | UpstreamError::ProviderError(_)
        | UpstreamError::BadDocument(..)
        | UpstreamError::NoIdToken => StatusCode::BAD_GATEWAY,
        _ => StatusCode::FORBIDDEN,
    };
    let mut reason = err.to_string();
    if let Some(first) = reason.get(..1) {
        reason = format!(
            "{}{}.",
            first.to_uppercase(),
            reason.get(1..).unwrap_or_default()
        );
    }
    Refusal::new(status, reason)
}

/// The page of a refused sign-in, audited (the linking rules audit their own refusals).
async fn refused(
    state: &AppState,
    sso: &SsoSettings,
    ctx: &RequestContext,
    return_to: Option<&str>,
    refusal: &Refusal,
) -> Response {
    if let Err(err) = Federation::of(&state.directory, &sso.policy)
        .record_failure(ctx, None, &refusal.reason)
        .await
    {
        return failure(err.into());
    }
    refusal_page(state, return_to, refusal)
}

fn refusal_page(state: &AppState, return_to: Option<&str>, refusal: &Refusal) -> Response {
    let again = sign_in_path(&state.settings, return_to.unwrap_or("/"));
    pages::render(
        refusal.status,
        &MessagePage::error("You are not signed in", &refusal.reason)
            .with_link(&again, "Back to sign-in"),
    )
}

/// `GET /signin/sso/callback`: finishes the round trip this browser started.
pub async fn callback(State(state): State<AppState>, request: Request) -> Response {
    let page = PageRequest::of(&state, &request);
    let Some(sso) = state.sign_in.sso() else {
        return not_offered();
    };
    let mut response = finish(&state, sso, &page).await;
    // The round trip is over whatever happened: its row is gone, so is its cookie.
    set_cookie(&mut response, pending_cookie(page.https), "", 0, page.https);
    response
}

async fn finish(state: &AppState, sso: &SsoSettings, page: &PageRequest) -> Response {
    let ctx = RequestContext {
        request_id: Some(page.request_id.clone()),
        via: None,
    };
    let identity = Identity::of(&state.directory);
    let pending = match cookie(&page.headers, pending_cookie(page.https)) {
        Some(secret) => match identity.take_sso(&secret).await {
            Ok(pending) => pending,
            Err(err) => return failure(err),
        },
        None => None,
    };
    let Some(pending) = pending else {
        let refusal = Refusal::new(
            StatusCode::BAD_REQUEST,
            "This sign-in was not started in this browser, has expired or was finished already. Start again from the sign-in page.",
        );
        return refused(state, sso, &ctx, None, &refusal).await;
    };
    let return_to = pending.return_to.as_deref();
    let query = match page.query_pairs() {
        Ok(q) => q,
        Err(_) => {
            let refusal = Refusal::new(
                StatusCode::BAD_REQUEST,
                "The identity provider's answer could not be read.",
            );
            return refused(state, sso, &ctx, return_to, &refusal).await;
        }
    };
    let too_long = query
        .iter()
        .any(|(_, v)| v.chars().count() > MAX_PARAMETER_CHARS);
    let field = |name| pages::field(&query, name);
    if too_long || !field("state").is_some_and(|s| pending.state_matches(s)) {
        let refusal = Refusal::new(
            StatusCode::BAD_REQUEST,
            "The identity provider's answer does not belong to this sign-in (state). Start again from the sign-in page.",
        );
        return refused(state, sso, &ctx, return_to, &refusal).await;
    }
    if let Some(error) = field("error") {
        let mut reason = format!(
            "The identity provider did not sign you in ({}).",
            shown(error, 64)
        );
        if let Some(description) = field("error_description") {
            reason = format!(
                "{reason} It said: {}",
                shown(description, MAX_DESCRIPTION_CHARS)
            );
        }
        let status = if matches!(error, "server_error" | "temporarily_unavailable") {
            StatusCode::BAD_GATEWAY
        } else {
            StatusCode::FORBIDDEN
        };
        return refused(state, sso, &ctx, return_to, &Refusal::new(status, reason)).await;
    }
    let Some(code) = field("code") else {
        let refusal = Refusal::new(
            StatusCode::BAD_REQUEST,
            "The identity provider's answer has no authorization code.",
        );
        return refused(state, sso, &ctx, return_to, &refusal).await;
    };
    let claims = match sso
        .provider
        .complete(
            code,
            &callback_uri(&state.settings),
            &pending.code_verifier,
            &pending.nonce,
        )
        .await
    {
        Ok(claims) => claims,
        Err(err) => {
            return refused(state, sso, &ctx, return_to, &upstream_refusal(&err)).await;
        }
    };
    let signed_in = match Federation::of(&state.directory, &sso.policy)
        .sign_in(&ctx, &claims)
        .await
    {
        Ok(Ok(signed_in)) => signed_in,
        // Audited by the linking rules, with the claims.
        Ok(Err(refusal)) => {
            return refusal_page(
                state,
                return_to,
                &Refusal::new(StatusCode::FORBIDDEN, refusal.to_string()),
            );
        }
        Err(err) => return failure(err.into()),
    };
    let user = Principal::from(signed_in.user);
    let secret = match identity
        .start_session(
            &user,
            state.settings.browser.sessions,
            "sso",
            &page.context(),
        )
        .await
    {
        Ok(secret) => secret,
        Err(err) => return failure(err),
    };
    // Checked when the round trip started; checked again as the one way out of this server.
    let mut response = match safe_return_to(return_to).ok().flatten() {
        Some(path) => pages::see_other(&path),
        None => pages::render(
            StatusCode::OK,
            &MessagePage::info(
                "Signed in",
                &format!("You are signed in to Writ as {}.", user.login_name),
            ),
        ),
    };
    set_cookie(
        &mut response,
        session_cookie(page.https),
        &secret,
        state.settings.browser.sessions.absolute.whole_seconds(),
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

/// The two steps of single sign-on.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(
        Get,
        START_PATH,
        Plain,
        "Sign in through the upstream identity provider",
        start,
    )
    .route(
        Get,
        CALLBACK_PATH,
        Plain,
        "The upstream identity provider's redirect back",
        callback,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_paths_carry_their_parameters_encoded() {
        assert_eq!(start_path("", ""), "/signin/sso");
        assert_eq!(
            start_path("/devicelogin?x=1", "ada@example.org"),
            "/signin/sso?return_to=%2Fdevicelogin%3Fx%3D1&login_hint=ada%40example.org"
        );
        assert_eq!(pending_cookie(true), "__Host-writ_sso");
        assert_eq!(pending_cookie(false), "writ_sso");
        assert_eq!(shown("a\nb\u{7}c", 4), "a b ");
    }
}

//! The device authorization grant (RFC 8628, DESIGN section 14) over HTTP: the `devicecode`
//! endpoint a device calls, the `/devicelogin` pages where a signed-in person enters the user
//! code and approves or denies, and the token endpoint's `device_code` grant ([`redeem`], the
//! one arm `oauth.rs` dispatches to). The rules — codes, polls, who may use the flow, audit —
//! are `writ_domain::identity::device_codes`.
//!
//! Wrong user codes are bounded twice: per session (`sessions::MAX_CODE_FAILURES_PER_SESSION`,
//! then the session may not try again) and per client address (a limiter of its own, the
//! password limiter's budgets: 10 attempts at once and 10 a minute, 10 wrong codes at once and
//! then one a minute).

#![allow(
    clippy::result_large_err,
    reason = "a refused step answers with its page: the error is the response, returned once"
)]

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use writ_domain::identity::device_codes::{self, DeviceClient, DevicePoll};
use writ_domain::identity::sessions::{self, SignedIn};
use writ_domain::identity::{Identity, IdentityError};

use crate::browser::{self, PageRequest};
use crate::oauth::OAuthError;
use crate::oauth::user_grant::{self, SignIn, UserGrant};
use crate::pages::{self, DeviceCodePage, DeviceConsentPage, MessagePage};
use crate::rate_limit::Admission;
use crate::state::AppState;

/// The token endpoint's `grant_type` of this flow.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The longest `scope` a device may ask for.
pub const MAX_SCOPE_CHARS: usize = 2048;
/// The longest `client_id` or `device_code` read.
const MAX_ID_CHARS: usize = 256;

/// `POST /{tenant}/oauth2/v2.0/devicecode` (RFC 8628 section 3.1).
pub async fn device_authorization(
    State(state): State<AppState>,
    tenant: Result<Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Response {
    let page = PageRequest::of(&state, &request);
    let tenant = tenant.map(|Path(t)| t).unwrap_or_default();
    if !state.settings.is_this_tenant(&tenant) {
        return OAuthError::invalid_request(format!("Tenant '{tenant}' not found."))
            .render(&page.request_id);
    }
    match authorize_device(&state, request).await {
        Ok(value) => {
            let mut response = Json(value).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(err) => err.render(&page.request_id),
    }
}

async fn authorize_device(state: &AppState, request: Request) -> Result<Value, OAuthError> {
    if !pages::is_form(request.headers()) {
        return Err(OAuthError::invalid_request(
            "the device authorization request must be application/x-www-form-urlencoded",
        ));
    }
    let body = axum::body::to_bytes(request.into_body(), crate::oauth::MAX_TOKEN_BODY_BYTES)
        .await
        .map_err(|_| {
            OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                format!(
                    "the request body must be at most {} bytes",
                    crate::oauth::MAX_TOKEN_BODY_BYTES
                ),
            )
        })?;
    let pairs = pages::pairs(&body).map_err(OAuthError::invalid_request)?;
    let client_id = pages::field(&pairs, "client_id")
        .ok_or_else(|| OAuthError::invalid_request("parameter 'client_id' is required"))?;
    if client_id.chars().count() > MAX_ID_CHARS {
        return Err(OAuthError::invalid_client());
    }
    let scope = pages::field(&pairs, "scope").unwrap_or_default();
    if scope.chars().count() > MAX_SCOPE_CHARS {
        return Err(OAuthError::invalid_request(format!(
            "parameter 'scope' is longer than {MAX_SCOPE_CHARS} characters"
        )));
    }
    let identity = Identity::of(&state.directory);
    let client = device_client(&identity, client_id).await?;
    // The scope is checked now, so a device learns of a bad one before a person is involved.
    identity
        .resolve_audience(Some(scope), false, &state.settings.public_url)
        .await?;
    let authorization = identity
        .start_device_authorization(&client, scope, state.settings.browser.device_flow)
        .await?;
    let verification_uri = format!("{}/devicelogin", state.settings.public_url);
    Ok(json!({
        "device_code": authorization.device_code,
        "user_code": authorization.user_code,
        "verification_uri": verification_uri,
        "expires_in": authorization.expires_in,
        "interval": authorization.interval,
        "message": format!(
            "To sign in, use a web browser to open the page {verification_uri} and enter the code {} to authenticate.",
            authorization.user_code
        ),
    }))
}

/// Which clients may use the device flow: the one place to switch to the client registrations
/// (public clients and `isFallbackPublicClient`) once applications carry them.
pub async fn device_client(
    identity: &Identity<'_>,
    client_id: &str,
) -> Result<DeviceClient, IdentityError> {
    device_codes::device_flow_client(identity, client_id).await
}

/// The token endpoint's `device_code` grant: the person's tokens through the one issuing path of
/// user grants (`oauth::user_grant::respond`: id token, `client_info`, a refresh token with
/// `offline_access`), or the RFC 8628 answer while there are none.
pub(crate) async fn redeem(
    state: &AppState,
    pairs: &[(String, String)],
    request_id: &str,
) -> Result<Value, OAuthError> {
    let param = |name: &str| crate::pages::field(pairs, name);
    let client_id = param("client_id")
        .ok_or_else(|| OAuthError::invalid_request("parameter 'client_id' is required"))?;
    let device_code = param("device_code")
        .ok_or_else(|| OAuthError::invalid_request("parameter 'device_code' is required"))?;
    if client_id.chars().count() > MAX_ID_CHARS || device_code.chars().count() > MAX_ID_CHARS {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The device code is not valid.",
        ));
    }
    let identity = Identity::of(&state.directory);
    let client = device_client(&identity, client_id).await?;
    match identity
        .poll_device_code(device_code, &client.client_id)
        .await?
    {
        DevicePoll::Granted {
            user,
            scope,
            auth_time,
        } => {
            let grant = UserGrant {
                principal: user,
                client_id: client.client_id,
                scope: Some(scope),
                nonce: None,
                auth_time,
                client_info: param("client_info") == Some("1"),
                sign_in: SignIn::New {
                    method: "deviceCode",
                },
            };
            user_grant::respond(state, grant, request_id).await
        }
        refused => {
            let (status, error, description) = crate::error::device_poll_refusal(&refused);
            Err(OAuthError::new(status, error, description))
        }
    }
}

/// The signed-in person of a `/devicelogin` request, or where to send them.
async fn signed_in(state: &AppState, page: &PageRequest) -> Result<(String, SignedIn), Response> {
    match page.session(state).await? {
        Some(found) => Ok(found),
        None => Err(pages::see_other(&browser::sign_in_path(
            &state.settings,
            "/devicelogin",
        ))),
    }
}

/// `GET /devicelogin`: the code entry form (after signing in).
pub async fn code_form(State(state): State<AppState>, request: Request) -> Response {
    let page = PageRequest::of(&state, &request);
    let (secret, signed_in) = match signed_in(&state, &page).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    pages::render(
        StatusCode::OK,
        &DeviceCodePage {
            user: &signed_in.user.login_name,
            csrf: &sessions::csrf_token(&secret),
            code: "",
            error: None,
        },
    )
}

/// A POST of `/devicelogin`: the session, its CSRF token checked, and the form; or the page
/// that refuses.
async fn checked_post(
    state: &AppState,
    request: Request,
) -> Result<(PageRequest, String, SignedIn, Vec<(String, String)>), Response> {
    let page = PageRequest::of(state, &request);
    let form = browser::read_form(request).await?;
    let Some((secret, signed_in)) = page.session(state).await? else {
        return Err(pages::render(
            StatusCode::UNAUTHORIZED,
            &MessagePage::error(
                "Signed out",
                "Your session has ended, so nothing was changed. Sign in again to continue.",
            )
            .with_link("/devicelogin", "Sign in again"),
        ));
    };
    if !sessions::csrf_matches(
        &secret,
        pages::field(&form, "csrf_token").unwrap_or_default(),
    ) {
        return Err(browser::csrf_refused());
    }
    Ok((page, secret, signed_in, form))
}

fn limited(state: &AppState, source: IpAddr) -> Option<Response> {
    let now = state.directory.clock().now();
    match state
        .user_code_limiter
        .admit(&format!("device:{source}"), source, now)
    {
        Admission::Refused { retry_after_secs } => Some(browser::too_many(retry_after_secs)),
        Admission::Proceed { .. } => None,
    }
}

/// `POST /devicelogin`: looks the code up and asks the person to decide.
pub async fn enter_code(State(state): State<AppState>, request: Request) -> Response {
    let (page, secret, signed_in, form) = match checked_post(&state, request).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let csrf = sessions::csrf_token(&secret);
    if signed_in.session.code_failures >= sessions::MAX_CODE_FAILURES_PER_SESSION {
        return pages::render(
            StatusCode::TOO_MANY_REQUESTS,
            &MessagePage::error(
                "Too many wrong codes",
                "Too many wrong codes were entered in this session. Sign out, sign in again and check the code on your device.",
            ),
        );
    }
    if let Some(response) = limited(&state, page.source) {
        return response;
    }
    let typed: String = pages::field(&form, "user_code")
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect();
    let identity = Identity::of(&state.directory);
    let code = match identity.pending_device_code(&typed).await {
        Ok(code) => code,
        Err(err) => return browser::failure(err),
    };
    let Some(code) = code else {
        let now = state.directory.clock().now();
        let source = page.source;
        state
            .user_code_limiter
            .record_failure(&format!("device:{source}"), source, now);
        if let Err(err) = identity.count_code_failure(&signed_in.session).await {
            return browser::failure(err);
        }
        return pages::render(
            StatusCode::BAD_REQUEST,
            &DeviceCodePage {
                user: &signed_in.user.login_name,
                csrf: &csrf,
                code: &typed,
                error: Some(
                    "That code is not valid or has expired. Check the code on your device and try again.",
                ),
            },
        );
    };
    let application = match device_client(&identity, &code.client_id).await {
        Ok(client) => client.display_name,
        Err(_) => code.client_id.clone(),
    };
    let normalized = device_codes::normalize_user_code(&typed).unwrap_or_default();
    let mut scopes: Vec<&str> = code.scope.split_whitespace().collect();
    if scopes.is_empty() {
        scopes.push("Writ's API, as you");
    }
    pages::render(
        StatusCode::OK,
        &DeviceConsentPage {
            application: &application,
            user: &signed_in.user.login_name,
            scopes,
            csrf: &csrf,
            code: &device_codes::display_user_code(&normalized),
        },
    )
}

/// `POST /devicelogin/decision`: approves or denies the code.
pub async fn decide(State(state): State<AppState>, request: Request) -> Response {
    let (page, _secret, signed_in, form) = match checked_post(&state, request).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let approve = match pages::field(&form, "decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => return browser::bad_request("'decision' must be 'approve' or 'deny'."),
    };
    let identity = Identity::of(&state.directory);
    let typed = pages::field(&form, "user_code").unwrap_or_default();
    let code = match identity.pending_device_code(typed).await {
        Ok(Some(code)) => code,
        Ok(None) => return expired_page(),
        Err(err) => return browser::failure(err),
    };
    match identity
        .decide_device_code(&code, &signed_in, approve, &page.context())
        .await
    {
        Ok(true) if approve => pages::render(
            StatusCode::OK,
            &MessagePage::info(
                "You're signed in",
                "You have signed in to the application on your device. You may now close this window.",
            ),
        ),
        Ok(true) => pages::render(
            StatusCode::OK,
            &MessagePage::info(
                "Sign-in cancelled",
                "The application on your device was not signed in. You may now close this window.",
            ),
        ),
        Ok(false) => expired_page(),
        Err(err) => browser::failure(err),
    }
}

fn expired_page() -> Response {
    pages::render(
        StatusCode::BAD_REQUEST,
        &MessagePage::error(
            "Code no longer valid",
            "This code has expired or was already used. Start the sign-in on your device again.",
        )
        .with_link("/devicelogin", "Enter another code"),
    )
}

/// The device authorization endpoint and the `/devicelogin` pages.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(
        Post,
        "/{tenant}/oauth2/v2.0/devicecode",
        Plain,
        "Device authorization (RFC 8628)",
        device_authorization,
    )
    .route(
        Get,
        "/devicelogin",
        Plain,
        "Device code entry page",
        code_form,
    )
    .route(
        Post,
        "/devicelogin",
        Plain,
        "Enter a device code",
        enter_code,
    )
    .route(
        Post,
        "/devicelogin/decision",
        Plain,
        "Approve or deny a device code",
        decide,
    )
}

//! The OAuth 2.0 token endpoint (`client_credentials` for applications, `password` for users with
//! a local password, `refresh_token` in [`refresh`]), the JWKS and OpenID discovery. Every grant
//! for a person answers through [`user_grant::respond`] (access token, id token, `client_info`,
//! refresh token); `/oidc/userinfo` is in [`userinfo`]. Errors here follow RFC 6749 (`error`,
//! `error_description`), not the Graph envelope, as OAuth clients expect. Who the client is and
//! what its token carries are decided by `writ_domain::identity`; this file parses the form,
//! applies the sign-in limiter and signs.
//!
//! Input is bounded before anything is done with it: the body is read up to
//! [`MAX_TOKEN_BODY_BYTES`] (`413` beyond), and a `username` over [`MAX_USERNAME_CHARS`] is
//! `400 invalid_request` before the sign-in limiter (`writ_domain::identity::sign_in`) is asked
//! about it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use writ_domain::DomainError;
use writ_domain::identity::clients::BlockingCheck;
use writ_domain::identity::{Identity, IdentityError, TokenLifetimes};

use crate::rate_limit::Admission;
use crate::request_context::RequestIds;
use crate::state::AppState;

pub mod refresh;
pub mod user_grant;
pub mod userinfo;

/// The client id recorded in user tokens requested without one (`azp`/`appid`).
pub use writ_domain::identity::WRIT_PUBLIC_CLIENT_ID;

/// The largest token request body read. A form of client id, secret, scope, user name and
/// password is well under 1 KiB; a client assertion JWT a few KiB.
pub const MAX_TOKEN_BODY_BYTES: usize = 16 * 1024;

/// The longest `username` of the password grant (a UPN is at most 113 characters).
pub const MAX_USERNAME_CHARS: usize = 256;

/// An RFC 6749 error answer of the token endpoint (rendered with `error`, `error_description`;
/// also the device flow's, `device_flow.rs`).
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client id or secret is not valid.",
        )
    }

    pub(crate) fn render(self, request_id: &str) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": self.description,
            "trace_id": request_id,
        });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"writ\""),
            );
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<DomainError> for OAuthError {
    fn from(err: DomainError) -> Self {
        tracing::error!(
            error.detail = %crate::redact::urls_in_text(&format!("{err:?}")),
            "token endpoint failure"
        );
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "The token could not be issued.",
        )
    }
}

impl From<IdentityError> for OAuthError {
    fn from(err: IdentityError) -> Self {
        if let IdentityError::Domain(err) = err {
            return err.into();
        }
        let (status, error) = crate::error::oauth_refusal(&err);
        Self::new(status, error, err.to_string())
    }
}

/// `POST /oauth2/v2.0/token` and `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(State(state): State<AppState>, request: Request) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestIds>()
        .map(|ids| ids.request_id.clone())
        .unwrap_or_default();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let headers = request.headers().clone();
    // In-process calls (tests) have no peer: they share the unspecified address's budget.
    let source =
        crate::client_address::client_address(peer, &headers, &state.settings.trusted_proxies)
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let too_large = || {
        OAuthError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("the token request body must be at most {MAX_TOKEN_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_TOKEN_BODY_BYTES as u64) {
        return too_large().render(&request_id);
    }
    // Beyond the limit (a body without a length) reading stops with an error.
    let body = match axum::body::to_bytes(request.into_body(), MAX_TOKEN_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return too_large().render(&request_id),
    };
    match issue(&state, &headers, &body, source, &request_id).await {
        Ok(value) => {
            let mut response = Json(value).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => e.render(&request_id),
    }
}

/// `/{tenant}/oauth2/v2.0/token`: the tenant segment must be this server's.
pub async fn tenant_token(
    State(state): State<AppState>,
    tenant: Result<Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
) -> Response {
    // An undecodable segment (`%FF`) names no tenant either, and is answered the OAuth way.
    let tenant = tenant.map(|Path(t)| t).unwrap_or_default();
    if !state.settings.is_this_tenant(&tenant) {
        let request_id = request
            .extensions()
            .get::<RequestIds>()
            .map(|ids| ids.request_id.clone())
            .unwrap_or_default();
        return OAuthError::invalid_request(format!("Tenant '{tenant}' not found."))
            .render(&request_id);
    }
    token(State(state), request).await
}

pub(crate) fn form(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some((k, _)) = pairs
        .iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        // Never stored or looked up: PostgreSQL refuses U+0000 in text.
        return Err(OAuthError::invalid_request(format!(
            "parameter '{}' contains the NUL character",
            k.replace('\0', "\\u0000")
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, _) in &pairs {
        if !seen.insert(k.as_str()) {
            return Err(OAuthError::invalid_request(format!(
                "parameter '{k}' is repeated"
            )));
        }
    }
    Ok(pairs)
}

/// A form field, an empty one counting as absent (the one rule of every form Writ reads).
pub(crate) use crate::pages::field as param;

/// `client_secret_basic` credentials, if the Authorization header carries them.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id = percent_decode(id);
    let secret = percent_decode(secret);
    Some((id, secret))
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    source: IpAddr,
    request_id: &str,
) -> Result<Value, OAuthError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && !ct
            .to_str()
            .map(|c| c.starts_with("application/x-www-form-urlencoded"))
            .unwrap_or(false)
    {
        return Err(OAuthError::invalid_request(
            "the token request must be application/x-www-form-urlencoded",
        ));
    }
    let pairs = form(body)?;
    let grant_type = param(&pairs, "grant_type")
        .ok_or_else(|| OAuthError::invalid_request("parameter 'grant_type' is required"))?;
    let now = state.directory.clock().now();
    let identity = Identity::of(&state.directory);
    let public_url = state.settings.public_url.as_str();
    let subject = match grant_type {
        "client_credentials" => {
            let (client_id, client_secret) = match basic_credentials(headers) {
                Some(creds) => creds,
                None => (
                    param(&pairs, "client_id")
                        .ok_or_else(|| {
                            OAuthError::invalid_request("parameter 'client_id' is required")
                        })?
                        .to_owned(),
                    param(&pairs, "client_secret")
                        .ok_or_else(OAuthError::invalid_client)?
                        .to_owned(),
                ),
            };
            // One read for the client, its risk state and its roles; then its token.
            let client = identity
                .authenticate_client_for_token(&client_id, &client_secret)
                .await?;
            let audience = identity
                .resolve_audience(param(&pairs, "scope"), true, public_url)
                .await?;
            identity
                .client_token_content(&client, &audience, lifetimes(state))
                .await?
        }
        // `sign_in = "sso"`: no Writ password signs anyone in, here or on the sign-in page.
        "password" if !state.sign_in.allows_local() => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "People sign in to this server through single sign-on (sign_in = sso): the \
                 password grant is off. Use the authorization code or device code flow.",
            ));
        }
        "password" => {
            let username = param(&pairs, "username")
                .ok_or_else(|| OAuthError::invalid_request("parameter 'username' is required"))?;
            if username.chars().count() > MAX_USERNAME_CHARS {
                return Err(OAuthError::invalid_request(format!(
                    "parameter 'username' is longer than {MAX_USERNAME_CHARS} characters"
                )));
            }
            let password = param(&pairs, "password")
                .ok_or_else(|| OAuthError::invalid_request("parameter 'password' is required"))?
                .to_owned();
            match state.password_limiter.admit(username, source, now) {
                Admission::Refused { retry_after_secs } => {
                    return Err(OAuthError {
                        retry_after: Some(retry_after_secs),
                        ..OAuthError::new(
                            StatusCode::TOO_MANY_REQUESTS,
                            "temporarily_unavailable",
                            "Too many sign-in attempts; retry later.",
                        )
                    });
                }
                // The account is being guessed at from many places: slow every attempt on it.
                Admission::Proceed { delay } if !delay.is_zero() => {
                    tokio::time::sleep(delay).await;
                }
                Admission::Proceed { .. } => {}
            }
            // argon2 is deliberately slow: keep it off the async workers.
            let offload = |check: BlockingCheck| async move {
                tokio::task::spawn_blocking(check).await.unwrap_or(false)
            };
            let principal = match identity
                .authenticate_user(username, password, &state.dummy_password_hash, offload)
                .await
            {
                Ok(principal) => principal,
                Err(e @ (IdentityError::WrongPassword | IdentityError::AccountDisabled)) => {
                    if matches!(e, IdentityError::WrongPassword) {
                        state.password_limiter.record_failure(username, source, now);
                    }
                    identity
                        .record_failed_sign_in(username, "password", &e, Some(request_id))
                        .await?;
                    return Err(e.into());
                }
                Err(e) => return Err(e.into()),
            };
            let client_id = identity
                .password_grant_client(param(&pairs, "client_id"))
                .await?;
            let grant = user_grant::UserGrant::from_form(
                principal,
                client_id,
                &pairs,
                now,
                user_grant::SignIn::New { method: "password" },
            )?;
            return user_grant::respond(state, grant, request_id).await;
        }
        "refresh_token" => return refresh::grant(state, headers, &pairs, request_id).await,
        crate::device_flow::DEVICE_CODE_GRANT => {
            return crate::device_flow::redeem(state, &pairs, request_id).await;
        }
        crate::authorize::AUTHORIZATION_CODE_GRANT => {
            return crate::authorize::redeem(state, headers, &pairs, source, request_id).await;
        }
        other => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "The grant type '{other}' is not supported (client_credentials, password, refresh_token, authorization_code, {}).",
                    crate::device_flow::DEVICE_CODE_GRANT
                ),
            ));
        }
    };
    let answer = signed(state, &subject, now, grant_type)?;
    // The last token time (`signInActivity`) of client credentials; the person's grants record
    // theirs in `user_grant::respond`.
    identity
        .record_token_issued(&subject.object_id, now)
        .await?;
    Ok(answer)
}

/// The token endpoint's answer: `subject` signed, counted under its grant type.
fn signed(
    state: &AppState,
    subject: &writ_domain::identity::TokenContent,
    now: time::OffsetDateTime,
    grant_type: &str,
) -> Result<Value, OAuthError> {
    let (token, expires_in) = state
        .tokens
        .issue(subject, now)
        .map_err(|e| OAuthError::from(DomainError::Internal(e.to_string())))?;
    metrics::counter!("writ_tokens_issued_total", "grant_type" => grant_type.to_owned())
        .increment(1);
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": token,
    }))
}

/// The configured access token lifetimes.
pub(crate) fn lifetimes(state: &AppState) -> TokenLifetimes {
    TokenLifetimes {
        api: state.tokens.lifetime(),
        resource: state.settings.resource_token_lifetime,
    }
}

/// `GET /{tenant}/discovery/v2.0/keys` and `/.well-known/jwks.json`.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.tokens.jwks())
}

pub async fn tenant_jwks(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, crate::error::ApiError> {
    if !state.settings.is_this_tenant(&tenant) {
        return Err(crate::error::ApiError::not_found(format!(
            "Tenant '{tenant}' not found."
        )));
    }
    Ok(jwks(State(state)).await)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`: the complete document of DESIGN
/// section 14, with what MSAL and `@azure/identity` read besides.
///
/// Why the endpoints keep the segment asked for (`common`, `organizations` or the tenant id,
/// normalised to Writ's spelling) while `issuer` is always Writ's one issuer: Entra does the same
/// for its endpoints, so MSAL's cache and authority handling see what they expect; but where
/// Entra answers the aliases with a `{tenantid}` template issuer, Writ has one tenant and names
/// its real issuer, the `iss` of every token it signs — so a relying party that checks `iss`
/// against the discovered issuer (openid-client does) accepts Writ's tokens. MSAL validates the
/// issuer only by scheme, host and port against the authority, which `public_url` satisfies.
/// Some endpoints are served by other modules (authorize, devicecode, logout, userinfo).
pub async fn discovery(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, crate::error::ApiError> {
    if !state.settings.is_this_tenant(&tenant) {
        return Err(crate::error::ApiError::not_found(format!(
            "Tenant '{tenant}' not found."
        )));
    }
    let mut document = discovery_document(&state, &tenant);
    // `sign_in = "sso"` turns the password grant off: do not advertise it.
    if !state.sign_in.allows_local()
        && let Some(grants) = document
            .get_mut("grant_types_supported")
            .and_then(Value::as_array_mut)
    {
        grants.retain(|grant| grant != "password");
    }
    Ok(Json(document))
}

/// The discovery document for the tenant path segment `segment` (already known to be this
/// tenant's: see [`crate::state::ServerSettings::is_this_tenant`]).
pub fn discovery_document(state: &AppState, segment: &str) -> Value {
    let base = &state.settings.public_url;
    let tenant = crate::state::TENANT_ALIASES
        .iter()
        .find(|alias| segment.eq_ignore_ascii_case(alias))
        .copied()
        .unwrap_or(state.settings.tenant_id.as_str());
    // Writ is both the sign-in instance and the Graph host.
    let host = public_host(base);
    json!({
        "issuer": state.tokens.issuer(),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/{tenant}/oauth2/v2.0/logout"),
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": [
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:device_code",
            "client_credentials",
            "password",
        ],
        // `sub` differs per client (`identity::user_tokens`), as in Entra.
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": [
            "openid",
            "profile",
            "email",
            "offline_access",
            format!("{base}/.default"),
            "https://graph.microsoft.com/.default",
        ],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "nbf", "iat", "auth_time", "nonce", "oid", "tid",
            "idtyp", "azp", "appid", "upn", "preferred_username", "name", "email", "wids",
            "roles", "scp",
        ],
        "code_challenge_methods_supported": ["S256"],
        // `none`: public clients (device code, PKCE) send only their client id.
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "request_uri_parameter_supported": false,
        "request_parameter_supported": false,
        "claims_parameter_supported": false,
        "http_logout_supported": true,
        "frontchannel_logout_supported": false,
        // Entra's cloud description, read by MSAL: Writ is its own cloud, and its own Graph.
        "tenant_region_scope": null,
        "cloud_instance_name": host,
        "cloud_graph_host_name": host,
        "msgraph_host": host,
    })
}

/// The token endpoint, the key set and OpenID discovery (outside the Graph version prefixes).
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(Post, "/oauth2/v2.0/token", Plain, "Issue a token", token)
        .route(
            Post,
            "/{tenant}/oauth2/v2.0/token",
            Plain,
            "Issue a token (tenant path)",
            tenant_token,
        )
        .route(
            Get,
            "/{tenant}/discovery/v2.0/keys",
            Plain,
            "JSON Web Key Set",
            tenant_jwks,
        )
        .route(
            Get,
            "/.well-known/jwks.json",
            Plain,
            "JSON Web Key Set",
            jwks,
        )
        .route(
            Get,
            "/{tenant}/v2.0/.well-known/openid-configuration",
            Plain,
            "OpenID discovery",
            discovery,
        )
        .route(
            Get,
            "/common/userrealm/{username}",
            Plain,
            "User realm discovery (MSAL's password grant)",
            user_realm,
        )
}

/// `GET /common/userrealm/{username}`: MSAL asks this before a password grant, at the
/// authority's host on the default https port, to learn whether the account is federated
/// (WS-Trust) or managed. Every Writ account is "managed" as far as the password grant goes —
/// people who sign in only through single sign-on have no password and are refused by the grant
/// itself — so the answer is the same for every name: it tells nothing about which accounts
/// exist.
pub async fn user_realm(State(state): State<AppState>, Path(username): Path<String>) -> Response {
    let domain = username
        .rsplit_once('@')
        .map(|(_, domain)| domain)
        .filter(|domain| domain.len() <= 255)
        .unwrap_or_default()
        .to_owned();
    let host = public_host(&state.settings.public_url);
    let mut response = Json(json!({
        "ver": "1.0",
        "account_type": "Managed",
        "domain_name": domain,
        "cloud_instance_name": host,
        "cloud_audience_urn": "urn:federation:MicrosoftOnline",
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `host[:port]` of the public URL (`https://writ.example.org:8443/x` → `writ.example.org:8443`).
fn public_host(base: &str) -> &str {
    base.split_once("://")
        .map_or(base, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default()
}

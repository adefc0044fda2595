//! The OAuth 2.0 token endpoint (`client_credentials` for applications, `password` for users with
//! a local password), the JWKS and OpenID discovery. Errors here follow RFC 6749 (`error`,
//! `error_description`), not the Graph envelope, as OAuth clients expect.
//!
//! Input is bounded before anything is done with it: the body is read up to
//! [`MAX_TOKEN_BODY_BYTES`] (`413` beyond), and a `username` over [`MAX_USERNAME_CHARS`] is
//! `400 invalid_request` before the sign-in limiter (`rate_limit.rs`) is asked about it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use writ_domain::{DomainError, secrets};

use crate::rate_limit::Admission;
use crate::request_context::RequestIds;
use crate::state::AppState;
use crate::tokens::Subject;

/// The client id recorded in user tokens requested without one (`azp`/`appid`).
pub const WRIT_PUBLIC_CLIENT_ID: &str = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001";

/// The largest token request body read. A form of client id, secret, scope, user name and
/// password is well under 1 KiB; a client assertion JWT a few KiB.
pub const MAX_TOKEN_BODY_BYTES: usize = 16 * 1024;

/// The longest `username` of the password grant (a UPN is at most 113 characters).
pub const MAX_USERNAME_CHARS: usize = 256;

struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client id or secret is not valid.",
        )
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn render(self, request_id: &str) -> Response {
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

impl From<writ_domain::store::StoreError> for OAuthError {
    fn from(err: writ_domain::store::StoreError) -> Self {
        DomainError::from(err).into()
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
    match issue(&state, &headers, &body, source).await {
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
    if !tenant.eq_ignore_ascii_case(&state.settings.tenant_id) {
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

fn form(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
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

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `client_secret_basic` credentials, if the Authorization header carries them.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
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

/// What a token is requested for.
enum Target {
    /// Writ's own API.
    Writ,
    /// A resource application registered in Writ: its service principal.
    Resource(writ_domain::directory::ServicePrincipal),
}

/// Resolves `scope`: Writ's API (`https://graph.microsoft.com/.default`, `{public_url}/.default`)
/// or a resource (`api://{appId}/.default`, `{appId}/.default`, `{identifierUri}/.default`).
/// OpenID scopes are ignored; exactly one `/.default` resource scope is needed when `required`.
async fn resolve_scope(
    state: &AppState,
    scope: Option<&str>,
    required: bool,
) -> Result<Target, OAuthError> {
    let invalid_scope =
        |message: String| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", message);
    let Some(scope) = scope else {
        return if required {
            Err(OAuthError::invalid_request(
                "parameter 'scope' is required: use https://graph.microsoft.com/.default, {public_url}/.default or api://{appId}/.default",
            ))
        } else {
            Ok(Target::Writ)
        };
    };
    let mut resources: Vec<&str> = Vec::new();
    for s in scope.split_whitespace() {
        if matches!(s, "openid" | "profile" | "offline_access" | "email") {
            continue;
        }
        resources.push(s);
    }
    let resource = match resources.as_slice() {
        [] if !required => return Ok(Target::Writ),
        [one] => *one,
        _ => {
            return Err(invalid_scope(
                "exactly one resource '/.default' scope is required".into(),
            ));
        }
    };
    let lowered = resource.to_ascii_lowercase();
    let Some(base_len) = lowered.strip_suffix("/.default").map(str::len) else {
        return Err(invalid_scope(format!(
            "The scope '{resource}' is not valid: client credentials and this server use '<resource>/.default'"
        )));
    };
    let base = resource
        .get(..base_len)
        .unwrap_or_default()
        .trim_end_matches('/');
    if base.eq_ignore_ascii_case("https://graph.microsoft.com")
        || base.eq_ignore_ascii_case(&state.settings.public_url)
    {
        return Ok(Target::Writ);
    }
    let store = state.directory.store();
    let app_id = base.strip_prefix("api://").unwrap_or(base);
    let mut principal = match writ_domain::ids::parse_guid(app_id) {
        Some(app_id) => store.service_principal_by_app_id(&app_id).await?,
        None => None,
    };
    if principal.is_none() {
        // An identifier URI of an application (e.g. api://orders).
        if let Some(app) = store.application_by_identifier_uri(base).await? {
            principal = store.service_principal_by_app_id(&app.app_id).await?;
        }
    }
    if principal.as_ref().is_some_and(|p| !p.account_enabled) {
        return Err(invalid_scope(format!(
            "The resource '{base}' is disabled in this tenant."
        )));
    }
    principal.map(Target::Resource).ok_or_else(|| {
        invalid_scope(format!(
            "The resource '{base}' was not found in this tenant: register the application and its service principal first."
        ))
    })
}

/// The app role values `principal_id` holds on `resource` now, and the instant the first of
/// them ends (each role lasts until the latest path that grants it; `None` = no end). Users also
/// hold the roles assigned to their groups.
async fn roles_on(
    state: &AppState,
    principal_id: &str,
    is_user: bool,
    resource: &writ_domain::directory::ServicePrincipal,
    now: time::OffsetDateTime,
) -> Result<(Vec<String>, Option<time::OffsetDateTime>), OAuthError> {
    let store = state.directory.store();
    let defined = store
        .application_by_app_id(&resource.app_id)
        .await?
        .map(|a| a.app_roles)
        .unwrap_or_default();
    let paths = store
        .effective_app_roles(principal_id, &resource.id, now, is_user)
        .await?;
    // Role ids become values; ids without an enabled, valued role are not claims.
    let valued: Vec<(String, Option<time::OffsetDateTime>)> = paths
        .into_iter()
        .filter_map(|(id, end)| {
            defined
                .iter()
                .find(|r| r.id == id && r.is_enabled)
                .and_then(|r| r.value.clone())
                .map(|value| (value, end))
        })
        .collect();
    let folded = writ_domain::authz::fold_role_paths(valued);
    let cap = folded.iter().filter_map(|(_, end)| *end).min();
    Ok((folded.into_iter().map(|(v, _)| v).collect(), cap))
}

/// Directory roles held now (never a privileged one for an agent), and the instant the first
/// of them ends.
async fn directory_roles(
    state: &AppState,
    principal_id: &str,
    is_agent: bool,
    now: time::OffsetDateTime,
) -> Result<(Vec<String>, Option<time::OffsetDateTime>), OAuthError> {
    let paths = state
        .directory
        .store()
        .effective_directory_roles(principal_id, now)
        .await?;
    let folded: Vec<_> = writ_domain::authz::fold_role_paths(paths)
        .into_iter()
        .filter(|(role, _)| !is_agent || writ_domain::authz::allowed_for_agent(role))
        .collect();
    let cap = folded.iter().filter_map(|(_, end)| *end).min();
    Ok((folded.into_iter().map(|(r, _)| r).collect(), cap))
}

fn earliest(
    a: Option<time::OffsetDateTime>,
    b: Option<time::OffsetDateTime>,
) -> Option<time::OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    source: IpAddr,
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
    let store = state.directory.store();
    let (object_id, is_human, is_agent, client_id, upn, display_name, target) = match grant_type {
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
            let client_id =
                writ_domain::ids::parse_guid(&client_id).ok_or_else(OAuthError::invalid_client)?;
            // Applications hold their principal's secrets; agent identities may hold their own.
            let (owner_id, principal) = match store.application_by_app_id(&client_id).await? {
                Some(application) => (
                    application.id,
                    store.service_principal_by_app_id(&client_id).await?,
                ),
                None => match store.service_principal_by_app_id(&client_id).await? {
                    Some(sp) if sp.is_agent() => (sp.id.clone(), Some(sp)),
                    _ => return Err(OAuthError::invalid_client()),
                },
            };
            let valid = store
                .password_credentials(&owner_id)
                .await?
                .iter()
                .filter(|s| s.start_date_time <= now && s.end_date_time > now)
                .any(|s| secrets::verify_client_secret(&client_secret, &s.secret_hash));
            if !valid {
                return Err(OAuthError::invalid_client());
            }
            let principal = principal.filter(|sp| sp.account_enabled).ok_or_else(|| {
                OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    "The application has no enabled service principal in this tenant.",
                )
            })?;
            // The scope is resolved only for an authenticated client, so that resource names
            // cannot be probed anonymously.
            let target = resolve_scope(state, param(&pairs, "scope"), true).await?;
            let is_agent = principal.is_agent();
            (
                principal.id,
                false,
                is_agent,
                principal.app_id,
                None,
                principal.display_name,
                target,
            )
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
            let user = store.user_by_principal_name(username).await?;
            let stored_hash = user
                .as_ref()
                .and_then(|u| u.password_hash.clone())
                .unwrap_or_else(|| state.dummy_password_hash.as_str().to_owned());
            // argon2 is deliberately slow: keep it off the async workers.
            let verified = tokio::task::spawn_blocking(move || {
                secrets::verify_password(&password, &stored_hash)
            })
            .await
            .unwrap_or(false);
            let user = match user {
                Some(user) if verified && user.password_hash.is_some() => user,
                _ => {
                    state.password_limiter.record_failure(username, source, now);
                    return Err(OAuthError::invalid_grant(
                        "The user name or password is incorrect.",
                    ));
                }
            };
            if !user.account_enabled {
                return Err(OAuthError::invalid_grant("The user account is disabled."));
            }
            let target = resolve_scope(state, param(&pairs, "scope"), false).await?;
            // A client named in the request must be registered here.
            let client_id = match param(&pairs, "client_id") {
                Some(id) => {
                    let id =
                        writ_domain::ids::parse_guid(id).ok_or_else(OAuthError::invalid_client)?;
                    if store.application_by_app_id(&id).await?.is_none() {
                        return Err(OAuthError::invalid_client());
                    }
                    id
                }
                None => WRIT_PUBLIC_CLIENT_ID.to_owned(),
            };
            {
                let is_agent = user.kind == writ_domain::directory::UserKind::AgentUser;
                (
                    user.id,
                    !is_agent,
                    is_agent,
                    client_id,
                    Some(user.user_principal_name),
                    user.display_name,
                    target,
                )
            }
        }
        other => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "The grant type '{other}' is not supported (client_credentials, password)."
                ),
            ));
        }
    };
    let (wids, wids_end) = directory_roles(state, &object_id, is_agent, now).await?;
    let (audience, roles, roles_end, lifetime) = match target {
        Target::Writ => (None, Vec::new(), None, state.tokens.lifetime()),
        Target::Resource(resource) => {
            let (roles, end) = roles_on(state, &object_id, is_human, &resource, now).await?;
            (
                Some(resource.app_id.clone()),
                roles,
                end,
                state.settings.resource_token_lifetime,
            )
        }
    };
    let subject = Subject {
        object_id,
        is_user: upn.is_some(),
        client_id,
        upn,
        display_name,
        wids,
        audience,
        roles,
        lifetime,
        not_after: earliest(wids_end, roles_end),
    };
    let (token, expires_in) = state
        .tokens
        .issue(&subject, now)
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

/// `GET /{tenant}/discovery/v2.0/keys` and `/.well-known/jwks.json`.
pub async fn jwks(State(state): State<AppState>) -> Json<Value> {
    Json(state.tokens.jwks())
}

pub async fn tenant_jwks(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, crate::error::ApiError> {
    if !tenant.eq_ignore_ascii_case(&state.settings.tenant_id) {
        return Err(crate::error::ApiError::not_found(format!(
            "Tenant '{tenant}' not found."
        )));
    }
    Ok(jwks(State(state)).await)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn discovery(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, crate::error::ApiError> {
    if !tenant.eq_ignore_ascii_case(&state.settings.tenant_id) {
        return Err(crate::error::ApiError::not_found(format!(
            "Tenant '{tenant}' not found."
        )));
    }
    let base = &state.settings.public_url;
    let tenant = &state.settings.tenant_id;
    Ok(Json(json!({
        "issuer": state.tokens.issuer(),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "grant_types_supported": ["client_credentials", "password"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["token"],
        "scopes_supported": [format!("{base}/.default"), "openid", "profile"],
        "claims_supported": ["iss", "sub", "aud", "exp", "nbf", "iat", "oid", "tid", "idtyp",
            "azp", "appid", "upn", "preferred_username", "name", "wids", "roles"],
        "tenant_region_scope": null,
    })))
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
}

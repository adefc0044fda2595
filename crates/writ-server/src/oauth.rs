//! The OAuth 2.0 token endpoint (`client_credentials` for applications, `password` for users with
//! a local password), the JWKS and OpenID discovery. Errors here follow RFC 6749 (`error`,
//! `error_description`), not the Graph envelope, as OAuth clients expect.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use writ_domain::{DomainError, secrets};

use crate::request_context::RequestIds;
use crate::state::AppState;
use crate::tokens::Subject;

/// The client id recorded in user tokens requested without one (`azp`/`appid`).
pub const WRIT_PUBLIC_CLIENT_ID: &str = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001";

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
        tracing::error!(error.detail = ?err, "token endpoint failure");
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
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "local".to_owned());
    let headers = request.headers().clone();
    let body = match Bytes::from_request(request, &state).await {
        Ok(body) => body,
        Err(_) => return OAuthError::invalid_request("unreadable body").render(&request_id),
    };
    match issue(&state, &headers, &body, &source).await {
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
    Path(tenant): Path<String>,
    request: Request,
) -> Response {
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

/// The only scopes a token for Writ's own API may be asked with.
fn check_api_scope(
    state: &AppState,
    scope: Option<&str>,
    required: bool,
) -> Result<(), OAuthError> {
    let Some(scope) = scope else {
        return if required {
            Err(OAuthError::invalid_request(
                "parameter 'scope' is required: use https://graph.microsoft.com/.default or {public_url}/.default",
            ))
        } else {
            Ok(())
        };
    };
    let own = format!("{}/.default", state.settings.public_url);
    let mut resource_scopes = 0;
    for s in scope.split_whitespace() {
        if matches!(s, "openid" | "profile" | "offline_access" | "email") {
            continue;
        }
        let s = s.trim_end_matches('/');
        if s.eq_ignore_ascii_case("https://graph.microsoft.com/.default")
            || s.eq_ignore_ascii_case(&own)
        {
            resource_scopes += 1;
            continue;
        }
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!(
                "The scope '{s}' is not valid: this server issues tokens for {own} (or https://graph.microsoft.com/.default)."
            ),
        ));
    }
    if required && resource_scopes != 1 {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "exactly one resource '/.default' scope is required",
        ));
    }
    Ok(())
}

async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    source: &str,
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
            check_api_scope(state, param(&pairs, "scope"), true)?;
            let client_id =
                writ_domain::ids::parse_guid(&client_id).ok_or_else(OAuthError::invalid_client)?;
            let application = store
                .application_by_app_id(&client_id)
                .await?
                .ok_or_else(OAuthError::invalid_client)?;
            let valid = store
                .client_secrets(&application.id, now)
                .await?
                .iter()
                .any(|s| secrets::verify_client_secret(&client_secret, &s.secret_hash));
            if !valid {
                return Err(OAuthError::invalid_client());
            }
            let principal = store
                .service_principal_by_app_id(&client_id)
                .await?
                .filter(|sp| sp.account_enabled)
                .ok_or_else(|| {
                    OAuthError::new(
                        StatusCode::BAD_REQUEST,
                        "unauthorized_client",
                        "The application has no enabled service principal in this tenant.",
                    )
                })?;
            Subject {
                wids: store.directory_roles_of(&principal.id, now).await?,
                object_id: principal.id,
                is_user: false,
                client_id: principal.app_id,
                upn: None,
                display_name: principal.display_name,
            }
        }
        "password" => {
            let username = param(&pairs, "username")
                .ok_or_else(|| OAuthError::invalid_request("parameter 'username' is required"))?;
            let password = param(&pairs, "password")
                .ok_or_else(|| OAuthError::invalid_request("parameter 'password' is required"))?
                .to_owned();
            check_api_scope(state, param(&pairs, "scope"), false)?;
            let keys = [
                format!("user:{}", username.to_lowercase()),
                format!("ip:{source}"),
            ];
            if let Err(retry_after) = state.password_limiter.check(&keys, now) {
                return Err(OAuthError {
                    retry_after: Some(retry_after),
                    ..OAuthError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "temporarily_unavailable",
                        "Too many sign-in attempts; retry later.",
                    )
                });
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
                    return Err(OAuthError::invalid_grant(
                        "The user name or password is incorrect.",
                    ));
                }
            };
            if !user.account_enabled {
                return Err(OAuthError::invalid_grant("The user account is disabled."));
            }
            let client_id = match param(&pairs, "client_id") {
                Some(id) => writ_domain::ids::parse_guid(id)
                    .ok_or_else(|| OAuthError::invalid_request("client_id is not a GUID"))?,
                None => WRIT_PUBLIC_CLIENT_ID.to_owned(),
            };
            Subject {
                wids: store.directory_roles_of(&user.id, now).await?,
                object_id: user.id,
                is_user: true,
                client_id,
                upn: Some(user.user_principal_name),
                display_name: user.display_name,
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
    let token = state
        .tokens
        .issue(&subject, now)
        .map_err(|e| OAuthError::from(DomainError::Internal(e.to_string())))?;
    metrics::counter!("writ_tokens_issued_total", "grant_type" => grant_type.to_owned())
        .increment(1);
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": state.tokens.lifetime().whole_seconds(),
        "ext_expires_in": state.tokens.lifetime().whole_seconds(),
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

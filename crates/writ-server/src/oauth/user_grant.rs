//! The one answer of every grant for a person (password today; device code, authorization code
//! and refresh call the same [`respond`]): the access token (with `scp`), the `id_token`,
//! `client_info` when asked, a refresh token when `offline_access` is asked (or the rotated one
//! of a refresh grant), `scope`, `expires_in`, `ext_expires_in`, `token_type`. What they carry
//! is decided by `writ_domain::identity::user_tokens`; this file signs and renders.

use serde_json::{Value, json};
use time::OffsetDateTime;
use writ_domain::DomainError;
use writ_domain::identity::user_tokens::{self, RequestedScopes};
use writ_domain::identity::{Identity, Principal};

use super::{OAuthError, param};
use crate::state::AppState;

/// The longest `nonce` echoed into an id token.
pub const MAX_NONCE_CHARS: usize = 512;

/// How the person got here.
#[derive(Debug, Clone)]
pub enum SignIn<'a> {
    /// A sign-in (`method`: `password`, `deviceCode`, `authorizationCode`): audited, and a new
    /// refresh token family starts when `offline_access` is asked.
    New { method: &'a str },
    /// A refresh grant: its token was already rotated (by
    /// `Identity::redeem_refresh_token`), this is the new value to hand out.
    Refreshed { refresh_token: String },
}

/// A person's grant, authenticated: what [`respond`] needs.
#[derive(Debug, Clone)]
pub struct UserGrant<'a> {
    /// The user (enabled: it is re-read from the database here).
    pub principal: Principal,
    /// The client the grant was made through (`aud` of the id token, `azp` of the access token).
    pub client_id: String,
    /// The requested scope string (`None`: Writ's API).
    pub scope: Option<String>,
    pub nonce: Option<String>,
    /// When the person proved who they are (a refresh keeps the sign-in's).
    pub auth_time: OffsetDateTime,
    /// `client_info=1` was sent.
    pub client_info: bool,
    pub sign_in: SignIn<'a>,
}

impl<'a> UserGrant<'a> {
    /// Reads `scope`, `nonce` and `client_info` from a token request form.
    pub fn from_form(
        principal: Principal,
        client_id: String,
        pairs: &[(String, String)],
        auth_time: OffsetDateTime,
        sign_in: SignIn<'a>,
    ) -> Result<Self, OAuthError> {
        let nonce = param(pairs, "nonce");
        if nonce.is_some_and(|n| n.chars().count() > MAX_NONCE_CHARS) {
            return Err(OAuthError::invalid_request(format!(
                "parameter 'nonce' is longer than {MAX_NONCE_CHARS} characters"
            )));
        }
        Ok(Self {
            principal,
            client_id,
            scope: param(pairs, "scope").map(str::to_owned),
            nonce: nonce.map(str::to_owned),
            auth_time,
            client_info: param(pairs, "client_info") == Some("1"),
            sign_in,
        })
    }
}

fn internal(e: impl std::fmt::Display) -> OAuthError {
    OAuthError::from(DomainError::Internal(e.to_string()))
}

/// The token response of a person's grant. `request_id` goes into the sign-in's audit record.
pub async fn respond(
    state: &AppState,
    grant: UserGrant<'_>,
    request_id: &str,
) -> Result<Value, OAuthError> {
    let identity = Identity::of(&state.directory);
    let now = state.directory.clock().now();
    let tenant_id = state.settings.tenant_id.as_str();
    let scope = grant.scope.as_deref();
    let requested = RequestedScopes::parse(scope);
    let audience = identity
        .resolve_audience(scope, false, &state.settings.public_url)
        .await?;
    let user = identity.signed_in_user(&grant.principal.id).await?;
    let lifetimes = super::lifetimes(state);
    let mut content = identity
        .token_content(
            &grant.principal,
            grant.client_id.clone(),
            &audience,
            lifetimes,
        )
        .await?;
    content.scp = identity.delegated_scopes(&audience).await?;
    let granted = requested.granted();
    let refresh_token = match grant.sign_in {
        SignIn::New { method } => {
            identity
                .record_sign_in(
                    user_tokens::SignedIn {
                        user: &user,
                        client_id: &grant.client_id,
                        method,
                        offline_scope: requested.offline_access.then_some(granted.as_str()),
                        auth_time: grant.auth_time,
                    },
                    state.settings.refresh_token_lifetime,
                    Some(request_id),
                )
                .await?
        }
        SignIn::Refreshed { refresh_token } => Some(refresh_token),
    };
    let (access_token, expires_in) = state.tokens.issue(&content, now).map_err(internal)?;
    let id_token = state
        .tokens
        .issue_id_token(
            &user_tokens::id_token_content(
                &user,
                &grant.client_id,
                tenant_id,
                grant.nonce.as_deref(),
                grant.auth_time,
                lifetimes.api,
            ),
            now,
        )
        .map_err(internal)?;
    identity
        .record_token_issued(&grant.principal.id, now)
        .await?;
    metrics::counter!("writ_tokens_issued_total", "grant_type" => "user").increment(1);
    let mut body = json!({
        "token_type": "Bearer",
        "scope": granted,
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access_token,
        "id_token": id_token,
    });
    if let Some(map) = body.as_object_mut() {
        if let Some(refresh_token) = refresh_token {
            map.insert("refresh_token".into(), refresh_token.into());
        }
        if grant.client_info {
            map.insert(
                "client_info".into(),
                user_tokens::client_info(&user.id, tenant_id).into(),
            );
        }
    }
    Ok(body)
}

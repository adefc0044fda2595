//! Authentication of API calls: the `Authorization: Bearer` token is verified, then the caller is
//! resolved by `writ_domain::identity` from the database on every request (enabled, existing, its
//! roles now). Claims carry identity only; nothing is authorized from them. A handler that takes [`Authenticated`] cannot
//! run for an unauthenticated request.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use writ_domain::authz::Caller;
use writ_domain::identity::{Identity, TokenType};

use crate::error::ApiError;
use crate::request_context::RequestIds;
use crate::state::AppState;
use crate::tokens::TokenError;

/// The verified caller of a request, with the ids for its audit records.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    pub request_id: String,
}

impl Authenticated {
    pub fn context(&self) -> writ_domain::directory::RequestContext {
        writ_domain::directory::RequestContext {
            request_id: Some(self.request_id.clone()),
            via: None,
        }
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("Access token is empty."))?
        .to_str()
        .map_err(|_| ApiError::unauthorized("The Authorization header is not valid."))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("The Authorization header is not a Bearer token."))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "The Authorization header is not a Bearer token.",
        ));
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        let now = state.directory.clock().now();
        let claims = state.tokens.verify(token, now).map_err(|e| match e {
            TokenError::Expired => {
                ApiError::unauthorized("Lifetime validation failed, the token is expired.")
            }
            TokenError::Invalid(reason) => {
                tracing::debug!(reason = %reason, "token rejected");
                ApiError::unauthorized(format!("Access token validation failure: {reason}"))
            }
        })?;
        // Who the claims name, and what it holds now, is the domain's to say.
        let caller = Identity::of(&state.directory)
            .resolve_caller(TokenType::from_idtyp(&claims.idtyp), &claims.oid)
            .await?;
        let request_id = parts
            .extensions
            .get::<RequestIds>()
            .map(|ids| ids.request_id.clone())
            .unwrap_or_default();
        Ok(Authenticated { caller, request_id })
    }
}

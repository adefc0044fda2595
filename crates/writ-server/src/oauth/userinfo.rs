//! `GET`/`POST /oidc/userinfo` (OpenID Connect Core 5.3, Entra's shape): the signed-in person
//! behind a bearer access token, read from the database now. `sub` is the same pairwise value as
//! the person's id token for the token's client (`azp`). An application's token is refused
//! (401), as an absent or invalid one is, with `WWW-Authenticate`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header;
use serde_json::Value;
use writ_domain::identity::{Identity, TokenType, user_tokens};

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::TokenError;

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("Access token is empty."))?
        .to_str()
        .map_err(|_| ApiError::unauthorized("The Authorization header is not valid."))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::unauthorized(
            "The Authorization header is not a Bearer token.",
        )),
    }
}

/// `GET /oidc/userinfo` and `POST /oidc/userinfo`.
pub async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token = bearer(&headers)?;
    let now = state.directory.clock().now();
    let claims = state.tokens.verify(token, now).map_err(|e| match e {
        TokenError::Expired => {
            ApiError::unauthorized("Lifetime validation failed, the token is expired.")
        }
        TokenError::Invalid(reason) => {
            ApiError::unauthorized(format!("Access token validation failure: {reason}"))
        }
    })?;
    if TokenType::from_idtyp(&claims.idtyp) != TokenType::User {
        return Err(ApiError::unauthorized(
            "userinfo answers for a person's token, not an application's.",
        ));
    }
    let user = Identity::of(&state.directory)
        .signed_in_user(&claims.oid)
        .await
        .map_err(|_| {
            ApiError::unauthorized("The user of this token no longer exists or is disabled.")
        })?;
    Ok(Json(user_tokens::userinfo(
        &user,
        &claims.azp,
        &state.settings.tenant_id,
    )))
}

/// `/oidc/userinfo`, outside the Graph version prefixes.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.route(
        Get,
        "/oidc/userinfo",
        Plain,
        "OpenID Connect userinfo",
        userinfo,
    )
    .route(
        Post,
        "/oidc/userinfo",
        Plain,
        "OpenID Connect userinfo",
        userinfo,
    )
}

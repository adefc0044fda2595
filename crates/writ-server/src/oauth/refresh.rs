//! The `refresh_token` grant: the client is identified (a public client by its `client_id`
//! alone, a confidential one with its secret), the token is redeemed and rotated by
//! `writ_domain::identity::Identity::redeem_refresh_token` (reuse revokes the family), and the
//! answer is the same as a sign-in's, through [`super::user_grant::respond`].

use axum::http::HeaderMap;
use serde_json::Value;

use super::user_grant::{SignIn, UserGrant, respond};
use super::{OAuthError, basic_credentials, param};
use crate::state::AppState;
use writ_domain::identity::Identity;

/// `grant_type=refresh_token`.
pub async fn grant(
    state: &AppState,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    request_id: &str,
) -> Result<Value, OAuthError> {
    let presented = param(pairs, "refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("parameter 'refresh_token' is required"))?;
    let (client_id, secret) = match basic_credentials(headers) {
        Some((id, secret)) => (id, Some(secret)),
        None => (
            param(pairs, "client_id")
                .ok_or_else(|| OAuthError::invalid_request("parameter 'client_id' is required"))?
                .to_owned(),
            param(pairs, "client_secret").map(str::to_owned),
        ),
    };
    let identity = Identity::of(&state.directory);
    let client_id = identity
        .refresh_grant_client(&client_id, secret.as_deref())
        .await?;
    let redeemed = identity
        .redeem_refresh_token(
            presented,
            &client_id,
            param(pairs, "scope"),
            state.settings.refresh_token_lifetime,
            &state.settings.public_url,
            Some(request_id),
        )
        .await?;
    let mut grant = UserGrant::from_form(
        redeemed.principal,
        client_id,
        pairs,
        redeemed.auth_time,
        SignIn::Refreshed {
            refresh_token: redeemed.refresh_token,
        },
    )?;
    // The grant's scope is the family's (or the narrower one asked), never the raw form value.
    grant.scope = Some(redeemed.scope);
    respond(state, grant, request_id).await
}

//! Authentication of API calls: the `Authorization: Bearer` token is verified, then the caller is
//! looked up in the database on every request (enabled, existing, its roles now). Claims carry
//! identity only; nothing is authorized from them. A handler that takes [`Authenticated`] cannot
//! run for an unauthenticated request.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use writ_domain::authz::{Caller, PrincipalKind};

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
        let store = state.directory.store();
        let caller = if claims.idtyp == "user" {
            let user = store
                .user(&claims.oid)
                .await
                .map_err(|e| ApiError::from(writ_domain::DomainError::from(e)))?
                .filter(|u| u.account_enabled)
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "The user of this token no longer exists or is disabled.",
                    )
                })?;
            Caller {
                is_agent: user.kind == writ_domain::directory::UserKind::AgentUser,
                id: user.id,
                kind: PrincipalKind::User,
                display_name: user.display_name,
                login_name: user.user_principal_name,
                enabled: user.account_enabled,
                directory_roles: Vec::new(),
                catalog_roles: Vec::new(),
            }
        } else {
            let sp = store
                .service_principal(&claims.oid)
                .await
                .map_err(|e| ApiError::from(writ_domain::DomainError::from(e)))?
                .filter(|sp| sp.account_enabled)
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "The service principal of this token no longer exists or is disabled.",
                    )
                })?;
            Caller {
                is_agent: sp.is_agent(),
                id: sp.id,
                kind: PrincipalKind::ServicePrincipal,
                display_name: sp.display_name,
                login_name: sp.app_id,
                enabled: sp.account_enabled,
                directory_roles: Vec::new(),
                catalog_roles: Vec::new(),
            }
        };
        let paths = store
            .effective_directory_roles(&caller.id, now)
            .await
            .map_err(|e| ApiError::from(writ_domain::DomainError::from(e)))?;
        let directory_roles = writ_domain::authz::fold_role_paths(paths)
            .into_iter()
            .map(|(role, _)| role)
            .filter(|role| !caller.is_agent || writ_domain::authz::allowed_for_agent(role))
            .collect();
        // Catalog roles belong to enabled human users only; nobody else is even looked up.
        let catalog_roles = if caller.kind == PrincipalKind::User && !caller.is_agent {
            store
                .em_roles_of(&caller.id)
                .await
                .map_err(|e| ApiError::from(writ_domain::DomainError::from(e)))?
        } else {
            Vec::new()
        };
        let request_id = parts
            .extensions
            .get::<RequestIds>()
            .map(|ids| ids.request_id.clone())
            .unwrap_or_default();
        Ok(Authenticated {
            caller: Caller {
                directory_roles,
                catalog_roles,
                ..caller
            },
            request_id,
        })
    }
}

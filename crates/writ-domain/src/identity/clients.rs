//! Authenticating a client at the token endpoint: an application, service principal or agent
//! identity by its `appId` and a client secret (`client_credentials`), a user by user principal
//! name and local password (`password`), and the `client_id` a password grant names.

use std::future::Future;

use time::OffsetDateTime;

use super::{Identity, IdentityError, IdentityResult, Principal};
use crate::directory::{ClientSecret, ServicePrincipal, User};
use crate::store::ClientRecord;
use crate::{ids, secrets};

/// The client id recorded in user tokens requested without one (`azp`/`appid`): Writ's
/// command-line public client, created at first start.
pub use crate::directory::writ_clients::WRIT_PUBLIC_CLIENT_ID;

/// A blocking check (an argon2 verification) handed to the caller to run off the async workers;
/// the domain has no runtime of its own.
pub type BlockingCheck = Box<dyn FnOnce() -> bool + Send + 'static>;

/// Whether `presented` is one of the owner's secrets valid at `now` (started, not yet ended).
pub fn secret_matches(presented: &str, credentials: &[ClientSecret], now: OffsetDateTime) -> bool {
    credentials
        .iter()
        .filter(|s| s.start_date_time <= now && s.end_date_time > now)
        .any(|s| secrets::verify_client_secret(presented, &s.secret_hash))
}

/// A client whose secret matched gets a token only through an enabled service principal.
pub fn enabled_client(principal: Option<ServicePrincipal>) -> IdentityResult<Principal> {
    principal
        .filter(|sp| sp.account_enabled)
        .map(Principal::from)
        .ok_or(IdentityError::UnauthorizedClient)
}

/// A client that authenticated with `client_credentials`, with what its token is decided on,
/// as read at authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticatedClient {
    /// Its enabled service principal.
    pub principal: Principal,
    pub risk_state: Option<crate::model::RiskState>,
    /// The paths by which the principal holds directory roles now, with their ends.
    pub directory_role_paths: Vec<(String, Option<OffsetDateTime>)>,
}

/// The `client_credentials` rule over what the store read for the `appId`: a client is an
/// application (its service principal, the application's secrets) or else an agent identity
/// (its own secrets); anything else, or no valid secret matching, is an unknown client; a client
/// whose secret matched but without an enabled service principal is unauthorized.
pub fn authenticated_client(
    record: ClientRecord,
    client_secret: &str,
    now: OffsetDateTime,
) -> IdentityResult<AuthenticatedClient> {
    let ClientRecord {
        application_id,
        principal,
        secrets,
    } = record;
    if application_id.is_none() && !principal.as_ref().is_some_and(|p| p.is_agent) {
        return Err(IdentityError::InvalidClient);
    }
    if !secret_matches(client_secret, &secrets, now) {
        return Err(IdentityError::InvalidClient);
    }
    let record = principal
        .filter(|p| p.enabled)
        .ok_or(IdentityError::UnauthorizedClient)?;
    Ok(AuthenticatedClient {
        principal: Principal::from(&record),
        risk_state: record.risk_state,
        directory_role_paths: record.directory_role_paths,
    })
}

/// The password grant's answer once the password was checked: an unknown user, a user without
/// a local password and a wrong password are one refusal (a failed attempt, so the sign-in
/// limiter counts it); a disabled account with the right password is another (not counted).
pub fn password_outcome(user: Option<User>, verified: bool) -> IdentityResult<Principal> {
    let user = match user {
        Some(user) if verified && user.password_hash.is_some() => user,
        _ => return Err(IdentityError::WrongPassword),
    };
    if !user.account_enabled {
        return Err(IdentityError::AccountDisabled);
    }
    Ok(Principal::from(user))
}

impl Identity<'_> {
    /// `client_credentials`: `client_id` is an application's `appId` (its service principal's
    /// secrets are the application's) or an agent identity's (which may hold its own). The
    /// secret is checked before anything else is said about the client.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> IdentityResult<Principal> {
        self.authenticate_client_for_token(client_id, client_secret)
            .await
            .map(|client| client.principal)
    }

    /// [`Self::authenticate_client`] with what its token needs besides (risk state, directory
    /// role paths), all read in one statement
    /// ([`crate::store::CallerStore::client_record`]); the token is decided by
    /// [`Self::client_token_content`].
    pub async fn authenticate_client_for_token(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> IdentityResult<AuthenticatedClient> {
        let now = self.clock.now();
        let client_id = ids::parse_guid(client_id).ok_or(IdentityError::InvalidClient)?;
        let record = self.store.client_record(&client_id, now).await?;
        authenticated_client(record, client_secret, now)
    }
    /// `password`: the user with this user principal name and a local password. An unknown
    /// user is checked against `dummy_hash`, so that a refusal takes as long whether or not the
    /// account exists; `offload` runs the (deliberately slow) verification where it blocks no
    /// async worker and answers `false` if it could not run.
    pub async fn authenticate_user<F, Fut>(
        &self,
        username: &str,
        password: String,
        dummy_hash: &str,
        offload: F,
    ) -> IdentityResult<Principal>
    where
        F: FnOnce(BlockingCheck) -> Fut,
        Fut: Future<Output = bool>,
    {
        let user = self.store.user_by_principal_name(username).await?;
        let stored_hash = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| dummy_hash.to_owned());
        let verified = offload(Box::new(move || {
            secrets::verify_password(&password, &stored_hash)
        }))
        .await;
        password_outcome(user, verified)
    }

    /// The client a password grant is requested with: one named must be a registered
    /// application or Writ's public client (named explicitly, as MSAL always names one); none
    /// means Writ's public client.
    pub async fn password_grant_client(&self, client_id: Option<&str>) -> IdentityResult<String> {
        let Some(id) = client_id else {
            return Ok(WRIT_PUBLIC_CLIENT_ID.to_owned());
        };
        if id.eq_ignore_ascii_case(WRIT_PUBLIC_CLIENT_ID) {
            return Ok(WRIT_PUBLIC_CLIENT_ID.to_owned());
        }
        let id = ids::parse_guid(id).ok_or(IdentityError::InvalidClient)?;
        if self.store.application_by_app_id(&id).await?.is_none() {
            return Err(IdentityError::InvalidClient);
        }
        Ok(id)
    }
}

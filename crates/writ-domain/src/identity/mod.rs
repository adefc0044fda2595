//! Identity (DESIGN section 3): who a client is ([`clients`]: client secrets, local passwords),
//! who the caller of an API request is ([`callers`]: verified token claims resolved against the
//! database, every request), which applications are OAuth clients and where they may be
//! redirected ([`oauth_clients`]), what a token carries ([`claims`]: its audience, `roles`, `wids`
//! and the instant it must end by), how often a password may be tried ([`sign_in`]), browser sessions
//! ([`sessions`]), the device authorization grant ([`device_codes`]), the authorization codes
//! of `authorize` ([`authorization_codes`]), and what a person's grant answers
//! ([`user_tokens`]: id token, `scp`, refresh tokens). The
//! HTTP crate keeps the form parsing, resolving the client address, the JWT mechanics (signing,
//! verification, JWKS) and the mapping of [`IdentityError`] to status codes; the rules are here,
//! testable without HTTP.

/// The audit category of every sign-in record — password, device code, sign-in page, single
/// sign-on — and of refresh token reuse: Entra's `Authentication`. The directory changes a
/// sign-in makes (a link, a user created just in time) stay `UserManagement`.
pub const SIGN_IN_AUDIT_CATEGORY: &str = "Authentication";

pub mod authorization_codes;
pub mod callers;
pub mod claims;
pub mod clients;
pub mod device_codes;
pub mod federation;
pub mod oauth_clients;
pub mod sessions;
pub mod sign_in;
pub mod sso_requests;
pub mod user_tokens;

pub use callers::TokenType;
pub use claims::{Audience, TokenContent, TokenLifetimes};
pub use clients::WRIT_PUBLIC_CLIENT_ID;
pub use oauth_clients::{MatchedRedirect, OAuthClient, match_redirect_uri};

use crate::authz::PrincipalKind;
use crate::clock::Clock;
use crate::directory::{Directory, ServicePrincipal, User, UserKind};
use crate::error::DomainError;
use crate::store::{Store, StoreError};

/// Why the identity rules refused. Each variant is one answer of the token endpoint (RFC 6749's
/// `error`) or of an API call's authentication; `writ-server/src/error.rs` chooses the status.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The request lacks what the rule needs (e.g. the `scope` of client credentials).
    #[error("{0}")]
    InvalidRequest(String),
    /// Unknown client, wrong or expired secret, or an unregistered `client_id`.
    #[error("The client id or secret is not valid.")]
    InvalidClient,
    /// The client may not use a public-client flow (the device code flow).
    #[error("The client is not a public client: the device code flow is for public clients.")]
    NotPublicClient,
    /// The client authenticated but has no enabled service principal here.
    #[error("The application has no enabled service principal in this tenant.")]
    UnauthorizedClient,
    /// The user name or password is wrong (a failed attempt, for the sign-in limiter).
    #[error("The user name or password is incorrect.")]
    WrongPassword,
    /// The password is right but the account is disabled (not a failed attempt).
    #[error("The user account is disabled.")]
    AccountDisabled,
    /// A refresh token (or another grant) that is unknown, expired, revoked, reused or
    /// another client's; the message says which.
    #[error("{0}")]
    InvalidGrant(String),
    /// The requested scope names no usable resource; the message says why.
    #[error("{0}")]
    InvalidScope(String),
    /// The principal a verified token names no longer exists or is disabled.
    #[error("The {} of this token no longer exists or is disabled.", principal_noun(*.0))]
    PrincipalGone(PrincipalKind),
    /// The agent was confirmed compromised (DESIGN section 17): its tokens are refused until an
    /// administrator confirms it safe or dismisses the risk.
    #[error("The agent of this token is confirmed compromised; its sign-in is blocked.")]
    AgentCompromised,
    /// The store failed: not the client's fault.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

fn principal_noun(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::ServicePrincipal => "service principal",
    }
}

impl From<StoreError> for IdentityError {
    fn from(err: StoreError) -> Self {
        Self::Domain(err.into())
    }
}

pub type IdentityResult<T> = Result<T, IdentityError>;

/// A principal that authenticates: a user (agent users included) or a service principal (agent
/// identities included), as the identity rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub id: String,
    pub kind: PrincipalKind,
    /// An agent identity or agent user.
    pub is_agent: bool,
    pub display_name: String,
    /// `userPrincipalName` for users, `appId` for service principals.
    pub login_name: String,
    pub enabled: bool,
}

impl Principal {
    /// An enabled human user: the only principal that holds roles through groups and catalog
    /// roles.
    pub fn is_human_user(&self) -> bool {
        self.kind == PrincipalKind::User && !self.is_agent
    }
}

impl From<User> for Principal {
    fn from(user: User) -> Self {
        Self {
            is_agent: user.kind == UserKind::AgentUser,
            id: user.id,
            kind: PrincipalKind::User,
            display_name: user.display_name,
            login_name: user.user_principal_name,
            enabled: user.account_enabled,
        }
    }
}

impl From<&crate::store::PrincipalRecord> for Principal {
    fn from(record: &crate::store::PrincipalRecord) -> Self {
        Self {
            id: record.id.clone(),
            kind: record.kind,
            is_agent: record.is_agent,
            display_name: record.display_name.clone(),
            login_name: record.login_name.clone(),
            enabled: record.enabled,
        }
    }
}

impl From<ServicePrincipal> for Principal {
    fn from(sp: ServicePrincipal) -> Self {
        Self {
            is_agent: sp.is_agent(),
            id: sp.id,
            kind: PrincipalKind::ServicePrincipal,
            display_name: sp.display_name,
            login_name: sp.app_id,
            enabled: sp.account_enabled,
        }
    }
}

/// The identity service: reads what a rule needs from the store, decides, returns typed results.
/// Made from the [`Directory`] by [`Identity::of`]; cheap to make per request.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    store: &'a dyn Store,
    clock: &'a dyn Clock,
}

impl<'a> Identity<'a> {
    pub fn new(store: &'a dyn Store, clock: &'a dyn Clock) -> Self {
        Self { store, clock }
    }

    /// The identity service over the directory's store and clock.
    pub fn of(directory: &'a Directory) -> Self {
        Self::new(directory.port(), directory.clock().as_ref())
    }
}

/// The directory roles a principal holds, one entry per role lasting until its latest path ends
/// (`None`: no end); an agent never holds a privileged one, whatever path granted it.
pub fn held_directory_roles(
    is_agent: bool,
    paths: Vec<(String, Option<time::OffsetDateTime>)>,
) -> Vec<(String, Option<time::OffsetDateTime>)> {
    crate::authz::fold_role_paths(paths)
        .into_iter()
        .filter(|(role, _)| !is_agent || crate::authz::allowed_for_agent(role))
        .collect()
}

#[cfg(test)]
mod tests;

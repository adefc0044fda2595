//! What every handler shares: the domain services, the token service and the server settings.

use std::sync::Arc;

use writ_domain::directory::Directory;
use writ_domain::entitlement::Entitlement;
use writ_domain::job_waker::JobWaker;

use crate::rate_limit::SignInLimiter;
use crate::tokens::TokenService;

/// Settings of the HTTP layer, resolved from the configuration at start-up.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Base of issuer URLs and `@odata.nextLink` (no trailing slash).
    pub public_url: String,
    pub tenant_id: String,
    /// Lifetime of tokens for resource applications (`tokens.resource_lifetime`).
    pub resource_token_lifetime: time::Duration,
    /// The sliding lifetime of people's refresh tokens (`tokens.refresh_lifetime`).
    pub refresh_token_lifetime: time::Duration,
    /// Whose `X-Forwarded-For` names the client (`trusted_proxies`).
    pub trusted_proxies: crate::client_address::TrustedProxies,
    /// `/metrics` is served by its own listener (`metrics_listen`), not by the API's.
    pub metrics_on_own_listener: bool,
}

#[derive(Clone, Debug)]
pub struct AppState {
    pub directory: Directory,
    pub entitlement: Entitlement,
    pub tokens: Arc<TokenService>,
    pub settings: Arc<ServerSettings>,
    pub password_limiter: Arc<SignInLimiter>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// An argon2 hash verified against when the user is unknown, so that a failed sign-in takes
    /// the same time whether or not the account exists.
    pub dummy_password_hash: Arc<String>,
    /// Wakes this process's job worker after a handler commits new work.
    pub job_waker: JobWaker,
}

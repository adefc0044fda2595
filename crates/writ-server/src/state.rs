//! What every handler shares: the domain services, the token service and the server settings.

use std::sync::Arc;

use writ_domain::directory::Directory;
use writ_domain::entitlement::Entitlement;
use writ_domain::identity::federation::{FederationPolicy, SignInMode, UpstreamProvider};
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
    /// The API listener speaks HTTPS itself (`tls.cert_file`/`tls.key_file`).
    pub tls: bool,
    /// Browser sessions and the device flow (`sessions.*`, `device_code.*`).
    pub browser: BrowserSettings,
}

/// The tenant aliases accepted in a `{tenant}` path segment besides the tenant id, as Entra's
/// multi-tenant authorities are: Writ has one tenant, so both name it. `consumers` (personal
/// Microsoft accounts) names nothing here.
pub const TENANT_ALIASES: [&str; 2] = ["common", "organizations"];

impl ServerSettings {
    /// Whether a `{tenant}` path segment names this server's tenant: its id (any case) or one
    /// of [`TENANT_ALIASES`]. Every route with `{tenant}` in its path asks this.
    pub fn is_this_tenant(&self, segment: &str) -> bool {
        segment.eq_ignore_ascii_case(&self.tenant_id)
            || TENANT_ALIASES
                .iter()
                .any(|alias| segment.eq_ignore_ascii_case(alias))
    }
}

/// How long browser sessions and device codes last (DESIGN section 14), bounded by the domain's
/// policies when the configuration is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrowserSettings {
    pub sessions: writ_domain::identity::sessions::SessionPolicy,
    pub device_flow: writ_domain::identity::device_codes::DeviceFlowPolicy,
}

#[derive(Clone, Debug)]
pub struct AppState {
    pub directory: Directory,
    pub entitlement: Entitlement,
    pub tokens: Arc<TokenService>,
    pub settings: Arc<ServerSettings>,
    pub password_limiter: Arc<SignInLimiter>,
    /// Bounds the user codes tried at `/devicelogin` per client address.
    pub user_code_limiter: Arc<SignInLimiter>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// An argon2 hash verified against when the user is unknown, so that a failed sign-in takes
    /// the same time whether or not the account exists.
    pub dummy_password_hash: Arc<String>,
    /// Wakes this process's job worker after a handler commits new work.
    pub job_waker: JobWaker,
    /// Where people sign in (`sign_in`, `sso.*`): local only after [`crate::start`]; the binary
    /// sets the upstream provider (writ-server does not depend on writ-runtime).
    pub sign_in: SignInSettings,
}

/// Which ways of signing in are offered, and the upstream OpenID provider when there is one.
#[derive(Clone, Debug)]
pub struct SignInSettings {
    pub mode: SignInMode,
    pub sso: Option<SsoSettings>,
}

/// The upstream provider and how its people find their Writ users.
#[derive(Clone, Debug)]
pub struct SsoSettings {
    pub provider: Arc<dyn UpstreamProvider>,
    pub policy: Arc<FederationPolicy>,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            mode: SignInMode::Local,
            sso: None,
        }
    }
}

impl SignInSettings {
    /// The upstream provider, when single sign-on is configured and offered.
    pub fn sso(&self) -> Option<&SsoSettings> {
        self.sso.as_ref().filter(|_| self.mode.allows_sso())
    }

    /// Whether the local password (sign-in form, password grant) is offered.
    pub fn allows_local(&self) -> bool {
        self.mode.allows_local()
    }
}

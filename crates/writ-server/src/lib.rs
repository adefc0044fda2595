//! Writ's HTTP server: Graph-shaped handlers (thin adapters over `writ-domain`), the token
//! endpoint, authentication, the Graph conventions applied once for every route, and the one
//! error mapping. [`start`] wires a store and clock into an [`AppState`]; [`router`] serves it.
//! HTTP only: the background runtime (job worker, dispatchers, audit chainer) is `writ-runtime`,
//! which the `writ` binary starts beside the server.

pub mod auth;
pub mod authorize;
pub mod authzen;
pub mod browser;
pub mod callout_tokens;
pub mod client_address;
pub mod device_flow;
pub mod error;
pub mod graph;
pub mod health;
pub mod idempotency;
pub mod json_input;
pub mod mcp;
pub mod oauth;
pub mod odata;
pub mod pages;
pub mod portal;
pub mod rate_limit;
pub mod request_context;
pub mod request_wait;
pub mod routes;
pub mod sso_browser;
pub mod state;
pub mod tls;
pub mod tokens;
pub mod wire;
pub mod writ_api;

/// URL redaction for logs, shared with the background runtime (`crate::redact` for handlers).
pub use writ_domain::redact;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::directory::{BootstrapConfig, Directory, bootstrap};
use writ_domain::store::Store;

use crate::error::ApiError;
use crate::graph::{
    applications, audit_logs, directory_objects, grants, groups, role_management,
    service_principals, users,
};
use crate::routes::{Kind, Method, RouteDoc, Routes};
use crate::state::{AppState, ServerSettings};

/// Everything the server needs from the configuration.
#[derive(Clone, Default)]
pub struct ServerConfig {
    pub public_url: String,
    pub tenant_id: Option<String>,
    pub bootstrap_client_id: Option<String>,
    pub bootstrap_client_secret: Option<String>,
    /// PKCS#8 PEM of the signing key, when `tokens.signing_key_file` is set.
    pub signing_key_pem: Option<String>,
    pub token_lifetime: Duration,
    pub resource_token_lifetime: Duration,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// `notifications.expiry_lead_times`; `None`: Entra's P14D and P1D.
    pub expiry_notice_lead_times: Option<Vec<Duration>>,
    /// `WRIT_MAX_AGENT_ACCESS`; `None`: P365D.
    pub max_agent_access: Option<Duration>,
    /// `lifecycle.day_length`: a lifecycle policy's day; `None`: P1D.
    pub lifecycle_day_length: Option<Duration>,
    /// `WRIT_REFRESH_TOKEN_LIFETIME`; `None`: P90D.
    pub refresh_token_lifetime: Option<Duration>,
    /// `trusted_proxies`: whose `X-Forwarded-For` names the client (sign-in rate limits).
    pub trusted_proxies: client_address::TrustedProxies,
    /// `metrics_listen` is set: [`metrics_router`] serves `/metrics`, [`router`] does not.
    pub metrics_on_own_listener: bool,
    /// `tls.cert_file`/`tls.key_file` are set: the API listener speaks HTTPS ([`serve_tls`]).
    pub tls: bool,
    /// Browser sessions and the device flow.
    pub browser: state::BrowserSettings,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets are never logged.
        f.debug_struct("ServerConfig")
            .field("public_url", &self.public_url)
            .field("tenant_id", &self.tenant_id)
            .field("bootstrap_client_id", &self.bootstrap_client_id)
            .field("token_lifetime", &self.token_lifetime)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Domain(#[from] writ_domain::DomainError),
    #[error("{0}")]
    Key(#[from] tokens::KeyError),
}

/// What starting produced: the state to serve, and generated credentials to print once.
pub struct Started {
    pub state: AppState,
    pub tenant_id: String,
    pub generated_admin: Option<(String, String)>,
}

/// Runs the bootstrap (under the database lock) and builds the application state.
pub async fn start(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: ServerConfig,
) -> Result<Started, StartError> {
    use base64::Engine;
    let generated_key = tokens::generate_signing_key()?;
    let outcome = bootstrap(
        store.as_ref(),
        clock.as_ref(),
        &BootstrapConfig {
            tenant_id: config.tenant_id.clone(),
            client_id: config.bootstrap_client_id.clone(),
            client_secret: config.bootstrap_client_secret.clone(),
            initial_settings: if config.signing_key_pem.is_some() {
                Vec::new()
            } else {
                vec![(tokens::SIGNING_KEY_SETTING.to_owned(), generated_key)]
            },
            public_url: Some(config.public_url.trim_end_matches('/').to_owned()),
        },
    )
    .await?;
    let pkcs8 = match &config.signing_key_pem {
        Some(pem) => tokens::pkcs8_from_pem(pem)?,
        None => {
            let stored = outcome
                .settings
                .iter()
                .find(|(k, _)| k == tokens::SIGNING_KEY_SETTING)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            base64::engine::general_purpose::STANDARD
                .decode(stored)
                .map_err(|e| tokens::KeyError::Invalid(format!("stored key: {e}")))?
        }
    };
    let public_url = config.public_url.trim_end_matches('/').to_owned();
    let token_service = tokens::TokenService::new(
        &pkcs8,
        &public_url,
        &outcome.tenant_id,
        config.token_lifetime,
    )?;
    let dummy_password_hash = writ_domain::secrets::hash_password("writ-timing-equalizer")?;
    let mut entitlement = writ_domain::entitlement::Entitlement::new(store.clone(), clock.clone());
    if let Some(lead_times) = &config.expiry_notice_lead_times {
        entitlement = entitlement.with_expiry_notice_lead_times(lead_times.clone());
    }
    if let Some(max) = config.max_agent_access {
        entitlement = entitlement.with_max_agent_access(max);
    }
    let mut directory = Directory::new(store, clock);
    if let Some(day) = config.lifecycle_day_length {
        entitlement = entitlement.with_lifecycle_day_length(day);
        directory = directory.with_lifecycle_day_length(day);
    }
    let state = AppState {
        entitlement,
        directory,
        tokens: Arc::new(token_service),
        settings: Arc::new(ServerSettings {
            public_url,
            tenant_id: outcome.tenant_id.clone(),
            resource_token_lifetime: config.resource_token_lifetime,
            refresh_token_lifetime: config
                .refresh_token_lifetime
                .unwrap_or(writ_domain::identity::user_tokens::DEFAULT_REFRESH_TOKEN_LIFETIME),
            trusted_proxies: config.trusted_proxies.clone(),
            metrics_on_own_listener: config.metrics_on_own_listener,
            tls: config.tls,
            browser: config.browser,
        }),
        password_limiter: Arc::new(rate_limit::SignInLimiter::default()),
        user_code_limiter: Arc::new(rate_limit::SignInLimiter::default()),
        metrics: config.metrics,
        dummy_password_hash: Arc::new(dummy_password_hash),
        job_waker: writ_domain::job_waker::JobWaker::default(),
        sign_in: state::SignInSettings::default(),
    };
    Ok(Started {
        state,
        tenant_id: outcome.tenant_id,
        generated_admin: outcome.generated_admin,
    })
}

/// The Graph routes, served under both `/v1.0` and `/beta`.
fn graph_routes() -> Routes {
    Routes::new()
        .section("users", true)
        .with(users::routes)
        .section("groups", true)
        .with(groups::routes)
        .section("applications", true)
        .with(applications::routes)
        .section("servicePrincipals", true)
        .with(service_principals::routes)
        .section("oauth2PermissionGrants", true)
        .with(grants::routes)
        .section("roleManagement", true)
        .with(role_management::routes)
        .section("entitlementManagement", true)
        .with(graph::entitlement::catalogs::routes)
        .with(graph::entitlement::resources::routes)
        .with(graph::entitlement::packages::routes)
        .with(graph::entitlement::policies::routes)
        .with(graph::entitlement::assignments::routes)
        .with(graph::entitlement::current_user::routes)
        .with(graph::entitlement::subjects::routes)
        .with(graph::entitlement::organizations::routes)
        .with(graph::entitlement::roles::routes)
        .section("auditLogs", true)
        .with(audit_logs::routes)
        .section("directoryObjects", true)
        .with(directory_objects::routes)
        .section("identityProtection", true)
        .with(graph::risky_agents::routes)
        .section("lifecycleWorkflows", true)
        .with(graph::lifecycle_policies::routes)
}

/// Routes outside the Graph version prefixes.
fn plain_routes() -> Routes {
    use Kind::Plain;
    use Method::*;
    Routes::new()
        .section("oauth2", false)
        .with(oauth::routes)
        .section("signIn", false)
        .with(browser::routes)
        .with(device_flow::routes)
        .with(authorize::routes)
        .with(sso_browser::routes)
        .section("portal", false)
        .with(portal::routes)
        .section("oidc", true)
        .with(oauth::userinfo::routes)
        .section("operations", false)
        .with(health::routes)
        .route(
            Get,
            "/writ/v1/openapi.json",
            Plain,
            "This OpenAPI description",
            openapi_json,
        )
        .with(mcp::routes)
        .section("writ", true)
        .with(writ_api::routes)
        .section("accessEvaluation", true)
        .with(authzen::routes)
        .section("accessEvaluation", false)
        .with(authzen::metadata_routes)
}

/// Every route with its documentation, Graph routes expanded under both prefixes.
pub fn route_docs() -> Vec<RouteDoc> {
    let (_, graph) = graph_routes().into_parts();
    let (_, plain) = plain_routes().into_parts();
    let mut docs = Vec::new();
    for prefix in ["/v1.0", "/beta"] {
        docs.extend(graph.iter().map(|d| RouteDoc {
            path: format!("{prefix}{}", d.path),
            ..d.clone()
        }));
    }
    docs.extend(plain);
    docs
}

/// The OpenAPI description of everything served, as JSON.
pub fn openapi_document() -> serde_json::Value {
    serde_json::to_value(routes::openapi(&route_docs())).unwrap_or_default()
}

async fn openapi_json() -> axum::Json<serde_json::Value> {
    axum::Json(openapi_document())
}

/// The complete application.
pub fn router(state: AppState) -> Router {
    let (graph, _) = graph_routes().into_parts();
    let graph = graph.layer(axum::middleware::from_fn(request_context::refuse_nul));
    let (plain, _) = plain_routes().into_parts();
    Router::new()
        .nest("/v1.0", graph.clone())
        .nest("/beta", graph)
        .merge(plain)
        .fallback(request_context::not_found)
        .layer(DefaultBodyLimit::max(json_input::MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("handler panicked").into_response()
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_context::middleware,
        ))
        .with_state(state)
}

/// The router of the metrics listener (`metrics_listen`): `GET /metrics` only; anything else
/// is a plain 404.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(health::metrics_listener))
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "not found") })
        .with_state(state)
}

/// Serves [`metrics_router`] until `shutdown` resolves.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves until `shutdown` resolves, then stops accepting and finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Like [`serve`], over HTTPS: connections come out of their TLS handshake with the
/// configuration of `tls` current when they arrive ([`tls::ReloadableTls::reload`] swaps it).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: tls::ReloadableTls,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let app = router(state);
    // `tap_io` gives the listener axum's `ConnectInfo<SocketAddr>`, as a `TcpListener` has.
    let listener = tls::TlsListener::new(listener, tls)?.tap_io(|_| {});
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

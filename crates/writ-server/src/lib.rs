//! Writ's HTTP server: Graph-shaped handlers (thin adapters over `writ-domain`), the token
//! endpoint, authentication, the Graph conventions applied once for every route, and the one
//! error mapping. [`start`] wires a store and clock into an [`AppState`]; [`router`] serves it.

pub mod audit_chainer;
pub mod auth;
pub mod callouts;
pub mod client_address;
pub mod dispatch_loop;
pub mod email;
pub mod error;
pub mod graph;
pub mod health;
pub mod idempotency;
pub mod job_worker;
pub mod json_input;
pub mod oauth;
pub mod odata;
pub mod outbound;
pub mod rate_limit;
pub mod redact;
pub mod request_context;
pub mod routes;
pub mod state;
pub mod tokens;
pub mod webhooks;
pub mod wire;
pub mod writ_api;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::directory::{BootstrapConfig, Directory, bootstrap};
use writ_domain::entitlement::CurrentUserFunction;
use writ_domain::store::Store;

use crate::error::ApiError;
use crate::graph::entitlement::{
    assignments as em_assignments, catalogs as em_catalogs, current_user as em_current_user,
    organizations as em_orgs, packages as em_packages, policies as em_policies,
    resources as em_resources, roles as em_roles, subjects as em_subjects,
};
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
    /// `trusted_proxies`: whose `X-Forwarded-For` names the client (sign-in rate limits).
    pub trusted_proxies: client_address::TrustedProxies,
    /// `metrics_listen` is set: [`metrics_router`] serves `/metrics`, [`router`] does not.
    pub metrics_on_own_listener: bool,
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
    let state = AppState {
        entitlement,
        directory: Directory::new(store, clock),
        tokens: Arc::new(token_service),
        settings: Arc::new(ServerSettings {
            public_url,
            tenant_id: outcome.tenant_id.clone(),
            resource_token_lifetime: config.resource_token_lifetime,
            trusted_proxies: config.trusted_proxies.clone(),
            metrics_on_own_listener: config.metrics_on_own_listener,
        }),
        password_limiter: Arc::new(rate_limit::SignInLimiter::default()),
        metrics: config.metrics,
        dummy_password_hash: Arc::new(dummy_password_hash),
        job_waker: job_worker::JobWaker::default(),
    };
    Ok(Started {
        state,
        tenant_id: outcome.tenant_id,
        generated_admin: outcome.generated_admin,
    })
}

/// The Graph routes, served under both `/v1.0` and `/beta`.
fn graph_routes() -> Routes {
    use Kind::*;
    use Method::*;
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
        .route(Get, "/identityGovernance/entitlementManagement/catalogs", Collection, "List catalogs (filtered to the caller's)", em_catalogs::list).returns("accessPackageCatalog")
        .route(Post, "/identityGovernance/entitlementManagement/catalogs", Create, "Create a catalog", em_catalogs::create).returns("accessPackageCatalog")
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}", Entity, "Get a catalog", em_catalogs::get).returns("accessPackageCatalog")
        .route(Patch, "/identityGovernance/entitlementManagement/catalogs/{id}", NoContent, "Update a catalog", em_catalogs::update)
        .route(Delete, "/identityGovernance/entitlementManagement/catalogs/{id}", NoContent, "Delete a catalog (409 while it holds packages)", em_catalogs::delete)
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/accessPackages", Collection, "List a catalog's packages", em_catalogs::list_packages).returns("accessPackage")
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/resources", Collection, "List a catalog's resources", em_resources::list_resources).returns("accessPackageResource")
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/resources/{resource_id}", Entity, "Get a catalog resource", em_resources::get_resource).returns("accessPackageResource")
        .route(Post, "/identityGovernance/entitlementManagement/catalogs/{id}/resources/{resource_id}/refresh", NoContent, "Rediscover a resource's roles", em_resources::refresh)
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/resourceRoles", Collection, "List a catalog's resource roles", em_resources::list_roles).returns("accessPackageResourceRole")
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/resourceScopes", Collection, "List a catalog's resource scopes", em_resources::list_scopes).returns("accessPackageResourceScope")
        .route(Get, "/identityGovernance/entitlementManagement/resourceRequests", Collection, "List resource requests", em_resources::list_requests).returns("accessPackageResourceRequest")
        .route(Post, "/identityGovernance/entitlementManagement/resourceRequests", Create, "Add, refresh or remove a catalog resource", em_resources::create_request).returns("accessPackageResourceRequest")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages", Collection, "List access packages (filtered to the caller's catalogs)", em_packages::list).returns("accessPackage")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages", Create, "Create an access package", em_packages::create).returns("accessPackage")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}", Entity, "Get an access package", em_packages::get).returns("accessPackage")
        .route(Patch, "/identityGovernance/entitlementManagement/accessPackages/{id}", NoContent, "Update an access package", em_packages::update)
        .route(Delete, "/identityGovernance/entitlementManagement/accessPackages/{id}", NoContent, "Delete an access package", em_packages::delete)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}/resourceRoleScopes", Collection, "List the resource roles a package grants", em_packages::list_role_scopes).returns("accessPackageResourceRoleScope")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages/{id}/resourceRoleScopes", Create, "Add a resource role to a package", em_packages::add_role_scope).returns("accessPackageResourceRoleScope")
        .route(Delete, "/identityGovernance/entitlementManagement/accessPackages/{id}/resourceRoleScopes/{role_scope_id}", NoContent, "Remove a resource role from a package", em_packages::remove_role_scope)
        .function("/identityGovernance/entitlementManagement/accessPackages", "filterByCurrentUser", vec![em_current_user::on_parameter(CurrentUserFunction::AccessPackages)], Collection, "Packages the caller may request for itself", em_packages::filter_by_current_user).returns("accessPackage")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages/{id}/getApplicablePolicyRequirements", Plain, "The caller's requirements under each policy it may request through", em_packages::applicable_policy_requirements)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleAccessPackages", Collection, "Packages incompatible with this one", em_packages::list_incompatible_packages).returns("accessPackage")
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleAccessPackages/$ref", NoContent, "Add an incompatible package", em_packages::add_incompatible_package)
        .route(Delete, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleAccessPackages/{other_id}/$ref", NoContent, "Remove an incompatible package", em_packages::remove_incompatible_package)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}/accessPackagesIncompatibleWith", Collection, "Packages that declare this one incompatible", em_packages::list_incompatible_with).returns("accessPackage")
        .route(Get, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleGroups", Collection, "Groups incompatible with this package", em_packages::list_incompatible_groups)
        .route(Post, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleGroups/$ref", NoContent, "Add an incompatible group", em_packages::add_incompatible_group)
        .route(Delete, "/identityGovernance/entitlementManagement/accessPackages/{id}/incompatibleGroups/{group_id}/$ref", NoContent, "Remove an incompatible group", em_packages::remove_incompatible_group)
                .route(Get, "/identityGovernance/entitlementManagement/assignmentPolicies", Collection, "List assignment policies", em_policies::list)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentPolicies", Create, "Create an assignment policy", em_policies::create)
        .route(Get, "/identityGovernance/entitlementManagement/assignmentPolicies/{id}", Entity, "Get an assignment policy", em_policies::get)
        .route(Put, "/identityGovernance/entitlementManagement/assignmentPolicies/{id}", Entity, "Replace an assignment policy", em_policies::replace)
        .route(Patch, "/identityGovernance/entitlementManagement/assignmentPolicies/{id}", NoContent, "Update an assignment policy", em_policies::update)
        .route(Delete, "/identityGovernance/entitlementManagement/assignmentPolicies/{id}", NoContent, "Delete an assignment policy", em_policies::delete)
        .route(Get, "/identityGovernance/entitlementManagement/assignmentRequests", Collection, "List assignment requests", em_assignments::list_requests)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests", Create, "Request, assign or remove access (adminAdd, adminRemove)", em_assignments::create_request)
        .function("/identityGovernance/entitlementManagement/assignmentRequests", "filterByCurrentUser", vec![em_current_user::on_parameter(CurrentUserFunction::AssignmentRequests)], Collection, "Requests the caller is the target, requestor, approver, target's manager or agent sponsor of", em_current_user::requests)
        .function("/identityGovernance/entitlementManagement/assignments", "filterByCurrentUser", vec![em_current_user::on_parameter(CurrentUserFunction::Assignments)], Collection, "Assignments the caller is the target, requestor, target's manager or agent sponsor of", em_current_user::assignments)
        .route(Delete, "/identityGovernance/entitlementManagement/assignmentRequests/{id}", NoContent, "Delete a request: refused, history is kept (409)", em_assignments::delete_request)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/cancel", NoContent, "Cancel a request while it is open", em_assignments::cancel_request)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/resume", NoContent, "A custom extension's callback: resume (or deny) a request waiting on it", em_assignments::resume_request)
        .route(Post, "/identityGovernance/entitlementManagement/assignmentRequests/{id}/reprocess", Accepted, "Retry a request whose delivery failed in whole or in part (within 14 days)", em_assignments::reprocess_request)
        .function("/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals", "filterByCurrentUser", vec![em_current_user::on_parameter(CurrentUserFunction::Approvals)], Collection, "Approvals the caller may decide now, or of its own requests", em_current_user::approvals)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}", Entity, "The approval of a request, with its stages", em_assignments::get_approval)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages", Collection, "The stages of an approval", em_assignments::list_stages)
        .route(Get, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages/{stage_id}", Entity, "One stage", em_assignments::get_stage)
        .route(Patch, "/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals/{id}/stages/{stage_id}", NoContent, "Approve or deny a stage", em_assignments::decide_stage)
        .route(Get, "/identityGovernance/entitlementManagement/assignmentRequests/{id}", Entity, "Get an assignment request", em_assignments::get_request)
        .route(Get, "/identityGovernance/entitlementManagement/assignments", Collection, "List assignments", em_assignments::list_assignments)
        .route(Get, "/identityGovernance/entitlementManagement/assignments/{id}", Entity, "Get an assignment", em_assignments::get_assignment)
        .function("/identityGovernance/entitlementManagement/assignments", "additionalAccess", em_assignments::additional_access_parameters(), Collection, "Assignments of a package whose targets also hold another (named, or any incompatible one)", em_assignments::additional_access)
        .route(Post, "/identityGovernance/entitlementManagement/assignments/{id}/reprocess", Accepted, "Re-apply what the assignment grants that is missing", em_assignments::reprocess_assignment)
        .route(Get, "/identityGovernance/entitlementManagement/subjects", Collection, "List the principals that have been a request's target or requestor", em_subjects::list)
        .route(Get, "/identityGovernance/entitlementManagement/subjects/{id}", Entity, "Get a subject (by directory object id)", em_subjects::get)
        .route(Get, "/identityGovernance/entitlementManagement/connectedOrganizations", Collection, "List connected organizations", em_orgs::list_organizations)
        .route(Post, "/identityGovernance/entitlementManagement/connectedOrganizations", Create, "Create a connected organization", em_orgs::create_organization)
        .route(Get, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}", Entity, "Get a connected organization", em_orgs::get_organization)
        .route(Patch, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}", NoContent, "Update a connected organization", em_orgs::update_organization)
        .route(Delete, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}", NoContent, "Delete a connected organization", em_orgs::delete_organization)
        .route(Get, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/internalSponsors", Collection, "List internal sponsors", em_orgs::list_internal_sponsors)
        .route(Post, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/internalSponsors/$ref", NoContent, "Add an internal sponsor", em_orgs::add_internal_sponsor)
        .route(Delete, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/internalSponsors/{sponsor_id}/$ref", NoContent, "Remove an internal sponsor", em_orgs::remove_internal_sponsor)
        .route(Get, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/externalSponsors", Collection, "List external sponsors", em_orgs::list_external_sponsors)
        .route(Post, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/externalSponsors/$ref", NoContent, "Add an external sponsor", em_orgs::add_external_sponsor)
        .route(Delete, "/identityGovernance/entitlementManagement/connectedOrganizations/{id}/externalSponsors/{sponsor_id}/$ref", NoContent, "Remove an external sponsor", em_orgs::remove_external_sponsor)
        .route(Get, "/identityGovernance/entitlementManagement/settings", Entity, "Get entitlement-management settings", em_orgs::get_settings)
        .route(Patch, "/identityGovernance/entitlementManagement/settings", NoContent, "Update entitlement-management settings", em_orgs::update_settings)
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions", Collection, "List a catalog's custom workflow extensions", em_orgs::list_extensions)
        .route(Post, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions", Create, "Create a custom workflow extension", em_orgs::create_extension)
        .route(Get, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions/{extension_id}", Entity, "Get a custom workflow extension", em_orgs::get_extension)
        .route(Patch, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions/{extension_id}", NoContent, "Update a custom workflow extension", em_orgs::update_extension)
        .route(Delete, "/identityGovernance/entitlementManagement/catalogs/{id}/customWorkflowExtensions/{extension_id}", NoContent, "Delete a custom workflow extension (409 while a policy uses it)", em_orgs::delete_extension)
        .route(Get, "/roleManagement/entitlementManagement/roleDefinitions", Collection, "List catalog role definitions", em_roles::list_definitions)
        .route(Get, "/roleManagement/entitlementManagement/roleDefinitions/{id}", Entity, "Get a catalog role definition", em_roles::get_definition)
        .route(Get, "/roleManagement/entitlementManagement/roleAssignments", Collection, "List catalog role assignments", em_roles::list_assignments)
        .route(Post, "/roleManagement/entitlementManagement/roleAssignments", Create, "Assign a catalog role", em_roles::create_assignment)
        .route(Get, "/roleManagement/entitlementManagement/roleAssignments/{id}", Entity, "Get a catalog role assignment", em_roles::get_assignment)
        .route(Delete, "/roleManagement/entitlementManagement/roleAssignments/{id}", NoContent, "Remove a catalog role assignment", em_roles::delete_assignment)
        .section("auditLogs", true)
        .with(audit_logs::routes)
        .section("directoryObjects", true)
        .with(directory_objects::routes)
}

/// Routes outside the Graph version prefixes.
fn plain_routes() -> Routes {
    use Kind::Plain;
    use Method::*;
    Routes::new()
        .section("oauth2", false)
        .route(
            Post,
            "/oauth2/v2.0/token",
            Plain,
            "Issue a token",
            oauth::token,
        )
        .route(
            Post,
            "/{tenant}/oauth2/v2.0/token",
            Plain,
            "Issue a token (tenant path)",
            oauth::tenant_token,
        )
        .route(
            Get,
            "/{tenant}/discovery/v2.0/keys",
            Plain,
            "JSON Web Key Set",
            oauth::tenant_jwks,
        )
        .route(
            Get,
            "/.well-known/jwks.json",
            Plain,
            "JSON Web Key Set",
            oauth::jwks,
        )
        .route(
            Get,
            "/{tenant}/v2.0/.well-known/openid-configuration",
            Plain,
            "OpenID discovery",
            oauth::discovery,
        )
        .section("operations", false)
        .route(Get, "/healthz", Plain, "Liveness", health::healthz)
        .route(
            Get,
            "/readyz",
            Plain,
            "Readiness: database reachable, schema current",
            health::readyz,
        )
        .route(
            Get,
            "/metrics",
            Plain,
            "Prometheus metrics",
            health::metrics,
        )
        .route(
            Get,
            "/writ/v1/openapi.json",
            Plain,
            "This OpenAPI description",
            openapi_json,
        )
        .section("writ", true)
        .route(
            Get,
            "/writ/v1/webhookDeliveries",
            Kind::Collection,
            "List webhook deliveries and their state (administrators)",
            writ_api::webhook_deliveries::list,
        )
        .route(
            Get,
            "/writ/v1/emailDeliveries",
            Kind::Collection,
            "List notification email deliveries and their state (administrators)",
            writ_api::email_deliveries::list,
        )
        .route(
            Get,
            "/writ/v1/emailDeliveries/{id}",
            Kind::Entity,
            "One notification email delivery (administrators)",
            writ_api::email_deliveries::get,
        )
        .route(
            Get,
            "/writ/v1/jobs",
            Kind::Collection,
            "List the job queue: queued, leased and parked jobs with their errors (administrators)",
            writ_api::jobs::list,
        )
        .route(
            Get,
            "/writ/v1/jobs/{id}",
            Kind::Entity,
            "One job of the queue (administrators)",
            writ_api::jobs::get,
        )
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

//! Liveness, readiness and metrics for operators and orchestrators. `/metrics` is served by the
//! API's listener, or, with `metrics_listen`, by a listener of its own only (so it can stay on a
//! private address while the API is public).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and its schema is current.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.directory.store();
    match store.ready().await {
        Ok(()) => Json(json!({ "status": "ready", "database": store.backend() })).into_response(),
        Err(e) => {
            tracing::warn!(error.detail = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": store.backend() })),
            )
                .into_response()
        }
    }
}

/// `GET /metrics` on the API's listener: Prometheus text exposition, unless `metrics_listen`
/// moved it to its own listener; then this path is unknown here (404, as any other).
pub async fn metrics(State(state): State<AppState>, uri: axum::http::Uri) -> Response {
    if state.settings.metrics_on_own_listener {
        return crate::request_context::not_found(uri).await.into_response();
    }
    render_metrics(&state)
}

/// `GET /metrics` on the metrics listener ([`crate::metrics_router`]).
pub async fn metrics_listener(State(state): State<AppState>) -> Response {
    render_metrics(&state)
}

fn render_metrics(state: &AppState) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are disabled").into_response(),
    }
}

/// Liveness, readiness and metrics (outside the Graph version prefixes).
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::Get;
    r.route(Get, "/healthz", Plain, "Liveness", healthz)
        .route(
            Get,
            "/readyz",
            Plain,
            "Readiness: database reachable, schema current",
            readyz,
        )
        .route(Get, "/metrics", Plain, "Prometheus metrics", metrics)
}

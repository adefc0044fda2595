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
    let health = state.directory.health().await;
    match health.ready {
        Ok(()) => Json(json!({ "status": "ready", "database": health.database })).into_response(),
        Err(e) => {
            tracing::warn!(error.detail = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": health.database })),
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

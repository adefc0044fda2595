//! Per-request identity for correlation: a `request-id` generated for every request and a
//! `client-request-id` echoed back, both on every response, in the tracing span, and inside
//! error envelopes, which this middleware renders from [`ApiError`]s.

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::format_description::well_known::Rfc3339;
use tracing::Instrument;

use crate::error::ApiError;
use crate::state::AppState;

/// The ids of the current request, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: String,
    pub client_request_id: Option<String>,
}

fn client_request_id(request: &Request) -> Option<String> {
    request
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.is_ascii())
        .map(str::to_owned)
}

pub async fn middleware(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let ids = RequestIds {
        request_id: uuid::Uuid::new_v4().to_string(),
        client_request_id: client_request_id(&request),
    };
    request.extensions_mut().insert(ids.clone());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %ids.request_id,
        http.method = %method,
        http.route = %route,
    );
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;

    if let Some(error) = response.extensions_mut().remove::<ApiError>() {
        response = render_error(response, &error, &ids, &state);
    } else if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let error = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "methodNotAllowed",
            format!("{method} is not supported on this resource"),
        );
        response = render_error(error.clone().into_response(), &error, &ids, &state);
    } else if (response.status().is_client_error() || response.status().is_server_error())
        && !is_json(&response)
        && !is_html(&response)
    {
        // A rejection made outside Writ's handlers (axum's path and query extractors, a layer)
        // carries plain text; every error still leaves in Graph's envelope.
        let error = plain_error(response.status(), response.into_body()).await;
        response = render_error(error.clone().into_response(), &error, &ids, &state);
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&ids.request_id) {
        headers.insert("request-id", value);
    }
    if let Some(client) = ids.client_request_id.as_deref()
        && let Ok(value) = HeaderValue::from_str(client)
    {
        headers.insert("client-request-id", value);
    }
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    metrics::counter!("writ_http_requests_total", "route" => route.clone(), "status" => status.to_string()).increment(1);
    metrics::histogram!("writ_http_request_duration_seconds", "route" => route)
        .record(elapsed_ms / 1000.0);
    span.in_scope(|| {
        tracing::info!(
            http.status = status,
            duration_ms = elapsed_ms,
            "request handled"
        );
    });
    response
}

/// Layered on the Graph routes: a `%00` in the path or the query string is refused before any
/// handler sees it. No id, name or query value holds U+0000, and PostgreSQL refuses it in text,
/// so without this the two backends would answer differently. (The token endpoint, outside
/// the Graph routes, reads neither and answers in OAuth's error format.)
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let nul = |text: &str| text.contains("%00");
    if nul(uri.path()) {
        ApiError::bad_request("the path contains the NUL character (%00)").into_response()
    } else if uri.query().is_some_and(nul) {
        ApiError::bad_request("the query string contains the NUL character (%00)").into_response()
    } else {
        next.run(request).await
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.starts_with("application/json") || ct.contains("+json")
        })
}

/// The [`ApiError`] for a plain-text error response, with its text as the message (a
/// rejection's text names what was wrong, e.g. "Invalid URL: Invalid UTF-8 in `id`").
/// A page (the sign-in pages): its errors are pages too, for the person reading them.
fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"))
}

async fn plain_error(status: StatusCode, body: Body) -> ApiError {
    let text = axum::body::to_bytes(body, 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    ApiError::from_status(status, text)
}

fn render_error(
    response: Response,
    error: &ApiError,
    ids: &RequestIds,
    state: &AppState,
) -> Response {
    let date = state
        .directory
        .clock()
        .now()
        .format(&Rfc3339)
        .unwrap_or_default();
    let mut inner = serde_json::json!({
        "request-id": ids.request_id,
        "date": date,
    });
    if let Some(client) = &ids.client_request_id {
        inner["client-request-id"] = serde_json::Value::from(client.clone());
    }
    let body = serde_json::json!({
        "error": { "code": error.code, "message": error.message, "innerError": inner }
    });
    let (mut parts, _) = response.into_parts();
    parts.status = error.status;
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// The fallback for paths no route serves.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!("Resource not found for the segment '{}'.", uri.path()),
    )
}

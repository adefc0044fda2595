//! `Idempotency-Key` on create POSTs: the first response is remembered for 24 h per principal and
//! route and replayed to retries; the same key with another body is `422`; a retry while the
//! first attempt is still running is `409`. A failed attempt releases its key so the client can
//! retry it. Never used on the token endpoint or on credential-creating actions. The keys' rules
//! are `writ_domain::idempotency`'s; this file reads the header and answers.

use std::future::Future;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use writ_domain::idempotency::{Idempotency, Reservation};

use crate::auth::Authenticated;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const HEADER: &str = "idempotency-key";
const MAX_KEY_LENGTH: usize = 255;

fn key_from(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LENGTH)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters"
            ))
        })?;
    Ok(Some(key.to_owned()))
}

/// Runs `create` at most once per key; returns its `201` response or the remembered one.
pub async fn run<F, Fut>(
    state: &AppState,
    auth: &Authenticated,
    route: &str,
    headers: &HeaderMap,
    body: &[u8],
    create: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<Value>>,
{
    let Some(key) = key_from(headers)? else {
        return create()
            .await
            .map(|v| (StatusCode::CREATED, Json(v)).into_response());
    };
    let keys = Idempotency::of(&state.directory);
    let principal = auth.caller.id.as_str();
    match keys.reserve(principal, route, &key, body).await? {
        Reservation::Reserved => {}
        Reservation::Replay { status, body } => return replay(status, &body),
        Reservation::Reused => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotencyKeyReused",
                "this Idempotency-Key was used with a different request body",
            ));
        }
        Reservation::InProgress => return Err(in_progress()),
    }
    let outcome = create().await;
    match &outcome {
        Ok(value) => {
            keys.complete(principal, route, &key, &value.to_string())
                .await?
        }
        Err(_) => keys.release(principal, route, &key).await?,
    }
    outcome.map(|v| (StatusCode::CREATED, Json(v)).into_response())
}

fn in_progress() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        "a request with this Idempotency-Key is still being processed",
    )
}

fn replay(status: u16, body: &str) -> ApiResult<Response> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
    let value: Value = serde_json::from_str(body)
        .map_err(|e| ApiError::internal(&format!("stored idempotent response: {e}")))?;
    let mut response = (status, Json(value)).into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}

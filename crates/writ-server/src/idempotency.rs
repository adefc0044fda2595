//! `Idempotency-Key` on create POSTs: the first response is remembered for 24 h per principal and
//! route and replayed to retries; the same key with another body is `422`; a retry while the
//! first attempt is still running is `409`. A failed attempt releases its key so the client can
//! retry it. Never used on the token endpoint or on credential-creating actions.

use std::future::Future;

use aws_lc_rs::digest;
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use writ_domain::DomainError;
use writ_domain::store::StoreError;

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

fn domain(e: StoreError) -> ApiError {
    ApiError::from(DomainError::from(e))
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
    let store = state.directory.store();
    let now = state.directory.clock().now();
    let body_hash = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, body).as_ref());
    let principal = auth.caller.id.as_str();
    let not_before = now.saturating_sub(time::Duration::hours(24));
    if let Some(previous) = store
        .idempotent_response(principal, route, &key, not_before)
        .await
        .map_err(domain)?
    {
        return replay(previous, &body_hash);
    }
    let mut tx = store.begin().await.map_err(domain)?;
    match tx
        .reserve_idempotency_key(principal, route, &key, &body_hash, now)
        .await
    {
        Ok(()) => tx.commit().await.map_err(domain)?,
        Err(StoreError::Unique(_)) => {
            drop(tx);
            // Another attempt reserved the key between our read and our insert.
            return match store
                .idempotent_response(principal, route, &key, not_before)
                .await
                .map_err(domain)?
            {
                Some(previous) => replay(previous, &body_hash),
                None => Err(in_progress()),
            };
        }
        Err(e) => return Err(domain(e)),
    }
    let outcome = create().await;
    let mut tx = store.begin().await.map_err(domain)?;
    match &outcome {
        Ok(value) => {
            tx.complete_idempotency_key(principal, route, &key, 201, &value.to_string())
                .await
                .map_err(domain)?;
        }
        Err(_) => {
            tx.release_idempotency_key(principal, route, &key)
                .await
                .map_err(domain)?;
        }
    }
    tx.commit().await.map_err(domain)?;
    outcome.map(|v| (StatusCode::CREATED, Json(v)).into_response())
}

fn in_progress() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        "a request with this Idempotency-Key is still being processed",
    )
}

fn replay(
    previous: writ_domain::store::IdempotentResponse,
    body_hash: &str,
) -> ApiResult<Response> {
    if previous.body_hash != body_hash {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotencyKeyReused",
            "this Idempotency-Key was used with a different request body",
        ));
    }
    let (Some(status), Some(body)) = (previous.status, previous.response_body) else {
        return Err(in_progress());
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::CREATED);
    let value: Value = serde_json::from_str(&body)
        .map_err(|e| ApiError::internal(&format!("stored idempotent response: {e}")))?;
    let mut response = (status, Json(value)).into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(response)
}

//! The one mapping from failures to HTTP: every error a handler or extractor can produce becomes
//! an [`ApiError`], rendered as Graph's envelope
//! `{"error":{"code","message","innerError":{"request-id","date","client-request-id"}}}` by the
//! request-id middleware (which alone knows the ids). 5xx bodies say nothing internal; the detail
//! goes to the log with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use writ_domain::DomainError;
use writ_domain::identity::IdentityError;

/// A failure on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// For 401: the `error` of `WWW-Authenticate`.
    pub www_authenticate: Option<String>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            www_authenticate: None,
            retry_after_secs: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalidRequest", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Request_ResourceNotFound", message)
    }

    pub fn unauthorized(description: impl Into<String>) -> Self {
        let description = description.into();
        Self {
            www_authenticate: Some(description.clone()),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                description,
            )
        }
    }

    /// An error known only by its status and text (a rejection made outside the handlers):
    /// the code Writ uses for that status, the text as the message, nothing internal for 5xx.
    pub fn from_status(status: StatusCode, text: impl Into<String>) -> Self {
        let text = text.into();
        if status.is_server_error() {
            return Self::internal(&format!("{status}: {text}"));
        }
        let code = match status {
            StatusCode::UNAUTHORIZED => "InvalidAuthenticationToken",
            StatusCode::FORBIDDEN => "accessDenied",
            StatusCode::NOT_FOUND => "Request_ResourceNotFound",
            StatusCode::METHOD_NOT_ALLOWED => "methodNotAllowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "requestEntityTooLarge",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupportedMediaType",
            StatusCode::TOO_MANY_REQUESTS => "tooManyRequests",
            _ => "invalidRequest",
        };
        let message = if text.trim().is_empty() {
            status
                .canonical_reason()
                .unwrap_or("The request was refused.")
                .to_owned()
        } else {
            text
        };
        Self::new(status, code, message)
    }

    pub fn internal(detail: &str) -> Self {
        tracing::error!(error.detail = %crate::redact::urls_in_text(detail), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            "An internal error occurred; quote the request-id when reporting it.",
        )
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Invalid { code, message } => {
                Self::new(StatusCode::BAD_REQUEST, code, message)
            }
            DomainError::NotFound { .. } => Self::not_found(err.to_string()),
            DomainError::Forbidden(message) => {
                Self::new(StatusCode::FORBIDDEN, "accessDenied", message)
            }
            DomainError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            // Only stored data written before the bounds reaches this (input is bounded when it
            // is written): the request cannot be carried out as the data stands.
            DomainError::OutOfRange(message) => Self::bad_request(message),
            DomainError::TooManyRequests {
                message,
                retry_after_secs,
            } => Self {
                retry_after_secs: Some(retry_after_secs),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, "tooManyRequests", message)
            },
            DomainError::Unavailable(detail) => {
                tracing::warn!(error.detail = %detail, "dependency unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "serviceNotAvailable",
                    "The service is temporarily unavailable; retry later.",
                )
            }
            DomainError::Internal(detail) => Self::internal(&detail),
        }
    }
}

impl From<IdentityError> for ApiError {
    /// An API call's authentication: a token naming a principal that is gone is `401`.
    fn from(err: IdentityError) -> Self {
        match err {
            IdentityError::Domain(err) => err.into(),
            IdentityError::PrincipalGone(_)
            | IdentityError::InvalidClient
            | IdentityError::WrongPassword
            | IdentityError::AccountDisabled
            | IdentityError::AgentCompromised
            | IdentityError::InvalidGrant(_) => Self::unauthorized(err.to_string()),
            IdentityError::InvalidRequest(message) | IdentityError::InvalidScope(message) => {
                Self::bad_request(message)
            }
            IdentityError::UnauthorizedClient | IdentityError::NotPublicClient => {
                Self::bad_request(err.to_string())
            }
        }
    }
}

/// The token endpoint's status and RFC 6749 `error` for a refusal of the identity rules (the
/// endpoint renders its own body, not Graph's envelope).
pub fn oauth_refusal(err: &IdentityError) -> (StatusCode, &'static str) {
    match err {
        IdentityError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        IdentityError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
        IdentityError::UnauthorizedClient | IdentityError::NotPublicClient => {
            (StatusCode::BAD_REQUEST, "unauthorized_client")
        }
        IdentityError::WrongPassword
        | IdentityError::AccountDisabled
        | IdentityError::PrincipalGone(_)
        | IdentityError::AgentCompromised
        | IdentityError::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
        IdentityError::InvalidScope(_) => (StatusCode::BAD_REQUEST, "invalid_scope"),
        IdentityError::Domain(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
    }
}

/// The token endpoint's status, RFC 8628 `error` and description for a device code poll that
/// issues nothing.
pub fn device_poll_refusal(
    poll: &writ_domain::identity::device_codes::DevicePoll,
) -> (StatusCode, &'static str, &'static str) {
    use writ_domain::identity::device_codes::DevicePoll;
    match poll {
        DevicePoll::Pending => (
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "The user has not yet finished signing in.",
        ),
        DevicePoll::SlowDown => (
            StatusCode::BAD_REQUEST,
            "slow_down",
            "Polled sooner than the interval: wait 5 seconds longer between polls.",
        ),
        DevicePoll::Expired => (
            StatusCode::BAD_REQUEST,
            "expired_token",
            "The device code has expired: start the sign-in again.",
        ),
        DevicePoll::Denied => (
            StatusCode::BAD_REQUEST,
            "access_denied",
            "The user declined the sign-in.",
        ),
        DevicePoll::Invalid | DevicePoll::Granted { .. } => (
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The device code is not valid, was issued to another client or was already used.",
        ),
    }
}

impl From<writ_odata::ODataError> for ApiError {
    fn from(err: writ_odata::ODataError) -> Self {
        Self::bad_request(err.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(description) = &self.www_authenticate {
            let value = format!(
                "Bearer realm=\"writ\", error=\"invalid_token\", error_description=\"{}\"",
                description.replace('"', "'")
            );
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // The envelope is rendered by the request-id middleware, which knows the ids.
        response.extensions_mut().insert(self);
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

//! The domain's error type. Each variant is a class of outcome a client can act on; the HTTP
//! layer maps them to status codes and Graph error codes in exactly one place.

use thiserror::Error;

pub type DomainResult<T> = Result<T, DomainError>;

#[derive(Debug, Error)]
pub enum DomainError {
    /// The input breaks a rule; the message names the rule or the offending property.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// The object does not exist, or the caller may not see it (the visibility rule).
    #[error("{entity} '{id}' was not found")]
    NotFound { entity: &'static str, id: String },
    /// The caller may see the object but not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// The change conflicts with current state (a duplicate, a dependent object).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; the caller should retry after the given number of seconds.
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    /// A dependency (the database) is temporarily unavailable.
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// An instant or duration computed from stored data falls outside what Writ represents
    /// (a row written before today's bounds, e.g. a policy with a duration of millions of
    /// days). The message names the value. Retrying cannot help: a job meeting it is parked at
    /// once, for an administrator to fix the data and `reprocess`.
    #[error("{0}")]
    OutOfRange(String),
    /// A bug or an unexpected failure; the detail is logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl DomainError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            code: "invalidRequest",
            message: message.into(),
        }
    }

    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            entity,
            id: id.into(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// The message with the detail that `Display` keeps from clients, for operators: logs and
    /// the stored error of a failed job.
    pub fn operator_detail(&self) -> String {
        match self {
            Self::Unavailable(detail) | Self::Internal(detail) => format!("{self}: {detail}"),
            other => other.to_string(),
        }
    }
}

//! The runtime's errors, typed once: what a caller did wrong (invalid input,
//! not found, not allowed, over a limit) apart from what failed inside.
//! The platform maps them to HTTP statuses in one place.

use std::time::Duration;

use crate::domain::Invalid;

/// Errors of the tenant runtime. Each variant's doc names the HTTP status
/// the platform maps it to (in one place: `platform::http::error`).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// 400: the input failed validation.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// 401: no, or no valid, credentials.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403: authenticated, but the role does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such object in this tenant (another tenant's objects are
    /// reported the same way).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 429: too many requests of this kind from this client or user.
    #[error("too many requests; try again in {} s", retry_secs(*retry_after))]
    RateLimited { retry_after: std::time::Duration },
    /// 413: a file larger than the tenant's plan accepts.
    #[error("{0}")]
    TooLarge(String),
    /// 415: a file of a type the desk does not take (judged by its content).
    #[error("{0}")]
    UnsupportedType(String),
    /// 502: Telegram did not hand over a file it holds for us.
    #[error("{0}")]
    Upstream(String),
    /// 503: the tenant's storage is being migrated to a new version (its
    /// webhooks are held meanwhile); try again in a few seconds.
    #[error("this desk is being upgraded; try again in a few seconds")]
    Upgrading,
    /// 402: the tenant's plan allows no more of this (this month, or at
    /// all); the message names the limit and the plan.
    #[error("{0}")]
    PlanLimit(String),
    /// 423: the tenant is suspended.
    #[error("this desk is suspended")]
    Suspended,
    /// 500: a fault of ours; the cause is logged, never returned.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for RuntimeError {
    /// The one place a database error is classified: a unique-constraint
    /// violation is a conflict with what another request just wrote (409),
    /// everything else is ours (500).
    fn from(e: sea_orm::DbErr) -> Self {
        if is_unique_violation(&e) {
            return RuntimeError::Conflict("this was just created or changed by another request; reload and try again".into());
        }
        RuntimeError::Internal(anyhow::Error::new(e).context("database operation failed"))
    }
}

/// Whether a database error is a unique-constraint violation, on either backend.
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Whole seconds to wait, rounded up (the `Retry-After` header's unit).
pub fn retry_secs(wait: Duration) -> u64 {
    (wait.as_millis().div_ceil(1000) as u64).max(1)
}

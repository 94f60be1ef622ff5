//! API errors and how they map to HTTP statuses. A refusal never says whether the thing exists.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What can go wrong answering a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid session.
    #[error("not logged in")]
    Unauthenticated,
    /// Logged in, but the role or the scope does not allow it.
    #[error("forbidden")]
    Forbidden,
    /// The thing does not exist (only said to callers allowed to see it).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// A conflicting state (a case already closed, a username taken).
    #[error("{0}")]
    Conflict(String),
    /// The store failed, or refused the request (an invalid field, an unknown record, a clash: those
    /// are answered with their own message and status).
    #[error("{}", store_message(.0))]
    Store(#[from] tianshu_store::Error),
    /// A part that is not running in this process (no gateway for a downlink).
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Store(tianshu_store::Error::NotFound(_)) => StatusCode::NOT_FOUND,
            ApiError::Store(tianshu_store::Error::Invalid { .. }) => StatusCode::BAD_REQUEST,
            ApiError::Store(tianshu_store::Error::Conflict(_)) => StatusCode::CONFLICT,
            ApiError::Store(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

/// A refusal by the store speaks for itself; a failure says it is the store's.
fn store_message(e: &tianshu_store::Error) -> String {
    match e {
        tianshu_store::Error::Invalid { .. }
        | tianshu_store::Error::Conflict(_)
        | tianshu_store::Error::NotFound(_) => e.to_string(),
        e => format!("store: {e}"),
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

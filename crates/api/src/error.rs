//! The API's one error contract: every answer with a 4xx or 5xx status is a JSON object with an
//! `error` message, `{"error":"unit: invalid type: string \"x\", expected i64"}`, whatever refused the
//! request (the role gate, the scope, the body, the query, the path, the store, or no such route).
//!
//! A bad field names the field first (`name: ...`, `properties.unit: ...`, `from: ...`). A refusal
//! never says whether the thing exists. An answer that carries data along with its failure (a
//! downlink command whose terminal is not connected) adds its fields next to `error`.

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// What can go wrong answering a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid session.
    #[error("not logged in")]
    Unauthenticated,
    /// A login with a wrong password, an unknown or a disabled user: all answered alike.
    #[error("wrong username or password")]
    WrongLogin,
    /// Logged in, but the role or the scope does not allow it.
    #[error("forbidden")]
    Forbidden,
    /// The thing does not exist (only said to callers allowed to see it).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is malformed; the message starts with the field.
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
    /// A refusal with its own status: a body too large, a method the path does not have.
    #[error("{1}")]
    Status(StatusCode, String),
    /// A failure that carries data: `fields` are sent next to `error`.
    #[error("{1}")]
    WithFields(StatusCode, String, Map<String, Value>),
    /// Too many requests: 429, with `Retry-After` in whole seconds (at least one).
    #[error("{1}")]
    TooMany(u64, String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::WrongLogin => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Store(tianshu_store::Error::NotFound(_)) => StatusCode::NOT_FOUND,
            ApiError::Store(tianshu_store::Error::Invalid { .. }) => StatusCode::BAD_REQUEST,
            ApiError::Store(tianshu_store::Error::Conflict(_)) => StatusCode::CONFLICT,
            ApiError::Store(tianshu_store::Error::Forbidden(_)) => StatusCode::FORBIDDEN,
            ApiError::Store(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Status(s, _) | ApiError::WithFields(s, _, _) => *s,
            ApiError::TooMany(..) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The JSON body: `{"error": message}`, plus the fields of [`ApiError::WithFields`].
    pub fn body(&self) -> Value {
        let mut body = match self {
            ApiError::WithFields(_, _, fields) => fields.clone(),
            _ => Map::new(),
        };
        body.insert("error".into(), Value::String(self.to_string()));
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        let refused = match self {
            ApiError::Unauthenticated => Some("unauthenticated"),
            ApiError::Forbidden => Some("forbidden"),
            _ => None,
        };
        if let Some(reason) = refused {
            crate::metrics::metrics()
                .refused
                .with_label_values(&[reason])
                .inc();
        }
        let retry_after = match &self {
            ApiError::TooMany(secs, _) => Some((*secs).max(1)),
            _ => None,
        };
        let mut resp = (status, Json(self.body())).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

/// A refusal by the store speaks for itself; a failure says it is the store's.
fn store_message(e: &tianshu_store::Error) -> String {
    match e {
        tianshu_store::Error::Invalid { .. }
        | tianshu_store::Error::Conflict(_)
        | tianshu_store::Error::Forbidden(_)
        | tianshu_store::Error::NotFound(_) => e.to_string(),
        e => format!("store: {e}"),
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// A path no route has.
pub async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route {method} {}", uri.path()))
}

/// A route asked with a method it does not have.
pub async fn no_method(method: Method, uri: Uri) -> ApiError {
    ApiError::Status(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not answer {method}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_the_error_object_with_its_fields() {
        let mut fields = Map::new();
        fields.insert("outcome".into(), "timed_out".into());
        let e = ApiError::WithFields(StatusCode::GATEWAY_TIMEOUT, "no answer".into(), fields);
        assert_eq!(
            e.body(),
            serde_json::json!({"error": "no answer", "outcome": "timed_out"})
        );
        assert_eq!(
            ApiError::NotFound("unit 9".into()).body(),
            serde_json::json!({"error": "not found: unit 9"})
        );
    }

    #[test]
    fn refusals_of_the_gate_and_the_scope_are_counted_by_reason() {
        let count = |reason: &str| {
            crate::metrics::metrics()
                .refused
                .with_label_values(&[reason])
                .get()
        };
        let (forbidden, unauthenticated) = (count("forbidden"), count("unauthenticated"));
        assert_eq!(
            ApiError::Forbidden.into_response().status(),
            StatusCode::FORBIDDEN
        );
        let _ = ApiError::Unauthenticated.into_response();
        let _ = ApiError::WrongLogin.into_response();
        assert_eq!(count("forbidden"), forbidden + 1);
        assert_eq!(count("unauthenticated"), unauthenticated + 1);
    }
}

//! Failures of the admin API, answered as `{"error": "..."}` with a status code that says what
//! went wrong: 400 for a malformed request, 404 for an unknown topic, group or endpoint, 405 for a
//! method an endpoint does not serve, 500 when the broker itself failed, 503 while the broker is
//! still recovering its logs.

use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
    #[error("no such endpoint: {0}")]
    NoSuchEndpoint(String),
    #[error("method {0} is not allowed on this endpoint")]
    MethodNotAllowed(Method),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl AdminError {
    pub fn status(&self) -> StatusCode {
        match self {
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::UnknownTopic(_)
            | AdminError::UnknownGroup(_)
            | AdminError::NoSuchEndpoint(_) => StatusCode::NOT_FOUND,
            AdminError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The body of every failed admin request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        if let AdminError::Internal(message) = &self {
            // Logged where it is handled: the client only sees the message.
            tracing::warn!(error = %message, "admin request failed");
        }
        let body = ErrorBody {
            error: self.to_string(),
        };
        (self.status(), Json(body)).into_response()
    }
}

/// The answer to a path no route matches.
pub async fn no_such_endpoint(uri: Uri) -> AdminError {
    AdminError::NoSuchEndpoint(uri.path().to_owned())
}

/// The answer to a known path asked with a method it does not serve.
pub async fn method_not_allowed(method: Method) -> AdminError {
    AdminError::MethodNotAllowed(method)
}

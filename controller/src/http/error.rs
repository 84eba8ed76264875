//! The API's one error answer: `{code, message, details}`
//! (`sextant_api::wire::ErrorBody`), its HTTP status given by the code, so
//! a code is never answered with two different statuses.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sextant_api::wire::{ErrorBody, ErrorCode};

/// An error answer.
#[derive(Debug)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    /// An error with a code and words.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }

    /// The same error with structured details.
    pub fn with_details(self, details: serde_json::Value) -> Self {
        Self(self.0.with_details(details))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.0)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"sextant\""),
            );
        }
        response
    }
}

/// The answer to a path no route serves.
pub async fn no_such_endpoint(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchEndpoint,
        format!(
            "no such API endpoint: {} (the routes are listed at /api/v1/openapi.json)",
            uri.path()
        ),
    )
}

/// The answer to a route served, not with this method.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not served at {} (see /api/v1/openapi.json)", uri.path()),
    )
}

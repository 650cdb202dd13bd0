//! The API's errors and how each becomes a response.
//!
//! On the Cronofy-compatible surface a validation error is a 422 with
//! `{"errors": {field: [{"key": "errors.…", "description": "…"}]}}`; `/oauth/token` uses RFC 6749
//! bodies with 400; every other failure has a small JSON body with a stable `error` code. The
//! codes live here, in one table, apart from the human descriptions. Internal errors never reach
//! the client: the response says only "internal_error" and the cause is logged by `log_errors`.

use std::collections::BTreeMap;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{domain::Scope, store::StoreError};

/// One problem with one request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    /// Stable machine-readable key, e.g. `errors.required`.
    pub key: &'static str,
    pub description: String,
}

/// RFC 6749 §5.2 error codes, for `/oauth/token` and `/oauth/token/revoke`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::UnauthorizedClient => "unauthorized_client",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::InvalidScope => "invalid_scope",
        }
    }
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, unknown, expired or revoked credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// The credentials are fine but lack a scope.
    #[error("missing scope {0:?}")]
    Forbidden(Scope),
    /// Unknown id, or an id that belongs to another tenant: the same answer for both.
    #[error("not found")]
    NotFound,
    /// Invalid parameters (422).
    #[error("invalid request")]
    Invalid(Vec<FieldError>),
    /// An RFC 6749 error (400).
    #[error("oauth error {0:?}")]
    OAuth(OAuthErrorCode, &'static str),
    /// The body is over the size limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Over the application's request budget.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// The admin API is called without (or with a wrong) admin token.
    #[error("admin authentication failed")]
    AdminUnauthorized,
    /// Anything unexpected; logged, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(field: impl Into<String>, key: &'static str, description: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError { field: field.into(), key, description: description.into() }])
    }

    /// A 422 saying a required field is missing.
    pub fn required(field: impl Into<String>) -> Self {
        Self::invalid(field, keys::REQUIRED, "required")
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized | ApiError::AdminUnauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            // RFC 6749 allows 401 for invalid_client; Cronofy and its SDKs expect 400 throughout.
            ApiError::OAuth(..) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The error keys calsync sends, in one place.
pub mod keys {
    pub const REQUIRED: &str = "errors.required";
    pub const INVALID: &str = "errors.invalid";
    pub const INVALID_JSON: &str = "errors.invalid_json";
    pub const INVALID_TYPE: &str = "errors.invalid_type";
    pub const TOO_LONG: &str = "errors.too_long";
    pub const UNKNOWN_TZID: &str = "errors.unknown_tzid";
    pub const OUT_OF_RANGE: &str = "errors.out_of_range";
    pub const NOT_FOUND: &str = "errors.not_found";
    pub const READ_ONLY: &str = "errors.calendar_read_only";
    pub const DUPLICATE_CALENDAR_NAME: &str = "errors.duplicate_calendar_name";
    pub const CONFLICT: &str = "errors.conflict";
    pub const NOT_PERMITTED: &str = "errors.not_permitted";
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

/// Marks a response that carries an internal error, so `log_errors` can log the cause.
#[derive(Debug, Clone)]
pub struct LoggedError(pub std::sync::Arc<anyhow::Error>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = match &self {
            ApiError::Invalid(fields) => {
                let mut errors: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
                for f in fields {
                    errors.entry(&f.field).or_default().push(json!({ "key": f.key, "description": f.description }));
                }
                (status, Json(json!({ "errors": errors }))).into_response()
            }
            ApiError::OAuth(code, description) => {
                (status, Json(json!({ "error": code.as_str(), "error_description": description }))).into_response()
            }
            ApiError::Unauthorized => (status, Json(json!({ "error": "unauthorized" }))).into_response(),
            ApiError::AdminUnauthorized => {
                (status, Json(json!({ "error": "unauthorized", "message": "a valid admin token is required" })))
                    .into_response()
            }
            ApiError::Forbidden(scope) => {
                (status, Json(json!({ "error": "insufficient_scope", "scope": scope.as_str() }))).into_response()
            }
            ApiError::NotFound => (status, Json(json!({ "error": "not_found" }))).into_response(),
            ApiError::PayloadTooLarge => (status, Json(json!({ "error": "payload_too_large" }))).into_response(),
            ApiError::RateLimited { retry_after_secs } => {
                let mut r = (status, Json(json!({ "error": "rate_limited" }))).into_response();
                if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            ApiError::Internal(_) => (status, Json(json!({ "error": "internal_error" }))).into_response(),
        };
        if let ApiError::Internal(e) = self {
            response.extensions_mut().insert(LoggedError(std::sync::Arc::new(e)));
        }
        if matches!(status, StatusCode::UNAUTHORIZED) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Logs internal errors inside the request's span, after the response was built.
pub async fn log_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    if let Some(LoggedError(e)) = response.extensions().get::<LoggedError>() {
        tracing::error!(error.message = %e, error.cause_chain = ?e, "request failed");
    }
    response
}

//! Errors of the admin API and their `{code, message}` bodies (style.md §11.6). The codes are a
//! stable table kept here; messages are for people and never carry internal detail.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    api::error::{ApiError, LoggedError},
    apps::AppsError,
};

/// Everything an admin handler can fail with.
#[derive(Debug, thiserror::Error)]
pub(super) enum AdminError {
    #[error("admin authentication failed")]
    Unauthorized,
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    #[error("application not found")]
    ApplicationNotFound,
    #[error("GDPR request not found")]
    GdprRequestNotFound,
    #[error("end-user not found")]
    EndUserNotFound,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub(super) type AdminResult<T> = Result<T, AdminError>;

impl AdminError {
    /// A 422 naming the request field.
    pub(super) fn invalid(field: &str, problem: &str) -> Self {
        AdminError::Invalid { field: field.to_owned(), message: format!("{field}: {problem}") }
    }

    fn code(&self) -> &'static str {
        match self {
            AdminError::Unauthorized => "unauthorized",
            AdminError::Invalid { .. } => "invalid_request",
            AdminError::ApplicationNotFound => "application_not_found",
            AdminError::GdprRequestNotFound => "gdpr_request_not_found",
            AdminError::EndUserNotFound => "end_user_not_found",
            AdminError::PayloadTooLarge => "payload_too_large",
            AdminError::Internal(_) => "internal_error",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AdminError::ApplicationNotFound | AdminError::GdprRequestNotFound | AdminError::EndUserNotFound => {
                StatusCode::NOT_FOUND
            }
            AdminError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> String {
        match self {
            AdminError::Unauthorized => "a valid admin token is required".to_owned(),
            AdminError::Invalid { message, .. } => message.clone(),
            AdminError::ApplicationNotFound => "no application has this id or client id".to_owned(),
            AdminError::GdprRequestNotFound => "no GDPR request has this id".to_owned(),
            AdminError::EndUserNotFound => {
                "no account has this id or email, and no earlier request erased it".to_owned()
            }
            AdminError::PayloadTooLarge => "the request body is too large".to_owned(),
            AdminError::Internal(_) => "an internal error occurred".to_owned(),
        }
    }
}

/// The request field an `apps` validation problem is about, as the admin API spells it.
fn request_field(apps_field: &str) -> &str {
    match apps_field {
        "redirect_uri" => "redirect_uris",
        "sync_past_days" => "sync_window.past_days",
        "sync_future_days" => "sync_window.future_days",
        other => other,
    }
}

impl From<AppsError> for AdminError {
    fn from(e: AppsError) -> Self {
        match e {
            AppsError::Invalid { field, problem } => AdminError::invalid(request_field(field), &problem),
            AppsError::NotFound => AdminError::ApplicationNotFound,
            AppsError::Store(e) => AdminError::Internal(e.into()),
            AppsError::Sealing(e) => AdminError::Internal(e.into()),
        }
    }
}

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthorized | ApiError::AdminUnauthorized => AdminError::Unauthorized,
            ApiError::Invalid(fields) => match fields.into_iter().next() {
                Some(f) => AdminError::invalid(&f.field, &f.description),
                None => AdminError::invalid("body", "invalid"),
            },
            ApiError::NotFound => AdminError::ApplicationNotFound,
            ApiError::PayloadTooLarge => AdminError::PayloadTooLarge,
            ApiError::Internal(e) => AdminError::Internal(e),
            other => AdminError::Internal(anyhow::anyhow!("unexpected error in the admin API: {other}")),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = json!({ "code": self.code(), "message": self.message() });
        if let AdminError::Invalid { field, .. } = &self {
            body["field"] = json!(field);
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let AdminError::Internal(e) = self {
            response.extensions_mut().insert(LoggedError(std::sync::Arc::new(e)));
        }
        response
    }
}

//! `GET /oauth/callback/microsoft`: where Microsoft sends the end-user back after its sign-in,
//! with `code` and `state` (the pending request's id), or with `error` when they cancelled
//! (`access_denied`) or the sign-in failed. On success the pending request is completed and the
//! end-user goes on to the application with a code; otherwise the page is shown again so they
//! can choose differently. Microsoft's `error_description` is never shown: it is for developers.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::page::{self, Choices};
use crate::{
    authorization::{self, Service, microsoft::MicrosoftSignInError},
    state::AppState,
};

const CANCELLED: &str = "Microsoft sign-in was cancelled. Choose Microsoft again, or another calendar service.";
const FAILED: &str = "Microsoft did not complete the sign-in. Choose Microsoft again, or another calendar service.";

#[derive(Debug, Deserialize)]
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub(super) async fn get(State(state): State<AppState>, Query(callback): Query<Callback>) -> Response {
    let (request_id, request, application) = match page::pending(&state, callback.state.as_deref()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let request_id = request_id.as_str();
    let choices =
        Choices { focus: Some(Service::Microsoft), ..Choices::of(&state, request_id, &request, &application.name) };

    // A sign-in the end-user cancelled, or one Microsoft ended with an error.
    let code = match (callback.code.as_deref(), callback.error.as_deref()) {
        (Some(code), None) => code,
        (_, Some("access_denied")) => return Choices { notice: Some(CANCELLED), ..choices }.render(StatusCode::OK),
        (_, Some(error)) => {
            let error: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect();
            tracing::warn!(%error, "a Microsoft sign-in came back with an error");
            return Choices { notice: Some(FAILED), ..choices }.render(StatusCode::BAD_GATEWAY);
        }
        (None, None) => return Choices { notice: Some(CANCELLED), ..choices }.render(StatusCode::OK),
    };

    // Exchange the code and read the account.
    let connection = match authorization::microsoft::connection(&state, code).await {
        Ok(connection) => connection,
        Err(
            e @ (MicrosoftSignInError::Refused
            | MicrosoftSignInError::Unavailable
            | MicrosoftSignInError::NotConfigured),
        ) => {
            let notice = e.to_string();
            return Choices { notice: Some(&notice), ..choices }.render(StatusCode::BAD_GATEWAY);
        }
    };

    // Complete the request and return to the application with a code.
    page::complete(&state, request_id, &request, &connection).await
}

//! `GET /oauth/callback/google`: where Google sends the end-user back after its sign-in, with
//! `code` and `state` (the pending request's id), or with `error` when they declined. On success
//! the pending request is completed and the end-user goes on to the application with a code; a
//! declined or failed sign-in shows the page again so they can choose differently.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;

use super::page::{self, Choices};
use crate::{
    authorization::{self, Service, google::GoogleSignInError},
    state::AppState,
};

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
        Choices { focus: Some(Service::Google), ..Choices::of(&state, request_id, &request, &application.name) };
    let (Some(code), None) = (callback.code.as_deref(), callback.error.as_deref()) else {
        let notice = "Google sign-in was cancelled. Choose Google again, or another calendar service.";
        return Choices { notice: Some(notice), ..choices }.render(StatusCode::OK);
    };
    let connection = match authorization::google::connection(&state, code).await {
        Ok(connection) => connection,
        Err(e @ (GoogleSignInError::Refused | GoogleSignInError::Unavailable | GoogleSignInError::NotConfigured)) => {
            let notice = e.to_string();
            return Choices { notice: Some(&notice), ..choices }.render(StatusCode::BAD_GATEWAY);
        }
    };
    page::complete(&state, request_id, &request, &connection).await
}

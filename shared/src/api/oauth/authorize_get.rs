//! `GET /oauth/authorize`: checks the application's request and shows the page where the user
//! picks the calendar service to connect. `avoid_linking` is accepted and has no effect:
//! calsync has no browser session to link to, so every authorization makes a new account.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::page::{self, Choices};
use crate::{
    api::extract::Params,
    authorization::{self, AuthorizeParams, Refusal},
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, params: Params) -> Response {
    let query = AuthorizeParams {
        response_type: params.get("response_type"),
        client_id: params.get("client_id"),
        redirect_uri: params.get("redirect_uri"),
        scope: params.get("scope"),
        state: params.get("state"),
        provider_name: params.get("provider_name"),
        delegated_scope: None,
    };
    match authorization::start(&state.store, query, state.clock.now()).await {
        Err(e) => page::internal_error(e.into()),
        Ok(Err(Refusal::Page(problem))) => {
            page::message(StatusCode::BAD_REQUEST, "This authorization link cannot be used", problem)
        }
        Ok(Err(Refusal::Redirect(url))) => page::redirect(&url),
        Ok(Ok(started)) => Choices {
            focus: started.suggested,
            ..Choices::of(&state, &started.request_id, &started.request, &started.application.name)
        }
        .render(StatusCode::OK)
        .into_response(),
    }
}

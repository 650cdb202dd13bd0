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
    authorization::{self, Refusal},
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, params: Params) -> Response {
    let query = page::authorize_params(&params);
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

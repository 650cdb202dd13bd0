//! `GET /enterprise_connect/oauth/authorize`: checks an application's Enterprise Connect request
//! (the `/oauth/authorize` parameters, with `scope` holding `service_account/accounts/manage` and
//! `delegated_scope` the end-user scopes the organisation's accounts may grant) and shows the
//! service account form.

use axum::{extract::State, http::StatusCode, response::Response};

use super::{enterprise_page::ServiceAccountForm, page};
use crate::{
    api::extract::Params,
    authorization::{self, Refusal},
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, params: Params) -> Response {
    let query = page::authorize_params(&params);
    match authorization::start_enterprise(&state.store, query, state.clock.now()).await {
        Err(e) => page::internal_error(e.into()),
        Ok(Err(Refusal::Page(problem))) => {
            page::message(StatusCode::BAD_REQUEST, "This authorization link cannot be used", problem)
        }
        Ok(Err(Refusal::Redirect(url))) => page::redirect(&url),
        Ok(Ok(started)) => {
            ServiceAccountForm::of(&state, &started.request_id, &started.request, &started.application.name)
                .render(StatusCode::OK)
        }
    }
}

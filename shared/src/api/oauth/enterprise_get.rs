//! `GET /enterprise_connect/oauth/authorize`: checks an application's Enterprise Connect request
//! (the `/oauth/authorize` parameters, with `scope` holding `service_account/accounts/manage` and
//! `delegated_scope` the end-user scopes the organisation's accounts may grant) and shows the
//! service account form.

use axum::{extract::State, http::StatusCode, response::Response};

use super::{enterprise_page::ServiceAccountForm, page};
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
        delegated_scope: params.get("delegated_scope"),
    };
    match authorization::start_enterprise(&state.store, query, state.clock.now()).await {
        Err(e) => page::internal_error(e.into()),
        Ok(Err(Refusal::Page(problem))) => {
            page::message(StatusCode::BAD_REQUEST, "This authorization link cannot be used", problem)
        }
        Ok(Err(Refusal::Redirect(url))) => page::redirect(&url),
        Ok(Ok(started)) => {
            let delegated = started.request.delegated_scopes.clone().unwrap_or_default();
            let office365 = authorization::service_accounts::office365::consent_page(&state);
            ServiceAccountForm {
                application: &started.application.name,
                delegated: &delegated,
                request_id: &started.request_id,
                redirect_uri: &started.request.redirect_uri,
                notice: None,
                problems: &[],
                typed: None,
                office365: office365.as_deref(),
                google: authorization::service_accounts::google::client_id(&state),
            }
            .render(StatusCode::OK)
        }
    }
}

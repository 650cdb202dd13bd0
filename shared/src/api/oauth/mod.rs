//! Routes of the `oauth` feature: the end-user authorization page, the Enterprise Connect page
//! (service accounts), the token endpoint, revocation and application calendars. The logic lives in `crate::authorization`; these
//! handlers read requests and shape responses.
//!
//! The client-credential endpoints ignore the Authorization header: the SDKs send
//! `Bearer None` / `Bearer undefined` there (cronofy-api.md §1).

use axum::{
    Json, Router,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::{authorization::TokenResponse, state::AppState};

mod application_calendars;
mod authorize_get;
mod authorize_post;
mod body;
mod callback_google;
mod callback_microsoft;
mod enterprise_callback_microsoft;
mod enterprise_get;
mod enterprise_google;
mod enterprise_page;
mod enterprise_post;
mod page;
mod revoke;
mod token;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/authorize", get(authorize_get::get).post(authorize_post::post))
        .route("/enterprise_connect/oauth/authorize", get(enterprise_get::get).post(enterprise_post::post))
        .route(
            crate::authorization::service_accounts::office365::CALLBACK_PATH,
            get(enterprise_callback_microsoft::get),
        )
        .route(crate::authorization::google::CALLBACK_PATH, get(callback_google::get))
        .route(crate::authorization::microsoft::CALLBACK_PATH, get(callback_microsoft::get))
        .route("/oauth/token", post(token::post))
        .route("/oauth/token/revoke", post(revoke::post))
        .route("/v1/application_calendars", post(application_calendars::post))
}

/// A token response with the caching headers RFC 6749 §5.1 requires.
fn token_reply(response: TokenResponse) -> Response {
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(response),
    )
        .into_response()
}

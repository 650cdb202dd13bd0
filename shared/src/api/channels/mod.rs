//! Push notification channels (cronofy-api.md §4.5): `POST /v1/channels` opens one over the
//! authorized account, `GET /v1/channels` lists the application's open ones, and
//! `DELETE /v1/channels/{channel_id}` closes one. Delivery is the notify module's.

use axum::{
    Router,
    routing::{delete, post},
};

use crate::state::AppState;

mod close;
mod create;
mod list;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/channels", post(create::post).get(list::get))
        .route("/v1/channels/{channel_id}", delete(close::delete))
}

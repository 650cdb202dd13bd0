//! Routes of the `reads` feature: events and free/busy, each a first page whose query comes from
//! the query string and later pages whose query comes from a path token (`next_page`).

use axum::{Router, routing::get};

use crate::state::AppState;

mod access;
mod event_json;
mod events;
mod free_busy;
mod query;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/events", get(events::get))
        .route("/v1/events/pages/{token}", get(events::page))
        .route("/v1/free_busy", get(free_busy::get))
        .route("/v1/free_busy/pages/{token}", get(free_busy::page))
}

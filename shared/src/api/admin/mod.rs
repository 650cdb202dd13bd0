//! The admin API: `/admin/v1/applications`, where operators register integrator applications,
//! change their names, redirect URIs and sync windows, and rotate their client secrets; and
//! `/admin/v1/gdpr_requests`, where they file right-to-be-forgotten requests and read the report. It is calsync's
//! own surface, not Cronofy's, so it answers errors as `{code, message}` (see `error`) and is
//! authenticated with the configured admin token (`CALSYNC_ADMIN_TOKEN`), never by an
//! application's credentials.

use axum::{
    Router,
    routing::{get, post},
};

use crate::state::AppState;

mod create;
mod error;
mod gdpr;
mod list;
mod rotate_secret;
mod show;
mod update;
mod view;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/applications", post(create::post).get(list::get))
        .route("/admin/v1/applications/{id}", get(show::get).patch(update::patch))
        .route("/admin/v1/applications/{id}/rotate_secret", post(rotate_secret::post))
        .route("/admin/v1/gdpr_requests", post(gdpr::post).get(gdpr::list))
        .route("/admin/v1/gdpr_requests/{id}", get(gdpr::show).patch(gdpr::patch))
}

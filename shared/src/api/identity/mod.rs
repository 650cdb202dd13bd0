//! Routes of the `identity` feature: who the token belongs to (userinfo, account), the account's
//! profiles and calendars, revoking a profile and creating a calendar.

use axum::{
    Router,
    routing::{get, post},
};

use crate::state::AppState;

mod account;
mod account_data;
mod calendars;
mod create_calendar;
mod json;
mod profiles;
mod revoke_profile;
mod userinfo;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/userinfo", get(userinfo::get))
        .route("/v1/account", get(account::get))
        .route("/v1/profiles", get(profiles::get))
        .route("/v1/profiles/{profile_id}/revoke", post(revoke_profile::post))
        .route("/v1/calendars", get(calendars::get).post(create_calendar::post))
}

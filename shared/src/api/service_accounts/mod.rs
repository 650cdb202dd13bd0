//! Routes of the `service_accounts` feature (Enterprise Connect): a service account's token asks
//! for mailboxes of its organisation to be authorized. The service account itself is authorized
//! on the Enterprise Connect page (`oauth`); the work lives in
//! `crate::authorization::service_accounts`.

use axum::{Router, routing::post};

use crate::state::AppState;

mod authorize;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/service_account_authorizations", post(authorize::post))
}

//! `GET /admin/v1/applications`: every application, oldest first.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::{error::AdminResult, view::application_json};
use crate::{
    api::{error::ApiError, extract::Admin},
    state::AppState,
};

pub(super) async fn get(admin: Result<Admin, ApiError>, State(state): State<AppState>) -> AdminResult<Json<Value>> {
    admin?;
    let applications = state.store.list_applications().await.map_err(ApiError::from)?;
    Ok(Json(json!({ "applications": applications.iter().map(application_json).collect::<Vec<_>>() })))
}

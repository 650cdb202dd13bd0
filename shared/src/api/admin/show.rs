//! `GET /admin/v1/applications/{id}`: one application, by its `app_` id or its client id.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::{error::AdminResult, view::application_json};
use crate::{
    api::{error::ApiError, extract::Admin},
    apps,
    state::AppState,
};

pub(super) async fn get(
    admin: Result<Admin, ApiError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AdminResult<Json<Value>> {
    admin?;
    let application = apps::find(&state.store, &id).await?;
    Ok(Json(json!({ "application": application_json(&application) })))
}

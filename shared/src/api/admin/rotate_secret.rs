//! `POST /admin/v1/applications/{id}/rotate_secret`: issues a new client secret, shown in this
//! response only. The previous secret keeps working until `previous_secret_expires_at`, so
//! integrators can roll the new one out without downtime.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::{
    error::AdminResult,
    view::{application_json, timestamp},
};
use crate::{
    api::{error::ApiError, extract::Admin},
    apps::{self, SECRET_ROTATION_GRACE},
    state::AppState,
};

pub(super) async fn post(
    admin: Result<Admin, ApiError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AdminResult<Json<Value>> {
    admin?;
    let application = apps::find(&state.store, &id).await?;
    let now = state.clock.now();
    let client_secret = apps::rotate_secret(&state.store, &state.vault, &application.id, now).await?;
    // Re-read for the new `updated_at`.
    let application = apps::find(&state.store, application.id.as_str()).await?;
    tracing::info!(application_id = %application.id, "client secret rotated");
    Ok(Json(json!({
        "application": application_json(&application),
        "client_secret": client_secret,
        "previous_secret_expires_at": timestamp(now + SECRET_ROTATION_GRACE),
    })))
}

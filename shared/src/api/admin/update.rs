//! `PATCH /admin/v1/applications/{id}`: changes the name, redirect URIs or sync window. Fields
//! left out (or `null`) keep their value; the whole update is validated before anything is saved.

use axum::{
    Json,
    extract::{Path, Request, State},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    error::AdminResult,
    view::{SyncWindow, application_json, json_body},
};
use crate::{
    api::{error::ApiError, extract::Admin},
    apps,
    state::AppState,
    store::ApplicationUpdate,
};

#[derive(Debug, Deserialize)]
struct Body {
    name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    sync_window: Option<SyncWindow>,
}

pub(super) async fn patch(
    admin: Result<Admin, ApiError>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> AdminResult<Json<Value>> {
    admin?;
    let body: Body = json_body(request).await?;
    let application = apps::find(&state.store, &id).await?;
    let window = body.sync_window.unwrap_or_default();
    let update = ApplicationUpdate {
        name: body.name,
        redirect_uris: body.redirect_uris,
        sync_past_days: window.past_days,
        sync_future_days: window.future_days,
    };
    let updated = apps::update(&state.store, &application.id, update, state.clock.now()).await?;
    tracing::info!(application_id = %updated.id, "application updated");
    Ok(Json(json!({ "application": application_json(&updated) })))
}

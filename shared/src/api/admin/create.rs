//! `POST /admin/v1/applications`: registers an integrator application. The response (201) is the
//! only place its client secret is ever shown.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    error::{AdminError, AdminResult},
    view::{SyncWindow, application_json, json_body},
};
use crate::{
    api::{error::ApiError, extract::Admin},
    apps::{self, ApplicationRequest},
    state::AppState,
};

#[derive(Debug, Deserialize)]
struct Body {
    name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    sync_window: Option<SyncWindow>,
}

pub(super) async fn post(
    admin: Result<Admin, ApiError>,
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> AdminResult<(StatusCode, Json<Value>)> {
    admin?;
    let body: Body = json_body(request).await?;
    let name = body.name.ok_or_else(|| AdminError::invalid("name", "required"))?;
    let redirect_uris = body.redirect_uris.ok_or_else(|| AdminError::invalid("redirect_uris", "required"))?;
    let window = body.sync_window.unwrap_or_default();
    let created = apps::create(
        &state.store,
        &state.vault,
        ApplicationRequest {
            name,
            redirect_uris,
            sync_past_days: window.past_days,
            sync_future_days: window.future_days,
        },
        state.clock.now(),
    )
    .await?;
    tracing::info!(application_id = %created.application.id, "application created");
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "application": application_json(&created.application),
            "client_secret": created.client_secret,
        })),
    ))
}

//! `GET /v1/channels`: the application's open channels over the authorized account.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::{api::error::ApiResult, api::extract::Grant, notify::channel_json, state::AppState};

pub(super) async fn get(State(state): State<AppState>, grant: Grant) -> ApiResult<Json<Value>> {
    let channels = state.store.list_open_channels(&grant.application.id, grant.account_id()).await?;
    Ok(Json(json!({ "channels": channels.iter().map(channel_json).collect::<Vec<_>>() })))
}

//! `GET /v1/smart_invites?smart_invite_id=&recipient_email=`: one recipient's invite with its
//! replies; 404 when the application has none by that id for that recipient.

use axum::{Json, extract::State};
use serde_json::Value;

use super::invite_json;
use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::{AppKey, Params},
    },
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, AppKey(app): AppKey, params: Params) -> ApiResult<Json<Value>> {
    let id = params.get("smart_invite_id").ok_or_else(|| ApiError::required("smart_invite_id"))?;
    let email = params.get("recipient_email").ok_or_else(|| ApiError::required("recipient_email"))?;
    let invite = state.store.get_smart_invite(&app.id, id, email).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(invite_json(&state.config, &[invite], false)))
}

//! `GET /v1/profiles`: the account's connected calendar services (cronofy-api.md §4.4).

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::{account_data::AccountData, json::profile_fields};
use crate::{
    api::{error::ApiResult, extract::Grant},
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, grant: Grant) -> ApiResult<Json<Value>> {
    let data = AccountData::load(&state, &grant).await?;
    let profiles: Vec<Value> =
        data.profiles.iter().map(|p| Value::Object(profile_fields(p, data.initial_sync_required(&p.id)))).collect();
    Ok(Json(json!({ "profiles": profiles })))
}

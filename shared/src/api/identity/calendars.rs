//! `GET /v1/calendars`: the account's calendars across its profiles (cronofy-api.md §4.3).
//!
//! Cronofy lists calendars for any valid authorization, so no scope beyond the token is needed.
//! `sub` is only for service accounts and is left out.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use super::json::calendar_json;
use crate::{
    api::{error::ApiResult, extract::Grant},
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, grant: Grant) -> ApiResult<Json<Value>> {
    let account = grant.account_id();
    let profiles = state.store.list_profiles(account).await?;
    let calendars = state.store.list_calendars(account).await?;
    // Profiles in the order they were linked, then each profile's calendars (primary first).
    let listed: Vec<Value> = profiles
        .iter()
        .flat_map(|p| calendars.iter().filter(|c| c.profile_id == p.id).map(move |c| calendar_json(c, p)))
        .collect();
    Ok(Json(json!({ "calendars": listed })))
}

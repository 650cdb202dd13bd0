//! `GET /v1/userinfo`: the account, the authorization and every profile with its calendars, in
//! Cronofy's OpenID-style shape (cronofy-api.md §4.7). Any valid token may read it.

use axum::{Json, extract::State};
use serde_json::{Map, Value, json};

use super::{
    account_data::AccountData,
    json::{calendar_fields, profile_fields},
};
use crate::{
    api::{error::ApiResult, extract::Grant},
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, grant: Grant) -> ApiResult<Json<Value>> {
    let data = AccountData::load(&state, &grant).await?;
    let profiles: Vec<Value> = data
        .profiles
        .iter()
        .map(|p| {
            let mut o = profile_fields(p, data.initial_sync_required(&p.id));
            let calendars: Vec<Value> = data
                .calendars
                .iter()
                .filter(|c| c.profile_id == p.id)
                .map(|c| Value::Object(calendar_fields(c)))
                .collect();
            o.insert("profile_calendars".into(), Value::Array(calendars));
            Value::Object(o)
        })
        .collect();

    let mut o = Map::new();
    o.insert("sub".into(), json!(data.account.id));
    if let Some(email) = &data.account.email {
        o.insert("email".into(), json!(email));
    }
    if let Some(name) = &data.account.name {
        o.insert("name".into(), json!(name));
    }
    o.insert("zoneinfo".into(), json!(data.account.default_tzid));
    o.insert("cronofy.type".into(), json!("account"));
    o.insert(
        "cronofy.data".into(),
        json!({
            "authorization": { "scope": grant.authorization.scopes.to_string(), "status": "active" },
            "profiles": profiles,
        }),
    );
    Ok(Json(Value::Object(o)))
}

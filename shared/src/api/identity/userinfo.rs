//! `GET /v1/userinfo`: the account, the authorization and every profile with its calendars, in
//! Cronofy's OpenID-style shape (cronofy-api.md §4.7). Any valid token may read it. A service
//! account's token (Enterprise Connect) reads `"cronofy.type": "service_account"` and the
//! organisation's domain instead; a service account has no profiles.

use axum::{Json, extract::State};
use serde_json::{Map, Value, json};

use super::{
    account_data::AccountData,
    json::{calendar_fields, profile_fields},
};
use crate::{
    api::{error::ApiResult, extract::Grant},
    domain::ServiceAccount,
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, grant: Grant) -> ApiResult<Json<Value>> {
    if let Some(service_account) = state.store.find_service_account_by_account(grant.account_id()).await? {
        return Ok(Json(service_account_info(&service_account, &grant)));
    }
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

/// The userinfo of a service account.
fn service_account_info(service_account: &ServiceAccount, grant: &Grant) -> Value {
    // An Office 365 service account is a tenant: no address of its own.
    let email = if service_account.tenant().is_some() { None } else { Some(&service_account.email) };
    json!({
        "sub": service_account.account_id,
        "email": email,
        "cronofy.type": "service_account",
        "cronofy.service_account.domain": service_account.domain(),
        "cronofy.data": {
            "authorization": { "scope": grant.authorization.scopes.to_string(), "status": "active" },
            "service_account": {
                "service_account_id": service_account.id,
                "provider_name": service_account.provider,
            },
        },
    })
}

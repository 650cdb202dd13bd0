//! `GET /v1/account`: the account behind the token. Needs `read_account`, which the SDKs'
//! default scopes (pycronofy, Ruby) include.

use axum::{Json, extract::State};
use serde_json::{Map, Value, json};

use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::Grant,
    },
    domain::Scope,
    state::AppState,
};

pub(super) async fn get(State(state): State<AppState>, grant: Grant) -> ApiResult<Json<Value>> {
    grant.require(Scope::ReadAccount)?;
    let account = state.store.get_account(grant.account_id()).await?.ok_or(ApiError::Unauthorized)?;
    let mut o = Map::new();
    o.insert("account_id".into(), json!(account.id));
    if let Some(email) = &account.email {
        o.insert("email".into(), json!(email));
    }
    if let Some(name) = &account.name {
        o.insert("name".into(), json!(name));
    }
    o.insert("scope".into(), json!(grant.authorization.scopes.to_string()));
    o.insert("default_tzid".into(), json!(account.default_tzid));
    Ok(Json(json!({ "account": o })))
}

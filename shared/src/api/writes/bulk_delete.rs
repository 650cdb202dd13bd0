//! `DELETE /v1/events` (scope `delete_event`): deletes every event the application created in
//! the account's calendars (`delete_all`) or in the listed ones (`calendar_ids`), never anyone
//! else's. Exactly one of the two; both are read from the JSON body and from the query string,
//! where pycronofy puts them (`?delete_all=True`, `?calendar_ids[]=…`, body `{}`). Answers 202.

use std::collections::HashMap;

use axum::{extract::State, http::StatusCode};
use serde_json::Value;

use super::{
    account_calendar,
    fields::{self, Errors},
    notify_others, push_to_provider,
};
use crate::{
    api::{
        error::{ApiResult, keys},
        extract::{ApiJson, Grant, Params},
    },
    domain::{CalendarId, Scope},
    state::AppState,
};

/// More calendars than any account holds.
const MAX_CALENDARS: usize = 256;

pub(super) async fn delete(
    State(state): State<AppState>,
    grant: Grant,
    params: Params,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    grant.require(Scope::DeleteEvent)?;

    // Validate: the body's values win over the query string's.
    let body = fields::object(&body)?;
    let mut errors = Errors::default();
    let delete_all = match fields::get(body, "delete_all") {
        Some(v) => fields::boolean(v, "delete_all", &mut errors),
        None => params.bool("delete_all").unwrap_or_else(|_| {
            errors.add("delete_all", keys::INVALID_TYPE, "must be true or false");
            None
        }),
    }
    .unwrap_or(false);
    let calendar_ids: Vec<String> = match fields::get(body, "calendar_ids") {
        Some(v) => fields::array(v, "calendar_ids", MAX_CALENDARS, &mut errors)
            .map(|items| {
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| fields::string(item, &format!("calendar_ids[{i}]"), 128, &mut errors))
                    .collect()
            })
            .unwrap_or_default(),
        None => params.list("calendar_ids").into_iter().map(str::to_owned).collect(),
    };
    match (delete_all, calendar_ids.is_empty()) {
        (true, false) => errors.add("delete_all", keys::INVALID, "give either delete_all or calendar_ids, not both"),
        (false, true) => errors.add("delete_all", keys::REQUIRED, "delete_all or calendar_ids is required"),
        _ => {}
    }
    if calendar_ids.len() > MAX_CALENDARS {
        errors.add("calendar_ids", keys::TOO_LONG, format!("must have at most {MAX_CALENDARS} items"));
    }
    errors.finish()?;

    // Every listed calendar must be the account's before anything is deleted.
    let mut targets = Vec::with_capacity(calendar_ids.len());
    for id in &calendar_ids {
        targets.push(account_calendar(&state, &grant, id).await?.0.id);
    }

    let now = state.clock.now();
    let (account, application) = (grant.account_id(), &grant.application.id);
    let mut deleted = Vec::new();
    if delete_all {
        deleted = state.store.delete_partner_events(account, application, None, now).await?;
    } else {
        for calendar in &targets {
            deleted.extend(state.store.delete_partner_events(account, application, Some(calendar), now).await?);
        }
    }
    tracing::info!(count = deleted.len(), "events deleted in bulk");

    // Push the deletions of provider calendars' events.
    let mut profiles = HashMap::new();
    for (uid, calendar_id) in deleted {
        if !profiles.contains_key(&calendar_id) {
            let (_, profile) = account_calendar(&state, &grant, calendar_id.as_str()).await?;
            profiles.insert(calendar_id.clone(), profile);
        }
        if let Some(profile) = profiles.get(&calendar_id) {
            push_to_provider(&state, profile, &uid).await?;
        }
    }
    let touched: Vec<CalendarId> = profiles.into_keys().collect();
    notify_others(&state, &grant, &touched).await;
    Ok(StatusCode::ACCEPTED)
}

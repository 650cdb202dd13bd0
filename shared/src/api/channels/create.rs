//! `POST /v1/channels`: opens a channel over the authorized account for the application, then
//! queues the `verification` notification Cronofy sends right after creation.
//!
//! The callback URL is checked as it will be used (notify/client.rs): HTTPS, at most 128
//! characters, and leading to a public internet address now. `filters.calendar_ids`, when given,
//! must name at least one of the account's calendars; an account has at most 128 open channels.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::{
    api::{
        error::{ApiError, ApiResult, FieldError, keys},
        extract::{ApiJson, Grant},
    },
    domain::{CalendarId, Channel, ChannelFilters, ChannelId},
    notify::{self, Kind, channel_json},
    state::AppState,
};

/// Open channels one account may have.
pub(super) const MAX_CHANNELS_PER_ACCOUNT: i64 = 128;

pub(super) async fn post(
    State(state): State<AppState>,
    grant: Grant,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    // Validate every field, reporting all problems at once.
    let mut errors = Vec::new();
    let callback_url = match body.get("callback_url") {
        Some(Value::String(url)) if !url.trim().is_empty() => match state.callbacks.check(url.trim()).await {
            Ok(url) => Some(url.to_string()),
            Err(problem) => {
                errors.push(field_error("callback_url", keys::INVALID, &problem.to_string()));
                None
            }
        },
        Some(Value::String(_)) | None | Some(Value::Null) => {
            errors.push(field_error("callback_url", keys::REQUIRED, "required"));
            None
        }
        Some(_) => {
            errors.push(field_error("callback_url", keys::INVALID_TYPE, "must be a string"));
            None
        }
    };
    let filters = filters(&state, &grant, body.get("filters"), &mut errors).await?;
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let (Some(callback_url), Some(filters)) = (callback_url, filters) else {
        return Err(ApiError::required("callback_url"));
    };
    if state.store.count_account_channels(grant.account_id()).await? >= MAX_CHANNELS_PER_ACCOUNT {
        return Err(ApiError::invalid("callback_url", keys::INVALID, "the account has 128 open channels already"));
    }

    // Store the channel and queue its verification.
    let channel = Channel {
        id: ChannelId::generate(),
        application_id: grant.application.id.clone(),
        account_id: grant.account_id().clone(),
        callback_url,
        filters,
        created_at: state.clock.now(),
        closed_at: None,
    };
    state.store.create_channel(&channel).await?;
    tracing::info!(channel_id = %channel.id, application_id = %channel.application_id, "channel opened");
    notify::send(&state, &channel, Kind::Verification).await?;
    Ok(Json(json!({ "channel": channel_json(&channel) })))
}

/// The `filters` object: `calendar_ids` (one or more of the account's calendars) and
/// `only_managed`.
async fn filters(
    state: &AppState,
    grant: &Grant,
    raw: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> ApiResult<Option<ChannelFilters>> {
    let object = match raw {
        None | Some(Value::Null) => return Ok(Some(ChannelFilters::default())),
        Some(Value::Object(object)) => object,
        Some(_) => {
            errors.push(field_error("filters", keys::INVALID_TYPE, "must be an object"));
            return Ok(None);
        }
    };
    let only_managed = match object.get("only_managed") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(flag)) => Some(*flag),
        Some(_) => {
            errors.push(field_error("filters.only_managed", keys::INVALID_TYPE, "must be true or false"));
            return Ok(None);
        }
    };
    let calendar_ids = match object.get("calendar_ids") {
        None | Some(Value::Null) => None,
        Some(Value::Array(ids)) if ids.is_empty() => {
            errors.push(field_error("filters.calendar_ids", keys::INVALID, "must name at least one calendar"));
            return Ok(None);
        }
        Some(Value::Array(ids)) => {
            let own: Vec<CalendarId> =
                state.store.list_calendars(grant.account_id()).await?.into_iter().map(|c| c.id).collect();
            let mut wanted = Vec::new();
            for id in ids {
                match id.as_str().and_then(|s| CalendarId::parse(s).ok()).filter(|id| own.contains(id)) {
                    Some(id) if !wanted.contains(&id) => wanted.push(id),
                    Some(_) => {}
                    None => {
                        errors.push(field_error("filters.calendar_ids", keys::NOT_FOUND, "names an unknown calendar"));
                        return Ok(None);
                    }
                }
            }
            Some(wanted)
        }
        Some(_) => {
            errors.push(field_error("filters.calendar_ids", keys::INVALID_TYPE, "must be an array of calendar ids"));
            return Ok(None);
        }
    };
    Ok(Some(ChannelFilters { calendar_ids, only_managed }))
}

fn field_error(field: &str, key: &'static str, description: &str) -> FieldError {
    FieldError { field: field.to_owned(), key, description: description.to_owned() }
}

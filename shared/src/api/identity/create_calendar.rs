//! `POST /v1/calendars`: a new calendar on one of the account's profiles (scope
//! `create_calendar`). Names are unique among a profile's live calendars; a clash is the 422 with
//! key `errors.duplicate_calendar_name` on `name` that pycronofy branches on.
//!
//! On a hosted profile the calendar exists as soon as it is stored. On a provider profile the row
//! is stored with the placeholder provider id `pending:<calendar id>` and a calendar-list sync is
//! queued: the sync engine creates the calendar upstream and swaps the placeholder for the
//! provider's id. If queueing fails the row stays pending and the next scheduled calendar-list
//! sync of the profile picks it up, so the request still succeeds (a retry by the client would
//! only meet its own name as a duplicate).

use axum::{Json, extract::State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::calendar_json;
use crate::{
    adapters::QueueName,
    api::{
        error::{ApiError, ApiResult, FieldError, keys},
        extract::{ApiJson, Grant},
    },
    domain::{Calendar, CalendarId, ProfileId, ProfileStatus, ProviderName, Scope, random_token},
    jobs::SyncJob,
    state::AppState,
};

/// Longest calendar name accepted, in characters.
const MAX_NAME_CHARS: usize = 255;

#[derive(Debug, Deserialize)]
pub(super) struct Body {
    profile_id: Option<String>,
    name: Option<String>,
    color: Option<String>,
}

pub(super) async fn post(
    State(state): State<AppState>,
    grant: Grant,
    ApiJson(body): ApiJson<Body>,
) -> ApiResult<Json<Value>> {
    grant.require(Scope::CreateCalendar)?;

    // Validate the fields, reporting every bad one at once.
    let mut errors = Vec::new();
    let profile_id = body.profile_id.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if profile_id.is_none() {
        errors.push(field_error("profile_id", keys::REQUIRED, "required"));
    }
    let name = body.name.as_deref().map(str::trim).filter(|s| !s.is_empty());
    match name {
        None => errors.push(field_error("name", keys::REQUIRED, "required")),
        Some(n) if n.chars().count() > MAX_NAME_CHARS => {
            errors.push(field_error("name", keys::TOO_LONG, "must be at most 255 characters"))
        }
        Some(_) => {}
    }
    let color = body.color.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if color.is_some_and(|c| !is_hex_color(c)) {
        errors.push(field_error("color", keys::INVALID, "must be a hex color such as #49BED8"));
    }
    let (Some(profile_id), Some(name), true) = (profile_id, name, errors.is_empty()) else {
        return Err(ApiError::Invalid(errors));
    };

    // The profile must be one of the grant's; any other id is simply unknown.
    let profile_id = ProfileId::parse(profile_id).map_err(|_| ApiError::NotFound)?;
    let profile = state.store.get_profile(&profile_id).await?.ok_or(ApiError::NotFound)?;
    if &profile.account_id != grant.account_id() {
        return Err(ApiError::NotFound);
    }
    if profile.status != ProfileStatus::Active {
        return Err(ApiError::invalid("profile_id", keys::NOT_PERMITTED, "the profile is disconnected"));
    }

    let hosted = profile.provider == ProviderName::Hosted;
    let id = CalendarId::generate();
    let now = state.clock.now();
    let calendar = Calendar {
        provider_calendar_id: if hosted { format!("hosted:{}", random_token(24)) } else { format!("pending:{id}") },
        id,
        profile_id: profile.id.clone(),
        account_id: profile.account_id.clone(),
        name: name.to_owned(),
        is_primary: false,
        read_only: false,
        deleted: false,
        color: color.map(str::to_owned),
        created_at: now,
        updated_at: now,
    };
    if !state.store.insert_calendar_if_name_free(&calendar).await? {
        return Err(ApiError::invalid(
            "name",
            keys::DUPLICATE_CALENDAR_NAME,
            "the profile already has a calendar of this name",
        ));
    }

    if !hosted {
        let job = SyncJob::SyncCalendarList { profile_id: profile.id.clone() };
        let sent = match serde_json::to_string(&job) {
            Ok(body) => state.queue.send(QueueName::Sync, body, None).await.map_err(anyhow::Error::from),
            Err(e) => Err(e.into()),
        };
        if let Err(e) = sent {
            tracing::error!(error.message = %e, error.cause_chain = ?e, calendar_id = %calendar.id,
                "queueing the calendar-list sync for a new calendar; the scheduled sync will create it");
        }
    }
    Ok(Json(json!({ "calendar": calendar_json(&calendar, &profile) })))
}

fn field_error(field: &str, key: &'static str, description: &str) -> FieldError {
    FieldError { field: field.to_owned(), key, description: description.to_owned() }
}

/// `#RRGGBB`, as Cronofy's calendar colors are written.
fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

//! `POST /v1/calendars/{calendar_id}/events/{event_uid}/participation_status` (scope
//! `change_participation_status`): records the calendar owner's answer to an event,
//! `{"status": "accepted" | "tentative" | "declined"}`. Answers 202.
//!
//! The same answer twice changes nothing. A changed answer on a provider calendar is pushed to
//! the provider like any other change.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde_json::Value;

use crate::store::EventUpsert;

use super::{
    account_calendar, calendar_event,
    fields::{self, Errors},
    notify_others, push_to_provider,
};
use crate::{
    api::{
        error::{ApiError, ApiResult, keys},
        extract::{ApiJson, Grant},
    },
    domain::{AttendeeStatus, Scope},
    state::AppState,
};

pub(super) async fn post(
    State(state): State<AppState>,
    grant: Grant,
    Path((calendar_id, event_uid)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    grant.require(Scope::ChangeParticipationStatus)?;
    let (calendar, profile) = account_calendar(&state, &grant, &calendar_id).await?;
    let event = calendar_event(&state, &calendar, &event_uid).await?;

    let body = fields::object(&body)?;
    let mut errors = Errors::default();
    let status = match fields::get(body, "status").map(Value::as_str) {
        None => {
            errors.required("status");
            None
        }
        Some(Some("accepted")) => Some(AttendeeStatus::Accepted),
        Some(Some("tentative")) => Some(AttendeeStatus::Tentative),
        Some(Some("declined")) => Some(AttendeeStatus::Declined),
        Some(_) => {
            errors.add("status", keys::INVALID, "must be accepted, tentative or declined");
            None
        }
    };
    errors.finish()?;
    let Some(status) = status else { return Err(ApiError::required("status")) };

    let mut changed = EventUpsert::from(&event);
    changed.participation_status = status;
    if state.store.update_event_content(&event.uid, &changed, state.clock.now()).await? {
        tracing::info!(calendar_id = %calendar.id, event_uid = %event.uid, "participation status changed");
        push_to_provider(&state, &profile, &event.uid).await?;
        notify_others(&state, &grant, std::slice::from_ref(&calendar.id)).await;
    }
    Ok(StatusCode::ACCEPTED)
}

//! `DELETE /v1/calendars/{calendar_id}/events` (scope `delete_event`): deletes the application's
//! event by `event_id`, or an external event by `event_uid` (cronofy-api.md §5.4). Answers 202.
//!
//! Deleting by `event_id` is idempotent, as in Cronofy: an unknown or already deleted `event_id`
//! is still a 202. The event stays as a tombstone (`deleted: true`) so change readers see it.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde_json::Value;

use super::{
    account_calendar, calendar_event, ensure_external_change_permitted,
    event_input::{EventKey, event_key},
    fields::{self, Errors},
    notify_others, push_to_provider,
};
use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::{ApiJson, Grant},
    },
    domain::Scope,
    state::AppState,
};

pub(super) async fn delete(
    State(state): State<AppState>,
    grant: Grant,
    Path(calendar_id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    delete_event(&state, &grant, &calendar_id, &body).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The whole delete, shared by the route and `/v1/batch`.
pub(super) async fn delete_event(state: &AppState, grant: &Grant, calendar_id: &str, body: &Value) -> ApiResult<()> {
    grant.require(Scope::DeleteEvent)?;
    let (calendar, profile) = account_calendar(state, grant, calendar_id).await?;
    let body = fields::object(body)?;
    let mut errors = Errors::default();
    let key = event_key(body, &mut errors);
    errors.finish()?;
    let Some(key) = key else { return Err(ApiError::required("event_id")) };

    let event = match key {
        EventKey::Managed(event_id) => {
            state.store.find_partner_event(&calendar.id, &grant.application.id, &event_id).await?
        }
        EventKey::External(event_uid) => {
            let event = calendar_event(state, &calendar, &event_uid).await?;
            ensure_external_change_permitted(&profile, &event)?;
            Some(event)
        }
    };
    let Some(event) = event else { return Ok(()) };
    if state.store.mark_event_deleted(&event.uid, state.clock.now()).await? {
        tracing::info!(calendar_id = %calendar.id, event_uid = %event.uid, "event deleted");
        push_to_provider(state, &profile, &event.uid).await?;
        notify_others(state, grant, std::slice::from_ref(&calendar.id)).await;
    }
    Ok(())
}

//! `POST /v1/calendars/{calendar_id}/events` (scope `create_event`): creates or updates the
//! application's event keyed by its own `event_id`, or, with `event_uid`, edits an external
//! event. Answers 202 with no body, as Cronofy does.
//!
//! The upsert is idempotent: the same body twice is stored once and the second call changes
//! nothing (no `last_modified` move, no push). An update starts from the stored event, so fields
//! the request omits keep their values; a deleted event upserted again is created afresh.

use axum::{
    extract::{Path, State},
    http::StatusCode,
};
use serde_json::Value;

use super::{
    account_calendar, calendar_event, ensure_external_change_permitted, ensure_writable,
    event_input::{EventInput, EventKey, event_key},
    fields::{self, Errors},
    notify_others, push_to_provider,
};
use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::{ApiJson, Grant},
    },
    domain::{AttendeeStatus, Calendar, EventKind, EventStatus, EventTime, Scope, Transparency},
    state::AppState,
    store::EventUpsert,
    sync,
};

pub(super) async fn post(
    State(state): State<AppState>,
    grant: Grant,
    Path(calendar_id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<StatusCode> {
    upsert(&state, &grant, &calendar_id, &body).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The whole upsert, shared by the route and `/v1/batch`.
pub(super) async fn upsert(state: &AppState, grant: &Grant, calendar_id: &str, body: &Value) -> ApiResult<()> {
    grant.require(Scope::CreateEvent)?;
    let (calendar, profile) = account_calendar(state, grant, calendar_id).await?;
    ensure_writable(&calendar)?;

    // Validate everything before touching the store.
    let body = fields::object(body)?;
    let mut errors = Errors::default();
    let key = event_key(body, &mut errors);
    let input = EventInput::parse(body, errors)?;
    let Some(key) = key else { return Err(ApiError::required("event_id")) };
    let now = state.clock.now();

    let (uid, changed) = match key {
        EventKey::Managed(event_id) => {
            let existing = state.store.find_partner_event(&calendar.id, &grant.application.id, &event_id).await?;
            let (mut event, creating) = match &existing {
                Some(stored) if !stored.deleted => (EventUpsert::from(stored), false),
                _ => (blank(&calendar, grant, event_id), true),
            };
            if let Some(tombstone) = existing.as_ref().filter(|e| e.deleted) {
                state.store.reopen_tombstone(&tombstone.uid).await?;
            }
            input.apply(&mut event, creating);
            let outcome = state.store.upsert_event(&event, now).await?;
            (outcome.uid().clone(), outcome.is_change())
        }
        EventKey::External(event_uid) => {
            let stored = calendar_event(state, &calendar, &event_uid).await?;
            ensure_external_change_permitted(&profile, &stored)?;
            let mut event = EventUpsert::from(&stored);
            input.apply(&mut event, false);
            let changed = state.store.update_event_content(&stored.uid, &event, now).await?;
            (stored.uid, changed)
        }
    };
    if changed {
        tracing::info!(calendar_id = %calendar.id, event_uid = %uid, "event written");
        push_to_provider(state, &profile, &uid).await?;
        notify_others(state, grant, std::slice::from_ref(&calendar.id)).await;
    }
    Ok(())
}

/// A new partner event of the grant's application; `EventInput::apply` fills in the rest.
fn blank(calendar: &Calendar, grant: &Grant, event_id: String) -> EventUpsert {
    let epoch = EventTime::Instant { at: chrono::DateTime::UNIX_EPOCH, tzid: None };
    EventUpsert {
        calendar_id: calendar.id.clone(),
        profile_id: calendar.profile_id.clone(),
        account_id: calendar.account_id.clone(),
        kind: EventKind::Partner,
        application_id: Some(grant.application.id.clone()),
        // Stable for the event_id: the UID its provider copy has, by which a sync recognises it.
        ical_uid: Some(sync::partner_ical_uid(&grant.application.id, &event_id)),
        event_id: Some(event_id),
        provider_id: None,
        etag: None,
        summary: None,
        description: None,
        start: epoch.clone(),
        end: epoch,
        recurrence_rule: None,
        series_id: None,
        original_start: None,
        location: None,
        attendees: Vec::new(),
        organizer: None,
        categories: Vec::new(),
        color: None,
        url: None,
        reminders: Vec::new(),
        event_private: false,
        // The calendar's owner organises the event; no answer of theirs is known.
        participation_status: AttendeeStatus::Unknown,
        transparency: Transparency::Opaque,
        status: EventStatus::Confirmed,
        deleted: false,
        provider_created_at: None,
        provider_updated_at: None,
    }
}

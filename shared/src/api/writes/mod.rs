//! Event writes (cronofy-api.md §3, §5.3, §5.4): upsert and delete of the application's own
//! (partner) events and of external events, bulk delete, participation status, and the batch
//! endpoint that runs upserts and deletes as plain function calls.
//!
//! Writes go to calsync's cache first. An event on a provider calendar (anything but the hosted
//! `cronofy` provider) is then pushed to its provider by a `PushEvent` job on the sync queue;
//! hosted calendars live only in calsync. External events (ones the application did not create)
//! may be changed only on hosted calendars: on provider calendars that needs Cronofy's
//! "unrestricted" permission level, which calsync does not grant, so those requests get a 422
//! `errors.not_permitted` on `event_uid`.

use axum::{
    Router,
    routing::{delete, post},
};

use crate::{
    adapters::QueueName,
    api::{
        error::{ApiError, ApiResult, keys},
        extract::Grant,
    },
    domain::{Calendar, CalendarId, Event, EventUid, Profile, ProviderName},
    jobs::SyncJob,
    notify,
    state::AppState,
};

mod batch;
mod bulk_delete;
mod delete;
pub(super) mod event_fields;
mod event_input;
pub(super) mod fields;
mod participation;
mod recurrence;
pub(super) mod times;
mod upsert;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/calendars/{calendar_id}/events", post(upsert::post).delete(delete::delete))
        .route("/v1/calendars/{calendar_id}/events/{event_uid}/participation_status", post(participation::post))
        .route("/v1/events", delete(bulk_delete::delete))
        .route("/v1/batch", post(batch::post))
}

/// A calendar of the grant's account and its profile; any other id (malformed, unknown, another
/// account's) is the same 404.
async fn account_calendar(state: &AppState, grant: &Grant, raw_id: &str) -> ApiResult<(Calendar, Profile)> {
    let id = CalendarId::parse(raw_id).map_err(|_| ApiError::NotFound)?;
    let calendar = state
        .store
        .get_calendar(&id)
        .await?
        .filter(|c| &c.account_id == grant.account_id())
        .ok_or(ApiError::NotFound)?;
    let profile = state.store.get_profile(&calendar.profile_id).await?.ok_or(ApiError::NotFound)?;
    Ok((calendar, profile))
}

/// 422 unless events can be written to the calendar.
fn ensure_writable(calendar: &Calendar) -> ApiResult<()> {
    if calendar.read_only || calendar.deleted {
        Err(ApiError::invalid("calendar_id", keys::READ_ONLY, "the calendar is read-only or deleted"))
    } else {
        Ok(())
    }
}

/// A live event of `calendar` named by `event_uid`; anything else is a 404.
async fn calendar_event(state: &AppState, calendar: &Calendar, raw_uid: &str) -> ApiResult<Event> {
    let uid = EventUid::parse(raw_uid).map_err(|_| ApiError::NotFound)?;
    state.store.get_event(&uid).await?.filter(|e| e.calendar_id == calendar.id && !e.deleted).ok_or(ApiError::NotFound)
}

/// 422 unless this external event may be changed; see the module doc.
fn ensure_external_change_permitted(profile: &Profile, event: &Event) -> ApiResult<()> {
    if profile.provider != ProviderName::Hosted {
        return Err(ApiError::invalid(
            "event_uid",
            keys::NOT_PERMITTED,
            "changing external events needs unrestricted permission on this calendar",
        ));
    }
    if event.recurrence_rule.is_some() || event.series_id.is_some() {
        return Err(ApiError::invalid("event_uid", keys::NOT_PERMITTED, "recurring events cannot be changed"));
    }
    Ok(())
}

/// Tells the other applications' channels over the account that this request changed events of
/// `calendars` (they see them as external events); the writing application's own are not told.
/// The write stands whatever happens here: a failure is logged.
async fn notify_others(state: &AppState, grant: &Grant, calendars: &[CalendarId]) {
    let changed =
        notify::Changed { third_party: true, written_by: Some(grant.application.id.clone()), ..Default::default() };
    if let Err(e) = notify::changes(state, grant.account_id(), calendars, &changed, state.clock.now()).await {
        tracing::error!(error.message = %e, error.cause_chain = ?e, "change notifications could not be queued");
    }
}

/// Queues the push of a changed event to its provider; hosted calendars have nothing to push.
async fn push_to_provider(state: &AppState, profile: &Profile, uid: &EventUid) -> ApiResult<()> {
    if profile.provider == ProviderName::Hosted {
        return Ok(());
    }
    let job = serde_json::to_string(&SyncJob::PushEvent { event_uid: uid.clone() }).map_err(anyhow::Error::from)?;
    state
        .queue
        .send(QueueName::Sync, job, None)
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::from(e).context("queueing an event push")))
}

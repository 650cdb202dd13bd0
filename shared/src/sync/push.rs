//! Writing partner events back to their provider (the `PushEvent` job): the API stores an
//! application's event in the cache and queues this job, which writes it to the calendar's
//! service as an iCalendar resource named after the event's own UID, or deletes it there, and
//! records the provider's id and version on the event.
//!
//! The application's version wins: a conditional write that finds the resource changed on the
//! server (or already created by an earlier attempt whose result was lost) reads the current
//! version and writes again once. The content pushed is recorded as `pushed_hash`, so a
//! duplicate delivery finds nothing left to push and sends no request. Recording the push is
//! bookkeeping: it moves no `last_modified`, so integrators are not told of their own writes.

use sha2::{Digest, Sha256};

use super::connect::{Failure, conclude, connect};
use super::fairness::{self, Admission};
use super::provider::{CalendarProvider, ProviderError};
use crate::domain::{ApplicationId, Event, EventKind, EventUid, ProfileStatus};
use crate::ical::to_ics;
use crate::jobs::{JobError, JobOutcome, SyncJob};
use crate::state::AppState;
use crate::store::{EventUpsert, RecordedPush};

/// What `pushed_hash` holds once a deletion has reached the provider (or came from it); the
/// store writes the same value when a sync finds a partner event deleted at the provider.
const DELETED: &str = "deleted";

/// The iCalendar UID of a partner event: stable for the application's `event_id`, the same on
/// every push, and made only of characters that are safe in a resource name.
pub fn partner_ical_uid(application: &ApplicationId, event_id: &str) -> String {
    let digest = Sha256::digest(format!("{application}\0{event_id}").as_bytes());
    format!("calsync-{}", hex::encode(&digest[..16]))
}

/// Pushes one event's current state to its provider; see the module doc.
#[tracing::instrument(skip_all, fields(event_uid = %uid))]
pub async fn push_event(state: &AppState, uid: &EventUid) -> Result<JobOutcome, JobError> {
    let Some(event) = state.store.get_event(uid).await? else {
        return Ok(JobOutcome::Skipped("event no longer exists"));
    };
    if event.kind != EventKind::Partner {
        return Ok(JobOutcome::Skipped("only partner events are pushed"));
    }
    let target = if event.deleted { DELETED.to_owned() } else { event.content_hash.clone() };
    if state.store.pushed_hash(uid).await?.as_deref() == Some(target.as_str()) {
        return Ok(JobOutcome::Skipped("already pushed"));
    }
    let Some(calendar) = state.store.get_calendar(&event.calendar_id).await? else {
        return Ok(JobOutcome::Skipped("calendar no longer exists"));
    };
    let Some(profile) = state.store.get_profile(&calendar.profile_id).await? else {
        return Ok(JobOutcome::Skipped("profile no longer exists"));
    };
    if profile.status == ProfileStatus::Disconnected {
        return Ok(JobOutcome::Skipped("the profile is disconnected"));
    }
    if event.deleted && event.provider_id.is_none() {
        // Deleted before it ever reached the provider: nothing to remove there.
        let push = RecordedPush { provider_id: None, etag: None, pushed_hash: DELETED, ical_uid: None };
        state.store.record_push(uid, &push).await?;
        return Ok(JobOutcome::Done);
    }
    let pass = match fairness::admit(state, &profile).await? {
        Admission::Free => None,
        Admission::Admitted(pass) => Some(pass),
        Admission::Wait(delay) => {
            fairness::requeue(state, &SyncJob::PushEvent { event_uid: uid.clone() }, delay).await?;
            return Ok(JobOutcome::Skipped("waiting for room at the calendar server; queued again"));
        }
    };
    let outcome = push_admitted(state, &profile, &calendar.provider_calendar_id, &event, &target).await;
    if let Some(pass) = pass {
        fairness::release(state, pass, outcome.as_ref().map_or(0, |(_, requests)| *requests)).await?;
    }
    outcome.map(|(outcome, _)| outcome)
}

/// [`push_event`] once the profile's server has room for the job; also returns the requests sent.
async fn push_admitted(
    state: &AppState,
    profile: &crate::domain::Profile,
    calendar: &str,
    event: &Event,
    target: &str,
) -> Result<(JobOutcome, u64), JobError> {
    let provider = match connect(state, profile).await {
        Ok(provider) => provider,
        Err(failure) => return conclude(state, profile, None, failure).await.map(|o| (o, 0)),
    };
    let result = match event.deleted {
        true => remove(state, provider.as_ref(), event).await,
        false => write(state, provider.as_ref(), calendar, event, target).await,
    };
    let requests = provider.requests_sent();
    match result {
        Ok(()) => {
            tracing::info!(deleted = event.deleted, "event pushed to the provider");
            Ok((JobOutcome::Done, requests))
        }
        Err(failure) => conclude(state, profile, None, failure).await.map(|o| (o, requests)),
    }
}

async fn remove(state: &AppState, provider: &dyn CalendarProvider, event: &Event) -> Result<(), Failure> {
    if let Some(remote_id) = event.provider_id.as_deref() {
        // Unconditional: the application deleted its event, whatever happened to it since.
        provider.delete(remote_id, None).await?;
    }
    let push =
        RecordedPush { provider_id: event.provider_id.as_deref(), etag: None, pushed_hash: DELETED, ical_uid: None };
    state.store.record_push(&event.uid, &push).await?;
    Ok(())
}

async fn write(
    state: &AppState,
    provider: &dyn CalendarProvider,
    calendar: &str,
    event: &Event,
    hash: &str,
) -> Result<(), Failure> {
    let ical_uid = match (&event.ical_uid, &event.application_id, &event.event_id) {
        (Some(uid), _, _) => uid.clone(),
        (None, Some(application), Some(event_id)) => partner_ical_uid(application, event_id),
        _ => return Err(ProviderError::Permanent("a partner event without an event_id".into()).into()),
    };
    let name = format!("{ical_uid}.ics");
    let ics = to_ics(&EventUpsert::from(event), &ical_uid, state.clock.now());
    // A resource this event never had is created; a known one is updated under its version.
    let expected = event.provider_id.as_ref().and(event.etag.as_deref());
    let known = event.provider_id.as_deref();
    let written = match provider.write(calendar, &name, known, &ics, expected).await {
        Err(ProviderError::Conflict) => {
            let current = provider.version_of(calendar, &name, known).await?;
            provider.write(calendar, &name, known, &ics, current.as_deref()).await?
        }
        other => other?,
    };
    let push = RecordedPush {
        provider_id: Some(&written.remote_id),
        etag: written.etag.as_deref(),
        pushed_hash: hash,
        ical_uid: Some(&ical_uid),
    };
    state.store.record_push(&event.uid, &push).await?;
    Ok(())
}

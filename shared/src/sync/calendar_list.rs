//! Refreshing a profile's calendar list: new calendars are added, changed ones updated, ones
//! gone from the service marked deleted, and a `SyncCalendar` job is queued for each live one
//! whose change marker moved since its last sync.
//!
//! This is what the periodic poll runs for every remote profile, so it is kept to one request
//! when nothing changed: the calendar home found by discovery (or the calendar list's sync
//! token) is remembered on the profile (and discovered again only if it stops working), and the
//! listing carries each calendar's change marker, so an unchanged calendar is not even queued.
//! A partial listing (Google's calendarList with a sync token) names only the calendars that
//! changed and those removed; the rest are kept as they are and still polled.

use std::collections::HashSet;

use super::calendar::CursorState;
use super::connect::{Failure, conclude, connect};
use super::fairness::{self, Admission};
use crate::adapters::QueueName;
use crate::domain::{Calendar, CalendarId, Profile, ProfileId, ProfileStatus};
use crate::jobs::{JobError, JobOutcome, SyncJob};
use crate::state::AppState;

/// What a calendar list refresh did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CalendarListReport {
    /// Live calendars the service listed.
    pub calendars: usize,
    /// `SyncCalendar` jobs queued (calendars new or changed since their last sync).
    pub queued: usize,
    /// Requests sent to the service.
    pub requests: u64,
}

/// Refreshes a profile's calendars; see the module doc.
pub async fn sync_calendar_list(state: &AppState, profile_id: &ProfileId) -> Result<JobOutcome, JobError> {
    sync_calendar_list_reporting(state, profile_id).await.map(|(outcome, _)| outcome)
}

/// [`sync_calendar_list`], also returning what it did.
#[tracing::instrument(skip_all, fields(profile_id = %profile_id))]
pub async fn sync_calendar_list_reporting(
    state: &AppState,
    profile_id: &ProfileId,
) -> Result<(JobOutcome, CalendarListReport), JobError> {
    let none = CalendarListReport::default();
    let Some(profile) = state.store.get_profile(profile_id).await? else {
        return Ok((JobOutcome::Skipped("profile no longer exists"), none));
    };
    if profile.status == ProfileStatus::Disconnected {
        return Ok((JobOutcome::Skipped("the profile is disconnected"), none));
    }
    let pass = match fairness::admit(state, &profile).await? {
        Admission::Free => None,
        Admission::Admitted(pass) => Some(pass),
        Admission::Wait(delay) => {
            fairness::requeue(state, &SyncJob::SyncCalendarList { profile_id: profile.id.clone() }, delay).await?;
            return Ok((JobOutcome::Skipped("waiting for room at the calendar server; queued again"), none));
        }
    };
    let result = list_admitted(state, &profile).await;
    if let Some(pass) = pass {
        fairness::release(state, pass, result.as_ref().map_or(0, |(_, report)| report.requests)).await?;
    }
    result
}

/// [`sync_calendar_list_reporting`] once the profile's server has room for the job.
async fn list_admitted(state: &AppState, profile: &Profile) -> Result<(JobOutcome, CalendarListReport), JobError> {
    let none = CalendarListReport::default();
    let profile = profile.clone();
    let known_home = state.store.profile_calendar_home(&profile.id).await?;
    let provider = match connect(state, &profile).await {
        Ok(provider) => provider,
        Err(failure) => return Ok((conclude(state, &profile, None, failure).await?, none)),
    };
    let listing = match provider.list_calendars(known_home.as_deref()).await {
        Ok(listing) => listing,
        Err(e) => {
            let report = CalendarListReport { requests: provider.requests_sent(), ..none };
            return Ok((conclude(state, &profile, None, Failure::from(e)).await?, report));
        }
    };
    if listing.home != known_home {
        state.store.set_profile_calendar_home(&profile.id, listing.home.as_deref()).await?;
    }

    let now = state.clock.now();
    let known: Vec<Calendar> = state
        .store
        .list_calendars(&profile.account_id)
        .await?
        .into_iter()
        .filter(|c| c.profile_id == profile.id)
        .collect();
    let mut report = CalendarListReport { calendars: listing.calendars.len(), ..none };
    let mut seen = HashSet::new();
    // Each live calendar with the change marker the listing showed for it.
    let mut live: Vec<(Calendar, Option<String>)> = Vec::new();
    for calendar in listing.calendars {
        seen.insert(calendar.remote_id.clone());
        let existing = known.iter().find(|c| c.provider_calendar_id == calendar.remote_id);
        let wanted = Calendar {
            id: existing.map_or_else(CalendarId::generate, |c| c.id.clone()),
            profile_id: profile.id.clone(),
            account_id: profile.account_id.clone(),
            provider_calendar_id: calendar.remote_id,
            name: calendar.name,
            is_primary: calendar.is_primary,
            read_only: calendar.read_only,
            deleted: false,
            color: calendar.color,
            created_at: existing.map_or(now, |c| c.created_at),
            updated_at: existing.map_or(now, |c| c.updated_at),
        };
        let stored = match existing {
            Some(c) if *c == wanted => c.clone(),
            _ => state.store.upsert_calendar(&Calendar { updated_at: now, ..wanted }).await?,
        };
        live.push((stored, calendar.change_marker));
    }
    let removed: HashSet<&String> = listing.removed.iter().collect();
    for calendar in known.into_iter().filter(|c| !c.deleted && !seen.contains(&c.provider_calendar_id)) {
        if listing.partial && !removed.contains(&calendar.provider_calendar_id) {
            report.calendars += 1;
            live.push((calendar, None));
        } else {
            state.store.upsert_calendar(&Calendar { deleted: true, updated_at: now, ..calendar }).await?;
        }
    }
    for (calendar, marker) in live {
        if up_to_date(state, &calendar.id, marker.as_deref()).await?
            || (provider.push_path().is_some() && super::watch::left_to_push(state, &calendar).await?)
        {
            continue;
        }
        let job = serde_json::to_string(&SyncJob::SyncCalendar { calendar_id: calendar.id })
            .map_err(|e| JobError::Retryable(e.into()))?;
        state.queue.send(QueueName::Sync, job, None).await.map_err(|e| JobError::Retryable(e.into()))?;
        report.queued += 1;
    }
    report.requests = provider.requests_sent();
    tracing::info!(
        calendars = report.calendars,
        queued = report.queued,
        requests = report.requests,
        "calendar list synced"
    );
    Ok((JobOutcome::Done, report))
}

/// Whether the calendar's last sync succeeded and stored the change marker the listing shows,
/// so a sync now would find nothing.
async fn up_to_date(state: &AppState, calendar: &CalendarId, marker: Option<&str>) -> Result<bool, JobError> {
    let Some(marker) = marker else { return Ok(false) };
    let Some(sync) = state.store.get_sync_state(calendar).await? else { return Ok(false) };
    if sync.last_error.is_some() {
        return Ok(false);
    }
    let cursor = CursorState::decode(sync.cursor.as_deref());
    Ok(cursor.is_some_and(|c| c.ctag.as_deref() == Some(marker)))
}

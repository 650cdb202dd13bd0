//! The sync jobs for one profile: refresh its calendar list, and bring one calendar's cached
//! events up to date with the service (providers.md §6, §7).
//!
//! A calendar sync holds the calendar's lease (one sync per calendar at a time), asks the
//! provider for the changes since the stored cursor, and falls back to a mark-and-sweep resync of
//! the window when there is no cursor or the service no longer accepts it: everything in the
//! window is upserted (the content hash makes unchanged events no-ops) and only cached events the
//! listing did not contain are tombstoned; the cache is never wiped. Each resource is expanded
//! into one cached event per occurrence, keyed by the occurrence's stable instance id.
//!
//! Before anything else, a sync honours the calendar's backoff, then reads the collection's change
//! marker (CalDAV `getctag`) in one request: when it equals the one stored with the cursor the
//! calendar is unchanged and the sync ends there, writing nothing, not even `last_success_at`.
//! The marker is read before the changes or the listing, so anything changed meanwhile shows up
//! as a different marker next time.
//!
//! The cursor is written after the events it covers. A crash in between leaves the old cursor,
//! so the next sync fetches the same changes again and re-applies them, which is idempotent.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::caldav::CalDavProvider;
use super::provider::{CalendarProvider, ProviderError, RemoteResource};
use super::window::{SyncWindow, sync_window};
use crate::adapters::QueueName;
use crate::config::Mode;
use crate::domain::{
    AttendeeStatus, Calendar, CalendarId, EventKind, EventTime, Profile, ProfileId, ProfileStatus, ProviderName,
};
use crate::ical::{Occurrence, Series, expand};
use crate::jobs::{JobError, JobOutcome, SyncJob};
use crate::providers::caldav::Policy;
use crate::state::AppState;
use crate::store::{EventUpsert, StoreError};

/// How long a calendar sync may hold the calendar before another worker may take over.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// Wait before retrying after a transient failure when the service named no delay.
const DEFAULT_RETRY: Duration = Duration::from_secs(60);
/// Wait before trying again after a permanent failure.
const PERMANENT_BACKOFF: chrono::Duration = chrono::Duration::hours(1);

/// What the engine keeps in `sync_states.cursor`: the provider's cursor and which iCalendar UID
/// each resource held, so that a deleted resource's events can be found again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorState {
    pub token: String,
    /// Resource id (href) → iCalendar UID.
    pub resources: BTreeMap<String, String>,
    /// The calendar's change marker read before this cursor was taken; absent in cursors written
    /// before markers were kept, and for services without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctag: Option<String>,
}

impl CursorState {
    /// The stored cursor, `None` when absent or not in this form (which forces a full resync).
    pub fn decode(stored: Option<&str>) -> Option<Self> {
        stored.and_then(|text| serde_json::from_str(text).ok())
    }
}

/// Counts of one calendar sync, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Events created or updated.
    pub changed: usize,
    /// Events tombstoned.
    pub deleted: usize,
    /// Resources that could not be read.
    pub skipped: usize,
    /// Whether the window was listed from scratch.
    pub full_resync: bool,
    /// Whether the change marker showed nothing changed, so nothing was fetched or written.
    pub unchanged: bool,
    /// Requests sent to the service.
    pub requests: u64,
}

/// What went wrong inside a sync.
#[derive(Debug)]
enum Failure {
    Provider(ProviderError),
    Store(StoreError),
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        Failure::Provider(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// Whether the engine has an adapter for this provider.
pub fn handles(provider: ProviderName) -> bool {
    matches!(provider, ProviderName::Apple | ProviderName::CalDav)
}

/// Builds the adapter for a profile from its server URL and sealed credentials.
async fn connect(state: &AppState, profile: &Profile) -> Result<CalDavProvider, Failure> {
    let Some(server_url) = profile.server_url.as_deref() else {
        return Err(ProviderError::Permanent("the profile has no server URL".into()).into());
    };
    let Some(sealed) = state.store.get_credentials(&profile.id).await? else {
        return Err(ProviderError::CredentialsDead.into());
    };
    let credentials = state
        .vault
        .open(&profile.id, &sealed)
        .map_err(|_| ProviderError::Permanent("the profile's credentials cannot be opened".into()))?;
    let default_tz = profile.tzid.as_deref().and_then(|z| z.parse::<Tz>().ok()).unwrap_or(Tz::UTC);
    // Plain HTTP servers are only reachable in the local single-process mode.
    let policy = Policy { allow_http: state.config.mode == Mode::Local };
    Ok(CalDavProvider::new(server_url, &credentials, policy, default_tz)?)
}

/// Turns a failure into the job's result; `calendar` is where a failure is recorded.
async fn conclude(
    state: &AppState,
    profile: &Profile,
    calendar: Option<&Calendar>,
    failure: Failure,
) -> Result<JobOutcome, JobError> {
    let now = state.clock.now();
    let error = match failure {
        Failure::Store(e) => return Err(e.into()),
        Failure::Provider(e) => e,
    };
    let record = |code: &'static str, until: DateTime<Utc>| async move {
        if let Some(calendar) = calendar {
            state.store.record_sync_failure(&calendar.id, &calendar.account_id, code, until, now).await?;
        }
        Ok::<(), StoreError>(())
    };
    match error {
        ProviderError::CredentialsDead => {
            tracing::warn!(profile_id = %profile.id, "the provider refused the credentials; profile disconnected");
            state.store.set_profile_status(&profile.id, ProfileStatus::Disconnected, now).await?;
            record("credentials_dead", now).await?;
            Ok(JobOutcome::Skipped("the provider refused the credentials; the profile is disconnected"))
        }
        ProviderError::Transient { retry_after, reason } => {
            let wait = chrono::Duration::from_std(retry_after.unwrap_or(DEFAULT_RETRY)).unwrap_or(LEASE);
            record("provider_unavailable", now + wait).await?;
            Err(JobError::Retryable(anyhow::anyhow!("transient provider failure: {reason}")))
        }
        ProviderError::SyncTokenInvalid | ProviderError::Conflict | ProviderError::Permanent(_) => {
            tracing::warn!(profile_id = %profile.id, %error, "sync failed permanently");
            record("provider_error", now + PERMANENT_BACKOFF).await?;
            Ok(JobOutcome::Skipped("the provider failed permanently; recorded"))
        }
    }
}

/// Refreshes a profile's calendars: new ones are added, changed ones updated, ones gone from the
/// service marked deleted, and a `SyncCalendar` job is queued for each live one.
#[tracing::instrument(skip_all, fields(profile_id = %profile_id))]
pub async fn sync_calendar_list(state: &AppState, profile_id: &ProfileId) -> Result<JobOutcome, JobError> {
    let Some(profile) = state.store.get_profile(profile_id).await? else {
        return Ok(JobOutcome::Skipped("profile no longer exists"));
    };
    if profile.status == ProfileStatus::Disconnected {
        return Ok(JobOutcome::Skipped("the profile is disconnected"));
    }
    let remote = match connect(state, &profile).await {
        Ok(provider) => provider.list_calendars().await.map_err(Failure::from),
        Err(failure) => Err(failure),
    };
    let remote = match remote {
        Ok(remote) => remote,
        Err(failure) => return conclude(state, &profile, None, failure).await,
    };
    let now = state.clock.now();
    let known: Vec<Calendar> = state
        .store
        .list_calendars(&profile.account_id)
        .await?
        .into_iter()
        .filter(|c| c.profile_id == profile.id)
        .collect();
    let mut seen = HashSet::new();
    for calendar in remote {
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
        let job = serde_json::to_string(&SyncJob::SyncCalendar { calendar_id: stored.id })
            .map_err(|e| JobError::Retryable(e.into()))?;
        state.queue.send(QueueName::Sync, job, None).await.map_err(|e| JobError::Retryable(e.into()))?;
    }
    for gone in known.into_iter().filter(|c| !c.deleted && !seen.contains(&c.provider_calendar_id)) {
        state.store.upsert_calendar(&Calendar { deleted: true, updated_at: now, ..gone }).await?;
    }
    Ok(JobOutcome::Done)
}

/// Brings one calendar's cached events up to date with the service.
pub async fn sync_calendar(state: &AppState, calendar_id: &CalendarId) -> Result<JobOutcome, JobError> {
    sync_calendar_reporting(state, calendar_id).await.map(|(outcome, _)| outcome)
}

/// [`sync_calendar`], also returning what the sync did (all zero when it did not reach the service).
#[tracing::instrument(skip_all, fields(calendar_id = %calendar_id))]
pub async fn sync_calendar_reporting(
    state: &AppState,
    calendar_id: &CalendarId,
) -> Result<(JobOutcome, SyncReport), JobError> {
    let skipped = |reason| Ok((JobOutcome::Skipped(reason), SyncReport::default()));
    let Some(calendar) = state.store.get_calendar(calendar_id).await? else {
        return skipped("calendar no longer exists");
    };
    if calendar.deleted {
        return skipped("the calendar was deleted at the provider");
    }
    let Some(profile) = state.store.get_profile(&calendar.profile_id).await? else {
        return skipped("profile no longer exists");
    };
    if profile.status == ProfileStatus::Disconnected {
        return skipped("the profile is disconnected");
    }
    let now = state.clock.now();
    let sync_state = state.store.get_sync_state(&calendar.id).await?;
    if sync_state.as_ref().and_then(|s| s.backoff_until).is_some_and(|until| until > now) {
        return skipped("backing off");
    }
    let provider = match connect(state, &profile).await {
        Ok(provider) => provider,
        Err(failure) => {
            let outcome = conclude(state, &profile, Some(&calendar), failure).await?;
            return Ok((outcome, SyncReport::default()));
        }
    };
    let sent = |report: SyncReport| SyncReport { requests: provider.requests_sent(), ..report };

    let marker = match provider.change_marker(&calendar.provider_calendar_id).await {
        Ok(marker) => marker,
        Err(e) => {
            let outcome = conclude(state, &profile, Some(&calendar), e.into()).await?;
            return Ok((outcome, sent(SyncReport::default())));
        }
    };
    // After a recorded failure the sync goes ahead, so that success clears the error.
    let stored = sync_state.filter(|s| s.last_error.is_none()).and_then(|s| CursorState::decode(s.cursor.as_deref()));
    if let (Some(marker), Some(cursor)) = (marker.as_deref(), stored)
        && cursor.ctag.as_deref() == Some(marker)
    {
        tracing::debug!("calendar unchanged");
        return Ok((JobOutcome::Done, sent(SyncReport { unchanged: true, ..SyncReport::default() })));
    }

    let owner = format!("sync-{:032x}", rand::random::<u128>());
    if !state.store.claim_sync_lease(&calendar.id, &calendar.account_id, &owner, now + LEASE, now).await? {
        // Another worker is syncing it; redelivery later picks up anything that one missed.
        return Err(JobError::Retryable(anyhow::anyhow!("another sync of this calendar is running")));
    }
    let result = run(state, &provider, &calendar, &profile, marker).await;
    state.store.release_sync_lease(&calendar.id, &owner).await?;
    match result {
        Ok(report) => {
            let report = sent(report);
            tracing::info!(
                changed = report.changed,
                deleted = report.deleted,
                skipped = report.skipped,
                full_resync = report.full_resync,
                requests = report.requests,
                "calendar synced"
            );
            Ok((JobOutcome::Done, report))
        }
        Err(failure) => {
            let outcome = conclude(state, &profile, Some(&calendar), failure).await?;
            Ok((outcome, sent(SyncReport::default())))
        }
    }
}

/// The sync proper, under the lease.
async fn run(
    state: &AppState,
    provider: &dyn CalendarProvider,
    calendar: &Calendar,
    profile: &Profile,
    marker: Option<String>,
) -> Result<SyncReport, Failure> {
    let now = state.clock.now();
    let window = sync_window(&state.store, &calendar.account_id, now).await?;
    let stored = state.store.get_sync_state(&calendar.id).await?.and_then(|s| s.cursor);
    let writer = Writer { state, calendar, profile, window, now };
    let mut report = SyncReport::default();

    let incremental = match CursorState::decode(stored.as_deref()) {
        Some(cursor) => match provider.changes_since(&calendar.provider_calendar_id, &cursor.token).await {
            Ok(changes) if !changes.full_resync_required => Some((cursor, changes)),
            Ok(_) | Err(ProviderError::SyncTokenInvalid) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };

    let next = match incremental {
        Some((mut cursor, changes)) => {
            report.skipped = changes.skipped;
            for resource in &changes.changed {
                if let Some(previous) = cursor.resources.get(&resource.remote_id)
                    && *previous != resource.series.uid
                {
                    report.deleted += writer.tombstone_series(previous, &HashSet::new(), None).await?;
                }
                writer.apply(resource, &mut report).await?;
                cursor.resources.insert(resource.remote_id.clone(), resource.series.uid.clone());
            }
            for href in &changes.deleted {
                if let Some(uid) = cursor.resources.remove(href) {
                    report.deleted += writer.tombstone_series(&uid, &HashSet::new(), None).await?;
                }
            }
            match changes.cursor {
                Some(token) => Some(CursorState { token, resources: cursor.resources, ctag: marker }),
                None => None,
            }
        }
        None => {
            report.full_resync = true;
            // Taken before listing, so changes made during the listing are seen next time.
            let token = provider.current_cursor(&calendar.provider_calendar_id).await?;
            let listing = provider.list_range(&calendar.provider_calendar_id, window.start, window.end).await?;
            report.skipped = listing.skipped;
            let mut seen = HashSet::new();
            let mut resources = BTreeMap::new();
            for resource in &listing.resources {
                seen.extend(writer.apply(resource, &mut report).await?);
                resources.insert(resource.remote_id.clone(), resource.series.uid.clone());
            }
            for (uid, provider_id) in
                state.store.live_provider_events_in_range(&calendar.id, window.start, window.end).await?
            {
                if !seen.contains(&provider_id) && state.store.mark_event_deleted(&uid, now).await? {
                    report.deleted += 1;
                }
            }
            token.map(|token| CursorState { token, resources, ctag: marker })
        }
    };

    let encoded = match next {
        Some(cursor) => Some(serde_json::to_string(&cursor).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        None => None,
    };
    state.store.record_sync_success(&calendar.id, &calendar.account_id, encoded.as_deref(), now).await?;
    Ok(report)
}

/// Writes resources of one calendar into the cache.
struct Writer<'a> {
    state: &'a AppState,
    calendar: &'a Calendar,
    profile: &'a Profile,
    window: SyncWindow,
    now: DateTime<Utc>,
}

impl Writer<'_> {
    /// Upserts the resource's occurrences in the window and tombstones the series' cached
    /// instances it no longer yields (an added EXDATE, a cancelled or moved-away instance).
    /// Returns the occurrence ids written.
    async fn apply(&self, resource: &RemoteResource, report: &mut SyncReport) -> Result<HashSet<String>, StoreError> {
        let series = &resource.series;
        let expansion = expand(series, self.window.start, self.window.end);
        if expansion.truncated {
            tracing::warn!("a recurring series has more instances than are cached; the rest were left out");
        }
        let mut written = HashSet::new();
        for occurrence in &expansion.occurrences {
            let event = self.upsert_for(series, resource.etag.as_deref(), occurrence);
            if self.state.store.upsert_event(&event, self.now).await?.is_change() {
                report.changed += 1;
            }
            written.insert(occurrence.id.clone());
        }
        // Only within the window: instances that merely aged out of it are not deletions.
        let window = Some((self.window.start, self.window.end));
        report.deleted += self.tombstone_series(&series.uid, &written, window).await?;
        Ok(written)
    }

    /// Tombstones the cached events of iCalendar UID `uid` whose instance id is not in `keep`
    /// (those overlapping `overlapping` only, when given).
    async fn tombstone_series(
        &self,
        uid: &str,
        keep: &HashSet<String>,
        overlapping: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<usize, StoreError> {
        let mut count = 0;
        let live = self.state.store.live_provider_events_of_series(&self.calendar.id, uid, overlapping).await?;
        for (event, provider_id) in live {
            if !keep.contains(&provider_id) && self.state.store.mark_event_deleted(&event, self.now).await? {
                count += 1;
            }
        }
        Ok(count)
    }

    fn upsert_for(&self, series: &Series, etag: Option<&str>, occurrence: &Occurrence<'_>) -> EventUpsert {
        let event = occurrence.event;
        let recurring = occurrence.original_start.is_some();
        let own_email = self.profile.email.to_ascii_lowercase();
        let participation_status = event
            .attendees
            .iter()
            .find(|a| a.email.to_ascii_lowercase() == own_email)
            .map_or(AttendeeStatus::Unknown, |a| a.status);
        EventUpsert {
            calendar_id: self.calendar.id.clone(),
            profile_id: self.calendar.profile_id.clone(),
            account_id: self.calendar.account_id.clone(),
            kind: EventKind::ThirdParty,
            application_id: None,
            event_id: None,
            provider_id: Some(occurrence.id.clone()),
            ical_uid: Some(series.uid.clone()),
            etag: etag.map(str::to_owned),
            summary: event.summary.clone(),
            description: event.description.clone(),
            start: occurrence.start.clone(),
            end: occurrence.end.clone(),
            // Every instance of a series (overrides included) carries the series' rule.
            recurrence_rule: if recurring { series.master.as_ref().and_then(|m| m.rrule.clone()) } else { None },
            series_id: recurring.then(|| series.uid.clone()),
            original_start: occurrence.original_start.as_ref().map(EventTime::sort_key),
            location: event.location.clone(),
            attendees: event.attendees.clone(),
            organizer: event.organizer.clone(),
            categories: event.categories.clone(),
            color: event.color.clone(),
            url: event.url.clone(),
            reminders: event.reminders.clone(),
            event_private: event.private,
            participation_status,
            transparency: event.transparency,
            status: event.status,
            deleted: false,
            provider_created_at: event.created,
            provider_updated_at: event.last_modified,
        }
    }
}

//! Bringing one calendar's cached events up to date with the service (providers.md §1, §6, §7),
//! for two jobs: the sync proper, and the daily window advance.
//!
//! A sync holds the calendar's lease (one sync per calendar at a time) and asks the provider for
//! the changes since the stored cursor. With no cursor, or one the service no longer accepts, it
//! resyncs the window by mark-and-sweep: everything in the window is upserted (the content hash
//! makes unchanged events no-ops) and only cached events the listing did not contain are
//! tombstoned; the cache is never wiped. Before anything else a sync honours the calendar's
//! backoff, then reads the collection's change marker (CalDAV `getctag`) in one request: when it
//! equals the one stored with the cursor the calendar is unchanged and the sync ends there,
//! writing nothing. The marker is read before the changes, so anything changed meanwhile shows up
//! as a different marker next time.
//!
//! No change feed is bounded to a moving window, so the window advance lists what the window
//! gained since it was last filled (the days newly inside the horizon, or more past when an
//! application's window grew) and marks the events that fell out of it with the time they left,
//! from which retention counts. It skips the marker: events that exist unedited beyond the old
//! horizon change no marker.
//!
//! Whatever a job writes (events, tombstones, left-window marks) is committed in one transaction
//! with the cursor that covers it, so the cursor never runs ahead of the events. Then the
//! account's channels that care are sent one `change` notification each, and when the profile's
//! last calendar completes its first sync, a `profile_initial_sync_completed`.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::connect::{Failure, conclude, connect};
use super::fairness::{self, Admission};
use super::plan::Plan;
use super::provider::{CalendarProvider, ProviderError, RemoteResource};
use super::window::{SyncWindow, sync_window};
use crate::domain::{Calendar, CalendarId, Profile, ProfileStatus};
use crate::jobs::{JobError, JobOutcome, SyncJob};
use crate::notify;
use crate::state::AppState;
use crate::store::StoreError;

/// How long a calendar sync may hold the calendar before another worker may take over.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// What the engine keeps in `sync_states.cursor`: the provider's cursor, which iCalendar UID
/// each resource held (so that a deleted resource's events can be found again), the change
/// marker and the window the cache was last filled for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CursorState {
    pub token: String,
    /// Resource id (href) → iCalendar UID.
    pub resources: BTreeMap<String, String>,
    /// The calendar's change marker read before this cursor was taken; absent in cursors written
    /// before markers were kept, and for services without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctag: Option<String>,
    /// The window the cache holds everything of; absent in cursors written before windows were
    /// kept, which the next window advance fills by a full resync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<SyncWindow>,
}

impl CursorState {
    /// The stored cursor, `None` when absent or not in this form (which forces a full resync).
    pub fn decode(stored: Option<&str>) -> Option<Self> {
        stored.and_then(|text| serde_json::from_str(text).ok())
    }
}

/// Counts of one calendar job, for logs and tests.
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

/// Which job is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sync,
    AdvanceWindow,
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
    drive(state, calendar_id, Mode::Sync).await
}

/// Moves one calendar's cache to the window of today: lists what newly entered it and marks what
/// left it.
pub async fn advance_window(state: &AppState, calendar_id: &CalendarId) -> Result<JobOutcome, JobError> {
    advance_window_reporting(state, calendar_id).await.map(|(outcome, _)| outcome)
}

/// [`advance_window`], also returning what it did.
#[tracing::instrument(skip_all, fields(calendar_id = %calendar_id))]
pub async fn advance_window_reporting(
    state: &AppState,
    calendar_id: &CalendarId,
) -> Result<(JobOutcome, SyncReport), JobError> {
    drive(state, calendar_id, Mode::AdvanceWindow).await
}

/// The checks, connection, change marker and lease around [`run`].
async fn drive(state: &AppState, calendar_id: &CalendarId, mode: Mode) -> Result<(JobOutcome, SyncReport), JobError> {
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
    let job = match mode {
        Mode::Sync => SyncJob::SyncCalendar { calendar_id: calendar.id.clone() },
        Mode::AdvanceWindow => SyncJob::AdvanceWindow { calendar_id: calendar.id.clone() },
    };
    let pass = match fairness::admit(state, &profile).await? {
        Admission::Free => None,
        Admission::Admitted(pass) => Some(pass),
        Admission::Wait(delay) => {
            fairness::requeue(state, &job, delay).await?;
            return skipped("waiting for room at the calendar server; queued again");
        }
    };
    let result = drive_admitted(state, &calendar, &profile, sync_state, mode).await;
    if let Some(pass) = pass {
        fairness::release(state, pass, result.as_ref().map_or(0, |(_, report)| report.requests)).await?;
    }
    result
}

/// [`drive`] once the calendar's server has room for the job.
async fn drive_admitted(
    state: &AppState,
    calendar: &Calendar,
    profile: &Profile,
    sync_state: Option<crate::domain::SyncState>,
    mode: Mode,
) -> Result<(JobOutcome, SyncReport), JobError> {
    let now = state.clock.now();
    let failures = sync_state.as_ref().map_or(0, |s| u32::try_from(s.error_count).unwrap_or(0));
    let failed = |failure| conclude(state, profile, Some((calendar, failures)), failure);
    let provider = match connect(state, profile).await {
        Ok(provider) => provider,
        Err(failure) => return Ok((failed(failure).await?, SyncReport::default())),
    };
    let sent = |report: SyncReport| SyncReport { requests: provider.requests_sent(), ..report };

    let marker = match mode {
        Mode::AdvanceWindow => None,
        Mode::Sync => match provider.change_marker(&calendar.provider_calendar_id).await {
            Ok(marker) => marker,
            Err(e) => return Ok((failed(e.into()).await?, sent(SyncReport::default()))),
        },
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
    let result = run(state, provider.as_ref(), calendar, profile, marker, mode).await;
    state.store.release_sync_lease(&calendar.id, &owner).await?;
    match result {
        Ok(report) => {
            let report = sent(report);
            tracing::info!(
                job = ?mode,
                changed = report.changed,
                deleted = report.deleted,
                skipped = report.skipped,
                full_resync = report.full_resync,
                requests = report.requests,
                "calendar synced"
            );
            Ok((JobOutcome::Done, report))
        }
        Err(failure) => Ok((failed(failure).await?, sent(SyncReport::default()))),
    }
}

/// The job proper, under the lease: plan the writes, then commit them with the next cursor.
async fn run(
    state: &AppState,
    provider: &dyn CalendarProvider,
    calendar: &Calendar,
    profile: &Profile,
    marker: Option<String>,
    mode: Mode,
) -> Result<SyncReport, Failure> {
    let now = state.clock.now();
    let window = sync_window(&state.store, &calendar.account_id, now).await?;
    // Read once, under the lease: the cursor to continue from, and whether this is the first success.
    let sync_state = state.store.get_sync_state(&calendar.id).await?;
    let first_success = sync_state.as_ref().and_then(|s| s.last_success_at).is_none();
    let stored = CursorState::decode(sync_state.and_then(|s| s.cursor).as_deref());
    let mut plan = Plan::new(state, calendar, profile, window).await?;
    let mut report = SyncReport::default();
    let remote = calendar.provider_calendar_id.as_str();

    let next = match (mode, stored) {
        (Mode::AdvanceWindow, Some(cursor)) if cursor.window.is_some() => {
            Some(advance(provider, remote, &mut plan, cursor).await?)
        }
        (Mode::Sync, Some(cursor)) => match provider.changes_since(remote, &cursor.token, plan.window).await {
            Ok(changes) if !changes.full_resync_required => {
                plan.skipped += changes.skipped;
                let mut resources = cursor.resources;
                for resource in &changes.changed {
                    if let Some(previous) = resources.get(&resource.remote_id)
                        && *previous != resource.series.uid
                    {
                        plan.remove(previous).await?;
                    }
                    plan.apply(resource).await?;
                    resources.insert(resource.remote_id.clone(), resource.series.uid.clone());
                }
                for href in &changes.deleted {
                    if let Some(uid) = resources.remove(href) {
                        plan.remove(&uid).await?;
                    }
                }
                changes.cursor.map(|token| CursorState { token, resources, ctag: marker, window: cursor.window })
            }
            Ok(_) | Err(ProviderError::SyncTokenInvalid) => {
                full(provider, remote, &mut plan, marker, &mut report).await?
            }
            Err(e) => return Err(e.into()),
        },
        _ => full(provider, remote, &mut plan, marker, &mut report).await?,
    };

    // Full listings and advances settle which events are outside the window; incremental syncs
    // leave that to the daily advance.
    let settles_window = report.full_resync || mode == Mode::AdvanceWindow;
    let skipped = plan.skipped;
    let commit = plan.finish(settles_window.then_some(window.start));
    let encoded = match next {
        Some(cursor) => Some(serde_json::to_string(&cursor).map_err(|e| StoreError::Corrupt(e.to_string()))?),
        None => None,
    };
    let committed =
        state.store.commit_sync(&calendar.id, &calendar.account_id, &commit, encoded.as_deref(), now).await?;

    // Tell the channels. The sync is committed whatever happens here: a notification that could
    // not be queued is logged, and push is a hint applications also poll behind.
    let changed = notify::Changed {
        third_party: committed.changed + committed.deleted > committed.partner_removed,
        managed_by: if committed.partner_removed > 0 {
            std::mem::take(&mut plan.managed_by)
        } else {
            Default::default()
        },
        written_by: None,
    };
    let calendars = std::slice::from_ref(&calendar.id);
    if let Err(e) = notify::changes(state, &calendar.account_id, calendars, &changed, now).await {
        tracing::error!(error.message = %e, error.cause_chain = ?e, "change notifications could not be queued");
    }
    if first_success && state.store.profile_initially_synced(&profile.id).await? {
        let kind = notify::Kind::ProfileInitialSyncCompleted;
        if let Err(e) = notify::account_event(state, &calendar.account_id, kind).await {
            tracing::error!(error.message = %e, error.cause_chain = ?e, "initial sync notifications could not be queued");
        }
    }
    // Push for the next change, where the service has it.
    super::watch::ensure(state, provider, calendar).await;
    Ok(SyncReport { changed: committed.changed, deleted: committed.deleted, skipped, ..report })
}

/// Mark-and-sweep over the whole window. The cursor is taken before listing, so changes made
/// during the listing are seen by the next incremental sync.
async fn full(
    provider: &dyn CalendarProvider,
    remote: &str,
    plan: &mut Plan<'_>,
    marker: Option<String>,
    report: &mut SyncReport,
) -> Result<Option<CursorState>, Failure> {
    report.full_resync = true;
    let window = plan.window;
    let token = provider.current_cursor(remote, window).await?;
    let listing = provider.list_range(remote, window.start, window.end).await?;
    plan.skipped += listing.skipped;
    let (seen, resources) = apply_all(plan, &listing.resources).await?;
    plan.sweep(&seen).await?;
    Ok(token.map(|token| CursorState { token, resources, ctag: marker, window: Some(window) }))
}

/// Lists the parts of the window the cache was not filled for and records the window as filled.
/// The token and change marker stay: the advance has not read the changes they stand for.
async fn advance(
    provider: &dyn CalendarProvider,
    remote: &str,
    plan: &mut Plan<'_>,
    cursor: CursorState,
) -> Result<CursorState, Failure> {
    let window = plan.window;
    let filled = cursor.window.unwrap_or(window);
    let mut gained = Vec::new();
    if window.end > filled.end {
        gained.push((filled.end.max(window.start), window.end));
    }
    if window.start < filled.start {
        gained.push((window.start, filled.start.min(window.end)));
    }
    let mut resources = cursor.resources;
    for (start, end) in gained.into_iter().filter(|(start, end)| start < end) {
        let listing = provider.list_range(remote, start, end).await?;
        plan.skipped += listing.skipped;
        resources.extend(apply_all(plan, &listing.resources).await?.1);
    }
    Ok(CursorState { resources, window: Some(window), ..cursor })
}

/// Plans every resource; returns the occurrence ids planned and each resource's UID by id.
async fn apply_all(
    plan: &mut Plan<'_>,
    listed: &[RemoteResource],
) -> Result<(HashSet<String>, BTreeMap<String, String>), StoreError> {
    let mut seen = HashSet::new();
    let mut resources = BTreeMap::new();
    for resource in listed {
        seen.extend(plan.apply(resource).await?);
        resources.insert(resource.remote_id.clone(), resource.series.uid.clone());
    }
    Ok((seen, resources))
}

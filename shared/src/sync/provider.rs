//! The contract between the sync engine and one calendar service: refresh the credentials, list
//! a profile's calendars, report what changed in one since a cursor, list everything in a time
//! range for window fills and mark-and-sweep resyncs, and write or delete a resource under a
//! version condition. Adapters hand back parsed iCalendar series; the engine filters them to the
//! window, expands, diffs and stores them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

use super::window::SyncWindow;
use crate::crypto::Credentials;
use crate::ical::{Component, Series, parse_resource};

/// A calendar as the service describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCalendar {
    /// The service's id for it (the collection href for CalDAV); the store's `provider_calendar_id`.
    pub remote_id: String,
    pub name: String,
    pub color: Option<String>,
    pub read_only: bool,
    pub is_primary: bool,
    /// The calendar's change marker as the listing reported it (CalDAV `getctag`), when it did:
    /// a calendar whose marker equals the one its last sync stored needs no sync.
    pub change_marker: Option<String>,
}

/// An account's calendars, and where they were found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarListing {
    pub calendars: Vec<RemoteCalendar>,
    /// What to hand back next time so the work is not repeated: where the calendars are listed
    /// (CalDAV's calendar home set), or the list's sync token (Google's calendarList).
    pub home: Option<String>,
    /// Whether `calendars` holds only the calendars changed since `home` was handed out (the
    /// others are as they were), rather than all of them.
    pub partial: bool,
    /// In a partial listing, the ids of calendars removed from the account's list.
    pub removed: Vec<String>,
}

/// One event resource: every component of one series, with the version the service gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteResource {
    /// The service's id for the resource (the member href for CalDAV).
    pub remote_id: String,
    pub etag: Option<String>,
    pub series: Series,
    /// For a service that hands out expanded instances (Graph), the id of the series the
    /// instance belongs to; a partner event written as a series is recognised by it.
    pub master_id: Option<String>,
}

/// What changed in a calendar since a cursor.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChangeSet {
    /// Resources created or modified (those that could not be read are left out and counted).
    pub changed: Vec<RemoteResource>,
    /// Ids of resources removed.
    pub deleted: Vec<String>,
    /// Where the next call should start; store it only once these changes are applied.
    pub cursor: Option<String>,
    /// The service cannot say what changed: list the window again and sweep.
    pub full_resync_required: bool,
    /// Resources that changed but could not be read (their reasons were logged).
    pub skipped: usize,
}

/// Resources of a range, and how many could not be read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeListing {
    pub resources: Vec<RemoteResource>,
    pub skipped: usize,
}

/// Where a write left the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub remote_id: String,
    /// The new version, when the service reported one.
    pub etag: Option<String>,
}

/// A push channel the service opened for a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The service's id for the watched resource (needed to stop the channel).
    pub resource_id: String,
    pub expires_at: DateTime<Utc>,
}

/// Why a provider call failed, classified for the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying later (throttling, 5xx, network).
    #[error("transient provider failure ({reason})")]
    Transient { retry_after: Option<Duration>, reason: String },
    /// The credentials were refused: the profile must be reconnected by its owner.
    #[error("the provider refused the credentials")]
    CredentialsDead,
    /// A conditional write failed: the resource changed (or already exists) at the service.
    #[error("the resource changed at the provider")]
    Conflict,
    /// The cursor is no longer accepted: resync the window from scratch.
    #[error("the provider no longer accepts the sync cursor")]
    SyncTokenInvalid,
    /// Retrying will not help; the reason names the problem, never event content.
    #[error("permanent provider failure: {0}")]
    Permanent(String),
}

/// One calendar service account, ready to be read.
#[async_trait]
pub trait CalendarProvider: Send + Sync {
    /// Renews short-lived credentials before a sync (an OAuth access token near expiry); returns
    /// the credentials to store when the service issued new ones (a rotated refresh token), and
    /// `None` when there is nothing to renew, as for passwords.
    async fn refresh_credentials(&self) -> Result<Option<Credentials>, ProviderError>;

    /// The account's event calendars, looked for at `known_home` (from an earlier listing) when
    /// given, and discovered afresh when that is absent or no longer works; a service with a
    /// change feed for its calendar list answers with only what changed since (`partial`).
    async fn list_calendars(&self, known_home: Option<&str>) -> Result<CalendarListing, ProviderError>;

    /// A marker that changes whenever anything in the calendar changes (CalDAV's `getctag`), read
    /// in one request so an unchanged calendar costs nothing more; `None` when the service has
    /// none, which turns the short-circuit off.
    async fn change_marker(&self, calendar: &str) -> Result<Option<String>, ProviderError>;

    /// How many requests this adapter has sent to the service, for sync reports.
    fn requests_sent(&self) -> u64;

    /// A cursor for the calendar's current state, taken before a full listing of `window` so
    /// that changes made while listing are picked up by the next `changes_since`. (A service
    /// whose change feed is bounded to a range of time, like Graph's, bounds it from `window`.)
    async fn current_cursor(&self, calendar: &str, window: SyncWindow) -> Result<Option<String>, ProviderError>;

    /// What changed since `cursor`; `window` is the sync window now, which a range-bounded feed
    /// that no longer covers it answers with `full_resync_required`.
    async fn changes_since(&self, calendar: &str, cursor: &str, window: SyncWindow)
    -> Result<ChangeSet, ProviderError>;

    /// The resources with an instance overlapping `[start, end)`.
    async fn list_range(
        &self,
        calendar: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<RangeListing, ProviderError>;

    /// Stores `ics` as the resource `name` of the calendar: only if none exists when
    /// `expected_etag` is `None`, else only if it still has that version (`Conflict` otherwise).
    /// `known_id` is the id an earlier write of this resource returned, for services that choose
    /// ids themselves (Graph); services that name resources after `name` ignore it.
    async fn write(
        &self,
        calendar: &str,
        name: &str,
        known_id: Option<&str>,
        ics: &str,
        expected_etag: Option<&str>,
    ) -> Result<Written, ProviderError>;

    /// The current version of the resource `name` (known at the service as `known_id`, when an
    /// earlier write returned one) of the calendar, `None` when there is none: what a
    /// conflicting write needs to try again.
    async fn version_of(
        &self,
        calendar: &str,
        name: &str,
        known_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError>;

    /// Deletes a resource, only if it still has `expected_etag` when one is given. A resource
    /// that is already gone counts as deleted.
    async fn delete(&self, remote_id: &str, expected_etag: Option<&str>) -> Result<(), ProviderError>;

    /// Where under calsync's public URL the service delivers push notifications, when it can
    /// push changes (`watch`); without it the engine neither opens channels nor looks for them.
    fn push_path(&self) -> Option<&'static str> {
        None
    }

    /// Asks the service to call `address` (calsync's URL of `push_path`) when the calendar
    /// changes, naming the channel `channel_id` and echoing `token`; `None` when the service has
    /// no push (CalDAV), which leaves the calendar to the periodic poll.
    async fn watch(
        &self,
        _calendar: &str,
        _address: &str,
        _channel_id: &str,
        _token: &str,
    ) -> Result<Option<Watch>, ProviderError> {
        Ok(None)
    }

    /// Stops a channel `watch` opened; one the service no longer knows counts as stopped.
    async fn unwatch(&self, _channel_id: &str, _resource_id: &str) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// The event a `write` was given, for services that take events rather than iCalendar text
/// (Google, Graph, EWS): the master VEVENT of `ics`, read in `default_tz`, with its UID.
pub(crate) fn event_to_write(ics: &str, default_tz: chrono_tz::Tz) -> Result<(String, Component), ProviderError> {
    let series = parse_resource(ics, default_tz)
        .map_err(|_| ProviderError::Permanent("the event to write is not valid iCalendar".into()))?;
    let master = series.master.ok_or_else(|| ProviderError::Permanent("the event to write has no master".into()))?;
    Ok((series.uid, master))
}

//! Cached events, third-party and partner.
//!
//! Writes are idempotent upserts keyed by (calendar, provider id) for events from the provider
//! and (calendar, application, event_id) for partner events. A write whose content hash matches
//! the stored one changes nothing (so a resync that finds nothing new is invisible to
//! integrators), and a provider version older than the stored one never overwrites it.

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use sqlx::types::Json;

use std::sync::OnceLock;

use super::{Store, StoreResult, dialect, with_pool};
use crate::domain::{
    AccountId, ApplicationId, Attendee, AttendeeStatus, CalendarId, Event, EventKind, EventStatus, EventTime, EventUid,
    Location, Organizer, ProfileId, Reminder, Transparency,
};

/// An event as a sync or the API wants it stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EventUpsert {
    pub calendar_id: CalendarId,
    pub profile_id: ProfileId,
    pub account_id: AccountId,
    pub kind: EventKind,
    pub application_id: Option<ApplicationId>,
    pub event_id: Option<String>,
    pub provider_id: Option<String>,
    pub ical_uid: Option<String>,
    pub etag: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub start: EventTime,
    pub end: EventTime,
    pub recurrence_rule: Option<String>,
    pub series_id: Option<String>,
    pub original_start: Option<DateTime<Utc>>,
    pub location: Option<Location>,
    pub attendees: Vec<Attendee>,
    pub organizer: Option<Organizer>,
    pub categories: Vec<String>,
    pub color: Option<String>,
    pub url: Option<String>,
    pub reminders: Vec<Reminder>,
    pub event_private: bool,
    pub participation_status: AttendeeStatus,
    pub transparency: Transparency,
    pub status: EventStatus,
    pub deleted: bool,
    pub provider_created_at: Option<DateTime<Utc>>,
    pub provider_updated_at: Option<DateTime<Utc>>,
}

impl EventUpsert {
    /// SHA-256 over every field an integrator can see; bookkeeping (etag, provider timestamps) is
    /// left out so a touched-but-unchanged event is not reported as a change.
    pub fn content_hash(&self) -> String {
        let content = serde_json::json!([
            self.summary,
            self.description,
            self.start.sort_key(),
            self.start.date(),
            self.start.tzid(),
            self.end.sort_key(),
            self.end.date(),
            self.end.tzid(),
            self.recurrence_rule,
            self.series_id,
            self.original_start,
            self.location,
            self.attendees,
            self.organizer,
            self.categories,
            self.color,
            self.url,
            self.reminders,
            self.event_private,
            self.participation_status,
            self.transparency,
            self.status,
            self.deleted,
            self.ical_uid,
        ]);
        hex::encode(Sha256::digest(content.to_string().as_bytes()))
    }
}

/// A stored event as an upsert of the same content, to change a few fields of or to emit.
impl From<&Event> for EventUpsert {
    fn from(event: &Event) -> Self {
        EventUpsert {
            calendar_id: event.calendar_id.clone(),
            profile_id: event.profile_id.clone(),
            account_id: event.account_id.clone(),
            kind: event.kind,
            application_id: event.application_id.clone(),
            event_id: event.event_id.clone(),
            provider_id: event.provider_id.clone(),
            ical_uid: event.ical_uid.clone(),
            etag: event.etag.clone(),
            summary: event.summary.clone(),
            description: event.description.clone(),
            start: event.start.clone(),
            end: event.end.clone(),
            recurrence_rule: event.recurrence_rule.clone(),
            series_id: event.series_id.clone(),
            original_start: event.original_start,
            location: event.location.clone(),
            attendees: event.attendees.clone(),
            organizer: event.organizer.clone(),
            categories: event.categories.clone(),
            color: event.color.clone(),
            url: event.url.clone(),
            reminders: event.reminders.clone(),
            event_private: event.event_private,
            participation_status: event.participation_status,
            transparency: event.transparency,
            status: event.status,
            deleted: event.deleted,
            provider_created_at: event.provider_created_at,
            provider_updated_at: event.provider_updated_at,
        }
    }
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpsertOutcome {
    Created(EventUid),
    Updated(EventUid),
    /// Same content as stored: nothing written, no change recorded.
    Unchanged(EventUid),
    /// Older than the stored version: ignored.
    Stale(EventUid),
}

impl UpsertOutcome {
    pub fn uid(&self) -> &EventUid {
        match self {
            UpsertOutcome::Created(u)
            | UpsertOutcome::Updated(u)
            | UpsertOutcome::Unchanged(u)
            | UpsertOutcome::Stale(u) => u,
        }
    }

    /// Whether integrators will see this as a change.
    pub fn is_change(&self) -> bool {
        matches!(self, UpsertOutcome::Created(_) | UpsertOutcome::Updated(_))
    }
}

/// Tombstones a live event: `$1` uid, `$2` true, `$3` now, `$4` false.
// language=SQL
pub(super) const MARK_DELETED: &str =
    "UPDATE events SET deleted = $2, updated_at = $3, last_modified = $3 WHERE uid = $1 AND deleted = $4";

/// Marks a calendar's events that ended by the window's start as having left it: `$1` calendar,
/// `$2` window start, `$3` now. The first time counts: retention runs from it.
// language=SQL
pub(super) const MARK_LEFT_WINDOW: &str =
    "UPDATE events SET left_window_at = $3 WHERE calendar_id = $1 AND end_at <= $2 AND left_window_at IS NULL";

/// An `events` row as both backends decode it (shared with the API read queries).
#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    pub(super) uid: EventUid,
    calendar_id: CalendarId,
    profile_id: ProfileId,
    account_id: AccountId,
    kind: EventKind,
    application_id: Option<ApplicationId>,
    event_id: Option<String>,
    provider_id: Option<String>,
    ical_uid: Option<String>,
    etag: Option<String>,
    content_hash: String,
    summary: Option<String>,
    description: Option<String>,
    pub(super) start_at: DateTime<Utc>,
    start_date: Option<NaiveDate>,
    start_tzid: Option<String>,
    end_at: DateTime<Utc>,
    end_date: Option<NaiveDate>,
    end_tzid: Option<String>,
    recurrence_rule: Option<String>,
    series_id: Option<String>,
    original_start: Option<DateTime<Utc>>,
    location: Option<Json<Location>>,
    attendees: Json<Vec<Attendee>>,
    organizer: Option<Json<Organizer>>,
    categories: Json<Vec<String>>,
    color: Option<String>,
    url: Option<String>,
    reminders: Json<Vec<Reminder>>,
    event_private: bool,
    participation_status: AttendeeStatus,
    transparency: Transparency,
    status: EventStatus,
    deleted: bool,
    provider_created_at: Option<DateTime<Utc>>,
    provider_updated_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_modified: DateTime<Utc>,
    left_window_at: Option<DateTime<Utc>>,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            start: EventTime::from_columns(r.start_at, r.start_date, r.start_tzid.as_deref()),
            end: EventTime::from_columns(r.end_at, r.end_date, r.end_tzid.as_deref()),
            uid: r.uid,
            calendar_id: r.calendar_id,
            profile_id: r.profile_id,
            account_id: r.account_id,
            kind: r.kind,
            application_id: r.application_id,
            event_id: r.event_id,
            provider_id: r.provider_id,
            ical_uid: r.ical_uid,
            etag: r.etag,
            content_hash: r.content_hash,
            summary: r.summary,
            description: r.description,
            recurrence_rule: r.recurrence_rule,
            series_id: r.series_id,
            original_start: r.original_start,
            location: r.location.map(|j| j.0),
            attendees: r.attendees.0,
            organizer: r.organizer.map(|j| j.0),
            categories: r.categories.0,
            color: r.color,
            url: r.url,
            reminders: r.reminders.0,
            event_private: r.event_private,
            participation_status: r.participation_status,
            transparency: r.transparency,
            status: r.status,
            deleted: r.deleted,
            provider_created_at: r.provider_created_at,
            provider_updated_at: r.provider_updated_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_modified: r.last_modified,
            left_window_at: r.left_window_at,
        }
    }
}

/// Every column of `events`, in `EventRow` order.
pub(super) const EVENT_COLUMNS: &str = "uid, calendar_id, profile_id, account_id, kind, application_id, event_id, provider_id, ical_uid, etag, \
    content_hash, summary, description, start_at, start_date, start_tzid, end_at, end_date, end_tzid, recurrence_rule, \
    series_id, original_start, location, attendees, organizer, categories, color, url, reminders, event_private, \
    participation_status, transparency, status, deleted, provider_created_at, provider_updated_at, created_at, updated_at, last_modified, left_window_at";

/// The columns an upsert writes, in bind order after `uid`.
const WRITE_COLUMNS: &str = "calendar_id, profile_id, account_id, kind, application_id, event_id, provider_id, ical_uid, etag, \
    content_hash, summary, description, start_at, start_date, start_tzid, end_at, end_date, end_tzid, all_day, recurrence_rule, \
    series_id, original_start, location, attendees, organizer, categories, color, url, reminders, event_private, \
    participation_status, transparency, status, deleted, provider_created_at, provider_updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct Existing {
    pub(super) uid: EventUid,
    pub(super) content_hash: String,
    pub(super) provider_updated_at: Option<DateTime<Utc>>,
}

/// Binds the upsert's fields in `WRITE_COLUMNS` order onto a query of either backend.
macro_rules! bind_write {
    ($query:expr, $e:expr, $hash:expr) => {
        $query
            .bind(&$e.calendar_id)
            .bind(&$e.profile_id)
            .bind(&$e.account_id)
            .bind($e.kind)
            .bind(&$e.application_id)
            .bind(&$e.event_id)
            .bind(&$e.provider_id)
            .bind(&$e.ical_uid)
            .bind(&$e.etag)
            .bind($hash)
            .bind(&$e.summary)
            .bind(&$e.description)
            .bind($e.start.sort_key())
            .bind($e.start.date())
            .bind($e.start.tzid())
            .bind($e.end.sort_key())
            .bind($e.end.date())
            .bind($e.end.tzid())
            .bind($e.start.is_all_day())
            .bind(&$e.recurrence_rule)
            .bind(&$e.series_id)
            .bind($e.original_start)
            .bind($e.location.as_ref().map(sqlx::types::Json))
            .bind(sqlx::types::Json(&$e.attendees))
            .bind($e.organizer.as_ref().map(sqlx::types::Json))
            .bind(sqlx::types::Json(&$e.categories))
            .bind(&$e.color)
            .bind(&$e.url)
            .bind(sqlx::types::Json(&$e.reminders))
            .bind($e.event_private)
            .bind($e.participation_status)
            .bind($e.transparency)
            .bind($e.status)
            .bind($e.deleted)
            .bind($e.provider_created_at)
            .bind($e.provider_updated_at)
    };
}
pub(super) use bind_write;

/// The SQL of an upsert for one dialect, built once.
pub(super) struct UpsertSql {
    pub(super) by_provider_id: String,
    pub(super) by_event_id: String,
    pub(super) insert: String,
    pub(super) update: String,
}

impl UpsertSql {
    fn build(lock: &str) -> Self {
        let placeholders: Vec<String> = (2..=37).map(|i| format!("${i}")).collect();
        let assignments: Vec<String> =
            WRITE_COLUMNS.split(", ").enumerate().map(|(i, col)| format!("{} = ${}", col.trim(), i + 2)).collect();
        UpsertSql {
            by_provider_id: format!(
                "SELECT uid, content_hash, provider_updated_at FROM events WHERE calendar_id = $1 AND provider_id = $2{lock}"
            ),
            by_event_id: format!(
                "SELECT uid, content_hash, provider_updated_at FROM events \
                 WHERE calendar_id = $1 AND application_id = $3 AND event_id = $2{lock}"
            ),
            insert: format!(
                "INSERT INTO events (uid, {WRITE_COLUMNS}, created_at, updated_at, last_modified) \
                 VALUES ($1, {}, $38, $38, $38)",
                placeholders.join(", ")
            ),
            update: format!(
                "UPDATE events SET {}, updated_at = $38, last_modified = $38 WHERE uid = $1",
                assignments.join(", ")
            ),
        }
    }

    /// The statements for the store's dialect.
    pub(super) fn of(store: &Store) -> &'static UpsertSql {
        static PG: OnceLock<UpsertSql> = OnceLock::new();
        static SQLITE: OnceLock<UpsertSql> = OnceLock::new();
        dialect!(store, pg: PG.get_or_init(|| UpsertSql::build(" FOR UPDATE")), sqlite: SQLITE.get_or_init(|| UpsertSql::build("")))
    }
}

/// Upserts `$event` (an `&EventUpsert`) within the open transaction `$tx` with the statements
/// `$sql` (an `&UpsertSql`); evaluates to `StoreResult<UpsertOutcome>`. A macro so the same body
/// serves both backends' transaction types.
macro_rules! upsert_within {
    ($tx:expr, $sql:expr, $event:expr, $now:expr) => {{
        let sql: &$crate::store::events::UpsertSql = $sql;
        let event: &$crate::store::EventUpsert = $event;
        let hash = event.content_hash();
        // Third-party events are keyed by the provider's id, partner events by the application's.
        let by_provider_id = event.kind == $crate::domain::EventKind::ThirdParty;
        let (find, key) = match by_provider_id {
            true => (&sql.by_provider_id, &event.provider_id),
            false => (&sql.by_event_id, &event.event_id),
        };
        let find = sqlx::query_as(find).bind(&event.calendar_id).bind(key);
        let find = if by_provider_id { find } else { find.bind(&event.application_id) };
        let existing: Option<$crate::store::events::Existing> = find.fetch_optional(&mut *$tx).await?;
        let outcome = match existing {
            None => {
                let uid = $crate::domain::EventUid::generate();
                $crate::store::events::bind_write!(sqlx::query(&sql.insert).bind(&uid), event, &hash)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
                $crate::store::UpsertOutcome::Created(uid)
            }
            Some(old)
                if matches!(
                    (old.provider_updated_at, event.provider_updated_at),
                    (Some(stored), Some(new)) if new < stored
                ) =>
            {
                $crate::store::UpsertOutcome::Stale(old.uid)
            }
            Some(old) if old.content_hash == hash => $crate::store::UpsertOutcome::Unchanged(old.uid),
            Some(old) => {
                $crate::store::events::bind_write!(sqlx::query(&sql.update).bind(&old.uid), event, &hash)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
                $crate::store::UpsertOutcome::Updated(old.uid)
            }
        };
        Ok::<_, $crate::store::StoreError>(outcome)
    }};
}
pub(super) use upsert_within;

impl Store {
    /// Stores an event from a sync or the API; see the module doc for the rules.
    #[tracing::instrument(skip_all, fields(calendar_id = %event.calendar_id))]
    pub async fn upsert_event(&self, event: &EventUpsert, now: DateTime<Utc>) -> StoreResult<UpsertOutcome> {
        let sql = UpsertSql::of(self);
        let outcome = with_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let outcome = upsert_within!(tx, sql, event, now)?;
            tx.commit().await?;
            outcome
        });
        Ok(outcome)
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_event(&self, uid: &EventUid) -> StoreResult<Option<Event>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE uid = $1");
        let row: Option<EventRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(uid).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// A partner event by the creating application's own `event_id`.
    #[tracing::instrument(skip_all)]
    pub async fn find_partner_event(
        &self,
        calendar: &CalendarId,
        application: &ApplicationId,
        event_id: &str,
    ) -> StoreResult<Option<Event>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE calendar_id = $1 AND application_id = $2 AND event_id = $3"
        );
        let row: Option<EventRow> = with_pool!(self, pool => sqlx::query_as(&sql).bind(calendar).bind(application).bind(event_id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// Events of `calendars` changed after `since` (deleted ones included), oldest change first,
    /// at most `limit`: what `/v1/events?last_modified=` and push notifications read.
    #[tracing::instrument(skip_all)]
    pub async fn list_events_changed_since(
        &self,
        calendars: &[CalendarId],
        since: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Event>> {
        let mut events = Vec::new();
        for calendar in calendars {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE calendar_id = $1 AND last_modified > $2 ORDER BY last_modified, uid LIMIT $3"
            );
            let rows: Vec<EventRow> = with_pool!(self, pool => sqlx::query_as(&sql).bind(calendar).bind(since).bind(limit).fetch_all(pool).await?);
            events.extend(rows.into_iter().map(Event::from));
        }
        events.sort_by(|a, b| (a.last_modified, &a.uid).cmp(&(b.last_modified, &b.uid)));
        events.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(events)
    }

    /// Marks an event deleted (kept as a tombstone so readers of changes see the deletion).
    #[tracing::instrument(skip_all)]
    pub async fn mark_event_deleted(&self, uid: &EventUid, now: DateTime<Utc>) -> StoreResult<bool> {
        let n = with_pool!(self, pool => sqlx::query(MARK_DELETED).bind(uid).bind(true).bind(now).bind(false).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Records that a calendar's events ending before `window_start` have left the sync window;
    /// the first time counts, later calls keep it. Returns how many were newly marked.
    #[tracing::instrument(skip_all)]
    pub async fn mark_events_left_window(
        &self,
        calendar: &CalendarId,
        window_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let n = with_pool!(self, pool => sqlx::query(MARK_LEFT_WINDOW).bind(calendar).bind(window_start).bind(now).execute(pool).await?.rows_affected());
        Ok(n)
    }
}

//! Free/busy: when a calendar is taken, and nothing else; and the selection that free/busy and
//! event reads share (account, calendars, window, managed events).
//!
//! An authorization that holds only `read_free_busy` must never see what an event is about, so
//! the free/busy projection is its own type with no room for a summary, a description, people or
//! a place: code that holds a `FreeBusyBlock` cannot leak them, however it serializes it.

use chrono::{DateTime, Utc};

use super::{AccountId, ApplicationId, AttendeeStatus, CalendarId, EventStatus, EventTime, EventUid, Transparency};

/// How a period looks to someone who may only see availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FreeBusyStatus {
    Busy,
    Tentative,
    Free,
}

impl FreeBusyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FreeBusyStatus::Busy => "busy",
            FreeBusyStatus::Tentative => "tentative",
            FreeBusyStatus::Free => "free",
        }
    }

    /// Maps an event's blocking fields to a status; `None` for a cancelled event, which takes no
    /// time at all.
    ///
    /// - transparent events, and events the calendar owner declined, leave the time free;
    /// - tentative events, and invitations the owner accepted only tentatively or has not answered
    ///   yet (`needs_action`), are tentative (Cronofy: "has yet to accept or decline");
    /// - everything else is busy, including an unknown transparency: when in doubt, the time is
    ///   taken (a scheduler that double-books is worse than one that skips a slot).
    pub fn of(transparency: Transparency, status: EventStatus, participation: AttendeeStatus) -> Option<Self> {
        if status == EventStatus::Cancelled {
            return None;
        }
        if transparency == Transparency::Transparent || participation == AttendeeStatus::Declined {
            return Some(FreeBusyStatus::Free);
        }
        let unanswered = matches!(participation, AttendeeStatus::Tentative | AttendeeStatus::NeedsAction);
        if status == EventStatus::Tentative || unanswered {
            return Some(FreeBusyStatus::Tentative);
        }
        Some(FreeBusyStatus::Busy)
    }
}

impl std::fmt::Display for FreeBusyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One period of one calendar, as free/busy readers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyBlock {
    pub calendar_id: CalendarId,
    pub start: EventTime,
    pub end: EventTime,
    pub status: FreeBusyStatus,
}

/// How an application's own (managed) events take part in a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManagedEvents {
    Exclude,
    Include,
    Only,
}

/// The time window of a read: events that start before `to` (exclusive) and end on or after
/// `from`. Timed events compare as instants. All-day events are floating dates (stored as
/// midnight UTC of the date), so they compare with the window's bounds read as wall-clock times
/// of the reader's zone and written as UTC (`floating_*`): an all-day event then covers exactly
/// its local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub floating_from: DateTime<Utc>,
    pub floating_to: DateTime<Utc>,
}

/// Where the previous page of a read ended: its last row in (start, uid) order. The next page
/// starts strictly after it, so walking pages costs each page's own rows (keyset pagination).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageCursor {
    pub start_at: DateTime<Utc>,
    pub uid: EventUid,
}

/// Which cached events a read selects (before projecting them to events or free/busy blocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSelection {
    /// Always the reader's own account: nothing else scopes a read.
    pub account_id: AccountId,
    /// The reading application: its partner events are the "managed" ones.
    pub application_id: ApplicationId,
    /// Restricts to these calendars; empty means every calendar of the account.
    pub calendar_ids: Vec<CalendarId>,
    pub window: ReadWindow,
    pub managed: ManagedEvents,
    /// Managed events regardless of the window (Cronofy: when neither `from` nor `to` is given).
    pub managed_ignore_window: bool,
    /// Deleted events too (event reads only; free/busy never shows them).
    pub include_deleted: bool,
    /// Also events that have left the sync window (`left_window_at` set), wherever they are now:
    /// the cache does not record moves, and an event that left the window is the one a reader
    /// asking for "events that ever were in the window" can be missing (event reads only).
    pub include_moved: bool,
    /// Only events changed at or after this time (event reads only).
    pub last_modified: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_transparency_event_status_and_the_owners_answer() {
        use AttendeeStatus as A;
        use EventStatus as S;
        use Transparency as T;
        let of = FreeBusyStatus::of;
        assert_eq!(of(T::Opaque, S::Confirmed, A::Accepted), Some(FreeBusyStatus::Busy));
        assert_eq!(of(T::Opaque, S::Confirmed, A::Unknown), Some(FreeBusyStatus::Busy));
        assert_eq!(of(T::Unknown, S::Confirmed, A::Unknown), Some(FreeBusyStatus::Busy));
        assert_eq!(of(T::Opaque, S::Tentative, A::Accepted), Some(FreeBusyStatus::Tentative));
        assert_eq!(of(T::Opaque, S::Confirmed, A::NeedsAction), Some(FreeBusyStatus::Tentative));
        assert_eq!(of(T::Opaque, S::Confirmed, A::Tentative), Some(FreeBusyStatus::Tentative));
        assert_eq!(of(T::Transparent, S::Confirmed, A::Accepted), Some(FreeBusyStatus::Free));
        assert_eq!(of(T::Opaque, S::Confirmed, A::Declined), Some(FreeBusyStatus::Free));
        assert_eq!(of(T::Opaque, S::Cancelled, A::Accepted), None);
    }
}

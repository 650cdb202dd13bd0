//! The normalized shape of one iCalendar series, as the sync engine consumes it.

use std::collections::BTreeMap;

use calcard::icalendar::ICalendarRecurrenceRule;
use chrono::{DateTime, Utc};

use crate::domain::{Attendee, EventStatus, EventTime, Location, Organizer, Reminder, Transparency};

/// All VEVENTs of one UID: the master (absent when a server only shared some instances with us)
/// and the overrides, keyed by the instant of the instance they replace (their RECURRENCE-ID;
/// an all-day RECURRENCE-ID counts from its midnight UTC, like [`EventTime::sort_key`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub uid: String,
    pub master: Option<Component>,
    pub overrides: BTreeMap<DateTime<Utc>, Component>,
    /// Things that were read leniently (unknown zones, dropped values): worth a log line, not a failure.
    pub warnings: Vec<Warning>,
}

/// One VEVENT, with its times resolved to instants and its recurrence kept for expansion.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub uid: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<Location>,
    pub attendees: Vec<Attendee>,
    pub organizer: Option<Organizer>,
    pub categories: Vec<String>,
    pub color: Option<String>,
    pub url: Option<String>,
    pub transparency: Transparency,
    pub status: EventStatus,
    /// CLASS:PRIVATE or CLASS:CONFIDENTIAL.
    pub private: bool,
    /// VALARMs with a relative trigger before the start.
    pub reminders: Vec<Reminder>,
    pub created: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    pub sequence: i64,
    pub start: EventTime,
    pub end: EventTime,
    /// The start had neither a TZID nor a `Z`: it was read in the caller's default zone.
    pub floating: bool,
    /// Set on overrides: the original start of the instance this component replaces.
    pub recurrence_id: Option<EventTime>,
    /// The RRULE as written (without the `RRULE:` name), for the store's `recurrence_rule`.
    pub rrule: Option<String>,
    pub rdates: Vec<EventTime>,
    pub exdates: Vec<EventTime>,
    pub(crate) rule: Option<ICalendarRecurrenceRule>,
}

impl Component {
    pub fn is_recurring(&self) -> bool {
        self.rule.is_some() || !self.rdates.is_empty()
    }

    pub fn is_cancelled(&self) -> bool {
        self.status == EventStatus::Cancelled
    }
}

/// Something read leniently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A TZID that names no known zone; times using it were read with `fallback`
    /// (the VTIMEZONE's standard offset as an `Etc/GMT±N` zone when it had one, else UTC).
    UnknownTimeZone { tzid: String, fallback: &'static str },
    /// A VEVENT that could not be used (for example an override without a start).
    SkippedComponent { reason: &'static str },
    /// A `RECURRENCE-ID;RANGE=THISANDFUTURE` override was applied to its own instance only.
    ThisAndFutureIgnored,
}

//! iCalendar (RFC 5545) for the CalDAV and ICS-feed providers: parse one resource into a
//! normalized [`Series`] (master + overrides sharing a UID), expand it into the concrete
//! occurrences of a window, and emit partner events back as VCALENDAR text.
//!
//! Parsing, RRULE iteration and time zone detection (IANA names, Windows names, `X-LIC-LOCATION`
//! and Outlook's CDO ids) come from `calcard`; everything leaves this module as chrono/chrono-tz
//! values and domain types, so the sync engine never sees calcard's types.

mod emit;
mod expand;
mod model;
mod parse;
mod zones;

pub use emit::{Scheduling, to_ics, to_invitation};
pub(crate) use emit::{escape, person_line, push_line};
pub use expand::{Expansion, MAX_OCCURRENCES, Occurrence, expand};
pub use model::{Component, Series, Warning};
pub use parse::{Limits, parse_feed, parse_resource};
pub use zones::{iana_zone, localize, windows_zone};

/// Why a resource could not be read. Messages name the problem, never the event content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcalError {
    #[error("the resource is {size} bytes, more than the {limit} allowed")]
    TooLarge { size: usize, limit: usize },
    #[error("the resource holds more than {limit} components")]
    TooManyComponents { limit: usize },
    #[error("the resource is not an iCalendar object: {reason}")]
    Malformed { reason: String },
    #[error("the resource holds no VEVENT")]
    NoEvents,
    #[error("a VEVENT has no UID")]
    MissingUid,
    #[error("a VEVENT has no usable DTSTART")]
    MissingStart,
    #[error("a CalDAV resource must hold one UID, this one holds {count}")]
    SeveralUids { count: usize },
}

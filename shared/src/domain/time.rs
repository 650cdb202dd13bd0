//! Event start and end: an instant (kept in UTC with the zone it was written in) or, for all-day
//! events, a date. All-day ends are exclusive, as in iCalendar.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// When an event starts or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTime {
    /// A moment in time, and the IANA zone the provider gave for it (if any).
    Instant { at: DateTime<Utc>, tzid: Option<Tz> },
    /// A calendar date with no time of day (all-day events).
    Date(NaiveDate),
}

/// A time zone name that is not in the bundled IANA database.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a known IANA time zone")]
pub struct UnknownTimeZone(pub String);

/// Parses an IANA zone name against the compiled-in database (Lambda images have no zoneinfo).
pub fn parse_tz(name: &str) -> Result<Tz, UnknownTimeZone> {
    name.parse::<Tz>().map_err(|_| UnknownTimeZone(name.chars().take(64).collect()))
}

impl EventTime {
    /// The instant used to place the value on the timeline: a date counts from its midnight UTC,
    /// which is how windows and range queries compare all-day events.
    pub fn sort_key(&self) -> DateTime<Utc> {
        match self {
            EventTime::Instant { at, .. } => *at,
            EventTime::Date(date) => date.and_time(NaiveTime::MIN).and_utc(),
        }
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self, EventTime::Date(_))
    }

    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            EventTime::Date(d) => Some(*d),
            EventTime::Instant { .. } => None,
        }
    }

    pub fn tzid(&self) -> Option<&'static str> {
        match self {
            EventTime::Instant { tzid: Some(tz), .. } => Some(tz.name()),
            _ => None,
        }
    }

    /// Rebuilds the value from its stored columns.
    pub fn from_columns(at: DateTime<Utc>, date: Option<NaiveDate>, tzid: Option<&str>) -> Self {
        match date {
            Some(d) => EventTime::Date(d),
            // A zone that no longer parses (renamed in a tzdb update) still leaves a valid instant.
            None => EventTime::Instant { at, tzid: tzid.and_then(|t| parse_tz(t).ok()) },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_come_from_the_bundled_database() {
        assert_eq!(parse_tz("Europe/London").unwrap().name(), "Europe/London");
        assert!(parse_tz("Mars/Olympus_Mons").is_err());
    }

    #[test]
    fn a_date_sorts_from_its_midnight_utc_and_round_trips_through_columns() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let t = EventTime::Date(d);
        assert_eq!(t.sort_key().to_rfc3339(), "2026-03-29T00:00:00+00:00");
        assert_eq!(EventTime::from_columns(t.sort_key(), t.date(), None), t);
        let i = EventTime::Instant { at: t.sort_key(), tzid: Some(chrono_tz::Europe::Paris) };
        assert_eq!(EventTime::from_columns(i.sort_key(), None, i.tzid()), i);
    }
}

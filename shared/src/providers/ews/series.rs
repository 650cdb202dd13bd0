//! EWS items as the sync engine reads them: a single item, or a recurring master with its
//! modified occurrences (exceptions), written out as one iCalendar resource and read by the same
//! parser as CalDAV data, so recurrence, exceptions, time zones and cancelled instances follow
//! one code path whatever the provider (as Google's adapter does).
//!
//! EWS gives instants in UTC and the item's zone as a Windows name (`StartTimeZoneId`), mapped
//! to IANA: timed events are written in their zone's local time, so a weekly series keeps its
//! wall-clock time across DST changes; a zone that cannot be mapped leaves them in UTC. All-day
//! events start and end at midnight in their zone and are read as dates. The master's pattern
//! and range become an RRULE (`UNTIL` is the end of the range's last day in the zone, in UTC),
//! its deleted occurrences EXDATEs, and each exception an override keyed by its original start
//! (`RecurrenceId`).

use chrono::{DateTime, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

use super::items::{CalendarItem, ItemType, Pattern, RangeEnd, Recurrence};
use crate::ical::{Series, escape, iana_zone, localize, parse_resource, person_line, push_line};

/// Why a series could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error("the item has no `{0}`")]
    Missing(&'static str),
    #[error("the series could not be read: {0}")]
    Unreadable(String),
}

/// Reads an item (a single item, or a master with `exceptions`, its modified occurrences) as the
/// engine's model. `default_tz` places all-day events whose zone is unknown.
pub fn read_series(item: &CalendarItem, exceptions: &[CalendarItem], default_tz: Tz) -> Result<Series, SeriesError> {
    let ics = to_ics(item, exceptions, default_tz)?;
    parse_resource(&ics, default_tz).map_err(|e| SeriesError::Unreadable(e.to_string()))
}

/// How an item's times are written.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// The item's zone, when EWS named one that maps to IANA.
    zone: Option<Tz>,
    all_day: bool,
    /// Where an all-day item's midnights are read when its zone is unknown.
    date_zone: Tz,
}

impl Clock {
    fn of(item: &CalendarItem, default_tz: Tz) -> Self {
        let zone = item.start_zone.as_deref().and_then(iana_zone);
        Clock { zone, all_day: item.all_day, date_zone: zone.unwrap_or(default_tz) }
    }

    /// The day an all-day boundary stands for: the midnight nearest to it in the zone, so a zone
    /// guessed a few hours wrong still lands on the right day.
    fn day(&self, at: DateTime<Utc>) -> NaiveDate {
        (at.with_timezone(&self.date_zone).naive_local() + Duration::hours(12)).date()
    }

    /// A `DTSTART`-style property.
    fn line(&self, name: &str, at: DateTime<Utc>) -> String {
        if self.all_day {
            return format!("{name};VALUE=DATE:{}\r\n", self.day(at).format("%Y%m%d"));
        }
        match self.zone {
            Some(zone) => {
                format!("{name};TZID={}:{}\r\n", zone.name(), at.with_timezone(&zone).format("%Y%m%dT%H%M%S"))
            }
            None => format!("{name}:{}\r\n", at.format("%Y%m%dT%H%M%SZ")),
        }
    }
}

/// The series as an iCalendar resource.
pub fn to_ics(item: &CalendarItem, exceptions: &[CalendarItem], default_tz: Tz) -> Result<String, SeriesError> {
    let uid =
        item.uid.clone().or_else(|| item.id.as_ref().map(|id| id.id.clone())).ok_or(SeriesError::Missing("UID"))?;
    let clock = Clock::of(item, default_tz);
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync//Exchange//EN\r\n");
    write_vevent(&mut out, &uid, item, clock, None)?;
    if item.item_type() == ItemType::RecurringMaster && item.recurrence.is_some() {
        for exception in exceptions {
            // The original start: the exception's own RecurrenceId, else the master's record.
            let original = exception.recurrence_id.or_else(|| {
                let id = exception.id.as_ref()?;
                item.modified_occurrences.iter().find(|o| o.id.id == id.id)?.original_start
            });
            let Some(original) = original else { continue };
            // Written in the master's zone: the instants are the same whatever zone shows them.
            let own = Clock { all_day: exception.all_day, ..clock };
            write_vevent(&mut out, &uid, exception, own, Some((original, clock)))?;
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    Ok(out)
}

fn write_vevent(
    out: &mut String,
    uid: &str,
    item: &CalendarItem,
    clock: Clock,
    original: Option<(DateTime<Utc>, Clock)>,
) -> Result<(), SeriesError> {
    out.push_str("BEGIN:VEVENT\r\n");
    push_line(out, "UID", &escape(uid));
    if let Some((at, master_clock)) = original {
        out.push_str(&master_clock.line("RECURRENCE-ID", at));
    }
    let start = item.start.ok_or(SeriesError::Missing("Start"))?;
    out.push_str(&clock.line("DTSTART", start));
    if let Some(end) = item.end.filter(|end| *end > start) {
        out.push_str(&clock.line("DTEND", end));
    } else if clock.all_day {
        out.push_str(&clock.line("DTEND", start + Duration::days(1)));
    }
    if original.is_none()
        && let Some(recurrence) = item.recurrence.as_ref().filter(|_| item.item_type() == ItemType::RecurringMaster)
    {
        push_line(out, "RRULE", &rrule(recurrence, clock));
        for deleted in &item.deleted_occurrences {
            if clock.all_day {
                out.push_str(&format!("EXDATE;VALUE=DATE:{}\r\n", clock.day(*deleted).format("%Y%m%d")));
            } else {
                out.push_str(&format!("EXDATE:{}\r\n", deleted.format("%Y%m%dT%H%M%SZ")));
            }
        }
    }
    push_line(out, "STATUS", if item.cancelled { "CANCELLED" } else { "CONFIRMED" });
    for (value, name) in [(&item.subject, "SUMMARY"), (&item.body, "DESCRIPTION"), (&item.location, "LOCATION")] {
        if let Some(text) = value.as_deref().filter(|t| !t.is_empty()) {
            push_line(out, name, &escape(text));
        }
    }
    if matches!(item.free_busy.as_deref(), Some("Free" | "WorkingElsewhere")) {
        push_line(out, "TRANSP", "TRANSPARENT");
    }
    if matches!(item.sensitivity.as_deref(), Some("Private" | "Confidential")) {
        push_line(out, "CLASS", "PRIVATE");
    }
    for (at, name) in [(item.created, "CREATED"), (item.last_modified, "LAST-MODIFIED")] {
        if let Some(at) = at {
            push_line(out, name, &at.format("%Y%m%dT%H%M%SZ").to_string());
        }
    }
    if let Some(organizer) = &item.organizer {
        out.push_str(&person_line("ORGANIZER", &organizer.email, organizer.name.as_deref(), ""));
    }
    for attendee in &item.attendees {
        let partstat = match attendee.response.as_deref() {
            Some("Accept" | "Organizer") => "ACCEPTED",
            Some("Decline") => "DECLINED",
            Some("Tentative") => "TENTATIVE",
            _ => "NEEDS-ACTION",
        };
        let role = if attendee.optional { "OPT-PARTICIPANT" } else { "REQ-PARTICIPANT" };
        let params = format!(";ROLE={role};PARTSTAT={partstat}");
        out.push_str(&person_line("ATTENDEE", &attendee.person.email, attendee.person.name.as_deref(), &params));
    }
    out.push_str("END:VEVENT\r\n");
    Ok(())
}

/// The RFC 5545 two-letter code of a weekday.
pub(crate) fn day_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn day_list(days: &[Weekday]) -> String {
    days.iter().map(|d| day_code(*d)).collect::<Vec<_>>().join(",")
}

/// `BYDAY=2TU` for one weekday, `BYDAY=MO,…;BYSETPOS=2` for a group of them.
fn relative(days: &[Weekday], position: i8) -> String {
    match days {
        [one] => format!("BYDAY={position}{}", day_code(*one)),
        many => format!("BYDAY={};BYSETPOS={position}", day_list(many)),
    }
}

/// The RRULE (without its name) for a recurrence of a series whose times `clock` writes.
fn rrule(recurrence: &Recurrence, clock: Clock) -> String {
    let with_interval = |freq: &str, interval: u32| {
        if interval > 1 { format!("FREQ={freq};INTERVAL={interval}") } else { format!("FREQ={freq}") }
    };
    let mut rule = match &recurrence.pattern {
        Pattern::Daily { interval } => with_interval("DAILY", *interval),
        Pattern::Weekly { interval, days } => {
            format!("{};BYDAY={}", with_interval("WEEKLY", *interval), day_list(days))
        }
        Pattern::AbsoluteMonthly { interval, day } => {
            format!("{};BYMONTHDAY={day}", with_interval("MONTHLY", *interval))
        }
        Pattern::RelativeMonthly { interval, days, index } => {
            format!("{};{}", with_interval("MONTHLY", *interval), relative(days, index.position()))
        }
        Pattern::AbsoluteYearly { day, month } => format!("FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={day}"),
        Pattern::RelativeYearly { days, index, month } => {
            format!("FREQ=YEARLY;BYMONTH={month};{}", relative(days, index.position()))
        }
    };
    match recurrence.end {
        RangeEnd::Never => {}
        RangeEnd::Count(count) => rule.push_str(&format!(";COUNT={count}")),
        RangeEnd::EndDate(last) if clock.all_day => rule.push_str(&format!(";UNTIL={}", last.format("%Y%m%d"))),
        RangeEnd::EndDate(last) => {
            // Occurrences may start until the end of the last day, in the series' zone.
            let end_of_day = last.and_hms_opt(23, 59, 59).unwrap_or_default();
            let until = match clock.zone {
                Some(zone) => localize(end_of_day, zone),
                None => end_of_day.and_utc(),
            };
            rule.push_str(&format!(";UNTIL={}", until.format("%Y%m%dT%H%M%SZ")));
        }
    }
    rule
}

//! Expands a [`Series`] into the occurrences that overlap a window: RRULE (via calcard's
//! iterator, on the wall clock of the event's zone), RDATE, EXDATE, overrides and cancellations.
//!
//! Recurrence is computed on floating wall-clock times and only then placed in the zone, so a
//! 09:00 Europe/London meeting stays 09:00 across DST, a time in a DST gap moves forward and a
//! time in an overlap takes its first occurrence (see `zones::localize`). calcard's iterator
//! cannot seek, so iteration starts at DTSTART; it stops at the window end (UNTIL is clamped to
//! it) and after `MAX_SCANNED` instances, which bounds the work for masters years in the past.

use std::collections::HashSet;

use calcard::common::PartialDateTime;
use calcard::common::timezone::Tz as CalTz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty, ICalendarRecurrenceRule,
    ICalendarValue,
};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;

use super::model::{Component, Series};
use super::zones::localize;
use crate::domain::EventTime;

/// Most occurrences one series may yield in one window; more sets [`Expansion::truncated`].
pub const MAX_OCCURRENCES: usize = 10_000;
/// Most rule instances generated from DTSTART to the window end for one series.
const MAX_SCANNED: usize = 500_000;

/// One concrete event in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence<'a> {
    /// Stable identity: the UID for a non-recurring event, else `{uid}/{original start}` with
    /// the original start as `YYYY-MM-DD` (all-day) or UTC `YYYY-MM-DDTHH:MM:SSZ`.
    pub id: String,
    /// The start this instance has in the recurrence set (its RECURRENCE-ID); None when not recurring.
    pub original_start: Option<EventTime>,
    pub start: EventTime,
    pub end: EventTime,
    /// The component whose fields this instance carries: the master, or the override.
    pub event: &'a Component,
    pub is_override: bool,
}

/// The occurrences of one series in a window, ordered by start then id.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion<'a> {
    pub occurrences: Vec<Occurrence<'a>>,
    /// The series had more instances than the caps allow; the list is incomplete.
    pub truncated: bool,
}

/// Occurrences of `series` overlapping `[window_start, window_end)`. All-day events are placed
/// from their midnight UTC, like the store's range queries. Floating times were already read in
/// the default zone given to the parser.
pub fn expand(series: &Series, window_start: DateTime<Utc>, window_end: DateTime<Utc>) -> Expansion<'_> {
    let mut out = Expansion { occurrences: Vec::new(), truncated: false };
    if let Some(master) = &series.master {
        expand_master(series, master, window_start, window_end, &mut out);
    }
    for (key, event) in &series.overrides {
        if event.is_cancelled() || !overlaps(&event.start, &event.end, window_start, window_end) {
            continue;
        }
        let original = event.recurrence_id.clone().unwrap_or(EventTime::Instant { at: *key, tzid: None });
        out.occurrences.push(Occurrence {
            id: instance_id(&series.uid, &original),
            original_start: Some(original),
            start: event.start.clone(),
            end: event.end.clone(),
            event,
            is_override: true,
        });
    }
    out.occurrences.sort_by(|a, b| a.start.sort_key().cmp(&b.start.sort_key()).then_with(|| a.id.cmp(&b.id)));
    if out.occurrences.len() > MAX_OCCURRENCES {
        out.occurrences.truncate(MAX_OCCURRENCES);
        out.truncated = true;
    }
    out
}

fn expand_master<'a>(
    series: &'a Series,
    master: &'a Component,
    window_start: DateTime<Utc>,
    window_end: DateTime<Utc>,
    out: &mut Expansion<'a>,
) {
    let replaced = |start: &EventTime| series.overrides.contains_key(&start.sort_key());
    if !master.is_recurring() {
        if !replaced(&master.start) && overlaps(&master.start, &master.end, window_start, window_end) {
            out.occurrences.push(Occurrence {
                id: series.uid.clone(),
                original_start: None,
                start: master.start.clone(),
                end: master.end.clone(),
                event: master,
                is_override: false,
            });
        }
        return;
    }

    let zone = master.start.tzid().and_then(|name| name.parse::<Tz>().ok()).unwrap_or(Tz::UTC);
    let mut starts = vec![master.start.clone()];
    if let Some(rule) = &master.rule {
        out.truncated |= rule_instances(master, rule, zone, window_end, &mut starts);
    }
    starts.extend(master.rdates.iter().filter(|r| r.is_all_day() == master.start.is_all_day()).cloned());
    starts.sort_by_key(EventTime::sort_key);
    starts.dedup_by_key(|s| s.sort_key());

    let excluded: HashSet<DateTime<Utc>> = master.exdates.iter().map(EventTime::sort_key).collect();
    // A DATE-valued EXDATE on a timed series removes that local day's instance.
    let excluded_days: HashSet<NaiveDate> = master.exdates.iter().filter_map(EventTime::date).collect();
    for start in starts {
        if start.sort_key() >= window_end {
            break;
        }
        let local_day = match &start {
            EventTime::Instant { at, .. } => at.with_timezone(&zone).date_naive(),
            EventTime::Date(date) => *date,
        };
        if excluded.contains(&start.sort_key()) || excluded_days.contains(&local_day) || replaced(&start) {
            continue;
        }
        let end = shift_end(master, &start);
        if !overlaps(&start, &end, window_start, window_end) {
            continue;
        }
        if out.occurrences.len() > MAX_OCCURRENCES {
            out.truncated = true;
            return;
        }
        out.occurrences.push(Occurrence {
            id: instance_id(&series.uid, &start),
            original_start: Some(start.clone()),
            start,
            end,
            event: master,
            is_override: false,
        });
    }
}

/// Appends the rule's instances up to the window end; returns true when the scan cap cut it short.
fn rule_instances(
    master: &Component,
    rule: &ICalendarRecurrenceRule,
    zone: Tz,
    window_end: DateTime<Utc>,
    starts: &mut Vec<EventTime>,
) -> bool {
    let local_start = wall_clock(&master.start, zone);
    // A day past the window end still covers instances a DST gap moves back into it.
    let horizon = window_end.with_timezone(&zone).naive_local() + Duration::days(1);
    let mut rule = rule.clone();
    rule.until = match (&rule.until, rule.count) {
        (_, Some(_)) => rule.until.as_ref().and_then(|u| until_local(u, zone, master.start.is_all_day())).map(floating),
        (Some(until), None) => {
            let until = until_local(until, zone, master.start.is_all_day()).unwrap_or(horizon);
            Some(floating(until.min(horizon)))
        }
        (None, None) => Some(floating(horizon)),
    };
    let limit = rule.count.map_or(MAX_SCANNED, |c| (c as usize).min(MAX_SCANNED));
    let calendar = ICalendar {
        components: vec![ICalendarComponent {
            component_type: ICalendarComponentType::VEvent,
            entries: vec![
                entry(ICalendarProperty::Dtstart, ICalendarValue::PartialDateTime(Box::new(floating(local_start)))),
                entry(ICalendarProperty::Rrule, ICalendarValue::RecurrenceRule(Box::new(rule))),
            ],
            component_ids: Vec::new(),
        }],
    };
    let expanded = calendar.expand_dates(CalTz::Floating, limit);
    let produced = expanded.events.len();
    for event in expanded.events {
        let local = event.start.naive_local();
        starts.push(match master.start {
            EventTime::Date(_) => EventTime::Date(local.date()),
            EventTime::Instant { tzid, .. } => EventTime::Instant { at: localize(local, zone), tzid },
        });
    }
    produced >= MAX_SCANNED
}

fn entry(name: ICalendarProperty, value: ICalendarValue) -> ICalendarEntry {
    ICalendarEntry { name, params: Vec::new(), values: vec![value] }
}

fn wall_clock(time: &EventTime, zone: Tz) -> NaiveDateTime {
    match time {
        EventTime::Instant { at, .. } => at.with_timezone(&zone).naive_local(),
        EventTime::Date(date) => date.and_time(NaiveTime::MIN),
    }
}

/// UNTIL on the series' wall clock: a UTC value converted to the zone, a floating value as is,
/// a date as the end of that day (inclusive).
fn until_local(until: &PartialDateTime, zone: Tz, all_day: bool) -> Option<NaiveDateTime> {
    if !until.has_time() {
        let date = NaiveDate::from_ymd_opt(i32::from(until.year?), u32::from(until.month?), u32::from(until.day?))?;
        return Some(if all_day { date.and_time(NaiveTime::MIN) } else { date.and_hms_opt(23, 59, 59)? });
    }
    let result = until.to_date_time()?;
    let local = match result.offset {
        Some(offset) => {
            let utc = (result.date_time - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc();
            utc.with_timezone(&zone).naive_local()
        }
        None => result.date_time,
    };
    // An all-day series compares days: an UNTIL during a day keeps that day's instance.
    Some(if all_day { local.date().and_time(NaiveTime::MIN) } else { local })
}

fn floating(local: NaiveDateTime) -> PartialDateTime {
    PartialDateTime {
        year: u16::try_from(local.year()).ok(),
        month: Some(local.month() as u8),
        day: Some(local.day() as u8),
        hour: Some(local.hour() as u8),
        minute: Some(local.minute() as u8),
        second: Some(local.second() as u8),
        tz_hour: None,
        tz_minute: None,
        tz_minus: false,
    }
}

/// The end of an instance: the master's length, exact for timed events, in days for all-day.
fn shift_end(master: &Component, start: &EventTime) -> EventTime {
    match (start, &master.start, &master.end) {
        (EventTime::Date(day), EventTime::Date(first), EventTime::Date(last)) => {
            EventTime::Date(day.checked_add_signed(*last - *first).unwrap_or(*day))
        }
        (EventTime::Instant { at, tzid }, first, last) => {
            let end = at.checked_add_signed(last.sort_key() - first.sort_key()).unwrap_or(*at);
            EventTime::Instant { at: end, tzid: *tzid }
        }
        (EventTime::Date(day), _, _) => EventTime::Date(day.succ_opt().unwrap_or(*day)),
    }
}

/// `[start, end)` overlaps the window; a zero-length event counts at its start.
fn overlaps(start: &EventTime, end: &EventTime, window_start: DateTime<Utc>, window_end: DateTime<Utc>) -> bool {
    let (start, end) = (start.sort_key(), end.sort_key());
    start < window_end && (end > window_start || (end == start && start >= window_start))
}

fn instance_id(uid: &str, original: &EventTime) -> String {
    match original {
        EventTime::Date(date) => format!("{uid}/{}", date.format("%Y-%m-%d")),
        EventTime::Instant { at, .. } => format!("{uid}/{}", at.format("%Y-%m-%dT%H:%M:%SZ")),
    }
}

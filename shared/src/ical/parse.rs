//! Reads VCALENDAR text into [`Series`]: one per UID, master and overrides apart, every time
//! resolved to an instant with its zone (floating times in the caller's default zone).

use std::collections::{BTreeMap, HashMap};

use calcard::Entry;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameterName, ICalendarProperty,
    ICalendarValue,
};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::IcalError;
use super::model::{Component, Series, Warning};
use super::zones::{Zones, localize};
use crate::domain::{Attendee, AttendeeStatus, EventStatus, EventTime, Location, Organizer, Reminder, Transparency};

/// Bounds on what one parse may consume, so a hostile server cannot exhaust a Lambda's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_components: usize,
}

impl Limits {
    /// One CalDAV resource: a series with its overrides.
    pub const RESOURCE: Limits = Limits { max_bytes: 2 * 1024 * 1024, max_components: 2_000 };
    /// A whole subscribed ICS feed.
    pub const FEED: Limits = Limits { max_bytes: 64 * 1024 * 1024, max_components: 250_000 };
}

/// Parses one CalDAV resource, which must hold exactly one UID (RFC 4791 §4.1).
pub fn parse_resource(text: &str, default_tz: Tz) -> Result<Series, IcalError> {
    let mut series = parse_feed(text, default_tz, Limits::RESOURCE)?;
    match series.len() {
        1 => series.pop().ok_or(IcalError::NoEvents),
        count => Err(IcalError::SeveralUids { count }),
    }
}

/// Parses any number of VCALENDARs into one series per UID, in order of first appearance.
pub fn parse_feed(text: &str, default_tz: Tz, limits: Limits) -> Result<Vec<Series>, IcalError> {
    if text.len() > limits.max_bytes {
        return Err(IcalError::TooLarge { size: text.len(), limit: limits.max_bytes });
    }
    let calendars = read_calendars(text, limits)?;
    let mut series: Vec<Series> = Vec::new();
    let mut by_uid: HashMap<String, usize> = HashMap::new();
    for calendar in &calendars {
        let zones = Zones::new(calendar);
        for component in calendar.components.iter().filter(|c| c.component_type == ICalendarComponentType::VEvent) {
            let mut warnings = Vec::new();
            let event = match read_event(calendar, component, &zones, default_tz, &mut warnings) {
                Ok(event) => event,
                // An override we cannot place is dropped; a master without a start is an error.
                Err(IcalError::MissingStart) if component.property(&ICalendarProperty::RecurrenceId).is_some() => {
                    if let Some(uid) = text_of(component, &ICalendarProperty::Uid)
                        && let Some(index) = by_uid.get(&uid)
                    {
                        series[*index].warnings.push(Warning::SkippedComponent { reason: "override without start" });
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let index = *by_uid.entry(event.uid.clone()).or_insert_with(|| {
                series.push(Series {
                    uid: event.uid.clone(),
                    master: None,
                    overrides: BTreeMap::new(),
                    warnings: Vec::new(),
                });
                series.len() - 1
            });
            let target = &mut series[index];
            target.warnings.append(&mut warnings);
            match &event.recurrence_id {
                Some(rid) => {
                    target.overrides.insert(rid.sort_key(), event);
                }
                // A second master for the same UID is malformed; the first one wins.
                None if target.master.is_some() => {
                    target.warnings.push(Warning::SkippedComponent { reason: "second master" })
                }
                None => target.master = Some(event),
            }
        }
    }
    if series.is_empty() {
        return Err(IcalError::NoEvents);
    }
    Ok(series)
}

fn read_calendars(text: &str, limits: Limits) -> Result<Vec<ICalendar>, IcalError> {
    let malformed = |reason: &str| IcalError::Malformed { reason: reason.to_string() };
    let mut parser = calcard::Parser::new(text);
    let mut calendars = Vec::new();
    let mut components = 0usize;
    loop {
        match parser.entry() {
            Entry::ICalendar(calendar) => {
                components += calendar.components.len();
                if components > limits.max_components {
                    return Err(IcalError::TooManyComponents { limit: limits.max_components });
                }
                calendars.push(calendar);
            }
            Entry::Eof => break,
            // Stray lines between objects are tolerated, as every other client does.
            Entry::InvalidLine(_) => {}
            Entry::VCard(_) => return Err(malformed("it is a vCard")),
            Entry::UnexpectedComponentEnd { .. } => return Err(malformed("a component ends out of order")),
            Entry::UnterminatedComponent(_) => return Err(malformed("a component is not closed (truncated?)")),
            Entry::TooManyComponents => return Err(IcalError::TooManyComponents { limit: limits.max_components }),
            _ => return Err(malformed("unexpected content")),
        }
    }
    if calendars.is_empty() {
        return Err(malformed("no VCALENDAR found"));
    }
    // calcard closes components left open at the end of input; a resource cut off in transit
    // would then pass as a shorter event, so the text must end where a VCALENDAR ends.
    let tail = text.trim_end();
    let ends_calendar =
        tail.len() >= 13 && tail.get(tail.len() - 13..).is_some_and(|t| t.eq_ignore_ascii_case("END:VCALENDAR"));
    if !ends_calendar {
        return Err(malformed("a component is not closed (truncated?)"));
    }
    Ok(calendars)
}

/// How one time property was written.
struct ReadTime {
    time: EventTime,
    floating: bool,
    /// The wall clock and zone, for nominal (day-based) durations.
    local: Option<(NaiveDateTime, Tz)>,
}

struct TimeContext<'a> {
    zones: &'a Zones,
    default_tz: Tz,
}

impl TimeContext<'_> {
    fn read(&self, entry: &ICalendarEntry, value: &PartialDateTime, warnings: &mut Vec<Warning>) -> Option<ReadTime> {
        if !value.has_time() {
            let date = NaiveDate::from_ymd_opt(i32::from(value.year?), u32::from(value.month?), u32::from(value.day?))?;
            return Some(ReadTime { time: EventTime::Date(date), floating: true, local: None });
        }
        let result = value.to_date_time()?;
        if let Some(offset) = result.offset {
            let at = (result.date_time - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc();
            return Some(ReadTime { time: EventTime::Instant { at, tzid: None }, floating: false, local: None });
        }
        let (tz, floating) = match entry.tz_id() {
            Some(tzid) => {
                let (tz, warning) = self.zones.resolve(tzid);
                if let Some(warning) = warning
                    && !warnings.contains(&warning)
                {
                    warnings.push(warning);
                }
                (tz, false)
            }
            None => (self.default_tz, true),
        };
        let at = localize(result.date_time, tz);
        Some(ReadTime {
            time: EventTime::Instant { at, tzid: Some(tz) },
            floating,
            local: Some((result.date_time, tz)),
        })
    }

    fn read_entry(&self, entry: &ICalendarEntry, warnings: &mut Vec<Warning>) -> Option<ReadTime> {
        match entry.values.first()? {
            ICalendarValue::PartialDateTime(value) => self.read(entry, value, warnings),
            _ => None,
        }
    }

    /// Every date of an RDATE/EXDATE line (periods count by their start).
    fn read_list(&self, entry: &ICalendarEntry, warnings: &mut Vec<Warning>, out: &mut Vec<EventTime>) {
        for value in &entry.values {
            let start = match value {
                ICalendarValue::PartialDateTime(value) => value.as_ref(),
                ICalendarValue::Period(calcard::icalendar::ICalendarPeriod::Range { start, .. })
                | ICalendarValue::Period(calcard::icalendar::ICalendarPeriod::Duration { start, .. }) => start,
                _ => continue,
            };
            if let Some(read) = self.read(entry, start, warnings) {
                out.push(read.time);
            }
        }
    }
}

fn read_event(
    calendar: &ICalendar,
    component: &ICalendarComponent,
    zones: &Zones,
    default_tz: Tz,
    warnings: &mut Vec<Warning>,
) -> Result<Component, IcalError> {
    let times = TimeContext { zones, default_tz };
    let uid = text_of(component, &ICalendarProperty::Uid).filter(|u| !u.is_empty()).ok_or(IcalError::MissingUid)?;
    let start = component
        .property(&ICalendarProperty::Dtstart)
        .and_then(|e| times.read_entry(e, warnings))
        .ok_or(IcalError::MissingStart)?;
    let end = component.property(&ICalendarProperty::Dtend).and_then(|e| times.read_entry(e, warnings));
    let duration = match component.property(&ICalendarProperty::Duration).and_then(|e| e.values.first()) {
        Some(ICalendarValue::Duration(d)) => Some(d.clone()),
        _ => None,
    };
    let end = resolve_end(&start, end.map(|e| e.time), duration.as_ref());

    let mut event = Component {
        uid,
        summary: text_of(component, &ICalendarProperty::Summary),
        description: text_of(component, &ICalendarProperty::Description),
        location: None,
        attendees: Vec::new(),
        organizer: None,
        categories: Vec::new(),
        color: text_of(component, &ICalendarProperty::Color),
        url: text_of(component, &ICalendarProperty::Url),
        transparency: Transparency::Opaque,
        status: EventStatus::Confirmed,
        private: false,
        reminders: reminders(calendar, component),
        created: None,
        last_modified: None,
        sequence: 0,
        start: start.time,
        end,
        floating: start.floating,
        recurrence_id: None,
        rrule: None,
        rdates: Vec::new(),
        exdates: Vec::new(),
        rule: None,
    };
    let mut geo = None;
    for entry in &component.entries {
        match &entry.name {
            ICalendarProperty::Location => {
                let description = join_text(entry);
                event.location.get_or_insert_with(Location::default).description = description;
            }
            ICalendarProperty::Geo => geo = read_geo(entry),
            ICalendarProperty::Attendee => {
                if let Some(email) = mail_address(entry) {
                    event.attendees.push(Attendee {
                        email,
                        display_name: param_text(entry, &ICalendarParameterName::Cn),
                        status: partstat(entry),
                    });
                }
            }
            ICalendarProperty::Organizer => {
                event.organizer = Some(Organizer {
                    email: mail_address(entry),
                    display_name: param_text(entry, &ICalendarParameterName::Cn),
                })
            }
            ICalendarProperty::Categories => event
                .categories
                .extend(entry.values.iter().filter_map(|v| v.as_text()).filter(|c| !c.is_empty()).map(str::to_string)),
            ICalendarProperty::Transp => {
                if let Some(value) = entry.values.first().and_then(|v| v.as_text()) {
                    event.transparency = if value.eq_ignore_ascii_case("TRANSPARENT") {
                        Transparency::Transparent
                    } else {
                        Transparency::Opaque
                    };
                }
            }
            ICalendarProperty::Status => {
                let value = entry.values.first().and_then(|v| v.as_text()).unwrap_or_default();
                event.status = match value.to_ascii_uppercase().as_str() {
                    "CANCELLED" => EventStatus::Cancelled,
                    "TENTATIVE" => EventStatus::Tentative,
                    _ => EventStatus::Confirmed,
                };
            }
            ICalendarProperty::Class => {
                let value = entry.values.first().and_then(|v| v.as_text()).unwrap_or_default();
                event.private = value.eq_ignore_ascii_case("PRIVATE") || value.eq_ignore_ascii_case("CONFIDENTIAL");
            }
            ICalendarProperty::Created => event.created = utc_of(entry),
            ICalendarProperty::LastModified => event.last_modified = utc_of(entry),
            ICalendarProperty::Sequence => {
                event.sequence = entry.values.first().and_then(|v| v.as_integer()).unwrap_or(0)
            }
            ICalendarProperty::RecurrenceId => {
                event.recurrence_id = times.read_entry(entry, warnings).map(|r| r.time);
                if entry.parameters(&ICalendarParameterName::Range).next().is_some() {
                    warnings.push(Warning::ThisAndFutureIgnored);
                }
            }
            ICalendarProperty::Rrule => {
                if let Some(ICalendarValue::RecurrenceRule(rule)) = entry.values.first() {
                    event.rrule = Some(rule.to_string());
                    event.rule = Some(rule.as_ref().clone());
                }
            }
            ICalendarProperty::Rdate => times.read_list(entry, warnings, &mut event.rdates),
            ICalendarProperty::Exdate => times.read_list(entry, warnings, &mut event.exdates),
            _ => {}
        }
    }
    if let Some((lat, long)) = geo {
        let location = event.location.get_or_insert_with(Location::default);
        location.lat = Some(lat);
        location.long = Some(long);
    }
    Ok(event)
}

/// DTEND when given; else DTSTART + DURATION (days and weeks on the wall clock, the rest
/// exact); else one day for a date and zero length for a date-time (RFC 5545 §3.6.1).
fn resolve_end(
    start: &ReadTime,
    end: Option<EventTime>,
    duration: Option<&calcard::icalendar::ICalendarDuration>,
) -> EventTime {
    let end = match (end, duration, &start.time) {
        (Some(end), _, _) => end,
        (None, Some(d), EventTime::Date(date)) => {
            let days = i64::from(d.weeks) * 7 + i64::from(d.days);
            let days = if d.neg { -days } else { days };
            EventTime::Date(date.checked_add_signed(Duration::days(days.max(0))).unwrap_or(*date))
        }
        (None, Some(d), EventTime::Instant { at, tzid }) => {
            let sign = if d.neg { -1 } else { 1 };
            let nominal = Duration::days(sign * (i64::from(d.weeks) * 7 + i64::from(d.days)));
            let exact = Duration::seconds(
                sign * (i64::from(d.hours) * 3600 + i64::from(d.minutes) * 60 + i64::from(d.seconds)),
            );
            // Checked: a DURATION of billions of weeks must not overflow (and abort) the process.
            let base = match start.local {
                Some((local, tz)) if !nominal.is_zero() => local.checked_add_signed(nominal).map(|l| localize(l, tz)),
                _ => at.checked_add_signed(nominal),
            };
            let end = base.and_then(|b| b.checked_add_signed(exact)).unwrap_or(*at);
            EventTime::Instant { at: end, tzid: *tzid }
        }
        (None, None, EventTime::Date(date)) => EventTime::Date(date.succ_opt().unwrap_or(*date)),
        (None, None, instant) => instant.clone(),
    };
    // An end before the start (or of the other value type) is read as zero length / one day.
    match (&start.time, &end) {
        (EventTime::Date(s), EventTime::Date(e)) if e > s => end,
        (EventTime::Date(s), _) => EventTime::Date(s.succ_opt().unwrap_or(*s)),
        (EventTime::Instant { .. }, EventTime::Instant { .. }) if end.sort_key() >= start.time.sort_key() => end,
        (EventTime::Instant { at, tzid }, _) => EventTime::Instant { at: *at, tzid: *tzid },
    }
}

fn reminders(calendar: &ICalendar, component: &ICalendarComponent) -> Vec<Reminder> {
    let mut out = Vec::new();
    for alarm in component.component_ids.iter().filter_map(|id| calendar.components.get(*id as usize)) {
        if alarm.component_type != ICalendarComponentType::VAlarm {
            continue;
        }
        let Some(trigger) = alarm.property(&ICalendarProperty::Trigger) else { continue };
        let related_end = trigger
            .parameters(&ICalendarParameterName::Related)
            .any(|v| v.as_text().is_some_and(|t| t.eq_ignore_ascii_case("END")));
        if let (false, Some(ICalendarValue::Duration(d))) = (related_end, trigger.values.first()) {
            let seconds = i64::from(d.weeks) * 604_800
                + i64::from(d.days) * 86_400
                + i64::from(d.hours) * 3600
                + i64::from(d.minutes) * 60
                + i64::from(d.seconds);
            let minutes = if d.neg { seconds / 60 } else { -(seconds / 60) };
            if let Ok(minutes) = i32::try_from(minutes)
                && minutes >= 0
            {
                out.push(Reminder { minutes });
            }
        }
    }
    out
}

fn text_of(component: &ICalendarComponent, property: &ICalendarProperty) -> Option<String> {
    component.property(property).and_then(join_text)
}

/// A text property's value; unescaped commas split values in calcard, so they are joined back.
fn join_text(entry: &ICalendarEntry) -> Option<String> {
    let parts: Vec<&str> = entry.values.iter().filter_map(|v| v.as_text()).collect();
    if parts.is_empty() { None } else { Some(parts.join(",")) }
}

fn param_text(entry: &ICalendarEntry, name: &ICalendarParameterName) -> Option<String> {
    entry.parameters(name).find_map(|v| v.as_text()).filter(|t| !t.is_empty()).map(str::to_string)
}

fn mail_address(entry: &ICalendarEntry) -> Option<String> {
    let value = entry.values.first()?.as_text()?.trim();
    let email = match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => &value[7..],
        _ => value,
    };
    if email.is_empty() { None } else { Some(email.to_string()) }
}

fn partstat(entry: &ICalendarEntry) -> AttendeeStatus {
    match entry.parameters(&ICalendarParameterName::Partstat).find_map(|v| v.as_text()) {
        None => AttendeeStatus::NeedsAction,
        Some(value) => match value.to_ascii_uppercase().as_str() {
            "NEEDS-ACTION" => AttendeeStatus::NeedsAction,
            "ACCEPTED" => AttendeeStatus::Accepted,
            "TENTATIVE" => AttendeeStatus::Tentative,
            "DECLINED" => AttendeeStatus::Declined,
            _ => AttendeeStatus::Unknown,
        },
    }
}

fn read_geo(entry: &ICalendarEntry) -> Option<(f64, f64)> {
    let number = |v: &ICalendarValue| match v {
        ICalendarValue::Float(f) => Some(*f),
        ICalendarValue::Integer(i) => Some(*i as f64),
        other => other.as_text().and_then(|t| t.trim().parse().ok()),
    };
    let lat = number(entry.values.first()?)?;
    let long = number(entry.values.get(1)?)?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long)).then_some((lat, long))
}

/// CREATED/LAST-MODIFIED are UTC by definition; a value without `Z` is read as UTC too.
fn utc_of(entry: &ICalendarEntry) -> Option<DateTime<Utc>> {
    let ICalendarValue::PartialDateTime(value) = entry.values.first()? else { return None };
    let result = value.to_date_time()?;
    let offset = result.offset.map(|o| o.local_minus_utc()).unwrap_or(0);
    Some((result.date_time - Duration::seconds(i64::from(offset))).and_utc())
}

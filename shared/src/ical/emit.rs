//! Writes a partner event as a VCALENDAR for a CalDAV PUT.
//!
//! Timed events with a zone are written as `DTSTART;TZID=<IANA name>` with a VTIMEZONE that
//! calcard generates from the compiled-in tz database (covering the event's dates), so recurring
//! events keep their wall-clock time across DST on the server. Timed events without a zone are
//! UTC (`Z`); all-day events are `VALUE=DATE`. Text is escaped (RFC 5545 §3.3.11) and lines are
//! folded at 75 octets (§3.1) without splitting a UTF-8 character.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::{AttendeeStatus, EventStatus, EventTime, Transparency};
use crate::store::EventUpsert;

const PRODID: &str = "-//calsync//calsync//EN";

/// What turns an event into an iTIP message (RFC 5546): the method (`REQUEST`, `CANCEL`) and
/// the revision's SEQUENCE. Attendees are then asked to reply (RSVP=TRUE).
#[derive(Debug, Clone, Copy)]
pub struct Scheduling<'a> {
    pub method: &'a str,
    pub sequence: i64,
}

/// The VCALENDAR text for `event`, with the given UID and DTSTAMP (the injected clock's now).
pub fn to_ics(event: &EventUpsert, uid: &str, dtstamp: DateTime<Utc>) -> String {
    render(event, uid, dtstamp, None)
}

/// The invitation (or cancellation) for `event`: the VCALENDAR with METHOD, SEQUENCE and RSVP.
pub fn to_invitation(event: &EventUpsert, uid: &str, dtstamp: DateTime<Utc>, scheduling: Scheduling<'_>) -> String {
    render(event, uid, dtstamp, Some(scheduling))
}

fn render(event: &EventUpsert, uid: &str, dtstamp: DateTime<Utc>, scheduling: Option<Scheduling<'_>>) -> String {
    let mut lines: Vec<String> =
        vec!["BEGIN:VCALENDAR".into(), "VERSION:2.0".into(), format!("PRODID:{PRODID}"), "CALSCALE:GREGORIAN".into()];
    if let Some(s) = scheduling {
        lines.push(format!("METHOD:{}", s.method));
    }
    let zone_block_at = lines.len();
    lines.push("BEGIN:VEVENT".into());
    lines.push(format!("UID:{}", escape(uid)));
    lines.push(format!("DTSTAMP:{}", utc(dtstamp)));
    if let Some(s) = scheduling {
        lines.push(format!("SEQUENCE:{}", s.sequence.max(0)));
    }
    lines.push(time_line("DTSTART", &event.start));
    lines.push(time_line("DTEND", &event.end));
    if let Some(rule) = event.recurrence_rule.as_deref().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        let rule = rule.strip_prefix("RRULE:").unwrap_or(rule);
        // The rule is a value of its own grammar: only line breaks could corrupt the object.
        lines.push(format!("RRULE:{}", rule.replace(['\r', '\n'], "")));
    }
    optional_text(&mut lines, "SUMMARY", event.summary.as_deref());
    optional_text(&mut lines, "DESCRIPTION", event.description.as_deref());
    if let Some(location) = &event.location {
        optional_text(&mut lines, "LOCATION", location.description.as_deref());
        if let (Some(lat), Some(long)) = (location.lat, location.long) {
            lines.push(format!("GEO:{lat};{long}"));
        }
    }
    if let Some(organizer) = &event.organizer
        && let Some(email) = &organizer.email
    {
        let cn = organizer.display_name.as_deref().map(|n| format!(";CN={}", param(n))).unwrap_or_default();
        lines.push(format!("ORGANIZER{cn}:mailto:{}", email.replace(['\r', '\n'], "")));
    }
    for attendee in &event.attendees {
        let cn = attendee.display_name.as_deref().map(|n| format!(";CN={}", param(n))).unwrap_or_default();
        let partstat = match attendee.status {
            AttendeeStatus::Accepted => "ACCEPTED",
            AttendeeStatus::Declined => "DECLINED",
            AttendeeStatus::Tentative => "TENTATIVE",
            AttendeeStatus::NeedsAction | AttendeeStatus::Unknown => "NEEDS-ACTION",
        };
        let rsvp = if scheduling.is_some() { ";RSVP=TRUE" } else { "" };
        let email = attendee.email.replace(['\r', '\n'], "");
        lines.push(format!("ATTENDEE{cn}{rsvp};PARTSTAT={partstat}:mailto:{email}"));
    }
    if !event.categories.is_empty() {
        let values: Vec<String> = event.categories.iter().map(|c| escape(c)).collect();
        lines.push(format!("CATEGORIES:{}", values.join(",")));
    }
    optional_text(&mut lines, "COLOR", event.color.as_deref());
    if let Some(url) = &event.url {
        lines.push(format!("URL:{}", url.replace(['\r', '\n'], "")));
    }
    lines.push(
        match event.transparency {
            Transparency::Transparent => "TRANSP:TRANSPARENT",
            Transparency::Opaque | Transparency::Unknown => "TRANSP:OPAQUE",
        }
        .into(),
    );
    lines.push(
        match event.status {
            EventStatus::Confirmed => "STATUS:CONFIRMED",
            EventStatus::Tentative => "STATUS:TENTATIVE",
            EventStatus::Cancelled => "STATUS:CANCELLED",
        }
        .into(),
    );
    if event.event_private {
        lines.push("CLASS:PRIVATE".into());
    }
    for reminder in &event.reminders {
        lines.push("BEGIN:VALARM".into());
        lines.push("ACTION:DISPLAY".into());
        lines.push("DESCRIPTION:Reminder".into());
        lines.push(format!("TRIGGER:-PT{}M", reminder.minutes.max(0)));
        lines.push("END:VALARM".into());
    }
    lines.push("END:VEVENT".into());
    lines.push("END:VCALENDAR".into());

    let zone_block = event.start.tzid().map(|tz| vtimezone(&lines, tz)).unwrap_or_default();
    lines.splice(zone_block_at..zone_block_at, zone_block);

    let mut out = String::new();
    for line in &lines {
        fold_into(&mut out, line);
    }
    out
}

fn time_line(name: &str, time: &EventTime) -> String {
    match time {
        EventTime::Date(date) => format!("{name};VALUE=DATE:{}", date.format("%Y%m%d")),
        EventTime::Instant { at, tzid: Some(tz) } => {
            format!("{name};TZID={}:{}", tz.name(), at.with_timezone(tz).format("%Y%m%dT%H%M%S"))
        }
        EventTime::Instant { at, tzid: None } => format!("{name}:{}", utc(*at)),
    }
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

fn optional_text(lines: &mut Vec<String>, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        lines.push(format!("{name}:{}", escape(value)));
    }
}

/// Appends the content line `NAME:value` + CRLF, unfolded (readers unfold any length): for the
/// adapters that assemble a VEVENT from a provider's fields (Google, EWS). `value` is written as
/// given; TEXT values go through [`escape`] first.
pub(crate) fn push_line(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    out.push_str(value);
    out.push_str("\r\n");
}

/// An ORGANIZER or ATTENDEE line: `NAME;CN="…"<params>:mailto:email` + CRLF, `params` being
/// further parameters as written (`;PARTSTAT=ACCEPTED`).
pub(crate) fn person_line(name: &str, email: &str, display: Option<&str>, params: &str) -> String {
    let cn = display.filter(|d| !d.is_empty()).map(|d| format!(";CN={}", param(d))).unwrap_or_default();
    format!("{name}{cn}{params}:mailto:{}\r\n", email.replace(['\r', '\n', ':', ';'], ""))
}

/// TEXT escaping: backslash, semicolon, comma and line breaks.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => out.push_str("\\n"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted, since CN often holds commas; DQUOTE and controls cannot be written.
fn param(value: &str) -> String {
    let clean: String = value.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{clean}\"")
}

/// Appends `line` + CRLF, folded so no physical line passes 75 octets.
fn fold_into(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

/// The VTIMEZONE lines for `tz`, generated by calcard from what the event references; empty
/// (leaving the IANA TZID, which every CalDAV server and client here resolves) if that fails.
fn vtimezone(lines: &[String], tz: &str) -> Vec<String> {
    if tz.parse::<Tz>().ok() == Some(Tz::UTC) {
        return Vec::new();
    }
    let mut text = String::new();
    for line in lines {
        fold_into(&mut text, line);
    }
    let Some(calcard::Entry::ICalendar(mut calendar)) = Some(calcard::Parser::new(&text).entry()) else {
        return Vec::new();
    };
    calendar.add_missing_timezones();
    let mut written = String::new();
    if write!(written, "{calendar}").is_err() {
        return Vec::new();
    }
    let unfolded = written.replace("\r\n ", "").replace("\r\n\t", "");
    let mut block = Vec::new();
    let mut inside = false;
    for line in unfolded.lines() {
        if line == "BEGIN:VTIMEZONE" {
            inside = true;
        }
        if inside {
            block.push(line.to_string());
        }
        if line == "END:VTIMEZONE" {
            inside = false;
        }
    }
    block
}

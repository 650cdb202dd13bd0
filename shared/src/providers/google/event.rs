//! Google Calendar events as the sync engine reads them. One series (a master with its
//! `recurrence` lines, and the exceptions Google lists as separate events carrying
//! `recurringEventId` and `originalStartTime`) is written out as one iCalendar resource and read
//! by the same parser as CalDAV data, so recurrence, exceptions, time zones and cancelled
//! instances follow one code path whatever the provider. Google's `recurrence` entries already
//! are RFC 5545 lines (`RRULE:`, `EXDATE;…`, `RDATE;…`) and are carried over as they are.
//!
//! A cancelled exception of a live series ("only guaranteed to have id, recurringEventId and
//! originalStartTime") becomes a cancelled override at its original start, so that instance
//! disappears while the series stays; a cancelled event without `recurringEventId` is a deletion
//! and never reaches this module.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::ical::{Series, escape, parse_resource, person_line, push_line};

/// Why a series could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event has no `{0}`")]
    Missing(&'static str),
    #[error("event field `{field}` is malformed")]
    Malformed { field: &'static str },
    #[error("the series could not be read: {0}")]
    Unreadable(String),
}

/// Whether a listed event is a deletion (a cancelled event that is not an exception of a series).
pub fn is_deletion(event: &Value) -> bool {
    event["status"] == "cancelled" && event["recurringEventId"].is_null()
}

/// The id of the series an event belongs to: its own for a master or a single event, the
/// master's for an exception.
pub fn series_id(event: &Value) -> Option<&str> {
    event["recurringEventId"].as_str().or_else(|| event["id"].as_str())
}

/// Reads the events of one series (master and exceptions, in any order; the master may be absent
/// when only exceptions are visible) as the engine's model.
pub fn read_series(events: &[Value], default_tz: Tz) -> Result<Series, EventError> {
    let ics = to_ics(events)?;
    parse_resource(&ics, default_tz).map_err(|e| EventError::Unreadable(e.to_string()))
}

/// The series as an iCalendar resource.
pub fn to_ics(events: &[Value]) -> Result<String, EventError> {
    let uid = events
        .iter()
        .find_map(|e| e["iCalUID"].as_str())
        .or_else(|| events.first().and_then(series_id))
        .ok_or(EventError::Missing("iCalUID"))?;
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync//Google Calendar//EN\r\n");
    // Masters first: an override is read against the series it belongs to.
    let mut ordered: Vec<&Value> = events.iter().collect();
    ordered.sort_by_key(|e| !e["recurringEventId"].is_null());
    for event in ordered {
        write_vevent(&mut out, uid, event)?;
    }
    out.push_str("END:VCALENDAR\r\n");
    Ok(out)
}

fn write_vevent(out: &mut String, uid: &str, event: &Value) -> Result<(), EventError> {
    let cancelled = event["status"] == "cancelled";
    out.push_str("BEGIN:VEVENT\r\n");
    push_line(out, "UID", &escape(uid));
    if let Some(original) = event.get("originalStartTime").filter(|v| !v.is_null()) {
        out.push_str(&time_line("RECURRENCE-ID", original, "originalStartTime")?);
    }
    match (event.get("start").filter(|v| !v.is_null()), cancelled) {
        (Some(start), _) => out.push_str(&time_line("DTSTART", start, "start")?),
        // A cancelled exception may carry only its original start.
        (None, true) => {
            let original = event.get("originalStartTime").ok_or(EventError::Missing("start"))?;
            out.push_str(&time_line("DTSTART", original, "originalStartTime")?);
        }
        (None, false) => return Err(EventError::Missing("start")),
    }
    if let Some(end) = event.get("end").filter(|v| !v.is_null()) {
        out.push_str(&time_line("DTEND", end, "end")?);
    }
    if let Some(lines) = event["recurrence"].as_array() {
        for rule in lines.iter().filter_map(Value::as_str) {
            // Only recurrence properties; anything else in the array is not Google's format.
            let name = rule.split([':', ';']).next().unwrap_or_default().to_ascii_uppercase();
            if !matches!(name.as_str(), "RRULE" | "EXRULE" | "RDATE" | "EXDATE") || rule.contains(['\r', '\n']) {
                return Err(EventError::Malformed { field: "recurrence" });
            }
            out.push_str(rule);
            out.push_str("\r\n");
        }
    }
    let status = match event["status"].as_str() {
        Some("cancelled") => "CANCELLED",
        Some("tentative") => "TENTATIVE",
        _ => "CONFIRMED",
    };
    push_line(out, "STATUS", status);
    for (field, name) in [("summary", "SUMMARY"), ("description", "DESCRIPTION"), ("location", "LOCATION")] {
        if let Some(text) = event[field].as_str().filter(|t| !t.is_empty()) {
            push_line(out, name, &escape(text));
        }
    }
    if event["transparency"] == "transparent" {
        push_line(out, "TRANSP", "TRANSPARENT");
    }
    if matches!(event["visibility"].as_str(), Some("private" | "confidential")) {
        push_line(out, "CLASS", "PRIVATE");
    }
    if let Some(sequence) = event["sequence"].as_i64() {
        push_line(out, "SEQUENCE", &sequence.to_string());
    }
    for (field, name) in [("created", "CREATED"), ("updated", "LAST-MODIFIED")] {
        if let Some(at) = event[field].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
            push_line(out, name, &at.to_utc().format("%Y%m%dT%H%M%SZ").to_string());
        }
    }
    if let Some(email) = event["organizer"]["email"].as_str() {
        out.push_str(&person_line("ORGANIZER", email, event["organizer"]["displayName"].as_str(), ""));
    }
    for attendee in event["attendees"].as_array().into_iter().flatten() {
        let Some(email) = attendee["email"].as_str() else { continue };
        let partstat = match attendee["responseStatus"].as_str() {
            Some("accepted") => "ACCEPTED",
            Some("declined") => "DECLINED",
            Some("tentative") => "TENTATIVE",
            _ => "NEEDS-ACTION",
        };
        out.push_str(&person_line(
            "ATTENDEE",
            email,
            attendee["displayName"].as_str(),
            &format!(";PARTSTAT={partstat}"),
        ));
    }
    out.push_str("END:VEVENT\r\n");
    Ok(())
}

/// `DTSTART`-style line from Google's `{"dateTime", "timeZone"}` or `{"date"}`.
fn time_line(name: &str, time: &Value, field: &'static str) -> Result<String, EventError> {
    if let Some(date) = time["date"].as_str() {
        let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| EventError::Malformed { field })?;
        return Ok(format!("{name};VALUE=DATE:{}\r\n", day.format("%Y%m%d")));
    }
    let text = time["dateTime"].as_str().ok_or(EventError::Missing(field))?;
    let at = DateTime::parse_from_rfc3339(text).map_err(|_| EventError::Malformed { field })?.to_utc();
    // With a zone, the local time in that zone, so recurrences keep their wall-clock time across
    // DST changes; without one, UTC.
    match time["timeZone"].as_str().and_then(|z| z.parse::<Tz>().ok()) {
        Some(zone) => {
            Ok(format!("{name};TZID={}:{}\r\n", zone.name(), at.with_timezone(&zone).format("%Y%m%dT%H%M%S")))
        }
        None => Ok(format!("{name}:{}\r\n", at.format("%Y%m%dT%H%M%SZ"))),
    }
}

/// The instant an event's time stands for (all-day dates at midnight UTC), for window checks.
pub fn instant(time: &Value) -> Option<DateTime<Utc>> {
    if let Some(date) = time["date"].as_str() {
        return NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc3339(time["dateTime"].as_str()?).ok().map(|t| t.to_utc())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::domain::EventTime;
    use crate::ical::expand;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_single_event_reads_with_its_zone_people_and_escaped_text() {
        let event = json!({
            "id": "e1", "iCalUID": "e1@google.com", "status": "confirmed",
            "summary": "Plan; review, \\ and notes", "description": "line one\nline two",
            "start": {"dateTime": "2026-05-04T09:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-05-04T10:00:00+02:00", "timeZone": "Europe/Berlin"},
            "transparency": "transparent", "visibility": "private", "sequence": 2,
            "organizer": {"email": "ada@gmail.example", "displayName": "Ada"},
            "attendees": [{"email": "grace@example.com", "displayName": "Grace", "responseStatus": "accepted"}]
        });
        let series = read_series(&[event], Tz::UTC).unwrap();
        let master = series.master.expect("a single event is its own master");
        assert_eq!(series.uid, "e1@google.com");
        assert_eq!(master.summary.as_deref(), Some("Plan; review, \\ and notes"));
        assert_eq!(master.description.as_deref(), Some("line one\nline two"));
        assert_eq!(
            master.start,
            EventTime::Instant { at: at("2026-05-04T07:00:00Z"), tzid: Some(chrono_tz::Europe::Berlin) }
        );
        assert!(master.private);
        assert_eq!(master.attendees.len(), 1);
        assert_eq!(master.organizer.and_then(|o| o.email).as_deref(), Some("ada@gmail.example"));
    }

    #[test]
    fn a_weekly_series_keeps_its_wall_clock_time_across_dst_and_drops_a_cancelled_instance() {
        let master = json!({
            "id": "s1", "iCalUID": "s1@google.com", "summary": "Standup",
            "start": {"dateTime": "2026-03-23T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-23T09:15:00+01:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"]
        });
        // The second instance (30 March, after the DST change) was cancelled on the phone.
        let cancelled = json!({
            "id": "s1_20260330T070000Z", "status": "cancelled", "recurringEventId": "s1",
            "originalStartTime": {"dateTime": "2026-03-30T09:00:00+02:00", "timeZone": "Europe/Berlin"}
        });
        let moved = json!({
            "id": "s1_20260406T070000Z", "recurringEventId": "s1", "iCalUID": "s1@google.com", "summary": "Standup (late)",
            "originalStartTime": {"dateTime": "2026-04-06T09:00:00+02:00", "timeZone": "Europe/Berlin"},
            "start": {"dateTime": "2026-04-06T11:00:00+02:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-04-06T11:15:00+02:00", "timeZone": "Europe/Berlin"}
        });
        let series = read_series(&[cancelled, moved, master], Tz::UTC).unwrap();
        let expansion = expand(&series, at("2026-03-01T00:00:00Z"), at("2026-05-01T00:00:00Z"));
        let starts: Vec<(EventTime, Option<&str>)> = expansion
            .occurrences
            .iter()
            .filter(|o| !o.event.is_cancelled())
            .map(|o| (o.start.clone(), o.event.summary.as_deref()))
            .collect();
        let berlin = Some(chrono_tz::Europe::Berlin);
        assert_eq!(
            starts,
            [
                (
                    EventTime::Instant { at: Utc.with_ymd_and_hms(2026, 3, 23, 8, 0, 0).unwrap(), tzid: berlin },
                    Some("Standup")
                ),
                (EventTime::Instant { at: at("2026-04-06T09:00:00Z"), tzid: berlin }, Some("Standup (late)")),
            ]
        );
    }

    #[test]
    fn an_all_day_event_is_a_date_and_malformed_input_is_refused() {
        let event =
            json!({"id": "d1", "start": {"date": "2026-05-06"}, "end": {"date": "2026-05-07"}, "summary": "Holiday"});
        let series = read_series(&[event], Tz::UTC).unwrap();
        assert_eq!(series.uid, "d1");
        assert_eq!(series.master.unwrap().start, EventTime::Date(NaiveDate::from_ymd_opt(2026, 5, 6).unwrap()));

        let injected = json!({"id": "x", "start": {"date": "2026-05-06"}, "recurrence": ["RRULE:FREQ=DAILY\r\nATTENDEE:mailto:evil@example.com"]});
        assert_eq!(read_series(&[injected], Tz::UTC), Err(EventError::Malformed { field: "recurrence" }));
        assert_eq!(read_series(&[json!({"id": "x"})], Tz::UTC), Err(EventError::Missing("start")));
        let bad_time = json!({"id": "x", "start": {"dateTime": "tomorrow"}});
        assert_eq!(read_series(&[bad_time], Tz::UTC), Err(EventError::Malformed { field: "start" }));
    }

    #[test]
    fn deletions_and_series_membership_are_recognised() {
        assert!(is_deletion(&json!({"id": "e1", "status": "cancelled"})));
        let exception = json!({"id": "s1_x", "status": "cancelled", "recurringEventId": "s1"});
        assert!(!is_deletion(&exception));
        assert_eq!(series_id(&exception), Some("s1"));
        assert_eq!(series_id(&json!({"id": "e1"})), Some("e1"));
        assert_eq!(instant(&json!({"date": "2026-05-06"})), Some(at("2026-05-06T00:00:00Z")));
    }
}

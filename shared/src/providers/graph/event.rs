//! Microsoft Graph events as the sync engine reads them. `calendarView/delta` hands out
//! instances the server already expanded (single events, occurrences and exceptions of a
//! series), so each instance becomes one non-recurring component keyed by its immutable id;
//! `iCalUId` cannot serve, since it differs per occurrence.
//!
//! Times are asked for in UTC (`Prefer: outlook.timezone="UTC"`) and carry the event's own
//! zone, a Windows name in `originalStartTimeZone`, mapped to IANA (custom Outlook zones stay
//! UTC). All-day events come as midnight-to-midnight whatever the zone and are read as dates.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use crate::domain::{Attendee, AttendeeStatus, EventStatus, EventTime, Location, Organizer, Transparency};
use crate::ical::{Component, Series, iana_zone};

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphEventError {
    #[error("event has no `{0}`")]
    Missing(&'static str),
    #[error("event field `{0}` is malformed")]
    Malformed(&'static str),
}

/// Whether a delta entry is a removal (`@removed`), and of which id.
pub fn removed_id(entry: &Value) -> Option<&str> {
    entry.get("@removed").filter(|v| !v.is_null()).and(entry["id"].as_str())
}

/// Reads one instance as a one-component series.
pub fn read_instance(event: &Value) -> Result<Series, GraphEventError> {
    let id = event["id"].as_str().filter(|id| !id.is_empty()).ok_or(GraphEventError::Missing("id"))?;
    let all_day = event["isAllDay"] == true;
    let zone = event["originalStartTimeZone"].as_str().and_then(iana_zone);
    let start = time(&event["start"], all_day, zone, "start")?;
    let end = time(&event["end"], all_day, zone, "end")?;
    let description = match event["body"]["contentType"].as_str() {
        Some("text") => event["body"]["content"].as_str(),
        // HTML bodies are not shown as they are; the preview is Graph's plain-text rendering.
        _ => event["bodyPreview"].as_str(),
    };
    let attendees = event["attendees"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let email = a["emailAddress"]["address"].as_str()?.to_owned();
            let status = match a["status"]["response"].as_str() {
                Some("accepted" | "organizer") => AttendeeStatus::Accepted,
                Some("tentativelyAccepted") => AttendeeStatus::Tentative,
                Some("declined") => AttendeeStatus::Declined,
                Some("notResponded" | "none") => AttendeeStatus::NeedsAction,
                _ => AttendeeStatus::Unknown,
            };
            Some(Attendee { email, display_name: text(&a["emailAddress"]["name"]), status })
        })
        .collect();
    let organizer = event["organizer"]["emailAddress"]
        .as_object()
        .map(|o| Organizer { email: text(&o["address"]), display_name: text(&o["name"]) });
    let component = Component {
        uid: id.to_owned(),
        summary: text(&event["subject"]),
        description: description.filter(|d| !d.is_empty()).map(str::to_owned),
        location: text(&event["location"]["displayName"]).map(|description| Location {
            description: Some(description),
            lat: None,
            long: None,
        }),
        attendees,
        organizer,
        categories: event["categories"].as_array().into_iter().flatten().filter_map(text).collect(),
        color: None,
        url: text(&event["webLink"]),
        transparency: match event["showAs"].as_str() {
            Some("free" | "workingElsewhere") => Transparency::Transparent,
            _ => Transparency::Opaque,
        },
        status: if event["isCancelled"] == true { EventStatus::Cancelled } else { EventStatus::Confirmed },
        private: matches!(event["sensitivity"].as_str(), Some("private" | "confidential")),
        reminders: Vec::new(),
        created: instant(&event["createdDateTime"]),
        last_modified: instant(&event["lastModifiedDateTime"]),
        sequence: 0,
        start,
        end,
        floating: false,
        recurrence_id: None,
        rrule: None,
        rdates: Vec::new(),
        exdates: Vec::new(),
        rule: None,
    };
    Ok(Series { uid: id.to_owned(), master: Some(component), overrides: Default::default(), warnings: Vec::new() })
}

fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|t| !t.is_empty()).map(str::to_owned)
}

fn instant(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?).ok().map(|t| t.to_utc())
}

/// Graph's `{"dateTime": "2026-05-04T09:00:00.0000000", "timeZone": "UTC"}`.
fn time(
    value: &Value,
    all_day: bool,
    zone: Option<chrono_tz::Tz>,
    field: &'static str,
) -> Result<EventTime, GraphEventError> {
    let text = value["dateTime"].as_str().ok_or(GraphEventError::Missing(field))?;
    // Seven fractional digits, no offset: the zone is `timeZone`, UTC as asked for.
    let local =
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| GraphEventError::Malformed(field))?;
    if all_day {
        return Ok(EventTime::Date(local.date()));
    }
    match value["timeZone"].as_str() {
        Some("UTC") | None => Ok(EventTime::Instant { at: local.and_utc(), tzid: zone }),
        Some(other) => {
            let tz = iana_zone(other).ok_or(GraphEventError::Malformed(field))?;
            let at = crate::ical::localize(local, tz);
            Ok(EventTime::Instant { at, tzid: zone.or(Some(tz)) })
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn an_instance_reads_in_utc_with_its_windows_zone_mapped_to_iana() {
        let event = json!({
            "id": "AAMkAGI2TG93AAA=", "subject": "Review", "bodyPreview": "Agenda", "body": {"contentType": "html", "content": "<p>Agenda</p>"},
            "start": {"dateTime": "2026-05-04T07:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-05-04T08:00:00.0000000", "timeZone": "UTC"},
            "originalStartTimeZone": "W. Europe Standard Time", "isAllDay": false, "isCancelled": false,
            "showAs": "free", "sensitivity": "private", "location": {"displayName": "Room 1"},
            "organizer": {"emailAddress": {"name": "Ada", "address": "ada@contoso.example"}},
            "attendees": [{"emailAddress": {"name": "Grace", "address": "grace@contoso.example"}, "status": {"response": "tentativelyAccepted"}}],
            "type": "occurrence", "seriesMasterId": "AAMkMaster="
        });
        let series = read_instance(&event).unwrap();
        let c = series.master.unwrap();
        assert_eq!(series.uid, "AAMkAGI2TG93AAA=");
        assert_eq!(
            c.start,
            EventTime::Instant { at: at("2026-05-04T07:00:00Z"), tzid: Some(chrono_tz::Europe::Berlin) }
        );
        assert_eq!((c.summary.as_deref(), c.description.as_deref()), (Some("Review"), Some("Agenda")));
        assert_eq!(c.transparency, Transparency::Transparent);
        assert!(c.private);
        assert_eq!(c.attendees[0].status, AttendeeStatus::Tentative);
        assert!(!c.is_recurring(), "Graph expands the series itself");
    }

    #[test]
    fn all_day_events_are_dates_and_custom_zones_stay_utc() {
        let all_day = json!({"id": "d1", "isAllDay": true, "originalStartTimeZone": "tzone://Microsoft/Custom",
            "start": {"dateTime": "2026-05-06T00:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-05-07T00:00:00.0000000", "timeZone": "UTC"}});
        let c = read_instance(&all_day).unwrap().master.unwrap();
        assert_eq!(c.start, EventTime::Date(NaiveDate::from_ymd_opt(2026, 5, 6).unwrap()));
        assert_eq!(c.end, EventTime::Date(NaiveDate::from_ymd_opt(2026, 5, 7).unwrap()));

        let custom = json!({"id": "c1", "originalStartTimeZone": "tzone://Microsoft/Custom",
            "start": {"dateTime": "2026-05-06T09:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-05-06T10:00:00.0000000", "timeZone": "UTC"}, "isCancelled": true});
        let c = read_instance(&custom).unwrap().master.unwrap();
        assert_eq!(c.start, EventTime::Instant { at: at("2026-05-06T09:00:00Z"), tzid: None });
        assert!(c.is_cancelled());
    }

    #[test]
    fn removals_and_malformed_events_are_told_apart() {
        assert_eq!(removed_id(&json!({"id": "x", "@removed": {"reason": "deleted"}})), Some("x"));
        assert_eq!(removed_id(&json!({"id": "x", "subject": "s"})), None);
        assert_eq!(read_instance(&json!({"id": "x"})), Err(GraphEventError::Missing("start")));
        let bad = json!({"id": "x", "start": {"dateTime": "soon", "timeZone": "UTC"}, "end": {"dateTime": "later", "timeZone": "UTC"}});
        assert_eq!(read_instance(&bad), Err(GraphEventError::Malformed("start")));
    }
}

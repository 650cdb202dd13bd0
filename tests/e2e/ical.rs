//! iCalendar golden tests: every `tests/fixtures/ical/NAME.ics` is parsed as one CalDAV
//! resource (floating times in Europe/Berlin), expanded over the window March–April 2026
//! (`2026-03-01T00:00:00Z`..`2026-05-01T00:00:00Z`, which crosses the EU and US DST changes)
//! and compared with `NAME.expected.json`. `CALSYNC_BLESS=1` rewrites the expected files.
//! Then: robustness (malformed input is an error, never a panic) and the writer's round trip.

use std::path::PathBuf;

use calsync_core::domain::{
    AccountId, AttendeeStatus, CalendarId, EventKind, EventStatus, EventTime, Location, ProfileId, Reminder,
    Transparency,
};
use calsync_core::ical::{self, Component, IcalError, Limits, Occurrence, Series, Warning};
use calsync_core::store::EventUpsert;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

const DEFAULT_TZ: chrono_tz::Tz = chrono_tz::Europe::Berlin;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    (utc("2026-03-01T00:00:00Z"), utc("2026-05-01T00:00:00Z"))
}

fn time_json(time: &EventTime) -> Value {
    match time {
        EventTime::Date(date) => json!({ "date": date.to_string() }),
        EventTime::Instant { at, tzid } => {
            json!({ "at": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "tzid": tzid.map(|t| t.name()) })
        }
    }
}

fn fields_json(event: &Component) -> Value {
    let mut fields = json!({
        "summary": event.summary,
        "status": event.status.as_str(),
        "transparency": event.transparency.as_str(),
        "sequence": event.sequence,
    });
    let map = fields.as_object_mut().unwrap();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() && value != json!([]) && value != json!(false) {
            map.insert(key.to_string(), value);
        }
    };
    put("description", json!(event.description));
    put("location", serde_json::to_value(&event.location).unwrap());
    put("attendees", serde_json::to_value(&event.attendees).unwrap());
    put("organizer", serde_json::to_value(&event.organizer).unwrap());
    put("categories", json!(event.categories));
    put("color", json!(event.color));
    put("url", json!(event.url));
    put("private", json!(event.private));
    put("floating", json!(event.floating));
    put("reminders", serde_json::to_value(&event.reminders).unwrap());
    put("created", json!(event.created.map(|t| t.to_rfc3339())));
    put("last_modified", json!(event.last_modified.map(|t| t.to_rfc3339())));
    put("rrule", json!(event.rrule));
    fields
}

fn occurrence_json(occurrence: &Occurrence<'_>) -> Value {
    json!({
        "id": occurrence.id,
        "original_start": occurrence.original_start.as_ref().map(time_json),
        "start": time_json(&occurrence.start),
        "end": time_json(&occurrence.end),
        "is_override": occurrence.is_override,
        "fields": fields_json(occurrence.event),
    })
}

fn series_json(series: &Series) -> Value {
    let (start, end) = window();
    let expansion = ical::expand(series, start, end);
    json!({
        "uid": series.uid,
        "has_master": series.master.is_some(),
        "overrides": series.overrides.len(),
        "warnings": series.warnings.iter().map(|w| format!("{w:?}")).collect::<Vec<_>>(),
        "truncated": expansion.truncated,
        "occurrences": expansion.occurrences.iter().map(occurrence_json).collect::<Vec<_>>(),
    })
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/ical")
}

#[test]
fn every_ical_fixture_expands_to_its_golden_occurrences() {
    let bless = std::env::var("CALSYNC_BLESS").as_deref() == Ok("1");
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ics"))
        .collect();
    names.sort();
    assert!(names.len() >= 12, "expected the golden fixtures, found {}", names.len());
    let mut failures = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path).unwrap();
        let series = ical::parse_resource(&text, DEFAULT_TZ).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let actual = serde_json::to_string_pretty(&series_json(&series)).unwrap() + "\n";
        let expected_path = path.with_extension("expected.json");
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            if bless {
                std::fs::write(&expected_path, &actual).unwrap();
            } else {
                eprintln!("=== {} differs; actual:\n{actual}", expected_path.display());
                failures.push(expected_path.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "golden mismatches (CALSYNC_BLESS=1 rewrites): {failures:?}");
}

fn vevent(body: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

#[test]
fn garbage_is_a_malformed_error() {
    let error = ical::parse_resource("this is not\u{0} a calendar at all", DEFAULT_TZ).unwrap_err();
    assert_eq!(error, IcalError::Malformed { reason: "no VCALENDAR found".into() });
    assert_eq!(ical::parse_resource("", DEFAULT_TZ).unwrap_err(), error);
}

#[test]
fn a_truncated_file_is_a_malformed_error() {
    let text = vevent("UID:a\r\nDTSTART:20260310T140000Z\r\n");
    let truncated = &text[..text.find("END:VEVENT").unwrap()];
    let error = ical::parse_resource(truncated, DEFAULT_TZ).unwrap_err();
    assert_eq!(error, IcalError::Malformed { reason: "a component is not closed (truncated?)".into() });
}

#[test]
fn a_resource_over_two_mebibytes_is_refused_before_parsing() {
    let huge = vevent(&format!("UID:a\r\nDTSTART:20260310T140000Z\r\nSUMMARY:{}\r\n", "x".repeat(2 * 1024 * 1024)));
    let error = ical::parse_resource(&huge, DEFAULT_TZ).unwrap_err();
    assert_eq!(error, IcalError::TooLarge { size: huge.len(), limit: 2 * 1024 * 1024 });
}

#[test]
fn an_enormous_line_under_the_cap_is_read_whole() {
    let text = vevent(&format!("UID:a\r\nDTSTART:20260310T140000Z\r\nSUMMARY:{}\r\n", "y".repeat(1_000_000)));
    let series = ical::parse_resource(&text, DEFAULT_TZ).unwrap();
    assert_eq!(series.master.unwrap().summary.unwrap().len(), 1_000_000);
}

#[test]
fn a_vevent_without_dtstart_is_a_missing_start_error() {
    let error = ical::parse_resource(&vevent("UID:a\r\nSUMMARY:no start\r\n"), DEFAULT_TZ).unwrap_err();
    assert_eq!(error, IcalError::MissingStart);
    let error = ical::parse_resource(&vevent("DTSTART:20260310T140000Z\r\n"), DEFAULT_TZ).unwrap_err();
    assert_eq!(error, IcalError::MissingUid);
}

#[test]
fn too_many_components_and_several_uids_are_refused() {
    let one =
        "BEGIN:VEVENT\r\nUID:same\r\nRECURRENCE-ID:20260310T140000Z\r\nDTSTART:20260310T140000Z\r\nEND:VEVENT\r\n";
    let text = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{}END:VCALENDAR\r\n", one.repeat(2_100));
    assert_eq!(ical::parse_resource(&text, DEFAULT_TZ).unwrap_err(), IcalError::TooManyComponents { limit: 2_000 });
    let two = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260310T140000Z\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20260310T140000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert_eq!(ical::parse_resource(two, DEFAULT_TZ).unwrap_err(), IcalError::SeveralUids { count: 2 });
    assert_eq!(ical::parse_feed(two, DEFAULT_TZ, Limits::FEED).unwrap().len(), 2);
}

#[test]
fn a_minutely_rule_from_decades_ago_is_capped_and_reported_as_truncated() {
    let text = vevent("UID:m\r\nDTSTART:19900101T000000Z\r\nRRULE:FREQ=MINUTELY\r\n");
    let series = ical::parse_resource(&text, DEFAULT_TZ).unwrap();
    let (start, end) = window();
    let expansion = ical::expand(&series, start, end);
    assert!(expansion.truncated);
    assert!(expansion.occurrences.len() <= ical::MAX_OCCURRENCES);
}

#[test]
fn an_hourly_series_inside_the_window_is_capped_at_ten_thousand_occurrences() {
    let text = vevent("UID:h\r\nDTSTART:20260301T000000Z\r\nRRULE:FREQ=MINUTELY;INTERVAL=5\r\n");
    let series = ical::parse_resource(&text, DEFAULT_TZ).unwrap();
    let (start, end) = window();
    let expansion = ical::expand(&series, start, end);
    assert!(expansion.truncated);
    assert_eq!(expansion.occurrences.len(), ical::MAX_OCCURRENCES);
    assert_eq!(expansion.occurrences[1].id, "h/2026-03-01T00:05:00Z");
}

fn partner_event(start: EventTime, end: EventTime) -> EventUpsert {
    EventUpsert {
        calendar_id: CalendarId::generate(),
        profile_id: ProfileId::generate(),
        account_id: AccountId::generate(),
        kind: EventKind::Partner,
        application_id: None,
        event_id: Some("evt-1".into()),
        provider_id: None,
        ical_uid: None,
        etag: None,
        summary: Some("Plan; review, and \\ check — ünïcödé ".repeat(4)),
        description: Some("Line one\nLine two, with; punctuation\\".into()),
        start,
        end,
        recurrence_rule: Some("FREQ=WEEKLY;BYDAY=TH;COUNT=4".into()),
        series_id: None,
        original_start: None,
        location: Some(Location { description: Some("Room 1, Floor 2".into()), lat: Some(51.5), long: Some(-0.25) }),
        attendees: vec![calsync_core::domain::Attendee {
            email: "ann@example.com".into(),
            display_name: Some("Ann, A.".into()),
            status: AttendeeStatus::Accepted,
        }],
        organizer: None,
        categories: vec!["Work".into(), "a,b".into()],
        color: Some("#ff0000".into()),
        url: Some("https://example.com/e/1".into()),
        reminders: vec![Reminder { minutes: 10 }],
        event_private: true,
        participation_status: AttendeeStatus::Accepted,
        transparency: Transparency::Transparent,
        status: EventStatus::Tentative,
        deleted: false,
        provider_created_at: None,
        provider_updated_at: None,
    }
}

#[test]
fn a_partner_event_written_as_ics_reads_back_with_the_same_fields() {
    let london = chrono_tz::Europe::London;
    let event = partner_event(
        EventTime::Instant { at: utc("2026-03-19T09:00:00Z"), tzid: Some(london) },
        EventTime::Instant { at: utc("2026-03-19T10:00:00Z"), tzid: Some(london) },
    );
    let text = ical::to_ics(&event, "partner-1@calsync", utc("2026-03-01T12:00:00Z"));
    assert!(text.lines().all(|l| l.len() <= 76), "every physical line is at most 75 octets + CR");
    assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/London\r\n"), "{text}");
    assert!(text.contains("DTSTART;TZID=Europe/London:20260319T090000\r\n"), "{text}");
    assert!(text.contains("DTSTAMP:20260301T120000Z\r\n"));
    assert!(text.contains("DESCRIPTION:Line one\\nLine two\\, with\\; punctuation\\\\\r\n"), "{text}");

    let series = ical::parse_resource(&text, DEFAULT_TZ).unwrap();
    assert_eq!(series.warnings, Vec::<Warning>::new());
    let master = series.master.as_ref().unwrap();
    assert_eq!(master.uid, "partner-1@calsync");
    assert_eq!(master.summary, event.summary);
    assert_eq!(master.description, event.description);
    assert_eq!(master.location, event.location);
    assert_eq!(master.start, event.start);
    assert_eq!(master.end, event.end);
    assert_eq!(master.attendees, event.attendees);
    assert_eq!(master.categories, event.categories);
    assert_eq!(master.color, event.color);
    assert_eq!(master.url, event.url);
    assert_eq!(master.reminders, event.reminders);
    assert_eq!(
        (master.private, master.transparency, master.status),
        (true, Transparency::Transparent, EventStatus::Tentative)
    );
    assert_eq!(master.rrule.as_deref(), Some("FREQ=WEEKLY;COUNT=4;BYDAY=TH"));
    // Weekly at 09:00 London: the instance after the BST change is still 09:00 local.
    let (start, end) = window();
    let starts: Vec<String> =
        ical::expand(&series, start, end).occurrences.iter().map(|o| o.start.sort_key().to_rfc3339()).collect();
    assert_eq!(
        starts,
        [
            "2026-03-19T09:00:00+00:00",
            "2026-03-26T09:00:00+00:00",
            "2026-04-02T08:00:00+00:00",
            "2026-04-09T08:00:00+00:00"
        ]
    );
}

#[test]
fn an_all_day_partner_event_is_written_as_dates_and_a_utc_one_with_z() {
    let day = |d| EventTime::Date(NaiveDate::from_ymd_opt(2026, 4, d).unwrap());
    let mut event = partner_event(day(10), day(12));
    event.recurrence_rule = None;
    let text = ical::to_ics(&event, "partner-2", utc("2026-03-01T12:00:00Z"));
    assert!(text.contains("DTSTART;VALUE=DATE:20260410\r\nDTEND;VALUE=DATE:20260412\r\n"), "{text}");
    assert!(!text.contains("VTIMEZONE"));
    let master = ical::parse_resource(&text, DEFAULT_TZ).unwrap().master.unwrap();
    assert_eq!((master.start, master.end), (day(10), day(12)));

    let at = EventTime::Instant { at: utc("2026-04-10T07:30:00Z"), tzid: None };
    let event = partner_event(at.clone(), at.clone());
    let text = ical::to_ics(&event, "partner-3", utc("2026-03-01T12:00:00Z"));
    assert!(text.contains("DTSTART:20260410T073000Z\r\n"), "{text}");
    assert_eq!(ical::parse_resource(&text, DEFAULT_TZ).unwrap().master.unwrap().start, at);
}

#[test]
fn an_absurd_duration_or_date_is_read_without_overflowing() {
    let text = vevent("UID:d\r\nDTSTART;TZID=Europe/London:20260310T140000\r\nDURATION:P4294967295W\r\n");
    let master = ical::parse_resource(&text, DEFAULT_TZ).unwrap().master.unwrap();
    assert_eq!(master.end, master.start, "an end past the representable range falls back to zero length");
    let text = vevent("UID:e\r\nDTSTART;VALUE=DATE:99991231\r\nRRULE:FREQ=DAILY\r\n");
    let series = ical::parse_resource(&text, DEFAULT_TZ).unwrap();
    let (start, end) = window();
    assert_eq!(ical::expand(&series, start, end).occurrences.len(), 0);
}

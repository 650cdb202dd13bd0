//! Events and event times as Cronofy's read endpoints write them (cronofy-api.md §4.1, §4.2).
//!
//! Timed values are UTC `YYYY-MM-DDTHH:MM:SSZ`; all-day values stay `YYYY-MM-DD` (end exclusive),
//! with or without `localized_times`. With `localized_times`, a timed value becomes
//! `{"time": "…+02:00", "tzid": "Europe/Paris"}` in the event's own zone, or the query's when the
//! provider gave none.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::access::AccountCalendars;
use crate::domain::{ApplicationId, Event, EventKind, EventTime, Location, Organizer};

/// A UTC instant in Cronofy's format.
pub(super) fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An event start or end; `localized` is the query's zone when `localized_times` was asked for.
pub(super) fn time_json(time: &EventTime, localized: Option<Tz>) -> Value {
    match (time, localized) {
        (EventTime::Date(date), _) => Value::String(date.format("%Y-%m-%d").to_string()),
        (EventTime::Instant { at, .. }, None) => Value::String(utc(*at)),
        (EventTime::Instant { at, tzid }, Some(query_tz)) => {
            let tz = tzid.unwrap_or(query_tz);
            json!({ "time": at.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false), "tzid": tz.name() })
        }
    }
}

/// How one request writes events.
#[derive(Debug)]
pub(super) struct EventView<'a> {
    /// The reading application: its partner events are the managed ones.
    pub(super) application: &'a ApplicationId,
    pub(super) calendars: &'a AccountCalendars,
    pub(super) localized: Option<Tz>,
    pub(super) include_geo: bool,
}

impl EventView<'_> {
    pub(super) fn json(&self, e: &Event) -> Value {
        let managed = e.kind == EventKind::Partner && e.application_id.as_ref() == Some(self.application);
        // The application may change its own events; on calendars calsync hosts it may also
        // change the third-party ones, since no provider stands in the way. Another
        // application's events are never this one's to change.
        let calendar = self.calendars.get(&e.calendar_id);
        let hosted_third_party = e.kind == EventKind::ThirdParty && calendar.is_some_and(|c| c.hosted);
        let changeable = (managed || hosted_third_party) && calendar.is_some_and(|c| !c.read_only);

        let mut o = Map::new();
        o.insert("calendar_id".into(), json!(e.calendar_id));
        o.insert("event_uid".into(), json!(e.uid));
        if managed {
            o.insert("event_id".into(), json!(e.event_id));
        }
        o.insert("summary".into(), json!(e.summary.as_deref().unwrap_or_default()));
        o.insert("description".into(), json!(e.description.as_deref().unwrap_or_default()));
        o.insert("start".into(), time_json(&e.start, self.localized));
        o.insert("end".into(), time_json(&e.end, self.localized));
        o.insert("deleted".into(), json!(e.deleted));
        o.insert("created".into(), json!(utc(e.created_at)));
        o.insert("updated".into(), json!(utc(e.updated_at)));
        if let Some(location) = e.location.as_ref().and_then(|l| self.location(l)) {
            o.insert("location".into(), location);
        }
        o.insert("participation_status".into(), json!(e.participation_status.as_str()));
        let attendees: Vec<Value> = e
            .attendees
            .iter()
            .map(|a| {
                let mut v = Map::new();
                v.insert("email".into(), json!(a.email));
                if let Some(name) = &a.display_name {
                    v.insert("display_name".into(), json!(name));
                }
                v.insert("status".into(), json!(a.status.as_str()));
                Value::Object(v)
            })
            .collect();
        o.insert("attendees".into(), Value::Array(attendees));
        if let Some(organizer) = e.organizer.as_ref().and_then(organizer_json) {
            o.insert("organizer".into(), organizer);
        }
        o.insert("transparency".into(), json!(e.transparency.as_str()));
        o.insert("status".into(), json!(e.status.as_str()));
        o.insert("categories".into(), json!(e.categories));
        o.insert("recurring".into(), json!(e.recurrence_rule.is_some()));
        if let Some(series) = &e.series_id {
            o.insert("series_identifier".into(), json!(series));
        }
        o.insert("event_private".into(), json!(e.event_private));
        if let Some(url) = &e.url {
            o.insert("meeting_url".into(), json!(url));
        }
        o.insert(
            "options".into(),
            json!({ "delete": changeable, "update": changeable, "change_participation_status": changeable }),
        );
        Value::Object(o)
    }

    /// The description, plus coordinates (as strings, as Cronofy writes them) with `include_geo`;
    /// `None` when that leaves nothing to show.
    fn location(&self, l: &Location) -> Option<Value> {
        let mut v = Map::new();
        if let Some(description) = &l.description {
            v.insert("description".into(), json!(description));
        }
        if self.include_geo {
            if let (Some(lat), Some(long)) = (l.lat, l.long) {
                v.insert("lat".into(), json!(lat.to_string()));
                v.insert("long".into(), json!(long.to_string()));
            }
        }
        (!v.is_empty()).then_some(Value::Object(v))
    }
}

fn organizer_json(o: &Organizer) -> Option<Value> {
    let mut v = Map::new();
    if let Some(email) = &o.email {
        v.insert("email".into(), json!(email));
    }
    if let Some(name) = &o.display_name {
        v.insert("display_name".into(), json!(name));
    }
    (!v.is_empty()).then_some(Value::Object(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_or_dates_or_localized_in_the_events_own_zone_first() {
        let at = DateTime::parse_from_rfc3339("2026-05-04T09:00:00Z").unwrap().to_utc();
        let paris = chrono_tz::Europe::Paris;
        let london = chrono_tz::Europe::London;
        let with_zone = EventTime::Instant { at, tzid: Some(paris) };
        let without = EventTime::Instant { at, tzid: None };
        assert_eq!(time_json(&with_zone, None), json!("2026-05-04T09:00:00Z"));
        assert_eq!(
            time_json(&with_zone, Some(london)),
            json!({"time": "2026-05-04T11:00:00+02:00", "tzid": "Europe/Paris"})
        );
        assert_eq!(
            time_json(&without, Some(london)),
            json!({"time": "2026-05-04T10:00:00+01:00", "tzid": "Europe/London"})
        );
        let day = EventTime::Date(chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap());
        assert_eq!(time_json(&day, Some(london)), json!("2026-05-04"));
    }
}

//! A Smart Invite's `event`: validated once on the way in (every problem reported together),
//! stored as the application sent it, and turned into an `EventUpsert` for the iCalendar
//! emitter whenever the invitation is written.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::{
    api::{
        error::keys,
        writes::{
            event_fields,
            fields::{self, Errors},
            times,
        },
    },
    domain::{
        AccountId, Attendee, AttendeeStatus, CalendarId, EventKind, EventStatus, EventTime, Location, Organizer,
        ProfileId, Reminder, Transparency,
    },
    store::EventUpsert,
};

const MAX_SUMMARY: usize = 1024;
const MAX_DESCRIPTION: usize = 64 * 1024;

/// The event's fields the invitation carries.
struct Parsed {
    summary: String,
    description: Option<String>,
    start: EventTime,
    end: EventTime,
    location: Option<Location>,
    url: Option<String>,
    transparency: Transparency,
    reminders: Vec<Reminder>,
    color: Option<String>,
}

fn parse(value: &Value, errors: &mut Errors) -> Option<Parsed> {
    let Some(event) = value.as_object() else {
        errors.add("event", keys::INVALID_TYPE, "must be an object");
        return None;
    };
    let before = errors.len();
    let summary = match fields::get(event, "summary") {
        Some(v) => fields::string(v, "event.summary", MAX_SUMMARY, errors),
        None => {
            errors.required("event.summary");
            None
        }
    };
    let description =
        fields::get(event, "description").and_then(|v| fields::string(v, "event.description", MAX_DESCRIPTION, errors));
    let tz = match fields::get(event, "tzid") {
        Some(v) => times::zone(v, "event.tzid", errors),
        None => Some(Tz::UTC),
    };
    let mut time = |name: &str| match (fields::get(event, name), tz) {
        (Some(v), Some(tz)) => times::event_time(v, &format!("event.{name}"), tz, errors),
        (None, _) => {
            errors.required(format!("event.{name}"));
            None
        }
        (Some(_), None) => None,
    };
    let start = time("start");
    let end = time("end");
    if let (Some(start), Some(end)) = (&start, &end) {
        let mut span = Errors::default();
        times::check_span(start, end, &mut span);
        if span.len() > 0 {
            errors.add("event.end", keys::INVALID, "must be after start, and of the same kind (date or time)");
        }
    }
    let location = fields::get(event, "location").and_then(|v| event_fields::location(v, errors));
    let url = fields::get(event, "url").and_then(|v| event_fields::url(v, errors));
    let transparency = match fields::get(event, "transparency").map(Value::as_str) {
        None | Some(Some("opaque")) => Transparency::Opaque,
        Some(Some("transparent")) => Transparency::Transparent,
        Some(_) => {
            errors.add("event.transparency", keys::INVALID, "must be opaque or transparent");
            Transparency::Opaque
        }
    };
    // The shared field checks name fields from the event's root: report them under `event.`.
    let mut nested = Errors::default();
    let reminders = fields::get(event, "reminders").and_then(|v| event_fields::reminders(v, &mut nested));
    let color = fields::get(event, "color").and_then(|v| event_fields::color(v, &mut nested));
    errors.nest("event", nested);
    if errors.len() > before {
        return None;
    }
    Some(Parsed {
        summary: summary?,
        description,
        start: start?,
        end: end?,
        location,
        url,
        transparency,
        reminders: reminders.unwrap_or_default(),
        color,
    })
}

/// Checks `value`; returns when the event ends (the retention clock's start).
pub(super) fn validate(value: &Value, errors: &mut Errors) -> Option<DateTime<Utc>> {
    parse(value, errors).map(|p| p.end.sort_key())
}

/// The event as the emitter takes it: organised by the reply address (with the organizer's
/// name), the recipients as attendees asked to reply.
pub(super) fn render(
    value: &Value,
    organizer: &Value,
    reply_address: &str,
    recipients: &[&str],
    cancelled: bool,
) -> Option<EventUpsert> {
    let parsed = parse(value, &mut Errors::default())?;
    let name = organizer.get("name").and_then(Value::as_str).map(str::to_owned);
    Some(EventUpsert {
        // The emitter ignores the cache's keys; an invitation lives in no calendar.
        calendar_id: CalendarId::generate(),
        profile_id: ProfileId::generate(),
        account_id: AccountId::generate(),
        kind: EventKind::Partner,
        application_id: None,
        event_id: None,
        provider_id: None,
        ical_uid: None,
        etag: None,
        summary: Some(parsed.summary),
        description: parsed.description,
        start: parsed.start,
        end: parsed.end,
        recurrence_rule: None,
        series_id: None,
        original_start: None,
        location: parsed.location,
        attendees: recipients
            .iter()
            .map(|email| Attendee {
                email: (*email).to_owned(),
                display_name: None,
                status: AttendeeStatus::NeedsAction,
            })
            .collect(),
        organizer: Some(Organizer { email: Some(reply_address.to_owned()), display_name: name }),
        categories: Vec::new(),
        color: parsed.color,
        url: parsed.url,
        reminders: parsed.reminders,
        event_private: false,
        participation_status: AttendeeStatus::Unknown,
        transparency: parsed.transparency,
        status: if cancelled { EventStatus::Cancelled } else { EventStatus::Confirmed },
        deleted: false,
        provider_created_at: None,
        provider_updated_at: None,
    })
}

//! The upsert body's optional structured fields (cronofy-api.md §5.3): location, url,
//! reminders, color and attendees. Each parser reports its problems under the field's path
//! (`reminders[0].minutes`, `attendees.invite[1].email`) and returns `None` when any was found.

use serde_json::Value;

use super::fields::{self, Body, Errors};
use crate::{
    api::error::keys,
    domain::{Attendee, AttendeeStatus, Location, Reminder},
};

const MAX_LOCATION: usize = 1024;
const MAX_URL: usize = 2048;
const MAX_REMINDERS: usize = 5;
/// Four weeks, the longest reminder the providers accept.
const MAX_REMINDER_MINUTES: i64 = 40320;
const MAX_ATTENDEES: usize = 500;

/// `{description, lat, long}`; an object with none of them clears the location.
pub(in crate::api) fn location(value: &Value, errors: &mut Errors) -> Option<Location> {
    let object = fields::nested(value, "location", errors)?;
    let description = fields::get(object, "description")
        .and_then(|v| fields::string(v, "location.description", MAX_LOCATION, errors));
    // Cronofy documents lat/long as strings; numbers are accepted too.
    let mut coordinate = |key: &str, limit: f64| {
        let field = format!("location.{key}");
        let n = match fields::get(object, key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
            _ => None,
        };
        match n {
            Some(n) if (-limit..=limit).contains(&n) => Some(n),
            Some(_) => {
                errors.add(field, keys::OUT_OF_RANGE, format!("must be between -{limit} and {limit}"));
                None
            }
            None => {
                errors.add(field, keys::INVALID_TYPE, "must be a number");
                None
            }
        }
    };
    let lat = coordinate("lat", 90.0);
    let long = coordinate("long", 180.0);
    Some(Location { description, lat, long })
}

/// An absolute http(s) URL.
pub(in crate::api) fn url(value: &Value, errors: &mut Errors) -> Option<String> {
    let text = fields::string(value, "url", MAX_URL, errors)?;
    let lower = text.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    let has_host = rest.is_some_and(|r| r.split(['/', '?', '#']).next().is_some_and(|host| !host.is_empty()));
    if has_host && !text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some(text)
    } else {
        errors.add("url", keys::INVALID, "must be an http or https URL");
        None
    }
}

pub(in crate::api) fn reminders(value: &Value, errors: &mut Errors) -> Option<Vec<Reminder>> {
    let items = fields::array(value, "reminders", MAX_REMINDERS, errors)?;
    let found_before = errors.len();
    let mut reminders = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("reminders[{i}]");
        let Some(object) = fields::nested(item, &field, errors) else { continue };
        let minutes_field = format!("{field}.minutes");
        match fields::get(object, "minutes") {
            None => errors.required(minutes_field),
            Some(v) => {
                if let Some(m) = fields::integer(v, &minutes_field, 0..=MAX_REMINDER_MINUTES, errors) {
                    reminders.push(Reminder { minutes: i32::try_from(m).unwrap_or(i32::MAX) });
                }
            }
        }
    }
    (errors.len() == found_before).then_some(reminders)
}

/// `#rrggbb`, or a short color name.
pub(in crate::api) fn color(value: &Value, errors: &mut Errors) -> Option<String> {
    let text = fields::string(value, "color", 32, errors)?;
    let hex = text.strip_prefix('#').is_some_and(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
    let name = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if hex || name {
        Some(text)
    } else {
        errors.add("color", keys::INVALID, "must be #rrggbb or a color name");
        None
    }
}

/// `{invite: [{email, display_name?}], remove: [{email}]}`.
pub(super) fn attendees(value: &Value, errors: &mut Errors) -> (Vec<Attendee>, Vec<String>) {
    let mut invite = Vec::new();
    let mut remove = Vec::new();
    let Some(object) = fields::nested(value, "attendees", errors) else { return (invite, remove) };
    for (list, is_invite) in [("invite", true), ("remove", false)] {
        let field = format!("attendees.{list}");
        let Some(items) = fields::get(object, list).and_then(|v| fields::array(v, &field, MAX_ATTENDEES, errors))
        else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let field = format!("{field}[{i}]");
            let Some(person) = fields::nested(item, &field, errors) else { continue };
            let Some(email) = email(person, &field, errors) else { continue };
            if is_invite {
                let display_name = fields::get(person, "display_name")
                    .and_then(|v| fields::string(v, &format!("{field}.display_name"), 256, errors));
                invite.push(Attendee { email, display_name, status: AttendeeStatus::NeedsAction });
            } else {
                remove.push(email);
            }
        }
    }
    (invite, remove)
}

fn email(person: &Body, field: &str, errors: &mut Errors) -> Option<String> {
    let field = format!("{field}.email");
    let Some(value) = fields::get(person, "email") else {
        errors.required(field);
        return None;
    };
    let text = fields::string(value, &field, 254, errors)?;
    let text = text.trim();
    let valid = text.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.starts_with('.')
    }) && !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Some(text.to_owned())
    } else {
        errors.add(field, keys::INVALID, "must be an email address");
        None
    }
}

//! The upsert body (cronofy-api.md §5.3), parsed and validated in full before anything is
//! written: all problems come back together in one 422, each naming its field.
//!
//! The result records, field by field, whether the request set it, because an update keeps what
//! it omits ("an update should preserve any other metadata"). JSON `null` means omitted, except
//! for `url`, where Cronofy documents `null` as "remove".

use serde_json::Value;

use super::{
    event_fields::{attendees, color, location, reminders, url},
    fields::{self, Body, Errors},
    recurrence, times,
};
use crate::{
    api::error::{ApiResult, keys},
    domain::{Attendee, EventTime, Location, Reminder, Transparency},
    store::EventUpsert,
};

const MAX_ID: usize = 1024;
const MAX_SUMMARY: usize = 1024;
const MAX_DESCRIPTION: usize = 4096;

/// Which event a write is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum EventKey {
    /// The application's own `event_id` (a partner event).
    Managed(String),
    /// calsync's `event_uid` of any event in the calendar (an external event).
    External(String),
}

/// `event_id` or `event_uid`, exactly one of them.
pub(super) fn event_key(body: &Body, errors: &mut Errors) -> Option<EventKey> {
    let found_before = errors.len();
    let event_id = fields::get(body, "event_id").and_then(|v| fields::string(v, "event_id", MAX_ID, errors));
    let event_uid = fields::get(body, "event_uid").and_then(|v| fields::string(v, "event_uid", MAX_ID, errors));
    let found = errors.len() > found_before;
    match (event_id, event_uid) {
        (Some(_), Some(_)) => {
            errors.add("event_uid", keys::INVALID, "give either event_id or event_uid, not both");
            None
        }
        (Some(id), None) if !id.trim().is_empty() => Some(EventKey::Managed(id)),
        (None, Some(uid)) if !uid.trim().is_empty() => Some(EventKey::External(uid)),
        _ if found => None,
        _ => {
            errors.required("event_id");
            None
        }
    }
}

/// A validated upsert body, apart from the event's key (`event_id` or `event_uid`).
#[derive(Debug, Clone)]
pub(super) struct EventInput {
    summary: String,
    description: Option<String>,
    start: EventTime,
    end: EventTime,
    location: Option<Option<Location>>,
    url: Option<Option<String>>,
    reminders: Option<Vec<Reminder>>,
    reminders_create_only: bool,
    transparency: Option<Transparency>,
    color: Option<String>,
    event_private: Option<bool>,
    invite: Vec<Attendee>,
    remove: Vec<String>,
    recurrence: Option<Option<String>>,
}

impl EventInput {
    /// Validates every field; `errors` may already hold problems with the key.
    pub(super) fn parse(body: &Body, mut errors: Errors) -> ApiResult<Self> {
        let summary = fields::required_string(body, "summary", MAX_SUMMARY, &mut errors);
        let description = fields::get(body, "description")
            .and_then(|v| fields::string(v, "description", MAX_DESCRIPTION, &mut errors));
        let tz =
            fields::get(body, "tzid").and_then(|v| times::zone(v, "tzid", &mut errors)).unwrap_or(chrono_tz::Etc::UTC);
        let time = |field: &str, errors: &mut Errors| match fields::get(body, field) {
            Some(v) => times::event_time(v, field, tz, errors),
            None => {
                errors.required(field);
                None
            }
        };
        let start = time("start", &mut errors);
        let end = time("end", &mut errors);
        if let (Some(start), Some(end)) = (&start, &end) {
            times::check_span(start, end, &mut errors);
        }
        let location = fields::get(body, "location").and_then(|v| location(v, &mut errors)).map(Some);
        let url = match body.get("url") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => url(v, &mut errors).map(Some),
        };
        let reminders = fields::get(body, "reminders").and_then(|v| reminders(v, &mut errors));
        let reminders_create_only = fields::get(body, "reminders_create_only")
            .and_then(|v| fields::boolean(v, "reminders_create_only", &mut errors));
        let transparency = fields::get(body, "transparency").and_then(|v| match v.as_str() {
            Some("opaque") => Some(Transparency::Opaque),
            Some("transparent") => Some(Transparency::Transparent),
            _ => {
                errors.add("transparency", keys::INVALID, "must be opaque or transparent");
                None
            }
        });
        let color = fields::get(body, "color").and_then(|v| color(v, &mut errors));
        let event_private =
            fields::get(body, "event_private").and_then(|v| fields::boolean(v, "event_private", &mut errors));
        let (invite, remove) = fields::get(body, "attendees").map(|v| attendees(v, &mut errors)).unwrap_or_default();
        let recurrence = fields::get(body, "recurrence").and_then(|v| recurrence::parse(v, &mut errors));

        errors.finish()?;
        let (Some(summary), Some(start), Some(end)) = (summary, start, end) else {
            // Unreachable in practice: a missing value always recorded an error above.
            return Err(crate::api::error::ApiError::required("summary"));
        };
        Ok(EventInput {
            summary,
            description,
            start,
            end,
            location,
            url,
            reminders,
            reminders_create_only: reminders_create_only.unwrap_or(false),
            transparency,
            color,
            event_private,
            invite,
            remove,
            recurrence,
        })
    }

    /// Writes the request onto `event`: the stored event for an update (what the request omits
    /// stays), or a blank one when `creating`.
    pub(super) fn apply(self, event: &mut EventUpsert, creating: bool) {
        event.summary = Some(self.summary);
        if let Some(description) = self.description {
            event.description = Some(description);
        }
        let all_day = self.start.is_all_day();
        event.start = self.start;
        event.end = self.end;
        if let Some(location) = self.location {
            event.location = location;
        }
        if let Some(url) = self.url {
            event.url = url;
        }
        if let Some(reminders) = self.reminders.filter(|_| creating || !self.reminders_create_only) {
            event.reminders = reminders;
        }
        match self.transparency {
            Some(t) => event.transparency = t,
            None if creating => {
                event.transparency = if all_day { Transparency::Transparent } else { Transparency::Opaque }
            }
            None => {}
        }
        if let Some(color) = self.color {
            event.color = Some(color);
        }
        if creating {
            event.event_private = self.event_private.unwrap_or(false);
        }
        for invited in self.invite {
            match event.attendees.iter_mut().find(|a| a.email.eq_ignore_ascii_case(&invited.email)) {
                Some(existing) if invited.display_name.is_some() => existing.display_name = invited.display_name,
                Some(_) => {}
                None => event.attendees.push(invited),
            }
        }
        event.attendees.retain(|a| !self.remove.iter().any(|r| r.eq_ignore_ascii_case(&a.email)));
        if let Some(recurrence) = self.recurrence {
            event.recurrence_rule = recurrence;
        }
    }
}

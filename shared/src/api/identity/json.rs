//! Profiles and calendars as Cronofy writes them (cronofy-api.md §4.3, §4.4, §4.7).

use serde_json::{Map, Value, json};

use crate::domain::{Calendar, Profile, ProfileStatus};

/// A profile's own fields (`/v1/profiles`, and the head of each userinfo profile).
pub(super) fn profile_fields(p: &Profile, initial_sync_required: bool) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("provider_name".into(), json!(p.provider.as_str()));
    o.insert("provider_service".into(), json!(p.provider_service.as_str()));
    o.insert("profile_id".into(), json!(p.id));
    o.insert("profile_name".into(), json!(p.email));
    o.insert("profile_connected".into(), json!(p.status == ProfileStatus::Active));
    o.insert("profile_initial_sync_required".into(), json!(initial_sync_required));
    o
}

/// A calendar's own fields (userinfo's `profile_calendars`, and the tail of `/v1/calendars`).
///
/// Integrated conferencing and attachments are provider features calsync does not pass through,
/// and every calendar is `sandbox`: an application changes only its own events.
pub(super) fn calendar_fields(c: &Calendar) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("calendar_id".into(), json!(c.id));
    o.insert("calendar_name".into(), json!(c.name));
    o.insert("calendar_readonly".into(), json!(c.read_only));
    o.insert("calendar_deleted".into(), json!(c.deleted));
    o.insert("calendar_primary".into(), json!(c.is_primary));
    o.insert("calendar_integrated_conferencing_available".into(), json!(false));
    o.insert("calendar_attachments_available".into(), json!(false));
    o.insert("permission_level".into(), json!("sandbox"));
    o
}

/// A calendar with its profile, as `/v1/calendars` lists it and `POST /v1/calendars` returns it.
pub(super) fn calendar_json(c: &Calendar, p: &Profile) -> Value {
    let mut o = Map::new();
    o.insert("provider_name".into(), json!(p.provider.as_str()));
    o.insert("profile_id".into(), json!(p.id));
    o.insert("profile_name".into(), json!(p.email));
    o.extend(calendar_fields(c));
    Value::Object(o)
}

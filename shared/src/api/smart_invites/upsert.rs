//! `POST /v1/smart_invites`: creates or updates (`method` `request`, the default), cancels
//! (`cancel`) or removes (`remove`) the invite of one recipient (`recipient`) or several
//! (`recipients`). Idempotent per application, `smart_invite_id` and recipient email: the same
//! body again changes nothing, while a changed event, organizer or method is a new revision
//! (SEQUENCE + 1). A cancel may omit the event: the stored one is cancelled.

use axum::{Json, extract::State};
use serde_json::{Value, json};
use sqlx::types::Json as Stored;

use super::{event, invite_json};
use crate::{
    api::{
        error::{ApiError, ApiResult, keys},
        extract::{ApiJson, AppKey},
        writes::fields::{self, Errors},
    },
    domain::random_token,
    state::AppState,
    store::SmartInvite,
};

const MAX_ID: usize = 64;
const MAX_EMAIL: usize = 254;
const MAX_RECIPIENTS: usize = 100;
/// A recipient's statuses; an invite may start in any of them (Cronofy's "initial status").
const STATUSES: [&str; 4] = ["pending", "accepted", "tentative", "declined"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Request,
    Cancel,
    Remove,
}

pub(super) async fn post(
    State(state): State<AppState>,
    AppKey(app): AppKey,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    // Validate every field, reporting all problems at once.
    let body = fields::object(&body)?;
    let mut errors = Errors::default();
    let id = fields::required_string(body, "smart_invite_id", MAX_ID, &mut errors);
    let method = match fields::get(body, "method").map(Value::as_str) {
        None | Some(Some("request")) => Method::Request,
        Some(Some("cancel")) => Method::Cancel,
        Some(Some("remove")) => Method::Remove,
        Some(_) => {
            errors.add("method", keys::INVALID, "must be request, cancel or remove");
            Method::Request
        }
    };
    let (initial, many) = recipients(body, &mut errors);
    let recipients: Vec<String> = initial.iter().map(|(email, _)| email.clone()).collect();
    let initial: std::collections::HashMap<String, Option<&'static str>> = initial.into_iter().collect();
    let event = fields::get(body, "event");
    let event_end = match (event, method) {
        (Some(e), Method::Request | Method::Cancel) => event::validate(e, &mut errors),
        (None, Method::Request) => {
            errors.required("event");
            None
        }
        _ => None,
    };
    let organizer = match fields::get(body, "organizer") {
        None => json!({}),
        Some(Value::Object(o)) => {
            if let Some(name) = o.get("name").filter(|v| !v.is_null()) {
                fields::string(name, "organizer.name", 256, &mut errors);
            }
            Value::Object(o.clone())
        }
        Some(_) => {
            errors.add("organizer", keys::INVALID_TYPE, "must be an object");
            json!({})
        }
    };
    let callback_url = match fields::get(body, "callback_url") {
        None => None,
        Some(Value::String(url)) => match state.callbacks.check(url.trim()).await {
            Ok(url) => Some(url.to_string()),
            Err(problem) => {
                errors.add("callback_url", keys::INVALID, problem.to_string());
                None
            }
        },
        Some(_) => {
            errors.add("callback_url", keys::INVALID_TYPE, "must be a string");
            None
        }
    };
    errors.finish()?;
    let Some(id) = id else { return Err(ApiError::required("smart_invite_id")) };

    // Apply the method to each recipient.
    let now = state.clock.now();
    let mut rows = Vec::new();
    let mut removed = Vec::new();
    for email in &recipients {
        let existing = state.store.get_smart_invite(&app.id, &id, email).await?;
        if method == Method::Remove {
            if state.store.delete_smart_invite(&app.id, &id, email).await? {
                tracing::info!(application_id = %app.id, "smart invite removed");
            }
            removed.push(json!({ "email": email }));
            continue;
        }
        let (event, event_end) = match (event, event_end, &existing) {
            (Some(e), Some(end), _) => (e.clone(), end),
            (None, _, Some(old)) => (old.event.0.clone(), old.event_end),
            _ => return Err(ApiError::NotFound),
        };
        let method_name = if method == Method::Cancel { "cancel" } else { "request" };
        let row = match existing {
            Some(old)
                if old.event.0 == event
                    && old.organizer.0 == organizer
                    && old.method == method_name
                    && old.callback_url == callback_url =>
            {
                old
            }
            Some(old) => {
                let revised = old.event.0 != event || old.organizer.0 != organizer || old.method != method_name;
                let sequence = if revised { old.sequence + 1 } else { old.sequence };
                let row = SmartInvite {
                    method: method_name.to_owned(),
                    sequence,
                    callback_url: callback_url.clone(),
                    organizer: Stored(organizer.clone()),
                    event: Stored(event),
                    event_end,
                    updated_at: now,
                    ..old
                };
                state.store.save_smart_invite(&row).await?;
                row
            }
            None => {
                let uid = match rows.first() {
                    Some(SmartInvite { uid, .. }) => uid.clone(),
                    None => format!("{}@calsync", random_token(26)),
                };
                let row = SmartInvite {
                    application_id: app.id.clone(),
                    smart_invite_id: id.clone(),
                    recipient_email: email.clone(),
                    uid,
                    reply_token: random_token(26),
                    method: method_name.to_owned(),
                    sequence: 0,
                    status: initial.get(email).copied().flatten().unwrap_or("pending").to_owned(),
                    reply_comment: None,
                    reply_proposal: None,
                    callback_url: callback_url.clone(),
                    organizer: Stored(organizer.clone()),
                    event: Stored(event),
                    event_end,
                    created_at: now,
                    updated_at: now,
                };
                state.store.save_smart_invite(&row).await?;
                tracing::info!(application_id = %app.id, "smart invite created");
                row
            }
        };
        rows.push(row);
    }

    if method == Method::Remove {
        let mut object = json!({ "smart_invite_id": id, "attachments": { "removed": removed.first() } });
        if many {
            object["recipients"] = Value::Array(recipients.iter().map(|e| json!({ "email": e })).collect());
            object["attachments"]["removed"] = Value::Array(removed);
        } else {
            object["recipient"] = json!({ "email": recipients.first() });
        }
        return Ok(Json(object));
    }
    Ok(Json(invite_json(&state.config, &rows, many)))
}

/// The lower-cased recipient emails, each with the initial `status` given for it (taken when its
/// invite is created), and whether they came as `recipients` (a list).
fn recipients(body: &fields::Body, errors: &mut Errors) -> (Vec<(String, Option<&'static str>)>, bool) {
    let mut one = |value: &Value, field: &str| -> Option<(String, Option<&'static str>)> {
        let Some(object) = value.as_object() else {
            errors.add(field, keys::INVALID_TYPE, "must be an object with an email");
            return None;
        };
        let status = match object.get("status").filter(|v| !v.is_null()).map(Value::as_str) {
            None => None,
            Some(Some(s)) if STATUSES.contains(&s) => STATUSES.iter().find(|known| **known == s).copied(),
            Some(_) => {
                errors.add(
                    format!("{field}.status"),
                    keys::INVALID,
                    "must be pending, accepted, tentative or declined",
                );
                None
            }
        };
        let email_field = format!("{field}.email");
        let text = fields::required_string(object, "email", MAX_EMAIL, errors)?;
        let text = text.trim().to_lowercase();
        let valid = text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        });
        if valid {
            Some((text, status))
        } else {
            errors.add(email_field, keys::INVALID, "must be an email address");
            None
        }
    };
    match (fields::get(body, "recipient"), fields::get(body, "recipients")) {
        (Some(value), None) => (one(value, "recipient").into_iter().collect(), false),
        (None, Some(Value::Array(list))) if !list.is_empty() && list.len() <= MAX_RECIPIENTS => {
            let mut people: Vec<(String, Option<&'static str>)> = Vec::new();
            for (i, v) in list.iter().enumerate() {
                if let Some(person) = one(v, &format!("recipients[{i}]")) {
                    if !people.iter().any(|(email, _)| *email == person.0) {
                        people.push(person);
                    }
                }
            }
            (people, true)
        }
        (None, Some(_)) => {
            errors.add("recipients", keys::INVALID, "must be a list of 1 to 100 recipients");
            (Vec::new(), true)
        }
        (Some(_), Some(_)) => {
            errors.add("recipients", keys::INVALID, "give recipient or recipients, not both");
            (Vec::new(), false)
        }
        (None, None) => {
            errors.required("recipient");
            (Vec::new(), false)
        }
    }
}

//! Smart Invites (cronofy-api.md §4.8): invitations an application creates with its own client
//! secret for recipients who authorized nothing. `POST /v1/smart_invites` creates, updates,
//! cancels or removes one recipient's invite (or several recipients'); `GET /v1/smart_invites`
//! reads one back with its replies. The invitation itself is an iTIP message (RFC 5546) in
//! `attachments.icalendar`, whose ORGANIZER is a reply address routed back to calsync.

use axum::{Router, routing::post};
use serde_json::{Value, json};

use crate::{config::Config, domain::EventTime, ical, state::AppState, store::SmartInvite};

mod event;
mod get;
mod inbound;
mod reply;
mod upsert;

pub use reply::{MAX_MESSAGE_BYTES, Message, Received, ReplyError, receive};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/smart_invites", post(upsert::post).get(get::get))
        .route("/inbound/smart_invite_replies", post(reply::post))
}

/// The reply address of an invite: `invite+<token>@<domain>`, the domain configured or else the
/// public URL's host.
pub(crate) fn reply_address(config: &Config, token: &str) -> String {
    let domain = config.smart_invite_reply_domain.clone().unwrap_or_else(|| {
        let rest = config.public_url.split_once("://").map_or(config.public_url.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        host.split(':').next().unwrap_or_default().to_owned()
    });
    format!("invite+{token}@{domain}")
}

/// The iCalendar text for `rows` (one invite, one or more recipients, sharing its UID and event).
fn icalendar(config: &Config, rows: &[SmartInvite]) -> String {
    let Some(first) = rows.first() else { return String::new() };
    let recipients: Vec<&str> = rows.iter().map(|r| r.recipient_email.as_str()).collect();
    let organizer = reply_address(config, &first.reply_token);
    let cancelled = first.method == "cancel";
    let Some(event) = event::render(&first.event.0, &first.organizer.0, &organizer, &recipients, cancelled) else {
        return String::new();
    };
    let scheduling = ical::Scheduling {
        method: if cancelled { "CANCEL" } else { "REQUEST" },
        sequence: rows.iter().map(|r| r.sequence).max().unwrap_or(0),
    };
    let stamp = rows.iter().map(|r| r.updated_at).max().unwrap_or(first.updated_at);
    ical::to_invitation(&event, &first.uid, stamp, scheduling)
}

/// Cronofy's invite object: `recipient` (or `recipients`), the invite's fields, the invitation
/// and the replies (one per recipient who has answered, as they answered).
fn invite_json(config: &Config, rows: &[SmartInvite], many: bool) -> Value {
    let Some(first) = rows.first() else { return json!({}) };
    let mut object = json!({
        "smart_invite_id": first.smart_invite_id,
        "callback_url": first.callback_url,
        "event": first.event.0,
        "attachments": { "icalendar": icalendar(config, rows) },
        "replies": rows.iter().filter(|r| r.status != "pending").map(answer_json).collect::<Vec<_>>(),
    });
    if many {
        object["recipients"] = Value::Array(rows.iter().map(answer_json).collect());
    } else {
        object["recipient"] = answer_json(first);
    }
    object
}

/// One recipient's answer: `email` and `status`, with the reply's `comment` and `proposal` when
/// it had them.
fn answer_json(row: &SmartInvite) -> Value {
    let mut answer = json!({ "email": row.recipient_email, "status": row.status });
    if let Some(comment) = &row.reply_comment {
        answer["comment"] = json!(comment);
    }
    if let Some(proposal) = &row.reply_proposal {
        answer["proposal"] = proposal.0.clone();
    }
    answer
}

/// A proposed time as Cronofy shows it: `{"start": {time, tzid}, "end": {time, tzid}}`, times in
/// UTC (dates for all-day), the zone the proposal named or `Etc/UTC`.
fn proposal_json(start: &EventTime, end: &EventTime) -> Value {
    let one = |time: &EventTime| match time {
        EventTime::Date(date) => json!({ "time": date.format("%Y-%m-%d").to_string(), "tzid": "Etc/UTC" }),
        EventTime::Instant { at, tzid } => json!({
            "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "tzid": tzid.map_or("Etc/UTC", |tz| tz.name()),
        }),
    };
    json!({ "start": one(start), "end": one(end) })
}

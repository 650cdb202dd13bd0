//! `POST /inbound/smart_invite_replies`: where the operator's email gateway (for example an SES
//! receipt rule's Lambda) posts each message sent to a reply address, either the raw message
//! (`message/rfc822`) or its calendar part alone (`text/calendar`). It is authenticated with the
//! admin token (the gateway is the operator's own), so no second secret has to be configured.
//!
//! The invite is found by the `invite+<token>@` address in `To` when present, else by the
//! REPLY's UID and attendee; either way UID and attendee must match the stored invite. A reply
//! that repeats the current status changes nothing.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, header::CONTENT_TYPE},
};
use serde_json::{Value, json};

use super::inbound;
use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::Admin,
    },
    state::AppState,
};

pub(super) async fn post(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    if body.len() > inbound::MAX_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let (ics, token) = match media.as_str() {
        "message/rfc822" => {
            let ics = inbound::calendar_part(&body)
                .ok_or_else(|| ApiError::invalid("body", "no_calendar", "the message has no text/calendar part"))?;
            (ics, inbound::reply_token(&body))
        }
        "text/calendar" => {
            let ics = String::from_utf8(body.to_vec())
                .map_err(|_| ApiError::invalid("body", "invalid", "the calendar is not UTF-8"))?;
            (ics, None)
        }
        _ => {
            return Err(ApiError::invalid("content-type", "unsupported", "send message/rfc822 or text/calendar"));
        }
    };
    let reply = inbound::parse_reply(&ics).map_err(|e| ApiError::invalid("body", "invalid_reply", e))?;
    let invite = match token {
        Some(token) => state.store.smart_invite_by_reply_token(&token).await?,
        None => {
            let mut found = state.store.smart_invites_by_uid(&reply.uid, &reply.attendee).await?;
            if found.len() == 1 { found.pop() } else { None }
        }
    };
    let invite = invite
        .filter(|i| i.uid == reply.uid && i.recipient_email == reply.attendee && i.method == "request")
        .ok_or(ApiError::NotFound)?;
    let changed = state.store.set_smart_invite_status(&invite, reply.status, state.clock.now()).await?;
    Ok(Json(json!({
        "smart_invite_id": invite.smart_invite_id,
        "recipient": { "email": invite.recipient_email, "status": reply.status },
        "changed": changed,
    })))
}

//! `POST /inbound/smart_invite_replies`: where the operator's email gateway (for example an SES
//! receipt rule's Lambda) posts each message sent to a reply address, either the raw message
//! (`message/rfc822`) or its calendar part alone (`text/calendar`). It is authenticated with the
//! admin token (the gateway is the operator's own), so no second secret has to be configured.
//!
//! The invite is found by the `invite+<token>@` address in `To` when present, else by the
//! REPLY's UID and attendee; either way UID and attendee must match the stored invite. A COUNTER
//! (a proposed new time) is taken like a REPLY and keeps the proposal. A reply that changes the
//! recipient's status, comment or proposal is stored together with a signed `smart_invite`
//! callback to the invite's callback URL, delivered by the notify function; one that repeats what
//! is stored changes nothing and sends nothing.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, header::CONTENT_TYPE},
};
use serde_json::{Value, json};

use sqlx::types::Json as Stored;

use super::{answer_json, inbound, invite_json, proposal_json};
use crate::{
    api::{
        error::{ApiError, ApiResult},
        extract::Admin,
    },
    notify::{self, smart_invite_body},
    state::AppState,
    store::SmartInvite,
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
    let (ics, token, sender) = match media.as_str() {
        "message/rfc822" => {
            let ics = inbound::calendar_part(&body)
                .ok_or_else(|| ApiError::invalid("body", "no_calendar", "the message has no text/calendar part"))?;
            (ics, inbound::reply_token(&body), inbound::sender(&body))
        }
        "text/calendar" => {
            let ics = String::from_utf8(body.to_vec())
                .map_err(|_| ApiError::invalid("body", "invalid", "the calendar is not UTF-8"))?;
            (ics, None, None)
        }
        _ => {
            return Err(ApiError::invalid("content-type", "unsupported", "send message/rfc822 or text/calendar"));
        }
    };
    let reply = inbound::parse_reply(&ics).map_err(|e| ApiError::invalid("body", "invalid_reply", e))?;
    let (invite, status) = find_invite(&state, &reply, token.as_deref(), sender.as_deref()).await?;

    // The recipient's row as the reply leaves it, and the callback reporting it.
    let invite = SmartInvite {
        status: status.to_owned(),
        reply_comment: reply.comment.clone(),
        reply_proposal: reply.proposal.as_ref().map(|(start, end)| Stored(proposal_json(start, end))),
        ..invite
    };
    let callback = invite.callback_url.as_deref().map(|url| {
        let mut object = invite_json(&state.config, std::slice::from_ref(&invite), false);
        object["reply"] = answer_json(&invite);
        notify::smart_invite_callback(
            &state,
            &invite.application_id,
            &invite.reply_token,
            url,
            smart_invite_body(&object),
        )
    });
    let changed = state.store.record_smart_invite_reply(&invite, state.clock.now(), callback.as_ref()).await?;
    if changed {
        tracing::info!(application_id = %invite.application_id, status, "smart invite reply recorded");
        if let Some(callback) = &callback {
            // The row is stored: should queueing fail, the periodic sweep queues it later.
            if let Err(e) = notify::queue(&state, &callback.id).await {
                tracing::error!(error.message = %e, "the smart invite callback could not be queued");
            }
        }
    }
    Ok(Json(json!({
        "smart_invite_id": invite.smart_invite_id,
        "recipient": answer_json(&invite),
        "changed": changed,
    })))
}

/// The invite row the reply answers, and the status it gives. The reply address's token names
/// the invite (all its recipients share one invitation, and so one address); the attendee picks
/// the recipient, or the message's sender when the calendar names several (a COUNTER may repeat
/// the whole list). Without a token the UID and attendee must match exactly one invite. Only an
/// invite still requested (not cancelled) takes replies.
async fn find_invite(
    state: &AppState,
    reply: &inbound::Reply,
    token: Option<&str>,
    sender: Option<&str>,
) -> ApiResult<(SmartInvite, &'static str)> {
    let mut found = Vec::new();
    match token {
        Some(token) => {
            let Some(named) = state.store.smart_invite_by_reply_token(token).await? else {
                return Err(ApiError::NotFound);
            };
            for (email, _) in &reply.attendees {
                if let Some(row) =
                    state.store.get_smart_invite(&named.application_id, &named.smart_invite_id, email).await?
                {
                    found.push(row);
                }
            }
        }
        None => {
            for (email, _) in &reply.attendees {
                found.extend(state.store.smart_invites_by_uid(&reply.uid, email).await?);
            }
        }
    }
    if found.len() > 1
        && let Some(sender) = sender
    {
        found.retain(|row| row.recipient_email == sender);
    }
    let invite = match found.len() {
        1 => found.remove(0),
        _ => return Err(ApiError::NotFound),
    };
    if invite.uid != reply.uid || invite.method != "request" {
        return Err(ApiError::NotFound);
    }
    let status = reply.status_of(&invite.recipient_email).ok_or_else(|| {
        ApiError::invalid("body", "invalid_reply", "the ATTENDEE's PARTSTAT is not ACCEPTED, TENTATIVE or DECLINED")
    })?;
    Ok((invite, status))
}

//! Receiving a Smart Invite reply: [`receive`] takes one message sent to a reply address, either
//! the raw message or its calendar part alone, from `POST /inbound/smart_invite_replies` (the
//! operator's own gateway, authenticated with the admin token) or from the `inbound` function
//! (SES → SNS, see `lambda::inbound_mail`).
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
    store::{SmartInvite, StoreError},
};

/// The largest message taken (a reply is a few kilobytes; attachments are not wanted).
pub const MAX_MESSAGE_BYTES: usize = inbound::MAX_BYTES;

/// One message sent to a reply address.
#[derive(Debug, Clone, Copy)]
pub enum Message<'a> {
    /// The raw message (RFC 5322), its calendar part somewhere inside.
    Mime(&'a [u8]),
    /// The calendar part alone.
    Calendar(&'a [u8]),
}

/// What a reply did.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub smart_invite_id: String,
    /// The recipient's answer as now stored (`{email, status, comment?, proposal?}`).
    pub recipient: Value,
    /// False when the reply repeated the stored answer (nothing changed, nothing was sent).
    pub changed: bool,
}

/// Why a message was not taken. Only `Store` is worth retrying; the others say what is wrong
/// with the message and never include its content.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("the message is larger than 512 KiB")]
    TooLarge,
    #[error("the message has no text/calendar part")]
    NoCalendar,
    #[error("the calendar is not UTF-8")]
    NotUtf8,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("no invite awaiting replies matches the reply")]
    NoInvite,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies the reply `message` carries; see the module doc.
#[tracing::instrument(skip_all)]
pub async fn receive(state: &AppState, message: Message<'_>) -> Result<Received, ReplyError> {
    let (Message::Mime(bytes) | Message::Calendar(bytes)) = message;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(ReplyError::TooLarge);
    }
    let (ics, token, sender) = match message {
        Message::Mime(raw) => (
            inbound::calendar_part(raw).ok_or(ReplyError::NoCalendar)?,
            inbound::reply_token(raw),
            inbound::sender(raw),
        ),
        Message::Calendar(ics) => (String::from_utf8(ics.to_vec()).map_err(|_| ReplyError::NotUtf8)?, None, None),
    };
    let reply = inbound::parse_reply(&ics).map_err(ReplyError::Invalid)?;
    let (invite, status) = find_invite(state, &reply, token.as_deref(), sender.as_deref()).await?;

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
            state,
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
            if let Err(e) = notify::queue(state, &callback.id).await {
                tracing::error!(error.message = %e, "the smart invite callback could not be queued");
            }
        }
    }
    Ok(Received { smart_invite_id: invite.smart_invite_id.clone(), recipient: answer_json(&invite), changed })
}

/// `POST /inbound/smart_invite_replies`: `message/rfc822` or `text/calendar`, admin token.
pub(super) async fn post(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let message = match media.as_str() {
        "message/rfc822" => Message::Mime(&body),
        "text/calendar" => Message::Calendar(&body),
        _ => return Err(ApiError::invalid("content-type", "unsupported", "send message/rfc822 or text/calendar")),
    };
    let received = receive(&state, message).await.map_err(|e| match e {
        ReplyError::TooLarge => ApiError::PayloadTooLarge,
        ReplyError::NoCalendar => ApiError::invalid("body", "no_calendar", e.to_string()),
        ReplyError::NotUtf8 => ApiError::invalid("body", "invalid", e.to_string()),
        ReplyError::Invalid(why) => ApiError::invalid("body", "invalid_reply", why),
        ReplyError::NoInvite => ApiError::NotFound,
        ReplyError::Store(e) => e.into(),
    })?;
    Ok(Json(json!({
        "smart_invite_id": received.smart_invite_id,
        "recipient": received.recipient,
        "changed": received.changed,
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
) -> Result<(SmartInvite, &'static str), ReplyError> {
    let mut found = Vec::new();
    match token {
        Some(token) => {
            let Some(named) = state.store.smart_invite_by_reply_token(token).await? else {
                return Err(ReplyError::NoInvite);
            };
            for (email, _) in &reply.attendees {
                // Usually the address's own recipient answers: no second read for it.
                if *email == named.recipient_email {
                    found.push(named.clone());
                } else if let Some(row) =
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
        _ => return Err(ReplyError::NoInvite),
    };
    if invite.uid != reply.uid || invite.method != "request" {
        return Err(ReplyError::NoInvite);
    }
    let status = reply
        .status_of(&invite.recipient_email)
        .ok_or(ReplyError::Invalid("the ATTENDEE's PARTSTAT is not ACCEPTED, TENTATIVE or DECLINED"))?;
    Ok((invite, status))
}

//! Smart Invite replies by email, the AWS way: an SES receipt rule for the reply domain publishes
//! each message to an SNS topic (SNS action, Base64 encoding: the whole raw message travels in
//! the notification, up to SES's 150 KB for this action), and the topic invokes the `inbound`
//! function with it. Each record's message is handed to the Smart Invite reply receiver.
//!
//! SNS invokes asynchronously and Lambda retries a failed invocation twice before the event goes
//! to the function's dead-letter queue. So only a failure worth retrying (the database) fails the
//! invocation; a message that is not a usable reply is logged (never its content) and
//! acknowledged, since retrying cannot make it one.

use aws_lambda_events::event::sns::SnsEvent;
use base64::{Engine, engine::general_purpose::STANDARD};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;

use crate::api::smart_invites::{Message, ReplyError, receive};
use crate::state::AppState;

/// Why an SNS message is not an SES message to take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SesError {
    #[error("not an SES receipt notification")]
    NotReceipt,
    #[error("the notification carries no message content (use an SNS action)")]
    NoContent,
    #[error("the message content is not valid base64")]
    Encoding,
    #[error("SES found a virus in the message")]
    Virus,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    notification_type: String,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    receipt: Receipt,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Receipt {
    #[serde(default)]
    action: Action,
    #[serde(default)]
    virus_verdict: Verdict,
}

#[derive(Debug, Default, Deserialize)]
struct Action {
    #[serde(default)]
    encoding: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Verdict {
    #[serde(default)]
    status: Option<String>,
}

/// The raw message an SES receipt notification (the SNS message's text) carries.
pub fn raw_message(notification: &str) -> Result<Vec<u8>, SesError> {
    let notification: Notification = serde_json::from_str(notification).map_err(|_| SesError::NotReceipt)?;
    if notification.notification_type != "Received" {
        return Err(SesError::NotReceipt);
    }
    if notification.receipt.virus_verdict.status.as_deref() == Some("FAIL") {
        return Err(SesError::Virus);
    }
    let content = notification.content.ok_or(SesError::NoContent)?;
    match notification.receipt.action.encoding.as_deref() {
        Some("BASE64") | Some("Base64") => {
            let compact: Vec<u8> = content.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            STANDARD.decode(compact).map_err(|_| SesError::Encoding)
        }
        _ => Ok(content.into_bytes()),
    }
}

/// Handles one invocation of the `inbound` function; see the module doc.
pub async fn inbound_mail(state: &AppState, event: LambdaEvent<SnsEvent>) -> Result<(), lambda_runtime::Error> {
    for record in event.payload.records {
        let id = record.sns.message_id;
        let raw = match raw_message(&record.sns.message) {
            Ok(raw) => raw,
            Err(e) => {
                tracing::warn!(message_id = %id, error.message = %e, "inbound message skipped");
                continue;
            }
        };
        match receive(state, Message::Mime(&raw)).await {
            Ok(received) => {
                tracing::info!(message_id = %id, changed = received.changed, "smart invite reply taken");
            }
            Err(ReplyError::Store(e)) => {
                tracing::error!(message_id = %id, error.message = %e, error.cause_chain = ?e, "reply not stored; retrying");
                return Err(e.into());
            }
            Err(e) => tracing::warn!(message_id = %id, error.message = %e, "inbound message is not a usable reply"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(content: &str, encoding: &str, virus: &str) -> String {
        serde_json::json!({
            "notificationType": "Received",
            "mail": { "source": "guest@example.com", "destination": ["invite+tok@reply.example"] },
            "receipt": { "action": { "type": "SNS", "topicArn": "arn:aws:sns:eu-west-1:1:t", "encoding": encoding },
                         "virusVerdict": { "status": virus } },
            "content": content,
        })
        .to_string()
    }

    #[test]
    fn the_raw_message_is_read_from_base64_or_utf8_content() {
        let raw = "From: guest@example.com\r\n\r\nhello";
        let encoded = STANDARD.encode(raw);
        assert_eq!(raw_message(&notification(&encoded, "BASE64", "PASS")).unwrap(), raw.as_bytes());
        assert_eq!(raw_message(&notification(raw, "UTF8", "PASS")).unwrap(), raw.as_bytes());
        assert_eq!(raw_message(&notification(raw, "BASE64", "PASS")), Err(SesError::Encoding));
        assert_eq!(raw_message(&notification(&encoded, "BASE64", "FAIL")), Err(SesError::Virus));
        assert_eq!(raw_message("{\"notificationType\":\"Bounce\"}"), Err(SesError::NotReceipt));
        assert_eq!(raw_message("{\"notificationType\":\"Received\"}"), Err(SesError::NoContent));
        assert_eq!(raw_message("not json"), Err(SesError::NotReceipt));
    }
}

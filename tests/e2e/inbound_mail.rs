//! The `inbound` function's handler (`lambda::inbound_mail`) on both backends, as SNS invokes it
//! with what SES published: a reply is recorded and its signed callback queued; a message that is
//! no usable reply is acknowledged (retrying cannot help); a database failure fails the
//! invocation, so Lambda retries it and finally keeps it in the dead-letter queue.

use aws_lambda_events::event::sns::SnsEvent;
use axum::http::StatusCode;
use base64::Engine;
use calsync_core::jobs::JobOutcome;
use calsync_tests::api::TestApi;
use calsync_tests::receiver::Receiver;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

use crate::api::api_on_both_backends;
use crate::notify::deliver_queued;

api_on_both_backends!(
    a_reply_published_by_ses_is_recorded_and_its_callback_queued,
    a_database_failure_fails_the_invocation_so_lambda_retries_it,
);

const READ: &str = "/v1/smart_invites?smart_invite_id=board-42&recipient_email=guest%40example.com";

/// The fixture's SNS event, its SES notification carrying `raw` in Base64.
fn published(raw: &str) -> LambdaEvent<SnsEvent> {
    let mut event: Value = serde_json::from_str(include_str!("../fixtures/lambda/sns_ses_received.json")).unwrap();
    let message = event["Records"][0]["Sns"]["Message"].as_str().unwrap().to_owned();
    let content = base64::engine::general_purpose::STANDARD.encode(raw);
    event["Records"][0]["Sns"]["Message"] = json!(message.replace("CONTENT", &content));
    LambdaEvent::new(serde_json::from_value(event).expect("an SNS event"), Context::default())
}

/// An invite with a callback to `callback_url`; its UID line and reply address.
async fn invited(api: &TestApi, secret: &str, callback_url: &str) -> (String, String) {
    let request = json!({
        "smart_invite_id": "board-42",
        "recipient": { "email": "guest@example.com" },
        "callback_url": callback_url,
        "event": { "summary": "Board meeting", "start": "2026-06-15T09:30:00Z", "end": "2026-06-15T10:00:00Z" },
    });
    let (status, created) = api.post("/v1/smart_invites", Some(secret), request).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let text = created["attachments"]["icalendar"].as_str().unwrap().replace("\r\n ", "");
    let uid = text.lines().find(|l| l.starts_with("UID:")).unwrap().to_owned();
    let address = text.lines().find(|l| l.starts_with("ORGANIZER")).unwrap().rsplit_once("mailto:").unwrap().1;
    (uid, address.to_owned())
}

fn reply(address: &str, uid: &str) -> String {
    format!(
        "From: Guest <guest@example.com>\r\nTo: <{address}>\r\nSubject: Accepted\r\n\
         Content-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REPLY\r\n\
         BEGIN:VEVENT\r\n{uid}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:guest@example.com\r\nEND:VEVENT\r\n\
         END:VCALENDAR\r\n"
    )
}

async fn a_reply_published_by_ses_is_recorded_and_its_callback_queued(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let receiver = Receiver::start(&[]).await;
    let (uid, address) = invited(api, &secret, &receiver.url).await;

    // A message that is no reply is acknowledged; the reply is recorded.
    calsync_core::lambda::inbound_mail(&api.state, published("Subject: hello\r\n\r\nno calendar")).await.unwrap();
    calsync_core::lambda::inbound_mail(&api.state, published(&reply(&address, &uid))).await.unwrap();

    let (_, read) = api.get(READ, &secret).await;
    assert_eq!(read["recipient"], json!({ "email": "guest@example.com", "status": "accepted" }));
    let outcomes: Vec<JobOutcome> = deliver_queued(api).await.into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes, vec![JobOutcome::Done]);
    assert_eq!(receiver.bodies()[0]["smart_invite"]["reply"]["status"], "accepted");
}

async fn a_database_failure_fails_the_invocation_so_lambda_retries_it(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let (uid, address) = invited(api, &secret, "https://hooks.example/invites").await;
    api.state.store.close().await;

    let outcome = calsync_core::lambda::inbound_mail(&api.state, published(&reply(&address, &uid))).await;

    assert!(outcome.is_err(), "the invocation fails so that Lambda retries it");
}

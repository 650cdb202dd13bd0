//! Smart Invite callbacks, on both backends: a reply that changes a recipient's answer produces
//! exactly one `smart_invite` callback, signed so that pycronofy's `hmac_valid` (and the npm SDK's
//! `hmacValid`) accept it, delivered by the notify function; a repeated reply produces none; a
//! counter-proposal is reported with its proposed time; a recipient of a shared invitation
//! answers through the shared reply address; a callback endpoint that keeps failing is given up
//! after a day without touching anything else.

use axum::http::StatusCode;
use calsync_core::jobs::JobOutcome;
use calsync_tests::api::TestApi;
use calsync_tests::receiver::Receiver;
use chrono::Duration;
use serde_json::{Value, json};

use super::api_on_both_backends;
use super::smart_invites::{ADMIN, INBOUND, READ, body, ics, line, mime, reply_ics};
use crate::notify::{deliver, deliver_queued, sdks_accept};

api_on_both_backends!(
    a_reply_produces_one_signed_callback_and_a_repeated_reply_none,
    a_counter_proposal_is_reported_with_its_proposed_time,
    each_recipient_of_a_shared_invitation_answers_through_its_reply_address,
    a_callback_endpoint_failing_for_a_day_is_given_up,
);

/// Creates the `board-42` invite with its callback going to `callback_url`; returns its UID line
/// and reply address.
async fn invited_with_callback(api: &TestApi, secret: &str, callback_url: &str) -> (String, String) {
    let mut request = body("Board meeting");
    request["callback_url"] = json!(callback_url);
    let (status, created) = api.post("/v1/smart_invites", Some(secret), request).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let text = ics(&created);
    let uid = line(&text, "UID:").unwrap().to_owned();
    let address = line(&text, "ORGANIZER").unwrap().rsplit_once("mailto:").unwrap().1.to_owned();
    (uid, address)
}

fn counter_ics(uid: &str, attendee: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Guest//EN\r\nMETHOD:COUNTER\r\nBEGIN:VEVENT\r\n{uid}\r\n\
         DTSTAMP:20260601T120000Z\r\nDTSTART;TZID=Europe/London:20260615T140000\r\n\
         DTEND;TZID=Europe/London:20260615T143000\r\nSUMMARY:Board meeting\r\n\
         ATTENDEE;PARTSTAT=TENTATIVE:mailto:{attendee}\r\nCOMMENT:Could we meet after lunch?\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

async fn a_reply_produces_one_signed_callback_and_a_repeated_reply_none(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let receiver = Receiver::start(&[]).await;
    let (uid, address) = invited_with_callback(api, &secret, &receiver.url).await;
    // Creating the invite tells the application nothing.
    assert!(deliver_queued(api).await.is_empty());

    let message = mime(&address, &reply_ics(&uid, "guest@example.com", "ACCEPTED"));
    let (status, answer) = api.post_raw(INBOUND, ADMIN, "message/rfc822", &message).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let outcomes: Vec<JobOutcome> = deliver_queued(api).await.into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes, vec![JobOutcome::Done]);

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let callback: Value = serde_json::from_str(&received[0].body).unwrap();
    let accepted = json!({ "email": "guest@example.com", "status": "accepted", "comment": "Looking forward" });
    assert_eq!(callback["notification"], json!({ "type": "smart_invite" }));
    let invite = &callback["smart_invite"];
    assert_eq!(invite["smart_invite_id"], "board-42");
    assert_eq!(invite["callback_url"], receiver.url.as_str());
    assert_eq!(invite["recipient"], accepted);
    assert_eq!(invite["reply"], accepted);
    assert_eq!(invite["replies"], json!([accepted]));
    assert_eq!(invite["event"]["summary"], "Board meeting");
    assert!(invite["attachments"]["icalendar"].as_str().unwrap().starts_with("BEGIN:VCALENDAR"));
    let signature = received[0].signature.as_deref().expect("a Cronofy-HMAC-SHA256 header");
    assert_eq!(sdks_accept(&secret, signature, &received[0].body), (true, true));
    assert_eq!(sdks_accept("another-secret", signature, &received[0].body), (false, false));

    // The reply again (a mail gateway retrying) changes nothing and sends nothing.
    let (status, answer) = api.post_raw(INBOUND, ADMIN, "message/rfc822", &message).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changed"], false);
    assert!(deliver_queued(api).await.is_empty());
    assert_eq!(receiver.received().len(), 1);

    // The stored callback is the application's, delivered, and belongs to no channel.
    let token = address.trim_start_matches("invite+").split('@').next().unwrap();
    let stored = api.state.store.list_smart_invite_notifications(token).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].kind.as_str(), stored[0].channel_id.as_ref()), ("smart_invite", None));
    assert_eq!(stored[0].delivered_at, Some(api.now()));
}

async fn a_counter_proposal_is_reported_with_its_proposed_time(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let receiver = Receiver::start(&[]).await;
    let (uid, _) = invited_with_callback(api, &secret, &receiver.url).await;

    let (status, answer) =
        api.post_raw(INBOUND, ADMIN, "text/calendar; method=COUNTER", &counter_ics(&uid, "guest@example.com")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    deliver_queued(api).await;

    let proposed = json!({
        "email": "guest@example.com",
        "status": "tentative",
        "comment": "Could we meet after lunch?",
        "proposal": {
            "start": { "time": "2026-06-15T13:00:00Z", "tzid": "Europe/London" },
            "end": { "time": "2026-06-15T13:30:00Z", "tzid": "Europe/London" },
        },
    });
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["smart_invite"]["reply"], proposed);
    let (_, read) = api.get(READ, &secret).await;
    assert_eq!(read["replies"], json!([proposed]));

    // Accepting afterwards is a new answer: a second callback, without the proposal.
    let (status, _) =
        api.post_raw(INBOUND, ADMIN, "text/calendar", &reply_ics(&uid, "guest@example.com", "ACCEPTED")).await;
    assert_eq!(status, StatusCode::OK);
    deliver_queued(api).await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        bodies[1]["smart_invite"]["reply"],
        json!({ "email": "guest@example.com", "status": "accepted", "comment": "Looking forward" })
    );
}

async fn each_recipient_of_a_shared_invitation_answers_through_its_reply_address(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let mut request = body("Offsite");
    request.as_object_mut().unwrap().remove("recipient");
    request["recipients"] = json!([{ "email": "a@example.com" }, { "email": "b@example.com", "status": "accepted" }]);
    let (status, invite) = api.post("/v1/smart_invites", Some(&secret), request).await;
    assert_eq!(status, StatusCode::OK, "{invite}");
    // An initial status is taken as given.
    assert_eq!(
        invite["recipients"],
        json!([{ "email": "a@example.com", "status": "pending" }, { "email": "b@example.com", "status": "accepted" }])
    );
    let text = ics(&invite);
    let uid = line(&text, "UID:").unwrap().to_owned();
    let address = line(&text, "ORGANIZER").unwrap().rsplit_once("mailto:").unwrap().1.to_owned();

    // B declines through the one address the shared invitation carries.
    let message = mime(&address, &reply_ics(&uid, "b@example.com", "DECLINED"));
    let (status, answer) = api.post_raw(INBOUND, ADMIN, "message/rfc822", &message).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let secret = &secret;
    let read = |email: &'static str| {
        let path = format!("/v1/smart_invites?smart_invite_id=board-42&recipient_email={email}%40example.com");
        async move { api.get(&path, secret).await.1["recipient"]["status"].clone() }
    };
    assert_eq!(read("b").await, "declined");
    assert_eq!(read("a").await, "pending");

    // A proposes another time with a COUNTER that repeats both attendees: the sender decides.
    let counter = counter_ics(&uid, "a@example.com")
        .replace("ATTENDEE;", "ATTENDEE;PARTSTAT=DECLINED:mailto:b@example.com\r\nATTENDEE;");
    let message = mime(&address, &counter).replace("From: Guest <guest@example.com>", "From: A <A@example.com>");
    let (status, answer) = api.post_raw(INBOUND, ADMIN, "message/rfc822", &message).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["recipient"]["email"], "a@example.com");
    assert_eq!(read("a").await, "tentative");
    assert_eq!(read("b").await, "declined");
    // Without a sender to tell them apart, such a message matches no one recipient.
    let anonymous = message.replace("From: A <A@example.com>\r\n", "");
    let (status, _) = api.post_raw(INBOUND, ADMIN, "message/rfc822", &anonymous).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_callback_endpoint_failing_for_a_day_is_given_up(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let receiver = Receiver::start(&[503; 64]).await;
    let (uid, address) = invited_with_callback(api, &secret, &receiver.url).await;
    let (status, _) =
        api.post_raw(INBOUND, ADMIN, "text/calendar", &reply_ics(&uid, "guest@example.com", "DECLINED")).await;
    assert_eq!(status, StatusCode::OK);
    deliver_queued(api).await;
    let token = address.trim_start_matches("invite+").split('@').next().unwrap().to_owned();
    let notification = api.state.store.list_smart_invite_notifications(&token).await.unwrap().remove(0);

    api.clock.advance(Duration::hours(24) + Duration::minutes(1));
    assert_eq!(deliver(api, &notification.id).await, JobOutcome::Skipped("delivery given up"));
    let given_up = api.state.store.list_smart_invite_notifications(&token).await.unwrap().remove(0);
    assert_eq!((given_up.attempts, given_up.abandoned_at), (2, Some(api.now())));
    assert_eq!(receiver.received().len(), 2);
    // The reply itself stands.
    let (_, read) = api.get(READ, &secret).await;
    assert_eq!(read["recipient"]["status"], "declined");
}

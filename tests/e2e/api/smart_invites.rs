//! Smart Invites over the API, on both backends: create, an idempotent repeat, an update that
//! increments SEQUENCE, cancel, remove and read back; the client secret is the only credential
//! accepted, and invalid bodies get Cronofy's 422.

use axum::http::{Method, StatusCode};
use calsync_tests::api::TestApi;
use serde_json::{Value, json};

use super::api_on_both_backends;

api_on_both_backends!(
    a_smart_invite_is_created_repeated_updated_cancelled_and_removed,
    a_smart_invite_for_several_recipients_invites_them_all,
    smart_invites_take_only_the_client_secret_and_report_invalid_fields,
    a_reply_by_mail_or_as_a_calendar_sets_the_recipients_status,
    replies_that_match_no_invite_or_are_malformed_change_nothing,
);

pub(super) const ADMIN: &str = "admin-test-token";
pub(super) const INBOUND: &str = "/inbound/smart_invite_replies";
pub(super) const READ: &str = "/v1/smart_invites?smart_invite_id=board-42&recipient_email=guest%40example.com";

pub(super) fn reply_ics(uid: &str, attendee: &str, partstat: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Guest//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\n{uid}\r\n\
         DTSTAMP:20260601T120000Z\r\nATTENDEE;PARTSTAT={partstat};CN=Guest:mailto:{attendee}\r\n\
         COMMENT:Looking forward\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

pub(super) fn mime(to: &str, ics: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(ics);
    let wrapped: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!(
        "From: Guest <guest@example.com>\r\nTo: Board Office <{to}>\r\nSubject: Accepted: Board meeting\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nAccepted\r\n--b1\r\n\
         Content-Type: text/calendar; method=REPLY; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {}\r\n--b1--\r\n",
        wrapped.join("\r\n")
    )
}

/// The invite created by `body`, its UID line and its reply address.
pub(super) async fn invited(api: &TestApi, secret: &str) -> (String, String) {
    let (status, created) = api.post("/v1/smart_invites", Some(secret), body("Board meeting")).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let text = ics(&created);
    let uid = line(&text, "UID:").unwrap().to_owned();
    let organizer = line(&text, "ORGANIZER").unwrap();
    let address = organizer.rsplit_once("mailto:").unwrap().1.to_owned();
    (uid, address)
}

async fn a_reply_by_mail_or_as_a_calendar_sets_the_recipients_status(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let (uid, address) = invited(api, &secret).await;

    // A raw message with a base64 calendar part, addressed to the reply address.
    let message = mime(&address, &reply_ics(&uid, "Guest@Example.com", "ACCEPTED"));
    let (status, answer) = api.post_raw(INBOUND, ADMIN, "message/rfc822", &message).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changed"], true);
    let (_, read) = api.get(READ, &secret).await;
    let accepted = json!({ "email": "guest@example.com", "status": "accepted", "comment": "Looking forward" });
    assert_eq!(read["recipient"], accepted);
    assert_eq!(read["replies"], json!([accepted]));

    // The same reply again changes nothing.
    let (status, answer) = api.post_raw(INBOUND, ADMIN, "message/rfc822", &message).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changed"], false);

    // A bare calendar, found by UID and attendee.
    let bare = reply_ics(&uid, "guest@example.com", "DECLINED");
    let (status, answer) = api.post_raw(INBOUND, ADMIN, "text/calendar; method=REPLY", &bare).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, read) = api.get(READ, &secret).await;
    assert_eq!(read["recipient"]["status"], "declined");
    assert_eq!(
        read["replies"],
        json!([{ "email": "guest@example.com", "status": "declined", "comment": "Looking forward" }])
    );
}

async fn replies_that_match_no_invite_or_are_malformed_change_nothing(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let (uid, address) = invited(api, &secret).await;
    let good = reply_ics(&uid, "guest@example.com", "ACCEPTED");

    // Only the admin token is accepted.
    let (status, _) = api.post_raw(INBOUND, &secret, "text/calendar", &good).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let cases = [
        ("text/calendar", reply_ics("UID:unknown@x", "guest@example.com", "ACCEPTED"), StatusCode::NOT_FOUND),
        ("text/calendar", reply_ics(&uid, "someone@example.com", "ACCEPTED"), StatusCode::NOT_FOUND),
        ("message/rfc822", mime(&address, &reply_ics(&uid, "someone@example.com", "ACCEPTED")), StatusCode::NOT_FOUND),
        ("message/rfc822", mime("invite+nosuchtoken@calsync.test", &good), StatusCode::NOT_FOUND),
        ("text/calendar", good.replace("METHOD:REPLY", "METHOD:REQUEST"), StatusCode::UNPROCESSABLE_ENTITY),
        ("text/calendar", good.replace("ACCEPTED", "NEEDS-ACTION"), StatusCode::UNPROCESSABLE_ENTITY),
        ("text/calendar", "not a calendar".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
        ("message/rfc822", "Subject: hi\r\n\r\nno calendar".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
        ("application/json", good.clone(), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (content_type, request, expected) in cases {
        let (status, answer) = api.post_raw(INBOUND, ADMIN, content_type, &request).await;
        assert_eq!(status, expected, "{content_type} {request} → {answer}");
    }
    let (_, read) = api.get(READ, &secret).await;
    assert_eq!(read["recipient"]["status"], "pending");
    assert_eq!(read["replies"], json!([]));
}

pub(super) fn body(summary: &str) -> Value {
    json!({
        "smart_invite_id": "board-42",
        "recipient": { "email": "Guest@Example.com" },
        "organizer": { "name": "Board Office" },
        "event": {
            "summary": summary,
            "description": "Quarterly; bring numbers",
            "start": { "time": "2026-06-15T09:30:00Z", "tzid": "Europe/London" },
            "end": { "time": "2026-06-15T10:00:00Z", "tzid": "Europe/London" },
            "location": { "description": "Board room" },
            "reminders": [{ "minutes": 15 }],
            "color": "#c0ffee",
        },
    })
}

pub(super) fn ics(invite: &Value) -> String {
    invite["attachments"]["icalendar"].as_str().expect("an icalendar attachment").replace("\r\n ", "")
}

pub(super) fn line<'a>(ics: &'a str, name: &str) -> Option<&'a str> {
    ics.lines().find(|l| l.starts_with(name))
}

async fn a_smart_invite_is_created_repeated_updated_cancelled_and_removed(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;

    // Create.
    let (status, created) = api.post("/v1/smart_invites", Some(&secret), body("Board meeting")).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["smart_invite_id"], "board-42");
    assert_eq!(created["recipient"], json!({ "email": "guest@example.com", "status": "pending" }));
    assert_eq!(created["event"]["summary"], "Board meeting");
    assert_eq!(created["replies"], json!([]));
    let first = ics(&created);
    assert_eq!(line(&first, "METHOD:"), Some("METHOD:REQUEST"));
    assert_eq!(line(&first, "SEQUENCE:"), Some("SEQUENCE:0"));
    assert!(line(&first, "DTSTAMP:").is_some());
    assert_eq!(line(&first, "DTSTART;"), Some("DTSTART;TZID=Europe/London:20260615T103000"));
    assert!(first.contains("BEGIN:VTIMEZONE") && first.contains("TZID:Europe/London"), "{first}");
    let organizer = line(&first, "ORGANIZER").unwrap();
    assert!(organizer.starts_with("ORGANIZER;CN=\"Board Office\":mailto:invite+"), "{organizer}");
    // No reply domain is configured: the public URL's host.
    assert!(organizer.ends_with("@calsync.test"), "{organizer}");
    assert_eq!(line(&first, "ATTENDEE"), Some("ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:guest@example.com"));
    assert_eq!(line(&first, "TRIGGER:"), Some("TRIGGER:-PT15M"));
    assert_eq!(line(&first, "COLOR:"), Some("COLOR:#c0ffee"));
    let uid = line(&first, "UID:").unwrap().to_owned();

    // The same body again changes nothing.
    let (status, again) = api.post("/v1/smart_invites", Some(&secret), body("Board meeting")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, created);

    // A changed event is the next revision of the same UID.
    let (status, updated) = api.post("/v1/smart_invites", Some(&secret), body("Board meeting (moved)")).await;
    assert_eq!(status, StatusCode::OK);
    let second = ics(&updated);
    assert_eq!(line(&second, "UID:"), Some(uid.as_str()));
    assert_eq!(line(&second, "SEQUENCE:"), Some("SEQUENCE:1"));
    assert_eq!(line(&second, "SUMMARY:"), Some("SUMMARY:Board meeting (moved)"));

    // Read back, by any casing of the email.
    let path = "/v1/smart_invites?smart_invite_id=board-42&recipient_email=GUEST%40example.com";
    let (status, read) = api.get(path, &secret).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read, updated);

    // Cancel, as pycronofy sends it: no event.
    let cancel =
        json!({ "method": "cancel", "smart_invite_id": "board-42", "recipient": { "email": "guest@example.com" } });
    let (status, cancelled) = api.post("/v1/smart_invites", Some(&secret), cancel).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let third = ics(&cancelled);
    assert_eq!(line(&third, "METHOD:"), Some("METHOD:CANCEL"));
    assert_eq!(line(&third, "STATUS:"), Some("STATUS:CANCELLED"));
    assert_eq!(line(&third, "SEQUENCE:"), Some("SEQUENCE:2"));
    assert_eq!(line(&third, "UID:"), Some(uid.as_str()));

    // Remove deletes it.
    let remove =
        json!({ "method": "remove", "smart_invite_id": "board-42", "recipient": { "email": "guest@example.com" } });
    let (status, removed) = api.post("/v1/smart_invites", Some(&secret), remove).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["attachments"]["removed"]["email"], "guest@example.com");
    let (status, _) = api.get(path, &secret).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_smart_invite_for_several_recipients_invites_them_all(api: &TestApi) {
    let (_app, secret) = api.application("Invites").await;
    let mut request = body("Offsite");
    request.as_object_mut().unwrap().remove("recipient");
    request["recipients"] = json!([{ "email": "a@example.com" }, { "email": "b@example.com" }]);
    let (status, invite) = api.post("/v1/smart_invites", Some(&secret), request).await;
    assert_eq!(status, StatusCode::OK, "{invite}");
    assert_eq!(invite["recipients"].as_array().map(Vec::len), Some(2));
    let text = ics(&invite);
    assert_eq!(text.lines().filter(|l| l.starts_with("ATTENDEE")).count(), 2);
    let (status, b) =
        api.get("/v1/smart_invites?smart_invite_id=board-42&recipient_email=b%40example.com", &secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(line(&ics(&b), "UID:"), line(&text, "UID:"));
}

async fn smart_invites_take_only_the_client_secret_and_report_invalid_fields(api: &TestApi) {
    let (app, secret) = api.application("Invites").await;
    let who = api.authorized(&app, "read_events").await;

    // An end-user's access token is not the application's key.
    let (status, _) = api.post("/v1/smart_invites", Some(&who.access_token), body("x")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.post("/v1/smart_invites", None, body("x")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api
        .request(
            Method::GET,
            "/v1/smart_invites?smart_invite_id=a&recipient_email=a%40b.c",
            Some(&who.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Every problem is reported, keyed by field.
    let cases = [
        (json!({}), "smart_invite_id", "errors.required"),
        (json!({ "smart_invite_id": "a", "event": {} }), "recipient", "errors.required"),
        (json!({ "smart_invite_id": "a", "recipient": { "email": "nope" } }), "recipient.email", "errors.invalid"),
        (json!({ "smart_invite_id": "a", "recipient": { "email": "a@b.c" } }), "event", "errors.required"),
        (json!({ "smart_invite_id": "a", "method": "maybe" }), "method", "errors.invalid"),
        (
            json!({ "smart_invite_id": "a", "recipient": { "email": "a@b.c" }, "event": { "summary": "s",
                "start": "2026-06-15T10:00:00Z", "end": "2026-06-15T09:00:00Z" } }),
            "event.end",
            "errors.invalid",
        ),
        (
            json!({ "smart_invite_id": "a", "recipient": { "email": "a@b.c" }, "event": { "summary": "s",
                "start": "2026-06-15T09:00:00Z", "end": "2026-06-15T10:00:00Z", "tzid": "Mars/Olympus" } }),
            "event.tzid",
            "errors.unknown_tzid",
        ),
        (
            json!({ "smart_invite_id": "a", "recipient": { "email": "a@b.c" }, "event": { "summary": "s",
                "start": "2026-06-15T09:00:00Z", "end": "2026-06-15T10:00:00Z", "reminders": [{ "minutes": -5 }] } }),
            "event.reminders[0].minutes",
            "errors.out_of_range",
        ),
        (
            json!({ "smart_invite_id": "a", "recipients": [{ "email": "a@b.c", "status": "maybe" }],
                "event": { "summary": "s", "start": "2026-06-15T09:00:00Z", "end": "2026-06-15T10:00:00Z" } }),
            "recipients[0].status",
            "errors.invalid",
        ),
        (
            json!({ "smart_invite_id": "a", "recipient": { "email": "a@b.c" }, "event": { "summary": "s",
                "start": "2026-06-15T09:00:00Z", "end": "2026-06-15T10:00:00Z" }, "callback_url": "not a url" }),
            "callback_url",
            "errors.invalid",
        ),
    ];
    for (request, field, key) in cases {
        let (status, answer) = api.post("/v1/smart_invites", Some(&secret), request.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{request} → {answer}");
        assert_eq!(answer["errors"][field][0]["key"], key, "{request} → {answer}");
    }

    // Nothing by that id.
    let (status, _) = api.get("/v1/smart_invites?smart_invite_id=none&recipient_email=a%40b.c", &secret).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

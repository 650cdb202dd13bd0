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
);

fn body(summary: &str) -> Value {
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
        },
    })
}

fn ics(invite: &Value) -> String {
    invite["attachments"]["icalendar"].as_str().expect("an icalendar attachment").replace("\r\n ", "")
}

fn line<'a>(ics: &'a str, name: &str) -> Option<&'a str> {
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

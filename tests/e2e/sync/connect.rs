//! A CalDAV account connected the way an end-user connects one: through the authorization page's
//! CalDAV form, the code exchanged for tokens, then the sync jobs that connecting queued. The
//! events read back through `/v1/events` are compared with an expansion of the same data worked
//! out by hand (zones and DST included), not with calsync's own expansion.

use calsync_core::domain::ProfileId;
use calsync_core::jobs::{JobOutcome, SyncJob};
use calsync_core::providers::caldav::Precondition;
use calsync_tests::api::TestApi;
use calsync_tests::caldav::{Server, event, fresh_calendar};
use calsync_tests::oauth::{exchange, open_page, query_of, request_id, submit};
use chrono::Duration;
use http::StatusCode;
use serde_json::{Value, json};

use super::{all_day, etag_of, ics, run_queued_jobs, stamp, stored_calendar_of_account};

sync_on_both_backends_and_servers!(a_caldav_account_connected_through_the_authorization_page_reads_back_exactly);

/// Berlin wall-clock times, one a one-off and one a weekly series that began long before the
/// window (every Monday at 09:00 since January 2025, so across the 29 March 2026 DST change).
fn berlin_events() -> (String, String) {
    let call = ics(&[
        "BEGIN:VEVENT",
        "UID:conn-berlin-call",
        "DTSTAMP:20260401T100000Z",
        "DTSTART;TZID=Europe/Berlin:20260505T100000",
        "DTEND;TZID=Europe/Berlin:20260505T110000",
        "SUMMARY:Berlin call",
        "END:VEVENT",
    ]);
    let planning = ics(&[
        "BEGIN:VEVENT",
        "UID:conn-monday-planning",
        "DTSTAMP:20250101T100000Z",
        "DTSTART;TZID=Europe/Berlin:20250106T090000",
        "DTEND;TZID=Europe/Berlin:20250106T093000",
        "RRULE:FREQ=WEEKLY;BYDAY=MO",
        "SUMMARY:Monday planning",
        "END:VEVENT",
    ]);
    (call, planning)
}

/// Five Tuesdays from 5 May: the 12th moved to 16:00, the 19th excluded (EXDATE) and the 26th
/// cancelled by an override, so the 5th, the 12th (moved) and 2 June remain.
fn weekly_with_a_moved_and_cancelled_instances() -> String {
    ics(&[
        "BEGIN:VEVENT",
        "UID:conn-weekly",
        "DTSTAMP:20260401T100000Z",
        "DTSTART:20260505T140000Z",
        "DTEND:20260505T150000Z",
        "RRULE:FREQ=WEEKLY;COUNT=5",
        "EXDATE:20260519T140000Z",
        "SUMMARY:Weekly review",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:conn-weekly",
        "DTSTAMP:20260401T100000Z",
        "RECURRENCE-ID:20260512T140000Z",
        "DTSTART:20260512T160000Z",
        "DTEND:20260512T170000Z",
        "SUMMARY:Weekly review (moved)",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:conn-weekly",
        "DTSTAMP:20260401T100000Z",
        "RECURRENCE-ID:20260526T140000Z",
        "DTSTART:20260526T140000Z",
        "DTEND:20260526T150000Z",
        "STATUS:CANCELLED",
        "SUMMARY:Weekly review",
        "END:VEVENT",
    ])
}

/// `(summary, start, end)` of every event of the calendar from the start of the window (20 March,
/// now being 1 May 10:00 UTC) to 5 June, in UTC, across as many pages as there are.
async fn read_back(api: &TestApi, token: &str, calendar: &str) -> Vec<(String, Value, Value)> {
    let mut path = format!("/v1/events?tzid=Etc/UTC&from=2026-03-20&to=2026-06-05&calendar_ids[]={calendar}");
    let mut rows = Vec::new();
    loop {
        let (status, body) = api.get(&path, token).await;
        assert_eq!(status, 200, "{body}");
        for e in body["events"].as_array().expect("an events array") {
            rows.push((e["summary"].as_str().unwrap_or_default().to_owned(), e["start"].clone(), e["end"].clone()));
        }
        match body["pages"]["next_page"].as_str() {
            Some(next) => path = next.trim_start_matches("http://calsync.test").to_owned(),
            None => return rows,
        }
    }
}

async fn a_caldav_account_connected_through_the_authorization_page_reads_back_exactly(api: &TestApi, server: Server) {
    // Arrange: a calendar on the server holding every shape of event.
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    let put = |name: &'static str, body: String| {
        let client = client.clone();
        let href = href.clone();
        async move { client.put(&href, name, &body, Precondition::Create).await.expect("put").href }
    };
    let standup_href =
        put("conn-standup.ics", event("conn-standup", "Standup", "20260504T090000Z", "20260504T093000Z")).await;
    put("conn-holiday.ics", all_day()).await;
    let (call, planning) = berlin_events();
    put("conn-berlin-call.ics", call).await;
    put("conn-monday-planning.ics", planning).await;
    put("conn-weekly.ics", weekly_with_a_moved_and_cancelled_instances()).await;

    // Act: the end-user connects the account on the authorization page.
    let (app, secret) = api.application("Scheduler").await;
    let page = open_page(api, &app, Some("read_events create_event delete_event"), "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let endpoint = server.endpoint();
    let reply = submit(
        api,
        &[
            ("request", &request_id(&page.body)),
            ("service", "caldav"),
            ("server_url", &endpoint.url),
            ("username", &endpoint.username),
            ("password", &endpoint.password),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let code = query_of(reply.header("location").expect("a redirect")).into_iter().find(|(k, _)| k == "code");
    let (status, tokens) = exchange(api, &app, &secret, &code.expect("a code").1).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().expect("an access token").to_owned();
    let profile_id = ProfileId::parse(tokens["linking_profile"]["profile_id"].as_str().unwrap()).unwrap();

    // Connecting queued the calendar list sync, which queues one sync per calendar.
    let profile = api.state.store.get_profile(&profile_id).await.unwrap().expect("the profile");
    let ran = run_queued_jobs(api, &href).await;
    assert_eq!(ran.len(), 2, "{ran:?}");
    assert!(ran.iter().all(|(_, outcome)| *outcome == Ok(JobOutcome::Done)), "{ran:?}");
    let calendar = stored_calendar_of_account(api, &profile.account_id, &href).await;

    // Assert: every event as the hand-worked expansion gives it.
    let at = |summary: &str, start: &str, end: &str| (summary.to_owned(), json!(start), json!(end));
    let mut expected = vec![
        at("Monday planning", "2026-03-23T08:00:00Z", "2026-03-23T08:30:00Z"),
        at("Monday planning", "2026-03-30T07:00:00Z", "2026-03-30T07:30:00Z"),
        at("Monday planning", "2026-04-06T07:00:00Z", "2026-04-06T07:30:00Z"),
        at("Monday planning", "2026-04-13T07:00:00Z", "2026-04-13T07:30:00Z"),
        at("Monday planning", "2026-04-20T07:00:00Z", "2026-04-20T07:30:00Z"),
        at("Monday planning", "2026-04-27T07:00:00Z", "2026-04-27T07:30:00Z"),
        at("Monday planning", "2026-05-04T07:00:00Z", "2026-05-04T07:30:00Z"),
        at("Standup", "2026-05-04T09:00:00Z", "2026-05-04T09:30:00Z"),
        at("Berlin call", "2026-05-05T08:00:00Z", "2026-05-05T09:00:00Z"),
        at("Weekly review", "2026-05-05T14:00:00Z", "2026-05-05T15:00:00Z"),
        at("Holiday", "2026-05-06", "2026-05-07"),
        at("Monday planning", "2026-05-11T07:00:00Z", "2026-05-11T07:30:00Z"),
        at("Weekly review (moved)", "2026-05-12T16:00:00Z", "2026-05-12T17:00:00Z"),
        at("Monday planning", "2026-05-18T07:00:00Z", "2026-05-18T07:30:00Z"),
        at("Monday planning", "2026-05-25T07:00:00Z", "2026-05-25T07:30:00Z"),
        at("Monday planning", "2026-06-01T07:00:00Z", "2026-06-01T07:30:00Z"),
        at("Weekly review", "2026-06-02T14:00:00Z", "2026-06-02T15:00:00Z"),
    ];
    assert_eq!(read_back(api, &token, calendar.id.as_str()).await, expected);

    // One edit on the server, one sync: exactly one change, read back in place.
    let synced = api.now();
    api.clock.advance(Duration::minutes(1));
    let standup_etag = etag_of(&client, &href, &standup_href).await;
    let moved = event("conn-standup", "Standup", "20260504T100000Z", "20260504T103000Z");
    client.put(&href, "conn-standup.ics", &moved, Precondition::Update(standup_etag)).await.unwrap();
    let outcome = super::job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await;
    assert_eq!(outcome, JobOutcome::Done);
    let changes = format!(
        "/v1/events?tzid=Etc/UTC&from=2026-03-20&to=2026-06-05&include_deleted=true&last_modified={}&calendar_ids[]={}",
        stamp(synced + Duration::seconds(1)),
        calendar.id
    );
    let (status, body) = api.get(&changes, &token).await;
    assert_eq!(status, 200, "{body}");
    let changed: Vec<(&str, &Value)> =
        body["events"].as_array().unwrap().iter().map(|e| (e["summary"].as_str().unwrap(), &e["start"])).collect();
    assert_eq!(changed, vec![("Standup", &json!("2026-05-04T10:00:00Z"))]);
    expected[7] = at("Standup", "2026-05-04T10:00:00Z", "2026-05-04T10:30:00Z");
    assert_eq!(read_back(api, &token, calendar.id.as_str()).await, expected);
}

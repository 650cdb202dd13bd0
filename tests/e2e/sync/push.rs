//! Partner events written back to a real CalDAV server: an application's upsert through the API
//! appears on the server under the event's own UID, updates and deletes follow, the application's
//! version wins over an edit made on the server meanwhile, a duplicate push sends nothing, the
//! sync never imports the partner's resource as a third-party event, and a deletion on the
//! server deletes the partner event.

use calsync_core::domain::{CalendarId, EventKind};
use calsync_core::jobs::{JobOutcome, SyncJob};
use calsync_core::providers::caldav::{CalDavClient, Precondition};
use calsync_core::sync::partner_ical_uid;
use calsync_tests::api::{Authorized, TestApi};
use calsync_tests::caldav::{Server, fresh_calendar};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{caldav_account_with_scopes, events, job, run_queued_jobs, snapshot, stamp, stored_calendar};

sync_on_both_backends_and_servers!(
    a_partner_event_is_written_to_the_server_updated_and_deleted_there_and_never_synced_back_as_a_change,
    a_partner_event_deleted_on_the_server_is_deleted_for_the_application,
);

/// `(UID, SUMMARY)` of every resource on the server in May and June 2026.
async fn on_server(client: &CalDavClient, href: &str) -> Vec<(String, String)> {
    let start = DateTime::parse_from_rfc3339("2026-05-01T00:00:00Z").unwrap().with_timezone(&Utc);
    let mut found: Vec<(String, String)> = client
        .calendar_query(href, start, start + Duration::days(61))
        .await
        .expect("calendar-query")
        .into_iter()
        .map(|r| {
            let field = |name: &str| {
                r.ics.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_end().to_owned()).unwrap_or_default()
            };
            (field("UID:"), field("SUMMARY:"))
        })
        .collect();
    found.sort();
    found
}

fn lunch(summary: &str, start: &str, end: &str) -> Value {
    json!({"event_id": "lunch-1", "summary": summary, "start": start, "end": end, "tzid": "Europe/Berlin"})
}

async fn upsert(api: &TestApi, who: &Authorized, calendar: &str, body: Value) {
    let (status, reply) = api.post(&format!("/v1/calendars/{calendar}/events"), Some(&who.access_token), body).await;
    assert_eq!(status, 202, "{reply}");
}

async fn pushes(api: &TestApi, href: &str) -> Vec<JobOutcome> {
    let ran = run_queued_jobs(api, href).await;
    ran.into_iter()
        .map(|(job, outcome)| {
            assert!(matches!(job, SyncJob::PushEvent { .. }), "{job:?}");
            outcome.expect("the push succeeds")
        })
        .collect()
}

async fn a_partner_event_is_written_to_the_server_updated_and_deleted_there_and_never_synced_back_as_a_change(
    api: &TestApi,
    server: Server,
) {
    let (who, profile) = caldav_account_with_scopes(api, server, "read_events create_event delete_event").await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    run_queued_jobs(api, &href).await;
    let application = api.state.store.list_authorizations(&who.account.id).await.unwrap()[0].application_id.clone();
    let uid = partner_ical_uid(&application, "lunch-1");

    // Created through the API: the push writes it to the server under its own UID.
    let created = api.now();
    upsert(api, &who, calendar.id.as_str(), lunch("Team lunch", "2026-05-07T12:00:00Z", "2026-05-07T13:00:00Z")).await;
    api.clock.advance(Duration::minutes(1));
    assert_eq!(pushes(api, &href).await, vec![JobOutcome::Done]);
    assert_eq!(on_server(&client, &href).await, vec![(uid.clone(), "Team lunch".to_owned())]);
    let (events, _) = snapshot(api, &calendar).await;
    assert_eq!(events.len(), 1);
    let partner = events[0].clone();
    assert_eq!(partner.kind, EventKind::Partner);
    assert_eq!(partner.provider_id, Some(format!("{href}{uid}.ics")));
    assert!(partner.etag.is_some());

    // Recording the push is not a change the application is told about, and a duplicate push
    // finds nothing to do: no request, no write.
    assert_eq!(partner.last_modified, created);
    let before = snapshot(api, &calendar).await;
    let duplicate = SyncJob::PushEvent { event_uid: partner.uid.clone() };
    for _ in 0..3 {
        assert_eq!(job(api, duplicate.clone()).await, JobOutcome::Skipped("already pushed"));
    }
    assert_eq!(snapshot(api, &calendar).await, before);

    // The sync meets the resource the push wrote: it is the partner event, not a new event.
    let pushed = api.now();
    api.clock.advance(Duration::minutes(1));
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    assert_eq!(changed_since_managed(api, &who, &calendar, pushed + Duration::seconds(1)).await, vec![]);
    assert_eq!(kinds(api, &calendar.id).await, vec![EventKind::Partner]);

    // Updated through the API.
    upsert(
        api,
        &who,
        calendar.id.as_str(),
        lunch("Team lunch (moved)", "2026-05-07T13:00:00Z", "2026-05-07T14:00:00Z"),
    )
    .await;
    assert_eq!(pushes(api, &href).await, vec![JobOutcome::Done]);
    assert_eq!(on_server(&client, &href).await, vec![(uid.clone(), "Team lunch (moved)".to_owned())]);

    // Someone edits it on the server; the application's next update still wins.
    let current = snapshot(api, &calendar).await.0[0].clone();
    let edited = client
        .multiget(&href, &[current.provider_id.clone().unwrap()])
        .await
        .unwrap()
        .resources
        .remove(0)
        .ics
        .replace("SUMMARY:Team lunch (moved)", "SUMMARY:Edited on the phone");
    client
        .put(&href, &format!("{uid}.ics"), &edited, Precondition::Update(current.etag.clone().unwrap()))
        .await
        .unwrap();
    upsert(
        api,
        &who,
        calendar.id.as_str(),
        lunch("Team lunch (final)", "2026-05-07T13:00:00Z", "2026-05-07T14:00:00Z"),
    )
    .await;
    assert_eq!(pushes(api, &href).await, vec![JobOutcome::Done]);
    assert_eq!(on_server(&client, &href).await, vec![(uid.clone(), "Team lunch (final)".to_owned())]);

    // Deleted through the API: gone from the server, and the sync after it changes nothing.
    let (status, _) = api
        .delete(&format!("/v1/calendars/{}/events", calendar.id), &who.access_token, json!({"event_id": "lunch-1"}))
        .await;
    assert_eq!(status, 202);
    assert_eq!(pushes(api, &href).await, vec![JobOutcome::Done]);
    assert_eq!(on_server(&client, &href).await, vec![]);
    let push = SyncJob::PushEvent { event_uid: current.uid.clone() };
    assert_eq!(job(api, push).await, JobOutcome::Skipped("already pushed"));
    let deleted = api.now();
    api.clock.advance(Duration::minutes(1));
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    assert_eq!(changed_since_managed(api, &who, &calendar, deleted + Duration::seconds(1)).await, vec![]);
    assert_eq!(kinds(api, &calendar.id).await, vec![EventKind::Partner]);
}

async fn a_partner_event_deleted_on_the_server_is_deleted_for_the_application(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account_with_scopes(api, server, "read_events create_event").await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    run_queued_jobs(api, &href).await;
    upsert(api, &who, calendar.id.as_str(), lunch("Team lunch", "2026-05-07T12:00:00Z", "2026-05-07T13:00:00Z")).await;
    assert_eq!(pushes(api, &href).await, vec![JobOutcome::Done]);
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);

    let before = api.now();
    api.clock.advance(Duration::minutes(1));
    let stored = snapshot(api, &calendar).await.0[0].clone();
    client.delete(stored.provider_id.as_deref().unwrap(), None).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    assert_eq!(
        changed_since_managed(api, &who, &calendar, before + Duration::seconds(1)).await,
        vec![("Team lunch".to_owned(), json!("2026-05-07T12:00:00Z"), true)]
    );
    let deleted = api.state.store.get_event(&stored.uid).await.unwrap().expect("the tombstone");
    assert!(deleted.deleted);
    // The deletion came from the server: there is nothing to push back.
    let push = SyncJob::PushEvent { event_uid: stored.uid.clone() };
    assert_eq!(job(api, push).await, JobOutcome::Skipped("already pushed"));
}

/// The kinds of the calendar's cached events, deleted ones included.
async fn kinds(api: &TestApi, calendar: &CalendarId) -> Vec<EventKind> {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let events = api.state.store.list_events_changed_since(std::slice::from_ref(calendar), epoch, 100).await.unwrap();
    events.into_iter().map(|e| e.kind).collect()
}

/// Events changed after `since`, deleted and managed (partner) ones included.
async fn changed_since_managed(
    api: &TestApi,
    who: &Authorized,
    calendar: &calsync_core::domain::Calendar,
    since: DateTime<Utc>,
) -> Vec<(String, Value, bool)> {
    let extra = format!("&include_deleted=true&include_managed=true&last_modified={}", stamp(since));
    events(api, who, calendar, &extra).await
}

//! Change notifications after a sync of a real CalDAV server (Radicale): three edits on the
//! server and one sync give the channel exactly one `change` notification, signed so pycronofy
//! and the npm SDK accept it, whose `changes_since` read returns exactly those three changes. The
//! application's own upsert through the API, pushed to the server and synced back, notifies no
//! one. A profile whose password is refused tells the channel once; a hosted profile's first sync
//! tells it the initial sync completed.

use calsync_core::crypto::Credentials;
use calsync_core::jobs::{JobOutcome, SyncJob};
use calsync_core::providers::caldav::Precondition;
use calsync_tests::api::TestApi;
use calsync_tests::caldav::{Server, event, fresh_calendar};
use calsync_tests::receiver::Receiver;
use chrono::{Duration, SecondsFormat};
use serde_json::{Value, json};

use super::{deliver_queued, open_channel, sdks_accept};
use crate::api::api_on_both_backends;
use crate::sync::{caldav_account, caldav_account_with_scopes, etag_of, events, job, run_queued_jobs, stored_calendar};

api_on_both_backends!(
    three_edits_and_one_sync_give_one_signed_change_notification_and_own_writes_none,
    another_applications_write_is_told_and_the_writers_own_channel_is_not,
    a_refused_password_and_a_first_sync_are_told_to_the_channel,
);

/// Notifications the receiver got after the first `skip`, as `(type, changes_since)`.
fn kinds(bodies: &[Value]) -> Vec<(String, Option<String>)> {
    bodies
        .iter()
        .map(|b| {
            let n = &b["notification"];
            (n["type"].as_str().unwrap_or_default().to_owned(), n["changes_since"].as_str().map(str::to_owned))
        })
        .collect()
}

async fn three_edits_and_one_sync_give_one_signed_change_notification_and_own_writes_none(api: &TestApi) {
    let server = Server::Radicale;
    let (who, profile) = caldav_account_with_scopes(api, server, "read_events create_event").await;
    let application = api.state.store.list_authorizations(&who.account.id).await.unwrap()[0].application_id.clone();
    let secret = api
        .state
        .vault
        .open_secret(&application, &api.state.store.signing_secrets(&application, api.now()).await.unwrap()[0])
        .unwrap();
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    let mut hrefs = Vec::new();
    for (uid, summary) in [("ntf-a", "Alpha"), ("ntf-b", "Bravo"), ("ntf-c", "Charlie")] {
        let ics = event(uid, summary, "20260504T090000Z", "20260504T093000Z");
        hrefs.push(client.put(&href, &format!("{uid}.ics"), &ics, Precondition::Create).await.unwrap().href);
    }
    let receiver = Receiver::start(&[]).await;
    open_channel(api, &who, &receiver.url, json!({})).await;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    run_queued_jobs(api, &href).await;
    deliver_queued(api).await;
    // The verification, then the first sync's three new events as one change (and, when the
    // shared server account holds no other calendar, the profile's initial sync completing).
    let first: Vec<String> = kinds(&receiver.bodies()).into_iter().map(|(kind, _)| kind).collect();
    let first: Vec<&str> =
        first.iter().map(String::as_str).filter(|k| *k != "profile_initial_sync_completed").collect();
    assert_eq!(first, vec!["verification", "change"]);
    let before = receiver.received().len();

    // Three edits on the server, one sync.
    api.clock.advance(Duration::minutes(5));
    let (a, b) = (&hrefs[0], &hrefs[1]);
    let renamed = event("ntf-a", "Alpha (renamed)", "20260504T090000Z", "20260504T093000Z");
    client.put(&href, "ntf-a.ics", &renamed, Precondition::Update(etag_of(&client, &href, a).await)).await.unwrap();
    let moved = event("ntf-b", "Bravo", "20260505T100000Z", "20260505T103000Z");
    client.put(&href, "ntf-b.ics", &moved, Precondition::Update(etag_of(&client, &href, b).await)).await.unwrap();
    client.delete(&hrefs[2], None).await.unwrap();
    api.clock.advance(Duration::minutes(1));
    let synced_at = api.now();
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    deliver_queued(api).await;

    // Exactly one notification, signed, whose changes_since reads back exactly the three.
    let received = receiver.received();
    assert_eq!(received.len(), before + 1);
    let received = &received[before..];
    let notification: Value = serde_json::from_str(&received[0].body).unwrap();
    let since = (synced_at - Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    assert_eq!(notification["notification"], json!({"type": "change", "changes_since": since}));
    let signature = received[0].signature.as_deref().expect("a signature");
    assert_eq!(sdks_accept(&secret, signature, &received[0].body), (true, true));
    let mut changed = events(api, &who, &calendar, &format!("&include_deleted=true&last_modified={since}")).await;
    changed.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        changed,
        vec![
            ("Alpha (renamed)".to_owned(), json!("2026-05-04T09:00:00Z"), false),
            ("Bravo".to_owned(), json!("2026-05-05T10:00:00Z"), false),
            ("Charlie".to_owned(), json!("2026-05-04T09:00:00Z"), true),
        ]
    );

    // The application's own event, written through the API, pushed and synced back: no one is told.
    api.clock.advance(Duration::minutes(1));
    let body =
        json!({"event_id": "own-1", "summary": "Own", "start": "2026-05-06T09:00:00Z", "end": "2026-05-06T10:00:00Z"});
    let (status, _) = api.post(&format!("/v1/calendars/{}/events", calendar.id), Some(&who.access_token), body).await;
    assert_eq!(status, 202);
    run_queued_jobs(api, &href).await;
    api.clock.advance(Duration::minutes(1));
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    assert!(deliver_queued(api).await.is_empty());
    assert_eq!(receiver.received().len(), before + 1);
}

async fn a_refused_password_and_a_first_sync_are_told_to_the_channel(api: &TestApi) {
    // A hosted calendar's first sync completes its profile's initial sync.
    let (app, _) = api.application("Notified").await;
    let who = api.authorized(&app, "read_events").await;
    let receiver = Receiver::start(&[]).await;
    open_channel(api, &who, &receiver.url, json!({})).await;
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: who.calendar.id.clone() }).await, JobOutcome::Done);
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: who.calendar.id.clone() }).await, JobOutcome::Done);
    deliver_queued(api).await;
    let told: Vec<String> = kinds(&receiver.bodies()).into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(told, vec!["verification", "profile_initial_sync_completed"]);

    // A CalDAV profile of another account whose password Radicale refuses: its channel hears
    // `profile_disconnected` once, however often the profile's jobs run.
    let (other, profile) = caldav_account(api, Server::Radicale).await;
    let wrong = Credentials::Password {
        email: "ada@example.com".into(),
        password: "not-the-password".into(),
        username: Some(Server::Radicale.endpoint().username),
    };
    let sealed = api.state.vault.seal(&profile.id, &wrong).unwrap();
    api.state.store.put_credentials(&profile.id, &other.account.id, &sealed, api.now()).await.unwrap();
    let watcher = Receiver::start(&[]).await;
    open_channel(api, &other, &watcher.url, json!({})).await;
    for _ in 0..3 {
        job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await;
    }
    deliver_queued(api).await;
    let told: Vec<String> = kinds(&watcher.bodies()).into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(told, vec!["verification", "profile_disconnected"]);
    assert_eq!(kinds(&receiver.bodies()).len(), 2);
}

async fn another_applications_write_is_told_and_the_writers_own_channel_is_not(api: &TestApi) {
    let (writer_app, _) = api.application("Writer").await;
    let (watcher_app, _) = api.application("Watcher").await;
    let writer = api.authorized(&writer_app, "read_events create_event").await;
    let scopes = calsync_core::domain::Scopes::parse("read_events").unwrap();
    let issued = calsync_core::tokens::issue(&api.state.store, &watcher_app, &writer.account.id, scopes, api.now())
        .await
        .unwrap();
    let watcher = calsync_tests::api::Authorized { access_token: issued.access_token, ..writer.clone() };
    let (own, other) = (Receiver::start(&[]).await, Receiver::start(&[]).await);
    open_channel(api, &writer, &own.url, json!({})).await;
    open_channel(api, &watcher, &other.url, json!({})).await;
    let only_managed = Receiver::start(&[]).await;
    open_channel(api, &watcher, &only_managed.url, json!({"only_managed": true})).await;
    deliver_queued(api).await;

    api.clock.advance(Duration::minutes(1));
    let body = json!({"event_id": "w-1", "summary": "Written", "start": "2026-05-06T09:00:00Z", "end": "2026-05-06T10:00:00Z"});
    let path = format!("/v1/calendars/{}/events", writer.calendar.id);
    assert_eq!(api.post(&path, Some(&writer.access_token), body.clone()).await.0, 202);
    // The same upsert again changes nothing, and tells no one.
    assert_eq!(api.post(&path, Some(&writer.access_token), body).await.0, 202);
    deliver_queued(api).await;

    let since = (api.now() - Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    assert_eq!(kinds(&own.bodies()), vec![("verification".to_owned(), None)]);
    assert_eq!(kinds(&only_managed.bodies()), vec![("verification".to_owned(), None)]);
    assert_eq!(
        kinds(&other.bodies()),
        vec![("verification".to_owned(), None), ("change".to_owned(), Some(since.clone()))]
    );
    // What the watcher reads back from it is the writer's event.
    let read = format!("/v1/events?tzid=Etc/UTC&last_modified={since}&from=2026-05-01&to=2026-05-10");
    let (status, events) = api.get(&read, &watcher.access_token).await;
    assert_eq!(status, 200, "{events}");
    let summaries: Vec<&str> =
        events["events"].as_array().unwrap().iter().filter_map(|e| e["summary"].as_str()).collect();
    assert_eq!(summaries, vec!["Written"]);
}

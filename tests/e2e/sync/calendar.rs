//! The sync engine end to end for CalDAV profiles: a calendar on a real Radicale or Xandikos
//! server (started by infra/caldav.sh) is synced through the sync queue's job handler and read
//! back through `/v1/events`, on SQLite and PostgreSQL. Also: the change-marker short-circuit,
//! backoff, and SQS batches with duplicated and failing records through the Lambda wrapper.

use aws_lambda_events::event::sqs::SqsEvent;
use calsync_core::crypto::Credentials;
use calsync_core::domain::{Calendar, CalendarId, Profile, ProfileId, ProfileStatus};
use calsync_core::jobs::{JobError, JobOutcome, SyncJob, handle_sync_message};
use calsync_core::providers::caldav::{Policy, Precondition};
use calsync_core::store::ApplicationUpdate;
use calsync_core::sync::caldav::CalDavProvider;
use calsync_core::sync::{
    CalendarListReport, CalendarProvider, CursorState, ProviderError, SyncReport, sync_calendar_list_reporting,
    sync_calendar_reporting,
};
use calsync_core::tokens;
use calsync_core::{domain::SyncState, lambda::sqs_batch, state::AppState};
use calsync_tests::api::{Authorized, TestApi};
use calsync_tests::caldav::{Server, event, fresh_calendar};
use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

use super::{
    all_day, caldav_account, changed_since, etag_of, events, job, row, snapshot, stored_calendar, take_queued,
    weekly_with_a_moved_instance,
};

sync_on_both_backends_and_servers!(
    a_caldav_calendar_is_synced_incrementally_idempotently_and_resynced_without_spurious_changes,
    a_calendar_gone_from_the_server_is_marked_deleted,
    an_unreachable_server_is_a_retryable_failure_recorded_on_the_calendar,
    instances_that_aged_out_of_the_window_are_kept_when_their_series_changes,
    an_unchanged_calendar_costs_one_request_and_writes_nothing,
    a_poll_of_a_profile_with_nothing_changed_costs_one_request_and_queues_nothing,
    a_sync_message_delivered_three_times_in_one_batch_ends_as_one_delivery,
    a_batch_reports_exactly_the_records_whose_server_is_unreachable,
);

mod a_refused_password_disconnects_the_profile {
    use calsync_tests::api::TestApi;

    #[tokio::test]
    async fn on_sqlite() {
        let api = TestApi::new(calsync_tests::db::Backend::Sqlite).await;
        super::a_refused_password_disconnects_the_profile(&api).await;
        api.cleanup().await;
    }

    #[tokio::test]
    async fn on_postgres() {
        let api = TestApi::new(calsync_tests::db::Backend::Postgres).await;
        super::a_refused_password_disconnects_the_profile(&api).await;
        api.cleanup().await;
    }
}

async fn a_caldav_calendar_is_synced_incrementally_idempotently_and_resynced_without_spurious_changes(
    api: &TestApi,
    server: Server,
) {
    let (who, profile) = caldav_account(api, server).await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    let standup = event("sync-standup", "Standup", "20260504T090000Z", "20260504T093000Z");
    let standup_href = client.put(&href, "sync-standup.ics", &standup, Precondition::Create).await.unwrap().href;
    client.put(&href, "sync-holiday.ics", &all_day(), Precondition::Create).await.unwrap();
    let weekly = client.put(&href, "sync-weekly.ics", &weekly_with_a_moved_instance(), Precondition::Create).await;
    let weekly_href = weekly.unwrap().href;

    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    assert_eq!(calendar.name, "Test calendar");
    assert!(!calendar.deleted);
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);

    let expected = vec![
        row("Standup", "2026-05-04T09:00:00Z"),
        row("Weekly review", "2026-05-05T14:00:00Z"),
        row("Holiday", "2026-05-06"),
        row("Weekly review (moved)", "2026-05-12T16:00:00Z"),
        row("Weekly review", "2026-05-19T14:00:00Z"),
        row("Weekly review", "2026-05-26T14:00:00Z"),
    ];
    assert_eq!(events(api, &who, &calendar, "").await, expected);

    // One edit on the server: exactly one cached event changes.
    let first_sync = api.now();
    api.clock.advance(Duration::minutes(1));
    let renamed = event("sync-standup", "Standup (renamed)", "20260504T090000Z", "20260504T093000Z");
    let etag = etag_of(&client, &href, &standup_href).await;
    client.put(&href, "sync-standup.ics", &renamed, Precondition::Update(etag)).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    let since = first_sync + Duration::seconds(1);
    assert_eq!(
        changed_since(api, &who, &calendar, since).await,
        vec![row("Standup (renamed)", "2026-05-04T09:00:00Z")]
    );

    // The same job again changes nothing.
    let second_sync = api.now();
    api.clock.advance(Duration::minutes(1));
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    assert_eq!(changed_since(api, &who, &calendar, second_sync + Duration::seconds(1)).await, vec![]);

    // A cursor the server no longer accepts, then one that is not a cursor at all: both resync
    // the window without reporting anything as changed.
    let state = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    let mut cursor = CursorState::decode(state.cursor.as_deref()).expect("a cursor in the engine's form");
    assert_eq!(cursor.resources.len(), 3);
    cursor.token = "http://calsync.invalid/sync/1".into();
    // Without the change marker, as cursors written before markers were kept.
    cursor.ctag = None;
    for bogus in [serde_json::to_string(&cursor).unwrap(), "not a cursor".to_owned()] {
        let before = api.now();
        api.clock.advance(Duration::minutes(1));
        api.state.store.record_sync_success(&calendar.id, &calendar.account_id, Some(&bogus), before).await.unwrap();
        assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
        assert_eq!(changed_since(api, &who, &calendar, before + Duration::seconds(1)).await, vec![]);
        let state = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
        let resynced = CursorState::decode(state.cursor.as_deref()).expect("a fresh cursor");
        assert_ne!(resynced.token, cursor.token);
        assert_eq!(resynced.resources.len(), 3);
    }

    // An instance excluded on the server: exactly that instance is tombstoned.
    let before_exdate = api.now();
    api.clock.advance(Duration::minutes(1));
    let excluded = weekly_with_a_moved_instance()
        .replace("RRULE:FREQ=WEEKLY;COUNT=4\r\n", "RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE:20260519T140000Z\r\n");
    let etag = etag_of(&client, &href, &weekly_href).await;
    client.put(&href, "sync-weekly.ics", &excluded, Precondition::Update(etag)).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    assert_eq!(
        changed_since(api, &who, &calendar, before_exdate + Duration::seconds(1)).await,
        vec![("Weekly review".to_owned(), json!("2026-05-19T14:00:00Z"), true)]
    );

    // The series deleted on the server: each of its cached instances is tombstoned.
    let before_delete = api.now();
    api.clock.advance(Duration::minutes(1));
    client.delete(&weekly_href, None).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    let tombstones: Vec<(String, Value, bool)> = expected
        .iter()
        .filter(|(summary, start, _)| summary.starts_with("Weekly") && *start != json!("2026-05-19T14:00:00Z"))
        .map(|(summary, start, _)| (summary.clone(), start.clone(), true))
        .collect();
    assert_eq!(changed_since(api, &who, &calendar, before_delete + Duration::seconds(1)).await, tombstones);
    assert_eq!(
        events(api, &who, &calendar, "").await,
        vec![row("Standup (renamed)", "2026-05-04T09:00:00Z"), row("Holiday", "2026-05-06")]
    );
}

async fn a_calendar_gone_from_the_server_is_marked_deleted(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account(api, server).await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    assert!(!stored_calendar(api, &who, &href).await.deleted);

    client.delete(&href, None).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    assert!(calendar.deleted);
    assert_eq!(
        job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await,
        JobOutcome::Skipped("the calendar was deleted at the provider")
    );
}

/// Only Radicale checks passwords (Xandikos runs without authentication).
async fn a_refused_password_disconnects_the_profile(api: &TestApi) {
    let (who, profile) = caldav_account(api, Server::Radicale).await;
    let wrong = Credentials::Password {
        email: "ada@example.com".into(),
        password: "not-the-password".into(),
        username: Some(Server::Radicale.endpoint().username),
    };
    let sealed = api.state.vault.seal(&profile.id, &wrong).unwrap();
    api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, api.now()).await.unwrap();

    assert_eq!(
        job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await,
        JobOutcome::Skipped("the provider refused the credentials; the profile is disconnected")
    );
    let stored = api.state.store.get_profile(&profile.id).await.unwrap().expect("the profile");
    assert_eq!(stored.status, ProfileStatus::Disconnected);
    assert_eq!(
        job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await,
        JobOutcome::Skipped("the profile is disconnected")
    );
}

/// A calendar of a new CalDAV profile of `who`'s account whose server refuses connections.
async fn unreachable_calendar(
    api: &TestApi,
    who: &Authorized,
    profile: &Profile,
    server: Server,
) -> (Profile, Calendar) {
    // Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
    let moved =
        Profile { server_url: Some("http://127.0.0.1:9/".into()), id: ProfileId::generate(), ..profile.clone() };
    api.state.store.create_profile(&moved).await.unwrap();
    let credentials = Credentials::Password {
        email: "ada@example.com".into(),
        password: server.endpoint().password,
        username: Some(server.endpoint().username),
    };
    let sealed = api.state.vault.seal(&moved.id, &credentials).unwrap();
    api.state.store.put_credentials(&moved.id, &who.account.id, &sealed, api.now()).await.unwrap();
    let calendar = api
        .state
        .store
        .upsert_calendar(&Calendar {
            id: CalendarId::generate(),
            profile_id: moved.id.clone(),
            account_id: who.account.id.clone(),
            provider_calendar_id: "/calsync/work/".into(),
            name: "Work".into(),
            is_primary: false,
            read_only: false,
            deleted: false,
            color: None,
            created_at: api.now(),
            updated_at: api.now(),
        })
        .await
        .unwrap();
    (moved, calendar)
}

async fn an_unreachable_server_is_a_retryable_failure_recorded_on_the_calendar(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account(api, server).await;
    let (moved, calendar) = unreachable_calendar(api, &who, &profile, server).await;

    let body = serde_json::to_string(&SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).unwrap();
    let result = handle_sync_message(&api.state, &body).await;
    assert!(matches!(result, Err(JobError::Retryable(_))), "{result:?}");
    let state = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    assert_eq!(state.last_error.as_deref(), Some("provider_unavailable"));
    assert_eq!(state.error_count, 1);
    // A minute, spread by a quarter either way so calendars that failed together part.
    let wait = state.backoff_until.expect("a backoff") - api.now();
    assert!((Duration::seconds(45)..Duration::seconds(75)).contains(&wait), "{wait}");
    assert_eq!(state.cursor, None);
    let stored = api.state.store.get_profile(&moved.id).await.unwrap().expect("the profile");
    assert_eq!(stored.status, ProfileStatus::Active);

    // Within the backoff the job is acknowledged without contacting the server or writing.
    api.clock.advance(wait - Duration::seconds(1));
    let skipped = sync_calendar_reporting(&api.state, &calendar.id).await.expect("skipped, not failed");
    assert_eq!(skipped, (JobOutcome::Skipped("backing off"), SyncReport::default()));
    assert_eq!(handle_sync_message(&api.state, &body).await.unwrap(), JobOutcome::Skipped("backing off"));
    assert_eq!(api.state.store.get_sync_state(&calendar.id).await.unwrap(), Some(state.clone()));

    // Once it has passed, the next job tries the server again.
    api.clock.advance(Duration::seconds(1));
    let result = sync_calendar_reporting(&api.state, &calendar.id).await;
    assert!(matches!(result, Err(JobError::Retryable(_))), "{result:?}");
    let state = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    assert_eq!(state.error_count, 2);
    // The second failure in a row waits about twice as long.
    let wait = state.backoff_until.expect("a backoff") - api.now();
    assert!((Duration::seconds(90)..Duration::seconds(150)).contains(&wait), "{wait}");
}

async fn instances_that_aged_out_of_the_window_are_kept_when_their_series_changes(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account(api, server).await;
    let authorizations = api.state.store.list_authorizations(&who.account.id).await.unwrap();
    let narrow =
        ApplicationUpdate { sync_past_days: Some(1), sync_future_days: Some(30), ..ApplicationUpdate::default() };
    let app = api.state.store.update_application(&authorizations[0].application_id, &narrow, api.now()).await;
    let app = app.unwrap().expect("the application");
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    let weekly = client.put(&href, "sync-weekly.ics", &weekly_with_a_moved_instance(), Precondition::Create).await;
    let weekly_href = weekly.unwrap().href;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);

    // Ten days later the window starts on 2026-05-10: the first instance has left it.
    let before = api.now();
    api.clock.advance(Duration::days(10));
    let renamed = weekly_with_a_moved_instance().replace("SUMMARY:Weekly review\r\n", "SUMMARY:Weekly sync\r\n");
    let etag = etag_of(&client, &href, &weekly_href).await;
    client.put(&href, "sync-weekly.ics", &renamed, Precondition::Update(etag)).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);

    // The access token issued ten days ago has expired; refresh it to read.
    let issued = tokens::refresh(&api.state.store, &app, &who.refresh_token, api.now()).await.unwrap();
    let who = Authorized { access_token: issued.expect("a refreshed token").access_token, ..who };
    assert_eq!(
        changed_since(api, &who, &calendar, before + Duration::seconds(1)).await,
        vec![row("Weekly sync", "2026-05-19T14:00:00Z"), row("Weekly sync", "2026-05-26T14:00:00Z")]
    );
    // The API reads only within the window, so the store shows the instance that left it.
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let cached =
        api.state.store.list_events_changed_since(std::slice::from_ref(&calendar.id), epoch, 100).await.unwrap();
    let mut cached: Vec<(Option<String>, DateTime<Utc>, bool)> =
        cached.into_iter().map(|e| (e.summary, e.start.sort_key(), e.deleted)).collect();
    cached.sort_by_key(|(_, start, _)| *start);
    let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
    assert_eq!(
        cached,
        vec![
            (Some("Weekly review".to_owned()), at("2026-05-05T14:00:00Z"), false),
            (Some("Weekly review (moved)".to_owned()), at("2026-05-12T16:00:00Z"), false),
            (Some("Weekly sync".to_owned()), at("2026-05-19T14:00:00Z"), false),
            (Some("Weekly sync".to_owned()), at("2026-05-26T14:00:00Z"), false),
        ]
    );
}

mod the_caldav_provider_writes_conditionally_and_deletes {
    #[tokio::test]
    async fn on_radicale() {
        super::the_caldav_provider_writes_conditionally_and_deletes(calsync_tests::caldav::Server::Radicale).await;
    }

    #[tokio::test]
    async fn on_xandikos() {
        super::the_caldav_provider_writes_conditionally_and_deletes(calsync_tests::caldav::Server::Xandikos).await;
    }
}

async fn the_caldav_provider_writes_conditionally_and_deletes(server: Server) {
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    let endpoint = server.endpoint();
    let credentials = Credentials::Password {
        email: "ada@example.com".into(),
        password: endpoint.password.clone(),
        username: Some(endpoint.username.clone()),
    };
    let provider =
        CalDavProvider::new(&endpoint.url, &credentials, Policy::local(), chrono_tz::UTC).expect("a provider");
    let first = event("sync-write", "Written", "20260504T090000Z", "20260504T093000Z");
    let written = provider.write(&href, "sync-write.ics", None, &first, None).await.expect("create");
    assert_eq!(written.remote_id, format!("{href}sync-write.ics"));
    assert_eq!(provider.write(&href, "sync-write.ics", None, &first, None).await, Err(ProviderError::Conflict));

    let renamed = event("sync-write", "Rewritten", "20260504T090000Z", "20260504T093000Z");
    let stale = Some("\"not-the-etag\"");
    assert_eq!(provider.write(&href, "sync-write.ics", None, &renamed, stale).await, Err(ProviderError::Conflict));
    let etag = etag_of(&client, &href, &written.remote_id).await;
    provider.write(&href, "sync-write.ics", None, &renamed, Some(&etag)).await.expect("update");

    let start = DateTime::parse_from_rfc3339("2026-05-01T00:00:00Z").unwrap().with_timezone(&Utc);
    let listing = provider.list_range(&href, start, start + Duration::days(31)).await.expect("list");
    let summaries: Vec<Option<String>> =
        listing.resources.iter().map(|r| r.series.master.as_ref().and_then(|m| m.summary.clone())).collect();
    assert_eq!(summaries, vec![Some("Rewritten".to_owned())]);
    assert_eq!(listing.resources[0].remote_id, written.remote_id);
    assert_eq!(listing.skipped, 0);

    assert_eq!(provider.delete(&written.remote_id, stale).await, Err(ProviderError::Conflict));
    provider.delete(&written.remote_id, None).await.expect("delete");
    provider.delete(&written.remote_id, None).await.expect("deleting again succeeds");
    let listing = provider.list_range(&href, start, start + Duration::days(31)).await.expect("list");
    assert!(listing.resources.is_empty());
}

async fn an_unchanged_calendar_costs_one_request_and_writes_nothing(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account(api, server).await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    let standup = event("sync-standup", "Standup", "20260504T090000Z", "20260504T093000Z");
    let standup_href = client.put(&href, "sync-standup.ics", &standup, Precondition::Create).await.unwrap().href;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    let (outcome, first) = sync_calendar_reporting(&api.state, &calendar.id).await.expect("the first sync");
    assert_eq!(outcome, JobOutcome::Done);
    assert_eq!((first.full_resync, first.unchanged, first.changed), (true, false, 1));
    let stored = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    let ctag = client.ctag(&href).await.unwrap();
    assert!(ctag.is_some(), "the server reports a getctag");
    assert_eq!(CursorState::decode(stored.cursor.as_deref()).expect("a cursor").ctag, ctag);

    let before = snapshot(api, &calendar).await;
    api.clock.advance(Duration::minutes(1));
    let unchanged = sync_calendar_reporting(&api.state, &calendar.id).await.expect("the no-change sync");
    assert_eq!(unchanged, (JobOutcome::Done, SyncReport { unchanged: true, requests: 1, ..SyncReport::default() }));
    assert_eq!(snapshot(api, &calendar).await, before);

    // A change on the server changes the marker, so the next sync fetches and applies it.
    api.clock.advance(Duration::minutes(1));
    let renamed = event("sync-standup", "Standup (renamed)", "20260504T090000Z", "20260504T093000Z");
    let etag = etag_of(&client, &href, &standup_href).await;
    client.put(&href, "sync-standup.ics", &renamed, Precondition::Update(etag)).await.unwrap();
    let (outcome, changed) = sync_calendar_reporting(&api.state, &calendar.id).await.expect("the sync");
    assert_eq!(outcome, JobOutcome::Done);
    assert_eq!((changed.full_resync, changed.unchanged, changed.changed), (false, false, 1));
    let stored = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    let cursor = CursorState::decode(stored.cursor.as_deref()).expect("a cursor");
    assert_eq!(cursor.ctag, client.ctag(&href).await.unwrap());
    assert_ne!(cursor.ctag, ctag);
    assert_eq!(stored.last_success_at, Some(api.now()));

    // Cursors stored before the marker was kept still parse, without one.
    let old = CursorState::decode(Some(r#"{"token":"t1","resources":{"/a.ics":"a"}}"#)).expect("an old cursor");
    assert_eq!(old.ctag, None);
    assert_eq!(old.resources.len(), 1);
}

/// Runs `records` (message id, job) through the SQS batch wrapper and returns the message ids
/// it reported as failed.
async fn sqs_batch_failures(state: &AppState, records: &[(&str, SyncJob)]) -> Vec<String> {
    let records: Vec<Value> =
        records.iter().map(|(id, job)| json!({"messageId": id, "body": serde_json::to_string(job).unwrap()})).collect();
    let event: SqsEvent = serde_json::from_value(json!({ "Records": records })).expect("an SQS event");
    let response = sqs_batch(LambdaEvent::new(event, Context::default()), |body| {
        let state = state.clone();
        async move { handle_sync_message(&state, &body).await }
    })
    .await
    .expect("the batch is answered");
    let response = serde_json::to_value(response).unwrap();
    let failures = response["batchItemFailures"].as_array().expect("a batchItemFailures array");
    failures.iter().map(|f| f["itemIdentifier"].as_str().expect("an item id").to_owned()).collect()
}

/// A calendar's events and sync state without what differs between two calendars holding the
/// same content (row ids, calendar ids, collection hrefs).
type Projection = (Vec<(Option<String>, Option<String>, DateTime<Utc>, bool, DateTime<Utc>)>, Vec<Value>);

async fn projection(api: &TestApi, calendar: &Calendar) -> Projection {
    let (events, state) = snapshot(api, calendar).await;
    let mut events: Vec<_> =
        events.into_iter().map(|e| (e.provider_id, e.summary, e.start.sort_key(), e.deleted, e.updated_at)).collect();
    events.sort();
    let state = state.expect("a sync state");
    let cursor = CursorState::decode(state.cursor.as_deref()).expect("a cursor");
    let uids: Vec<&String> = cursor.resources.values().collect();
    let state = vec![
        json!(state.last_success_at),
        json!(state.last_error),
        json!(state.error_count),
        json!(state.backoff_until),
        json!(state.updated_at),
        json!(uids),
        json!(cursor.ctag.is_some()),
    ];
    (events, state)
}

/// The three copies run concurrently, so one holds the calendar's lease while another may find
/// it taken. That copy fails retryably rather than being acknowledged: the running sync read the
/// calendar before the copy arrived and might miss a change made in between, so dropping the
/// copy could lose it. SQS redelivers it, and then the change marker ends it without a write.
async fn a_sync_message_delivered_three_times_in_one_batch_ends_as_one_delivery(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account(api, server).await;
    let client = server.client();
    let once_href = fresh_calendar(server, &client).await;
    let thrice_href = fresh_calendar(server, &client).await;
    for href in [&once_href, &thrice_href] {
        client.put(href, "sync-holiday.ics", &all_day(), Precondition::Create).await.unwrap();
        client.put(href, "sync-weekly.ics", &weekly_with_a_moved_instance(), Precondition::Create).await.unwrap();
    }
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let once = stored_calendar(api, &who, &once_href).await;
    let thrice = stored_calendar(api, &who, &thrice_href).await;

    assert_eq!(
        sqs_batch_failures(&api.state, &[("once", SyncJob::SyncCalendar { calendar_id: once.id.clone() })]).await,
        Vec::<String>::new()
    );
    let expected = projection(api, &once).await;
    assert_eq!(expected.0.len(), 5);

    let copy = SyncJob::SyncCalendar { calendar_id: thrice.id.clone() };
    let ids = ["copy-1", "copy-2", "copy-3"];
    let records: Vec<(&str, SyncJob)> = ids.iter().map(|id| (*id, copy.clone())).collect();
    let failed = sqs_batch_failures(&api.state, &records).await;
    assert!(failed.len() < 3 && failed.iter().all(|id| ids.contains(&id.as_str())), "{failed:?}");
    assert_eq!(projection(api, &thrice).await, expected);

    // SQS redelivers the copies reported failed: they find the calendar unchanged.
    let before = snapshot(api, &thrice).await;
    let redelivered: Vec<(&str, SyncJob)> = failed.iter().map(|id| (id.as_str(), copy.clone())).collect();
    assert_eq!(sqs_batch_failures(&api.state, &redelivered).await, Vec::<String>::new());
    assert_eq!(snapshot(api, &thrice).await, before);
    assert_eq!(projection(api, &thrice).await, expected);
}

async fn a_batch_reports_exactly_the_records_whose_server_is_unreachable(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account(api, server).await;
    let client = server.client();
    let first_href = fresh_calendar(server, &client).await;
    let second_href = fresh_calendar(server, &client).await;
    client.put(&first_href, "sync-holiday.ics", &all_day(), Precondition::Create).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let first = stored_calendar(api, &who, &first_href).await;
    let second = stored_calendar(api, &who, &second_href).await;
    let (_, down_one) = unreachable_calendar(api, &who, &profile, server).await;
    let (_, down_two) = unreachable_calendar(api, &who, &profile, server).await;

    let sync = |calendar: &Calendar| SyncJob::SyncCalendar { calendar_id: calendar.id.clone() };
    let records =
        [("ok-1", sync(&first)), ("down-1", sync(&down_one)), ("ok-2", sync(&second)), ("down-2", sync(&down_two))];
    assert_eq!(sqs_batch_failures(&api.state, &records).await, vec!["down-1".to_owned(), "down-2".to_owned()]);

    let synced = |state: Option<SyncState>| state.expect("a sync state").last_success_at;
    assert_eq!(synced(api.state.store.get_sync_state(&first.id).await.unwrap()), Some(api.now()));
    assert_eq!(synced(api.state.store.get_sync_state(&second.id).await.unwrap()), Some(api.now()));
    let (events, _) = snapshot(api, &first).await;
    assert_eq!(events.iter().map(|e| e.summary.clone()).collect::<Vec<_>>(), vec![Some("Holiday".to_owned())]);
    for down in [&down_one, &down_two] {
        let state = api.state.store.get_sync_state(&down.id).await.unwrap().expect("a sync state");
        assert_eq!((state.last_error.as_deref(), state.error_count), (Some("provider_unavailable"), 1));
    }
}

/// A calendar list refresh, tried again (with fresh counts) when Radicale answered a 500 because
/// another test deleted a calendar of the shared account while it was being listed.
async fn listing(api: &TestApi, profile: &ProfileId) -> (JobOutcome, CalendarListReport) {
    for _ in 0..4 {
        match sync_calendar_list_reporting(&api.state, profile).await {
            Err(JobError::Retryable(_)) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            other => return other.expect("the listing"),
        }
    }
    sync_calendar_list_reporting(&api.state, profile).await.expect("the listing")
}

async fn a_poll_of_a_profile_with_nothing_changed_costs_one_request_and_queues_nothing(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account(api, server).await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    let standup = event("sync-standup", "Standup", "20260504T090000Z", "20260504T093000Z");
    let standup_href = client.put(&href, "sync-standup.ics", &standup, Precondition::Create).await.unwrap().href;

    // The first listing discovers the calendar home and remembers it; the new calendar is queued.
    let (outcome, first) = listing(api, &profile.id).await;
    assert_eq!(outcome, JobOutcome::Done);
    assert!(first.requests > 1, "{first:?}");
    let home = api.state.store.profile_calendar_home(&profile.id).await.unwrap().expect("the home is remembered");
    let expected = reqwest::Url::parse(&server.endpoint().url).unwrap().join(&server.home_set_path()).unwrap();
    assert_eq!(home, expected.as_str());
    let calendar = stored_calendar(api, &who, &href).await;
    let ours = |jobs: &[SyncJob]| jobs.contains(&SyncJob::SyncCalendar { calendar_id: calendar.id.clone() });
    let queued = take_queued(api).await;
    assert!(ours(&queued));
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);

    // Nothing changed: one request (the listing, with every calendar's change marker), and the
    // calendar is not queued.
    let (_, poll) = listing(api, &profile.id).await;
    assert_eq!(poll.requests, 1);
    assert!(!ours(&take_queued(api).await));

    // An edit on the server moves the marker: the next poll queues the calendar.
    let etag = etag_of(&client, &href, &standup_href).await;
    let renamed = event("sync-standup", "Standup (renamed)", "20260504T090000Z", "20260504T093000Z");
    client.put(&href, "sync-standup.ics", &renamed, Precondition::Update(etag)).await.unwrap();
    let (_, poll) = listing(api, &profile.id).await;
    assert_eq!(poll.requests, 1);
    assert!(ours(&take_queued(api).await));

    // A remembered home that stopped working is discovered again.
    api.state.store.set_profile_calendar_home(&profile.id, Some("/gone/")).await.unwrap();
    let (outcome, poll) = listing(api, &profile.id).await;
    assert_eq!(outcome, JobOutcome::Done);
    assert!(poll.requests > 1, "{poll:?}");
    assert_eq!(api.state.store.profile_calendar_home(&profile.id).await.unwrap(), Some(home));
}

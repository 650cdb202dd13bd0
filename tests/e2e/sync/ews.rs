//! Exchange profiles on the fake Exchange (tests/src/ews.rs), through the same jobs as CalDAV,
//! Google and Microsoft: the endpoint found by Autodiscover and remembered, an initial sync of a
//! mailbox (a sub-calendar, an all-day event), incremental edits and deletions, a no-change sync
//! that costs exactly one SyncFolderItems, a recurring series with a moved and a deleted
//! occurrence, a partner event written back with its UID and updated under its ChangeKey, a
//! weekly partner event that keeps its local time across daylight-saving changes, a create whose
//! answer was lost that is not made twice, a dead sync state resynced without spurious changes,
//! a busy server's BackOffMilliseconds, a changed password that disconnects the profile, and an
//! account connected through the authorization page only with a password the server takes.

use calsync_core::crypto::Credentials;
use calsync_core::domain::{
    Calendar, ChannelId, EventUid, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService,
};
use calsync_core::jobs::{JobOutcome, SyncJob, handle_sync_message};
use calsync_tests::api::{Authorized, TestApi};
use calsync_tests::ews::{CalendarItem, FakeExchange, Pattern, Recurrence, RecurrenceRange};
use calsync_tests::fixtures::at;
use calsync_tests::oauth::{exchange as exchange_code, open_page, query_of, request_id, submit};
use chrono::{Duration, NaiveDate, Weekday};
use http::StatusCode;
use serde_json::json;

use super::{changed_since, events, row, stored_calendar};

const ADA: &str = "ada@corp.example";
const PASSWORD: &str = "Tr0ub4dor&3";

use crate::api::api_on_both_backends;

api_on_both_backends!(
    an_exchange_mailbox_syncs_then_reads_only_what_changed_and_one_request_when_nothing_did,
    a_recurring_series_syncs_with_its_moved_and_deleted_occurrences,
    a_partner_event_is_written_with_its_uid_and_updated_under_its_change_key,
    a_weekly_partner_event_keeps_its_local_time_across_daylight_saving_changes,
    a_partner_event_whose_create_answer_was_lost_is_updated_not_created_twice,
    an_invalid_sync_state_resyncs_without_spurious_changes,
    a_window_with_more_instances_than_one_calendar_view_returns_is_listed_in_parts,
    a_busy_exchange_backs_the_calendar_off_for_exactly_its_back_off,
    a_changed_password_disconnects_the_profile_and_tells_the_application,
    an_exchange_account_connects_through_the_authorization_page_only_with_a_password_the_server_takes,
);

/// A fake Exchange with Ada's account.
async fn exchange() -> FakeExchange {
    let exchange = FakeExchange::start().await;
    exchange.add_account(ADA, PASSWORD, None);
    exchange
}

/// An account authorized for an application, with an Exchange profile connected with the
/// server's base URL (so its EWS endpoint is found by Autodiscover).
async fn exchange_account(api: &TestApi, exchange: &FakeExchange, scopes: &str) -> (Authorized, Profile) {
    let (app, _) = api.application("Syncer").await;
    let who = api.authorized(&app, scopes).await;
    let now = api.now();
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: who.account.id.clone(),
        provider: ProviderName::Exchange,
        provider_service: ProviderService::Exchange,
        email: ADA.into(),
        name: Some("Ada Lovelace".into()),
        tzid: Some("Europe/London".into()),
        status: ProfileStatus::Active,
        server_url: Some(exchange.url.clone()),
        created_at: now,
        updated_at: now,
    };
    api.state.store.create_profile(&profile).await.unwrap();
    let credentials = Credentials::Password { email: ADA.into(), password: PASSWORD.into(), username: None };
    let sealed = api.state.vault.seal(&profile.id, &credentials).unwrap();
    api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, now).await.unwrap();
    (who, profile)
}

async fn run(api: &TestApi, job: SyncJob) -> Result<JobOutcome, String> {
    let body = serde_json::to_string(&job).unwrap();
    handle_sync_message(&api.state, &body).await.map_err(|e| format!("{e:?}"))
}

async fn sync(api: &TestApi, calendar: &Calendar) {
    assert_eq!(run(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
}

/// Lists the profile's calendars and syncs the default one; returns it.
async fn first_sync(api: &TestApi, exchange: &FakeExchange, who: &Authorized, profile: &Profile) -> Calendar {
    assert_eq!(run(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, Ok(JobOutcome::Done));
    let calendar = stored_calendar(api, who, &exchange.calendar_id(ADA)).await;
    sync(api, &calendar).await;
    calendar
}

fn timed(subject: &str, start: &str, end: &str) -> CalendarItem {
    CalendarItem {
        start_time_zone_id: Some("GMT Standard Time".into()),
        ..CalendarItem::new(subject, at(start), at(end))
    }
}

/// The partner event the application stored as `event_id` in the calendar.
async fn partner_event(api: &TestApi, calendar: &Calendar, event_id: &str) -> EventUid {
    let listed = api
        .state
        .store
        .list_events_changed_since(std::slice::from_ref(&calendar.id), chrono::DateTime::UNIX_EPOCH, 100)
        .await
        .unwrap();
    listed.into_iter().find(|e| e.event_id.as_deref() == Some(event_id)).expect("the partner event").uid
}

/// Every request after the first `before`, by operation.
fn operations(exchange: &FakeExchange, before: usize) -> Vec<String> {
    exchange.requests()[before..]
        .iter()
        .map(|r| r.operation.clone().unwrap_or_else(|| format!("{} {}", r.method, r.path)))
        .collect()
}

async fn an_exchange_mailbox_syncs_then_reads_only_what_changed_and_one_request_when_nothing_did(api: &TestApi) {
    let exchange = exchange().await;
    let standup = exchange.put_item(ADA, "calendar", timed("Standup", "2026-05-04T09:00:00Z", "2026-05-04T09:30:00Z"));
    let holiday = CalendarItem {
        is_all_day: true,
        legacy_free_busy_status: "Free".into(),
        ..CalendarItem::new("Holiday", at("2026-05-06T00:00:00Z"), at("2026-05-07T00:00:00Z"))
    };
    let holiday = exchange.put_item(ADA, "calendar", holiday);
    let team = exchange.add_calendar(ADA, "Team", false);
    exchange.put_item(ADA, &team, timed("Team lunch", "2026-05-05T12:00:00Z", "2026-05-05T13:00:00Z"));
    let (who, profile) = exchange_account(api, &exchange, "read_events").await;

    let calendar = first_sync(api, &exchange, &who, &profile).await;
    assert!(calendar.is_primary && !calendar.read_only, "{calendar:?}");
    let listed = api.state.store.list_calendars(&who.account.id).await.unwrap();
    assert!(listed.iter().any(|c| c.name == "Team" && c.read_only && !c.is_primary), "{listed:?}");
    assert_eq!(
        events(api, &who, &calendar, "").await,
        vec![row("Standup", "2026-05-04T09:00:00Z"), row("Holiday", "2026-05-06")]
    );
    // The endpoint Autodiscover named is remembered; every request signed in as Ada, asked for
    // the 2013 SP1 schema and impersonated nobody.
    let home = api.state.store.profile_calendar_home(&profile.id).await.unwrap();
    assert_eq!(home, Some(exchange.ews_url()));
    let requests = exchange.requests();
    assert_eq!(requests.iter().filter(|r| r.operation.is_none()).count(), 1, "one Autodiscover request");
    for request in requests.iter().filter(|r| r.operation.is_some()) {
        assert_eq!(request.user.as_deref(), Some(ADA));
        assert_eq!(request.server_version.as_deref(), Some("Exchange2013_SP1"));
        assert!(!request.impersonated && request.anchor_mailbox.is_none(), "{request:?}");
    }

    // An edit and a deletion in Outlook: exactly those change, read with one GetItem.
    let first = api.now();
    api.clock.advance(Duration::minutes(1));
    let mut edited = exchange.item(ADA, &standup).unwrap();
    edited.subject = "Standup (renamed)".into();
    exchange.put_item(ADA, "calendar", edited);
    exchange.delete_item(ADA, &holiday);
    let before = exchange.requests().len();
    sync(api, &calendar).await;
    assert_eq!(operations(&exchange, before), ["SyncFolderItems", "GetItem"]);
    assert_eq!(
        changed_since(api, &who, &calendar, first + Duration::seconds(1)).await,
        vec![row("Standup (renamed)", "2026-05-04T09:00:00Z"), ("Holiday".to_owned(), json!("2026-05-06"), true)]
    );

    // Nothing changed: exactly one SyncFolderItems and nothing else, nothing written.
    let second = api.now();
    api.clock.advance(Duration::minutes(1));
    let (syncs, before) = (exchange.operation_count("SyncFolderItems"), exchange.requests().len());
    sync(api, &calendar).await;
    assert_eq!(exchange.operation_count("SyncFolderItems") - syncs, 1);
    assert_eq!(operations(&exchange, before), ["SyncFolderItems"], "a no-change sync costs one request");
    assert_eq!(changed_since(api, &who, &calendar, second + Duration::seconds(1)).await, vec![]);

    // The next calendar list goes straight to the remembered endpoint.
    let before = exchange.requests().len();
    assert_eq!(run(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, Ok(JobOutcome::Done));
    assert_eq!(operations(&exchange, before), ["GetFolder", "FindFolder"]);
}

async fn a_recurring_series_syncs_with_its_moved_and_deleted_occurrences(api: &TestApi) {
    let exchange = exchange().await;
    let day = |d| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
    let weekly = timed("Weekly review", "2026-05-05T14:00:00Z", "2026-05-05T15:00:00Z").recurring(
        Pattern::Weekly { interval: 1, days: vec![Weekday::Tue], first_day_of_week: None },
        RecurrenceRange::Numbered { start: day(5), count: 4 },
    );
    let master = exchange.put_item(ADA, "calendar", weekly);
    exchange.modify_occurrence(
        ADA,
        &master,
        at("2026-05-12T14:00:00Z"),
        at("2026-05-12T16:00:00Z"),
        at("2026-05-12T17:00:00Z"),
        Some("Weekly review (moved)"),
    );
    exchange.delete_occurrence(ADA, &master, at("2026-05-19T14:00:00Z"));
    let (who, profile) = exchange_account(api, &exchange, "read_events").await;

    let calendar = first_sync(api, &exchange, &who, &profile).await;
    assert_eq!(
        events(api, &who, &calendar, "").await,
        vec![
            row("Weekly review", "2026-05-05T14:00:00Z"),
            row("Weekly review (moved)", "2026-05-12T16:00:00Z"),
            row("Weekly review", "2026-05-26T14:00:00Z"),
        ]
    );
    // The window listing read the series through its master, and the exception by its id.
    let bodies: Vec<String> = exchange
        .requests()
        .iter()
        .filter(|r| r.operation.as_deref() == Some("GetItem"))
        .map(|r| r.body.clone())
        .collect();
    assert!(bodies.iter().any(|b| b.contains("RecurringMasterItemId")), "{bodies:?}");
    let exception = exchange.occurrence_id(&master, at("2026-05-12T14:00:00Z"));
    assert!(bodies.iter().any(|b| b.contains(&exception)), "{bodies:?}");

    // Another occurrence deleted and the moved one moved again in Outlook: the master changed,
    // and only those instances change in the cache.
    let before = api.now();
    api.clock.advance(Duration::minutes(1));
    exchange.delete_occurrence(ADA, &master, at("2026-05-26T14:00:00Z"));
    exchange.modify_occurrence(
        ADA,
        &master,
        at("2026-05-12T14:00:00Z"),
        at("2026-05-13T09:00:00Z"),
        at("2026-05-13T10:00:00Z"),
        Some("Weekly review (moved again)"),
    );
    sync(api, &calendar).await;
    assert_eq!(
        changed_since(api, &who, &calendar, before + Duration::seconds(1)).await,
        vec![
            row("Weekly review (moved again)", "2026-05-13T09:00:00Z"),
            ("Weekly review".to_owned(), json!("2026-05-26T14:00:00Z"), true),
        ]
    );

    // The series deleted: every instance goes.
    let before = api.now();
    api.clock.advance(Duration::minutes(1));
    exchange.delete_item(ADA, &master);
    sync(api, &calendar).await;
    let gone = changed_since(api, &who, &calendar, before + Duration::seconds(1)).await;
    assert_eq!(gone.len(), 2, "{gone:?}");
    assert!(gone.iter().all(|(_, _, deleted)| *deleted), "{gone:?}");
    assert_eq!(events(api, &who, &calendar, "").await, vec![]);
}

async fn a_partner_event_is_written_with_its_uid_and_updated_under_its_change_key(api: &TestApi) {
    let exchange = exchange().await;
    let remote = exchange.calendar_id(ADA);
    let (who, profile) = exchange_account(api, &exchange, "read_events create_event delete_event").await;
    let calendar = first_sync(api, &exchange, &who, &profile).await;

    let body = json!({"event_id": "p1", "summary": "Interview", "description": "Room 1",
                      "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
    let path = format!("/v1/calendars/{}/events", calendar.id);
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    let listed = api
        .state
        .store
        .list_events_changed_since(std::slice::from_ref(&calendar.id), chrono::DateTime::UNIX_EPOCH, 10)
        .await
        .unwrap();
    let partner = listed.iter().find(|e| e.event_id.as_deref() == Some("p1")).expect("the partner event").uid.clone();
    assert_eq!(run(api, SyncJob::PushEvent { event_uid: partner.clone() }).await, Ok(JobOutcome::Done));
    let written = exchange.items(ADA, &remote);
    assert_eq!(written.len(), 1, "{written:?}");
    let item = &written[0];
    assert!(item.uid.starts_with("calsync-"), "the partner event's UID: {item:?}");
    assert_eq!((item.subject.as_str(), item.body.as_str()), ("Interview", "Room 1"));
    assert_eq!((item.start, item.end), (at("2026-05-07T10:00:00Z"), at("2026-05-07T11:00:00Z")));
    assert_eq!(item.meeting_invitations.as_deref(), Some("SendToNone"), "no attendees, no invitations");
    let id = item.item_id.clone();

    // The sync recognises it by its UID and does not import it as a third-party event.
    sync(api, &calendar).await;
    assert_eq!(
        events(api, &who, &calendar, "&include_managed=true").await,
        vec![row("Interview", "2026-05-07T10:00:00Z")]
    );

    // Edited in Outlook meanwhile, then updated by the application: the update under the old
    // ChangeKey conflicts, the current one is read, and the application's version wins.
    let mut edited = exchange.item(ADA, &id).unwrap();
    edited.subject = "Interview (edited in Outlook)".into();
    exchange.put_item(ADA, "calendar", edited);
    let body = json!({"event_id": "p1", "summary": "Interview (room 2)",
                      "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    assert_eq!(run(api, SyncJob::PushEvent { event_uid: partner.clone() }).await, Ok(JobOutcome::Done));
    let written = exchange.items(ADA, &remote);
    assert_eq!((written.len(), written[0].item_id.as_str()), (1, id.as_str()));
    assert_eq!(written[0].subject, "Interview (room 2)");
    let updates: Vec<_> =
        exchange.requests().into_iter().filter(|r| r.operation.as_deref() == Some("UpdateItem")).collect();
    assert_eq!(updates.len(), 2, "one refused for its stale ChangeKey, one after reading the current one");
    for update in &updates {
        let attributes = &update.operation_attributes;
        assert!(attributes.contains(&("ConflictResolution".into(), "NeverOverwrite".into())), "{attributes:?}");
    }

    // Deleted in Outlook, then changed by the application: created again.
    exchange.delete_item(ADA, &id);
    let body = json!({"event_id": "p1", "summary": "Interview (room 3)",
                      "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    assert_eq!(run(api, SyncJob::PushEvent { event_uid: partner.clone() }).await, Ok(JobOutcome::Done));
    let written = exchange.items(ADA, &remote);
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(written[0].subject, "Interview (room 3)");

    // Deleted by the application: gone at Exchange.
    let (status, _) = api.delete(&path, &who.access_token, json!({"event_id": "p1"})).await;
    assert_eq!(status, 202);
    assert_eq!(run(api, SyncJob::PushEvent { event_uid: partner }).await, Ok(JobOutcome::Done));
    assert_eq!(exchange.items(ADA, &remote), Vec::<CalendarItem>::new());
}

async fn a_weekly_partner_event_keeps_its_local_time_across_daylight_saving_changes(api: &TestApi) {
    let exchange = exchange().await;
    let remote = exchange.calendar_id(ADA);
    let (who, profile) = exchange_account(api, &exchange, "read_events create_event").await;
    let calendar = first_sync(api, &exchange, &who, &profile).await;

    // Mondays at 09:00 London time, from before the March change to after the October one.
    let body = json!({"event_id": "weekly", "summary": "Weekly review", "tzid": "Europe/London",
                      "start": "2026-03-23T09:00:00", "end": "2026-03-23T10:00:00",
                      "recurrence": {"rules": [{"frequency": "weekly", "by_day": ["monday"]}]}});
    let path = format!("/v1/calendars/{}/events", calendar.id);
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    let partner = partner_event(api, &calendar, "weekly").await;
    assert_eq!(run(api, SyncJob::PushEvent { event_uid: partner }).await, Ok(JobOutcome::Done));

    // Written in London's Windows zone, so Exchange recurs it at 09:00 London time.
    let written = exchange.items(ADA, &remote);
    assert_eq!(written.len(), 1, "{written:?}");
    let series = &written[0];
    assert_eq!(series.start_time_zone_id.as_deref(), Some("GMT Standard Time"));
    assert_eq!(series.end_time_zone_id.as_deref(), Some("GMT Standard Time"));
    assert_eq!((series.start, series.end), (at("2026-03-23T09:00:00Z"), at("2026-03-23T10:00:00Z")));
    let monday = NaiveDate::from_ymd_opt(2026, 3, 23).unwrap();
    let pattern = Pattern::Weekly { interval: 1, days: vec![Weekday::Mon], first_day_of_week: None };
    assert_eq!(series.recurrence, Some(Recurrence { pattern, range: RecurrenceRange::NoEnd { start: monday } }));
    // Its summer occurrences are at 08:00 UTC at Exchange (deleting one that is not panics).
    exchange.delete_occurrence(ADA, &series.item_id, at("2026-07-06T08:00:00Z"));

    // Anyone reading the mailbox (here another application's account) sees 09:00 London time
    // every Monday, on both sides of both changes, and not the occurrence deleted in Outlook.
    let (reader, reader_profile) = exchange_account(api, &exchange, "read_events").await;
    let their_calendar = first_sync(api, &exchange, &reader, &reader_profile).await;
    let query = format!(
        "/v1/events?tzid=Europe/London&localized_times=true&from=2026-03-21&to=2026-11-10&calendar_ids[]={}",
        their_calendar.id
    );
    let (status, body) = api.get(&query, &reader.access_token).await;
    assert_eq!(status, 200, "{body}");
    let starts: Vec<(String, String)> = body["events"]
        .as_array()
        .expect("an events array")
        .iter()
        .filter(|e| e["summary"] == "Weekly review")
        .map(|e| (e["start"]["time"].as_str().unwrap_or_default().to_owned(), e["start"]["tzid"].to_string()))
        .collect();
    let summer = (NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), NaiveDate::from_ymd_opt(2026, 10, 25).unwrap());
    let expected: Vec<(String, String)> = (0..34)
        .map(|week| monday + Duration::weeks(week))
        .filter(|day| *day != NaiveDate::from_ymd_opt(2026, 7, 6).unwrap())
        .map(|day| {
            let offset = if day > summer.0 && day < summer.1 { "+01:00" } else { "+00:00" };
            (format!("{day}T09:00:00{offset}"), "\"Europe/London\"".to_owned())
        })
        .collect();
    assert_eq!(starts, expected);
}

async fn a_partner_event_whose_create_answer_was_lost_is_updated_not_created_twice(api: &TestApi) {
    let exchange = exchange().await;
    let remote = exchange.calendar_id(ADA);
    let (who, profile) = exchange_account(api, &exchange, "read_events create_event").await;
    let calendar = first_sync(api, &exchange, &who, &profile).await;
    let path = format!("/v1/calendars/{}/events", calendar.id);

    // The create reaches Exchange, but its answer is lost to a gateway timeout: the push fails
    // retryably, knowing nothing of the item it made.
    let body = json!({"event_id": "p1", "summary": "Interview",
                      "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    let partner = partner_event(api, &calendar, "p1").await;
    exchange.lose_next_answers("CreateItem", 1);
    let outcome = run(api, SyncJob::PushEvent { event_uid: partner.clone() }).await;
    assert!(outcome.as_ref().is_err_and(|e| e.contains("Retryable") && e.contains("HTTP 504")), "{outcome:?}");
    assert_eq!(exchange.items(ADA, &remote).len(), 1, "made, though calsync never heard");

    // The application changes the event meanwhile. The next push finds the item by its UID and
    // updates it: one item, with the application's content.
    let body = json!({"event_id": "p1", "summary": "Interview (room 2)",
                      "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    let before = exchange.requests().len();
    assert_eq!(run(api, SyncJob::PushEvent { event_uid: partner.clone() }).await, Ok(JobOutcome::Done));
    assert_eq!(operations(&exchange, before), ["FindItem", "UpdateItem"]);
    let written = exchange.items(ADA, &remote);
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!((written[0].subject.as_str(), written[0].uid.starts_with("calsync-")), ("Interview (room 2)", true));
    let stored = api.state.store.get_event(&partner).await.unwrap().expect("the event");
    assert_eq!(stored.provider_id.as_deref(), Some(written[0].item_id.as_str()));

    // A series the same way: the view lists its occurrences, which lead to the master.
    let body = json!({"event_id": "p2", "summary": "Weekly sync", "tzid": "Europe/London",
                      "start": "2026-05-04T15:00:00", "end": "2026-05-04T15:30:00",
                      "recurrence": {"rules": [{"frequency": "weekly", "by_day": ["monday"]}]}});
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    let series = partner_event(api, &calendar, "p2").await;
    exchange.lose_next_answers("CreateItem", 1);
    assert!(run(api, SyncJob::PushEvent { event_uid: series.clone() }).await.is_err());
    let before = exchange.requests().len();
    assert_eq!(run(api, SyncJob::PushEvent { event_uid: series.clone() }).await, Ok(JobOutcome::Done));
    assert_eq!(operations(&exchange, before), ["FindItem", "GetItem", "UpdateItem"]);
    let written = exchange.items(ADA, &remote);
    assert_eq!(written.iter().map(|i| i.subject.as_str()).collect::<Vec<_>>(), ["Interview (room 2)", "Weekly sync"]);
    assert!(written[1].recurrence.is_some(), "{written:?}");
    let stored = api.state.store.get_event(&series).await.unwrap().expect("the event");
    assert_eq!(stored.provider_id.as_deref(), Some(written[1].item_id.as_str()));
}

async fn an_invalid_sync_state_resyncs_without_spurious_changes(api: &TestApi) {
    let exchange = exchange().await;
    exchange.put_item(ADA, "calendar", timed("Standup", "2026-05-04T09:00:00Z", "2026-05-04T09:30:00Z"));
    let weekly = timed("Weekly review", "2026-05-05T14:00:00Z", "2026-05-05T15:00:00Z").recurring(
        Pattern::Daily { interval: 7 },
        RecurrenceRange::Numbered { start: NaiveDate::from_ymd_opt(2026, 5, 5).unwrap(), count: 3 },
    );
    exchange.put_item(ADA, "calendar", weekly);
    let (who, profile) = exchange_account(api, &exchange, "read_events").await;
    let calendar = first_sync(api, &exchange, &who, &profile).await;
    let synced = events(api, &who, &calendar, "").await;
    assert_eq!(synced.len(), 4, "{synced:?}");

    let before = api.now();
    api.clock.advance(Duration::minutes(1));
    exchange.invalidate_sync_states();
    let requests = exchange.requests().len();
    sync(api, &calendar).await;
    let ran = operations(&exchange, requests);
    assert_eq!(ran[..2], ["SyncFolderItems", "SyncFolderItems"], "refused, then a new state from scratch: {ran:?}");
    assert!(ran.contains(&"FindItem".to_owned()), "the window listed again: {ran:?}");
    assert_eq!(changed_since(api, &who, &calendar, before + Duration::seconds(1)).await, vec![]);
    assert_eq!(events(api, &who, &calendar, "").await, synced);

    // The new state works: the next sync is one request again.
    let before = exchange.requests().len();
    sync(api, &calendar).await;
    assert_eq!(operations(&exchange, before), ["SyncFolderItems"]);
}

async fn a_window_with_more_instances_than_one_calendar_view_returns_is_listed_in_parts(api: &TestApi) {
    let exchange = exchange().await;
    // Three daily series across the whole window: over 700 instances, more than one view holds.
    for (n, hour) in [(1, 8), (2, 12), (3, 16)] {
        let start = at(&format!("2026-01-05T{hour:02}:00:00Z"));
        let daily = CalendarItem::new(&format!("Daily {n}"), start, start + Duration::minutes(30)).recurring(
            Pattern::Daily { interval: 1 },
            RecurrenceRange::NoEnd { start: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap() },
        );
        exchange.put_item(ADA, "calendar", daily);
    }
    let (who, profile) = exchange_account(api, &exchange, "read_events").await;
    let calendar = first_sync(api, &exchange, &who, &profile).await;

    let views = exchange.operation_count("FindItem");
    assert!(views >= 3, "a view cut short is asked again in halves: {views} FindItem requests");
    assert_eq!(exchange.operation_count("GetItem"), 1, "each series read once, through its master");
    let stored = api
        .state
        .store
        .list_events_changed_since(std::slice::from_ref(&calendar.id), chrono::DateTime::UNIX_EPOCH, 10_000)
        .await
        .unwrap();
    let count = |summary: &str| stored.iter().filter(|e| e.summary.as_deref() == Some(summary) && !e.deleted).count();
    let (first, second, third) = (count("Daily 1"), count("Daily 2"), count("Daily 3"));
    assert!(first > 240 && first == second && second == third, "{first} {second} {third}");
}

async fn a_busy_exchange_backs_the_calendar_off_for_exactly_its_back_off(api: &TestApi) {
    let exchange = exchange().await;
    exchange.put_item(ADA, "calendar", timed("Standup", "2026-05-04T09:00:00Z", "2026-05-04T09:30:00Z"));
    let (who, profile) = exchange_account(api, &exchange, "read_events").await;
    let calendar = first_sync(api, &exchange, &who, &profile).await;

    exchange.server_busy_next(1, 5_000);
    let outcome = run(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await;
    assert!(outcome.as_ref().is_err_and(|e| e.contains("Retryable") && e.contains("ErrorServerBusy")), "{outcome:?}");
    let state = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    assert_eq!(state.backoff_until, Some(api.now() + Duration::milliseconds(5_000)));

    // Before then the calendar is left alone; afterwards it syncs.
    let requests = exchange.requests().len();
    assert!(matches!(
        run(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await,
        Ok(JobOutcome::Skipped(_))
    ));
    assert_eq!(exchange.requests().len(), requests);
    api.clock.advance(Duration::seconds(6));
    sync(api, &calendar).await;
    assert_eq!(events(api, &who, &calendar, "").await, vec![row("Standup", "2026-05-04T09:00:00Z")]);
}

async fn a_changed_password_disconnects_the_profile_and_tells_the_application(api: &TestApi) {
    let exchange = exchange().await;
    let (who, profile) = exchange_account(api, &exchange, "read_events").await;
    let calendar = first_sync(api, &exchange, &who, &profile).await;
    let receiver = calsync_tests::receiver::Receiver::start(&[]).await;
    let (status, channel) =
        api.post("/v1/channels", Some(&who.access_token), json!({"callback_url": receiver.url})).await;
    assert_eq!(status, 200, "{channel}");
    let channel_id = ChannelId::parse(channel["channel"]["channel_id"].as_str().unwrap()).unwrap();

    exchange.set_password(ADA, "a new password");
    let outcome = run(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await;
    assert!(matches!(outcome, Ok(JobOutcome::Skipped(_))), "{outcome:?}");
    let stored = api.state.store.get_profile(&profile.id).await.unwrap().expect("the profile");
    assert_eq!(stored.status, ProfileStatus::Disconnected);
    let told: Vec<String> =
        api.state.store.list_channel_notifications(&channel_id).await.unwrap().into_iter().map(|n| n.kind).collect();
    assert_eq!(told.iter().filter(|kind| *kind == "profile_disconnected").count(), 1, "{told:?}");
    // Later jobs do not knock on Exchange's door again.
    let before = exchange.requests().len();
    let outcome = run(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await;
    assert!(matches!(outcome, Ok(JobOutcome::Skipped(_))), "{outcome:?}");
    assert_eq!(exchange.requests().len(), before);
}

async fn an_exchange_account_connects_through_the_authorization_page_only_with_a_password_the_server_takes(
    api: &TestApi,
) {
    let exchange = exchange().await;
    exchange.put_item(ADA, "calendar", timed("Standup", "2026-05-04T09:00:00Z", "2026-05-04T09:30:00Z"));
    let (app, secret) = api.application("Planner").await;
    let page = open_page(api, &app, Some("read_events"), "").await;
    let request = request_id(&page.body);
    let before = api.state.store.count_accounts().await.unwrap();

    // A wrong password, and a server that does not answer: the form again, nothing stored.
    let refused = [
        (exchange.url.as_str(), "wrong-password", "The server did not accept this user name and password."),
        // Port 9 (discard) on loopback: nothing listens there.
        (
            "http://127.0.0.1:9/",
            PASSWORD,
            "The Exchange server could not be found or did not answer as an Exchange server. Check the server \
             address, or enter it if you left it blank, and try again.",
        ),
    ];
    for (server_url, password, message) in refused {
        let fields = [
            ("request", request.as_str()),
            ("service", "exchange"),
            ("email", ADA),
            ("password", password),
            ("server_url", server_url),
        ];
        let reply = submit(api, &fields).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.body.contains(&format!("<li>{message}</li>")), "{}", reply.body);
        assert!(!reply.body.contains("wrong-password"));
    }
    assert_eq!(api.state.store.count_accounts().await.unwrap(), before);

    // The right one: the account is found through Autodiscover and connected.
    let fields = [
        ("request", request.as_str()),
        ("service", "exchange"),
        ("email", ADA),
        ("password", PASSWORD),
        ("server_url", exchange.url.as_str()),
    ];
    let reply = submit(api, &fields).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let code = query_of(reply.header("location").unwrap())[0].1.clone();
    let (status, tokens) = exchange_code(api, &app, &secret, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let profile_id = ProfileId::parse(tokens["linking_profile"]["profile_id"].as_str().unwrap()).unwrap();
    let profile = api.state.store.get_profile(&profile_id).await.unwrap().expect("the profile");
    assert_eq!(
        (profile.provider, profile.server_url.as_deref()),
        (ProviderName::Exchange, Some(exchange.url.as_str()))
    );
    assert_eq!(run(api, SyncJob::SyncCalendarList { profile_id }).await, Ok(JobOutcome::Done));
    let calendars = api.state.store.list_calendars(&profile.account_id).await.unwrap();
    assert!(calendars.iter().any(|c| c.provider_calendar_id == exchange.calendar_id(ADA)), "{calendars:?}");
}

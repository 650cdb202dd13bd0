//! Event writes through the API: upsert, delete, external edits, bulk delete, participation
//! status and batch; results are read back from the store.

use std::time::Duration;

use calsync_core::{
    adapters::QueueName,
    domain::{
        Application, Attendee, AttendeeStatus, Calendar, CalendarId, Event, EventKind, EventStatus, EventTime,
        Location, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService, Reminder, Transparency,
    },
    store::EventUpsert,
};
use calsync_tests::api::{Authorized, TestApi};
use chrono::{NaiveDate, Utc};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::api_on_both_backends;

const SCOPES: &str = "read_events create_event delete_event change_participation_status";

api_on_both_backends!(
    a_timed_event_is_created_with_202_and_no_body,
    an_all_day_event_is_stored_as_dates_and_transparent_by_default,
    times_carry_their_own_or_the_body_tzid,
    repeating_the_same_upsert_changes_nothing,
    an_update_keeps_what_it_omits_and_a_null_url_removes_it,
    recurrence_rules_become_an_rrule_and_an_empty_list_removes_it,
    attendees_are_invited_and_removed,
    each_invalid_field_is_a_422_naming_it_and_stores_nothing,
    all_problems_of_a_body_come_back_in_one_422,
    credentials_and_scopes_are_checked,
    another_accounts_calendar_is_not_found,
    a_read_only_calendar_refuses_writes,
    deleting_by_event_id_leaves_a_tombstone_that_an_upsert_brings_back,
    deleting_an_unknown_event_id_is_still_accepted,
    bulk_delete_by_body_deletes_only_this_applications_events,
    bulk_delete_reads_pycronofy_query_parameters,
    bulk_delete_needs_exactly_one_of_its_two_forms,
    participation_status_is_recorded_once,
    external_events_can_be_changed_only_on_hosted_calendars,
    a_batch_runs_every_entry_and_reports_each_status,
    a_batch_holds_one_to_fifty_entries,
    a_write_to_a_provider_calendar_queues_a_push_and_a_hosted_one_does_not,
);

async fn setup(api: &TestApi) -> (Application, Authorized) {
    let (app, _) = api.application("Writer").await;
    let auth = api.authorized(&app, SCOPES).await;
    (app, auth)
}

fn events_path(calendar: &Calendar) -> String {
    format!("/v1/calendars/{}/events", calendar.id)
}

async fn stored(api: &TestApi, app: &Application, calendar: &Calendar, event_id: &str) -> Option<Event> {
    api.state.store.find_partner_event(&calendar.id, &app.id, event_id).await.unwrap()
}

fn utc(text: &str) -> chrono::DateTime<Utc> {
    calsync_tests::fixtures::at(text)
}

fn timed(event_id: &str) -> Value {
    json!({
        "event_id": event_id,
        "summary": "Board meeting",
        "description": "Quarterly review",
        "start": "2026-05-04T09:00:00Z",
        "end": "2026-05-04T10:00:00Z",
    })
}

/// A second calendar on a new profile of the account.
async fn extra_calendar(
    api: &TestApi,
    auth: &Authorized,
    provider: ProviderName,
    read_only: bool,
) -> (Profile, Calendar) {
    let now = api.now();
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: auth.account.id.clone(),
        provider,
        provider_service: if provider == ProviderName::Hosted {
            ProviderService::Hosted
        } else {
            ProviderService::Icloud
        },
        email: "ada@icloud.example".into(),
        name: None,
        tzid: None,
        status: ProfileStatus::Active,
        server_url: None,
        created_at: now,
        updated_at: now,
    };
    api.state.store.create_profile(&profile).await.unwrap();
    let calendar = api
        .state
        .store
        .upsert_calendar(&Calendar {
            id: CalendarId::generate(),
            profile_id: profile.id.clone(),
            account_id: auth.account.id.clone(),
            provider_calendar_id: format!("/calendars/{}/", calsync_core::domain::random_token(8)),
            name: "Other".into(),
            is_primary: false,
            read_only,
            deleted: false,
            color: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    (profile, calendar)
}

async fn sync_jobs(api: &TestApi) -> Vec<Value> {
    let messages = api.state.queue.receive(QueueName::Sync, 10, Duration::from_millis(200)).await.unwrap();
    messages.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect()
}

async fn a_timed_event_is_created_with_202_and_no_body(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let body = json!({
        "event_id": "evt-1",
        "summary": "Board meeting",
        "description": "Quarterly review",
        "start": "2026-05-04T09:00:00Z",
        "end": "2026-05-04T10:00:00.000+00:00",
        "location": { "description": "Board room", "lat": "51.5", "long": -0.12 },
        "url": "https://example.com/meeting",
        "reminders": [{ "minutes": 10 }, { "minutes": 60 }],
        "color": "#49bed8",
        "event_private": true,
        "unknown_key": { "ignored": true },
    });

    let (status, response) = api.post(&events_path(&auth.calendar), Some(&auth.access_token), body).await;

    assert_eq!((status, response), (StatusCode::ACCEPTED, Value::Null));
    let event = stored(api, &app, &auth.calendar, "evt-1").await.expect("stored");
    let utc_zone = Some(chrono_tz::Etc::UTC);
    assert_eq!(event.kind, EventKind::Partner);
    assert_eq!(event.application_id.as_ref(), Some(&app.id));
    assert_eq!(event.summary.as_deref(), Some("Board meeting"));
    assert_eq!(event.description.as_deref(), Some("Quarterly review"));
    assert_eq!(event.start, EventTime::Instant { at: utc("2026-05-04T09:00:00Z"), tzid: utc_zone });
    assert_eq!(event.end, EventTime::Instant { at: utc("2026-05-04T10:00:00Z"), tzid: utc_zone });
    assert_eq!(
        event.location,
        Some(Location { description: Some("Board room".into()), lat: Some(51.5), long: Some(-0.12) })
    );
    assert_eq!(event.url.as_deref(), Some("https://example.com/meeting"));
    assert_eq!(event.reminders, vec![Reminder { minutes: 10 }, Reminder { minutes: 60 }]);
    assert_eq!(event.color.as_deref(), Some("#49bed8"));
    assert!(event.event_private);
    assert_eq!(event.transparency, Transparency::Opaque);
    assert_eq!(event.status, EventStatus::Confirmed);
    assert!(!event.deleted);
    assert_eq!((event.created_at, event.last_modified), (api.now(), api.now()));
}

async fn an_all_day_event_is_stored_as_dates_and_transparent_by_default(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let body = json!({ "event_id": "trip", "summary": "Retreat", "start": "2026-09-06", "end": "2026-09-08" });

    let (status, _) = api.post(&events_path(&auth.calendar), Some(&auth.access_token), body).await;

    assert_eq!(status, StatusCode::ACCEPTED);
    let event = stored(api, &app, &auth.calendar, "trip").await.unwrap();
    assert_eq!(event.start, EventTime::Date(NaiveDate::from_ymd_opt(2026, 9, 6).unwrap()));
    assert_eq!(event.end, EventTime::Date(NaiveDate::from_ymd_opt(2026, 9, 8).unwrap()));
    assert_eq!(event.transparency, Transparency::Transparent);
}

async fn times_carry_their_own_or_the_body_tzid(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let body = json!({
        "event_id": "zoned",
        "summary": "Call",
        "tzid": "America/New_York",
        "start": { "time": "2026-07-01T09:00:00", "tzid": "Europe/London" },
        "end": "2026-07-01T09:30:00",
        "transparency": null,
    });

    let (status, _) = api.post(&events_path(&auth.calendar), Some(&auth.access_token), body).await;

    assert_eq!(status, StatusCode::ACCEPTED);
    let event = stored(api, &app, &auth.calendar, "zoned").await.unwrap();
    // 09:00 BST is 08:00 UTC; 09:30 EDT is 13:30 UTC.
    assert_eq!(
        event.start,
        EventTime::Instant { at: utc("2026-07-01T08:00:00Z"), tzid: Some(chrono_tz::Europe::London) }
    );
    assert_eq!(
        event.end,
        EventTime::Instant { at: utc("2026-07-01T13:30:00Z"), tzid: Some(chrono_tz::America::New_York) }
    );
    assert_eq!(event.transparency, Transparency::Opaque);
}

async fn repeating_the_same_upsert_changes_nothing(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let path = events_path(&auth.calendar);
    let created_at = api.now();
    assert_eq!(api.post(&path, Some(&auth.access_token), timed("same")).await.0, StatusCode::ACCEPTED);

    api.clock.advance(chrono::Duration::minutes(5));
    let (status, response) = api.post(&path, Some(&auth.access_token), timed("same")).await;

    assert_eq!((status, response), (StatusCode::ACCEPTED, Value::Null));
    let event = stored(api, &app, &auth.calendar, "same").await.unwrap();
    assert_eq!((event.updated_at, event.last_modified), (created_at, created_at));

    let mut changed = timed("same");
    changed["summary"] = json!("Board meeting (moved)");
    api.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(api.post(&path, Some(&auth.access_token), changed).await.0, StatusCode::ACCEPTED);
    let event = stored(api, &app, &auth.calendar, "same").await.unwrap();
    assert_eq!(event.summary.as_deref(), Some("Board meeting (moved)"));
    assert_eq!((event.created_at, event.last_modified), (created_at, api.now()));
}

async fn an_update_keeps_what_it_omits_and_a_null_url_removes_it(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let path = events_path(&auth.calendar);
    let mut first = timed("keep");
    first["url"] = json!("https://example.com/a");
    first["reminders"] = json!([{ "minutes": 15 }]);
    first["event_private"] = json!(true);
    first["transparency"] = json!("transparent");
    api.post(&path, Some(&auth.access_token), first).await;

    let mut second = timed("keep");
    second["summary"] = json!("Renamed");
    second["event_private"] = json!(false);
    second["reminders"] = json!([{ "minutes": 30 }]);
    second["reminders_create_only"] = json!(true);
    assert_eq!(api.post(&path, Some(&auth.access_token), second).await.0, StatusCode::ACCEPTED);

    let event = stored(api, &app, &auth.calendar, "keep").await.unwrap();
    assert_eq!(event.summary.as_deref(), Some("Renamed"));
    assert_eq!(event.url.as_deref(), Some("https://example.com/a"));
    assert_eq!(event.reminders, vec![Reminder { minutes: 15 }]);
    assert_eq!(event.transparency, Transparency::Transparent);
    assert!(event.event_private, "event_private is applied on create only");

    let mut third = timed("keep");
    third["url"] = Value::Null;
    third["reminders"] = json!([]);
    api.post(&path, Some(&auth.access_token), third).await;
    let event = stored(api, &app, &auth.calendar, "keep").await.unwrap();
    assert_eq!((event.url, event.reminders), (None, vec![]));
}

async fn recurrence_rules_become_an_rrule_and_an_empty_list_removes_it(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let path = events_path(&auth.calendar);
    let mut body = timed("standup");
    body["recurrence"] =
        json!({ "rules": [{ "frequency": "weekly", "interval": 2, "by_day": ["monday", "thursday"] }] });
    api.post(&path, Some(&auth.access_token), body).await;
    let event = stored(api, &app, &auth.calendar, "standup").await.unwrap();
    assert_eq!(event.recurrence_rule.as_deref(), Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH"));

    // Omitted: kept.
    api.post(&path, Some(&auth.access_token), timed("standup")).await;
    let event = stored(api, &app, &auth.calendar, "standup").await.unwrap();
    assert_eq!(event.recurrence_rule.as_deref(), Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH"));

    let mut body = timed("standup");
    body["recurrence"] = json!({ "rules": [] });
    api.post(&path, Some(&auth.access_token), body).await;
    let event = stored(api, &app, &auth.calendar, "standup").await.unwrap();
    assert_eq!(event.recurrence_rule, None);
}

async fn attendees_are_invited_and_removed(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let path = events_path(&auth.calendar);
    let mut body = timed("meet");
    body["attendees"] = json!({ "invite": [
        { "email": "grace@example.com", "display_name": "Grace Hopper" },
        { "email": "alan@example.com" },
    ] });
    api.post(&path, Some(&auth.access_token), body).await;

    let mut body = timed("meet");
    body["attendees"] =
        json!({ "invite": [{ "email": "edsger@example.com" }], "remove": [{ "email": "ALAN@example.com" }] });
    assert_eq!(api.post(&path, Some(&auth.access_token), body).await.0, StatusCode::ACCEPTED);

    let event = stored(api, &app, &auth.calendar, "meet").await.unwrap();
    let attendee = |email: &str, name: Option<&str>| Attendee {
        email: email.into(),
        display_name: name.map(Into::into),
        status: AttendeeStatus::NeedsAction,
    };
    assert_eq!(
        event.attendees,
        vec![attendee("grace@example.com", Some("Grace Hopper")), attendee("edsger@example.com", None)]
    );
}

async fn each_invalid_field_is_a_422_naming_it_and_stores_nothing(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let path = events_path(&auth.calendar);
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("event_id", json!(null), "event_id", "errors.required"),
        ("summary", json!(null), "summary", "errors.required"),
        ("summary", json!("s".repeat(1025)), "summary", "errors.too_long"),
        ("description", json!("d".repeat(4097)), "description", "errors.too_long"),
        ("tzid", json!("Mars/Olympus_Mons"), "tzid", "errors.unknown_tzid"),
        ("start", json!("2026-05-04T11:00:00Z"), "end", "errors.invalid"),
        ("start", json!("2026-05-04"), "end", "errors.invalid"),
        ("start", json!("2026-02-30"), "start", "errors.invalid"),
        ("start", json!("1850-05-04T09:00:00Z"), "start", "errors.out_of_range"),
        ("end", json!(null), "end", "errors.required"),
        ("transparency", json!("see-through"), "transparency", "errors.invalid"),
        (
            "reminders",
            json!([{"minutes": 1}, {"minutes": 2}, {"minutes": 3}, {"minutes": 4}, {"minutes": 5}, {"minutes": 6}]),
            "reminders",
            "errors.too_long",
        ),
        ("reminders", json!([{"minutes": 40321}]), "reminders[0].minutes", "errors.out_of_range"),
        ("url", json!("ftp://example.com"), "url", "errors.invalid"),
        ("color", json!("not a colour!"), "color", "errors.invalid"),
        ("location", json!({"lat": "91"}), "location.lat", "errors.out_of_range"),
        ("attendees", json!({"invite": [{"email": "nobody"}]}), "attendees.invite[0].email", "errors.invalid"),
        (
            "recurrence",
            json!({"rules": [{"frequency": "daily", "by_day": ["monday"]}]}),
            "recurrence.rules[0].by_day",
            "errors.invalid",
        ),
        ("event_private", json!("perhaps"), "event_private", "errors.invalid_type"),
        ("event_uid", json!("evt_other"), "event_uid", "errors.invalid"),
        ("event_id", json!("e".repeat(1025)), "event_id", "errors.too_long"),
    ];
    for (key, value, field, error_key) in cases {
        let mut body = timed("bad");
        body[key] = value;

        let (status, response) = api.post(&path, Some(&auth.access_token), body).await;

        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key}");
        let errors = response["errors"].as_object().unwrap();
        assert_eq!(errors.keys().collect::<Vec<_>>(), vec![field], "{key}: {response}");
        assert_eq!(errors[field][0]["key"], error_key, "{key}: {response}");
        assert!(stored(api, &app, &auth.calendar, "bad").await.is_none(), "{key} stored an event");
    }
}

async fn all_problems_of_a_body_come_back_in_one_422(api: &TestApi) {
    let (_, auth) = setup(api).await;
    let body = json!({ "summary": "x".repeat(1025), "start": "2026-05-04T09:00:00Z", "tzid": "Nowhere/Special" });

    let (status, response) = api.post(&events_path(&auth.calendar), Some(&auth.access_token), body).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response,
        json!({ "errors": {
            "end": [{ "key": "errors.required", "description": "required" }],
            "event_id": [{ "key": "errors.required", "description": "required" }],
            "summary": [{ "key": "errors.too_long", "description": "must be at most 1024 characters" }],
            "tzid": [{ "key": "errors.unknown_tzid", "description": "`Nowhere/Special` is not a known IANA time zone" }],
        } })
    );
}

async fn credentials_and_scopes_are_checked(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let reader = api.authorized(&app, "read_events").await;

    let (status, response) = api.post(&events_path(&reader.calendar), Some(&reader.access_token), timed("e")).await;
    assert_eq!(
        (status, response),
        (StatusCode::FORBIDDEN, json!({ "error": "insufficient_scope", "scope": "create_event" }))
    );
    let (status, _) =
        api.delete(&events_path(&reader.calendar), &reader.access_token, json!({ "event_id": "e" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = api.post(&events_path(&auth.calendar), Some("not-a-token"), timed("e")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.post(&events_path(&auth.calendar), None, timed("e")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(stored(api, &app, &auth.calendar, "e").await.is_none());
    assert!(stored(api, &app, &reader.calendar, "e").await.is_none());
}

async fn another_accounts_calendar_is_not_found(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let (other_app, _) = api.application("Other").await;
    let other = api.authorized(&other_app, SCOPES).await;

    let (status, response) = api.post(&events_path(&other.calendar), Some(&auth.access_token), timed("e")).await;
    assert_eq!((status, response), (StatusCode::NOT_FOUND, json!({ "error": "not_found" })));
    let (status, _) = api.delete(&events_path(&other.calendar), &auth.access_token, json!({ "event_id": "e" })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.post("/v1/calendars/cal_unknown/events", Some(&auth.access_token), timed("e")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(stored(api, &app, &other.calendar, "e").await.is_none());
}

async fn a_read_only_calendar_refuses_writes(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let (_, calendar) = extra_calendar(api, &auth, ProviderName::Apple, true).await;

    let (status, response) = api.post(&events_path(&calendar), Some(&auth.access_token), timed("e")).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["errors"]["calendar_id"][0]["key"], "errors.calendar_read_only");
    assert!(stored(api, &app, &calendar, "e").await.is_none());
}

async fn deleting_by_event_id_leaves_a_tombstone_that_an_upsert_brings_back(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let path = events_path(&auth.calendar);
    api.post(&path, Some(&auth.access_token), timed("gone")).await;
    api.clock.advance(chrono::Duration::minutes(1));

    let (status, response) = api.delete(&path, &auth.access_token, json!({ "event_id": "gone" })).await;

    assert_eq!((status, response), (StatusCode::ACCEPTED, Value::Null));
    let event = stored(api, &app, &auth.calendar, "gone").await.unwrap();
    assert!(event.deleted);
    assert_eq!(event.last_modified, api.now());

    // Deleting again is accepted and changes nothing.
    api.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(api.delete(&path, &auth.access_token, json!({ "event_id": "gone" })).await.0, StatusCode::ACCEPTED);
    assert_eq!(stored(api, &app, &auth.calendar, "gone").await.unwrap().last_modified, event.last_modified);

    // The same content upserted again brings the event back.
    assert_eq!(api.post(&path, Some(&auth.access_token), timed("gone")).await.0, StatusCode::ACCEPTED);
    let event = stored(api, &app, &auth.calendar, "gone").await.unwrap();
    assert!(!event.deleted);
    assert_eq!(event.last_modified, api.now());
}

async fn deleting_an_unknown_event_id_is_still_accepted(api: &TestApi) {
    let (_, auth) = setup(api).await;
    let path = events_path(&auth.calendar);

    let (status, response) = api.delete(&path, &auth.access_token, json!({ "event_id": "never-created" })).await;
    assert_eq!((status, response), (StatusCode::ACCEPTED, Value::Null));

    let (status, response) = api.delete(&path, &auth.access_token, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["errors"]["event_id"][0]["key"], "errors.required");
}

/// Creates `event_id` through the API on `calendar`.
async fn create(api: &TestApi, auth: &Authorized, calendar: &Calendar, event_id: &str) {
    let (status, _) = api.post(&events_path(calendar), Some(&auth.access_token), timed(event_id)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

async fn bulk_delete_by_body_deletes_only_this_applications_events(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let (_, second) = extra_calendar(api, &auth, ProviderName::Hosted, false).await;
    create(api, &auth, &auth.calendar, "a").await;
    create(api, &auth, &second, "b").await;
    // Another application's event in the same calendar.
    let (other_app, _) = api.application("Other").await;
    let other_token = calsync_core::tokens::issue(
        &api.state.store,
        &other_app,
        &auth.account.id,
        calsync_core::domain::Scopes::parse(SCOPES).unwrap(),
        api.now(),
    )
    .await
    .unwrap()
    .access_token;
    let (status, _) = api.post(&events_path(&auth.calendar), Some(&other_token), timed("theirs")).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let (status, response) =
        api.delete("/v1/events", &auth.access_token, json!({ "calendar_ids": [second.id.as_str()] })).await;
    assert_eq!((status, response), (StatusCode::ACCEPTED, Value::Null));
    assert!(!stored(api, &app, &auth.calendar, "a").await.unwrap().deleted);
    assert!(stored(api, &app, &second, "b").await.unwrap().deleted);

    let (status, _) = api.delete("/v1/events", &auth.access_token, json!({ "delete_all": true })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(stored(api, &app, &auth.calendar, "a").await.unwrap().deleted);
    assert!(!stored(api, &other_app, &auth.calendar, "theirs").await.unwrap().deleted);
}

async fn bulk_delete_reads_pycronofy_query_parameters(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let (_, second) = extra_calendar(api, &auth, ProviderName::Hosted, false).await;
    create(api, &auth, &auth.calendar, "a").await;
    create(api, &auth, &second, "b").await;

    let path = format!("/v1/events?calendar_ids[]={}", second.id);
    let (status, _) = api.delete(&path, &auth.access_token, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(!stored(api, &app, &auth.calendar, "a").await.unwrap().deleted);
    assert!(stored(api, &app, &second, "b").await.unwrap().deleted);

    let (status, _) = api.delete("/v1/events?delete_all=True", &auth.access_token, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(stored(api, &app, &auth.calendar, "a").await.unwrap().deleted);
}

async fn bulk_delete_needs_exactly_one_of_its_two_forms(api: &TestApi) {
    let (app, auth) = setup(api).await;
    create(api, &auth, &auth.calendar, "a").await;
    let (other_app, _) = api.application("Other").await;
    let other = api.authorized(&other_app, SCOPES).await;
    let both = json!({ "delete_all": true, "calendar_ids": [auth.calendar.id.as_str()] });

    let (status, response) = api.delete("/v1/events", &auth.access_token, both).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["errors"]["delete_all"][0]["key"], "errors.invalid");
    let (status, response) = api.delete("/v1/events", &auth.access_token, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["errors"]["delete_all"][0]["key"], "errors.required");
    let path = format!("/v1/events?delete_all=true&calendar_ids[]={}", auth.calendar.id);
    assert_eq!(api.delete(&path, &auth.access_token, json!({})).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let foreign = json!({ "calendar_ids": [auth.calendar.id.as_str(), other.calendar.id.as_str()] });
    assert_eq!(api.delete("/v1/events", &auth.access_token, foreign).await.0, StatusCode::NOT_FOUND);

    assert!(!stored(api, &app, &auth.calendar, "a").await.unwrap().deleted);
}

async fn participation_status_is_recorded_once(api: &TestApi) {
    let (app, auth) = setup(api).await;
    create(api, &auth, &auth.calendar, "p").await;
    let event = stored(api, &app, &auth.calendar, "p").await.unwrap();
    let path = format!("/v1/calendars/{}/events/{}/participation_status", auth.calendar.id, event.uid);
    api.clock.advance(chrono::Duration::minutes(1));

    let (status, response) = api.post(&path, Some(&auth.access_token), json!({ "status": "declined" })).await;

    assert_eq!((status, response), (StatusCode::ACCEPTED, Value::Null));
    let changed = stored(api, &app, &auth.calendar, "p").await.unwrap();
    assert_eq!(changed.participation_status, AttendeeStatus::Declined);
    assert_eq!(changed.last_modified, api.now());

    // The same answer again, and a re-upsert of the same content, change nothing.
    api.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(
        api.post(&path, Some(&auth.access_token), json!({ "status": "declined" })).await.0,
        StatusCode::ACCEPTED
    );
    create(api, &auth, &auth.calendar, "p").await;
    let unchanged = stored(api, &app, &auth.calendar, "p").await.unwrap();
    assert_eq!(
        (unchanged.participation_status, unchanged.last_modified),
        (AttendeeStatus::Declined, changed.last_modified)
    );

    let (status, response) = api.post(&path, Some(&auth.access_token), json!({ "status": "maybe" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["errors"]["status"][0]["key"], "errors.invalid");
    let missing = format!("/v1/calendars/{}/events/evt_unknown/participation_status", auth.calendar.id);
    assert_eq!(
        api.post(&missing, Some(&auth.access_token), json!({ "status": "accepted" })).await.0,
        StatusCode::NOT_FOUND
    );
    let reader = api.authorized(&app, "read_events").await;
    assert_eq!(
        api.post(&path, Some(&reader.access_token), json!({ "status": "accepted" })).await.0,
        StatusCode::FORBIDDEN
    );
}

/// A third-party event stored directly, as a sync would.
async fn third_party_event(api: &TestApi, calendar: &Calendar, provider_id: &str) -> Event {
    let at = |t: &str| EventTime::Instant { at: utc(t), tzid: None };
    let upsert = EventUpsert {
        participation_status: AttendeeStatus::Accepted,
        ..calsync_tests::fixtures::third_party_event(
            calendar,
            provider_id,
            "Dentist",
            at("2026-05-05T09:00:00Z"),
            at("2026-05-05T10:00:00Z"),
        )
    };
    let outcome = api.state.store.upsert_event(&upsert, api.now()).await.unwrap();
    api.state.store.get_event(outcome.uid()).await.unwrap().unwrap()
}

async fn external_events_can_be_changed_only_on_hosted_calendars(api: &TestApi) {
    let (_, auth) = setup(api).await;
    let (_, apple) = extra_calendar(api, &auth, ProviderName::Apple, false).await;
    let hosted_event = third_party_event(api, &auth.calendar, "ext-1").await;
    let apple_event = third_party_event(api, &apple, "ext-2").await;
    let edit = |uid: &str| json!({ "event_uid": uid, "summary": "Dentist (moved)", "start": "2026-05-06T09:00:00Z", "end": "2026-05-06T10:00:00Z" });

    let (status, _) =
        api.post(&events_path(&auth.calendar), Some(&auth.access_token), edit(hosted_event.uid.as_str())).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let changed = api.state.store.get_event(&hosted_event.uid).await.unwrap().unwrap();
    assert_eq!(changed.summary.as_deref(), Some("Dentist (moved)"));
    assert_eq!(changed.start, EventTime::Instant { at: utc("2026-05-06T09:00:00Z"), tzid: Some(chrono_tz::Etc::UTC) });
    assert_eq!((changed.kind, changed.provider_id.as_deref()), (EventKind::ThirdParty, Some("ext-1")));

    let (status, response) =
        api.post(&events_path(&apple), Some(&auth.access_token), edit(apple_event.uid.as_str())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["errors"]["event_uid"][0]["key"], "errors.not_permitted");
    let (status, _) =
        api.delete(&events_path(&apple), &auth.access_token, json!({ "event_uid": apple_event.uid.as_str() })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.state.store.get_event(&apple_event.uid).await.unwrap().unwrap(), apple_event);

    // An event of another calendar is not found through this one.
    let (status, _) =
        api.post(&events_path(&auth.calendar), Some(&auth.access_token), edit(apple_event.uid.as_str())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = api
        .delete(&events_path(&auth.calendar), &auth.access_token, json!({ "event_uid": hosted_event.uid.as_str() }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(api.state.store.get_event(&hosted_event.uid).await.unwrap().unwrap().deleted);
}

async fn a_batch_runs_every_entry_and_reports_each_status(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let url = events_path(&auth.calendar);
    create(api, &auth, &auth.calendar, "old").await;
    let mut invalid = timed("invalid");
    invalid["summary"] = Value::Null;
    let body = json!({ "batch": [
        { "method": "POST", "relative_url": url, "data": timed("one") },
        { "method": "POST", "relative_url": url, "data": invalid },
        { "method": "DELETE", "relative_url": url, "data": { "event_id": "old" } },
        { "method": "POST", "relative_url": "/v1/calendars/cal_unknown/events", "data": timed("two") },
        { "method": "GET", "relative_url": url },
        { "method": "POST", "relative_url": "/v1/channels", "data": {} },
    ] });

    let (status, response) = api.post("/v1/batch", Some(&auth.access_token), body).await;

    assert_eq!(status, StatusCode::MULTI_STATUS);
    assert_eq!(
        response,
        json!({ "batch": [
            { "status": 202 },
            { "status": 422, "data": { "errors": { "summary": [{ "key": "errors.required", "description": "required" }] } } },
            { "status": 202 },
            { "status": 404, "data": { "error": "not_found" } },
            { "status": 405, "data": { "errors": { "method": [{ "key": "errors.invalid", "description": "must be POST or DELETE" }] } } },
            { "status": 404, "data": { "errors": { "relative_url": [{ "key": "errors.not_found", "description": "only /v1/calendars/{calendar_id}/events is supported" }] } } },
        ] })
    );
    assert!(stored(api, &app, &auth.calendar, "one").await.is_some());
    assert!(stored(api, &app, &auth.calendar, "invalid").await.is_none());
    assert!(stored(api, &app, &auth.calendar, "old").await.unwrap().deleted);
}

async fn a_batch_holds_one_to_fifty_entries(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let url = events_path(&auth.calendar);
    let entries: Vec<Value> =
        (0..51).map(|i| json!({ "method": "POST", "relative_url": url, "data": timed(&format!("e{i}")) })).collect();

    let (status, response) = api.post("/v1/batch", Some(&auth.access_token), json!({ "batch": entries })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["errors"]["batch"][0]["key"], "errors.too_long");
    assert!(stored(api, &app, &auth.calendar, "e0").await.is_none());

    let (status, response) = api.post("/v1/batch", Some(&auth.access_token), json!({ "batch": [] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response["errors"]["batch"][0]["key"], "errors.required");
    let (status, _) = api.request(Method::POST, "/v1/batch", Some("bad-token"), Some(json!({ "batch": [] }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn a_write_to_a_provider_calendar_queues_a_push_and_a_hosted_one_does_not(api: &TestApi) {
    let (app, auth) = setup(api).await;
    let (_, apple) = extra_calendar(api, &auth, ProviderName::Apple, false).await;

    create(api, &auth, &auth.calendar, "hosted").await;
    assert_eq!(sync_jobs(api).await, Vec::<Value>::new());

    create(api, &auth, &apple, "pushed").await;
    let event = stored(api, &app, &apple, "pushed").await.unwrap();
    let push = json!({ "type": "push_event", "event_uid": event.uid.as_str() });
    assert_eq!(sync_jobs(api).await, vec![push.clone()]);

    // Unchanged content queues nothing; a deletion is pushed too.
    create(api, &auth, &apple, "pushed").await;
    assert_eq!(sync_jobs(api).await, Vec::<Value>::new());
    api.delete(&events_path(&apple), &auth.access_token, json!({ "event_id": "pushed" })).await;
    assert_eq!(sync_jobs(api).await, vec![push]);
}

//! Event and free/busy reads through the API: parameters and their errors, the window, exact
//! event JSON, managed events, change tracking, pagination, and the free/busy projection.

use calsync_core::{
    domain::{
        Application, Attendee, AttendeeStatus, Calendar, CalendarId, EventKind, EventStatus, EventTime, EventUid,
        Location, Organizer, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService, Transparency,
    },
    store::{ApplicationUpdate, EventUpsert},
};
use calsync_tests::{
    api::{Authorized, TestApi},
    fixtures::at,
};
use chrono::{Duration, NaiveDate};
use http::StatusCode;
use serde_json::{Value, json};

use super::api_on_both_backends;

api_on_both_backends!(
    the_time_zone_is_required_and_must_be_known,
    bad_windows_are_refused_naming_the_field,
    reads_are_limited_to_the_applications_own_window,
    the_default_window_covers_recent_and_coming_weeks_only,
    unknown_query_parameters_and_a_get_body_are_ignored,
    dates_are_read_as_local_days_of_the_query_zone,
    timed_and_all_day_events_are_written_exactly,
    localized_times_use_the_events_zone_or_else_the_querys,
    include_geo_adds_coordinates_as_strings,
    options_allow_changes_only_where_the_application_may_make_them,
    deleted_events_need_include_deleted_and_last_modified_selects_later_changes,
    managed_events_follow_include_managed_and_only_managed,
    only_managed_needs_no_read_events_scope_but_other_reads_do,
    managed_events_ignore_the_default_window_only,
    moved_events_come_back_with_include_moved,
    calendar_ids_restrict_the_read,
    unknown_or_malformed_calendar_ids_are_404_naming_the_field,
    two_hundred_fifty_events_come_in_three_pages_each_exactly_once,
    a_garbage_or_cross_endpoint_page_token_is_not_found,
    free_busy_statuses_follow_transparency_status_and_the_owners_answer,
    free_busy_needs_a_free_busy_or_events_scope,
    a_free_busy_only_authorization_never_sees_event_details,
);

/// Everything the read tests need to see, on every endpoint.
pub(super) const READ_SCOPES: &str = "read_account read_events read_free_busy list_calendars create_event";

/// A bare third-party event on `calendar` of `who`, from `start` to `end`.
pub(super) fn third_party(
    who: &Authorized,
    calendar: &Calendar,
    provider_id: &str,
    start: EventTime,
    end: EventTime,
) -> EventUpsert {
    EventUpsert {
        account_id: who.account.id.clone(),
        ..calsync_tests::fixtures::third_party_event(calendar, provider_id, &format!("Event {provider_id}"), start, end)
    }
}

/// A partner event of `application` (its own `event_id`) on `who`'s primary calendar.
pub(super) fn partner(
    who: &Authorized,
    application: &Application,
    event_id: &str,
    start: EventTime,
    end: EventTime,
) -> EventUpsert {
    EventUpsert {
        kind: EventKind::Partner,
        application_id: Some(application.id.clone()),
        event_id: Some(event_id.to_owned()),
        provider_id: None,
        summary: Some(format!("Partner {event_id}")),
        ..third_party(who, &who.calendar, event_id, start, end)
    }
}

pub(super) fn utc(rfc3339: &str) -> EventTime {
    EventTime::Instant { at: at(rfc3339), tzid: None }
}

pub(super) fn day(ymd: &str) -> EventTime {
    EventTime::Date(NaiveDate::parse_from_str(ymd, "%Y-%m-%d").unwrap())
}

pub(super) async fn seed(api: &TestApi, event: &EventUpsert) -> EventUid {
    api.state.store.upsert_event(event, api.now()).await.unwrap().uid().clone()
}

/// A Google profile with one calendar on `who`'s account.
pub(super) async fn google_calendar(api: &TestApi, who: &Authorized, name: &str) -> (Profile, Calendar) {
    let now = api.now();
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: who.account.id.clone(),
        provider: ProviderName::Google,
        provider_service: ProviderService::Gsuite,
        email: "ada@work.example".into(),
        name: Some("Work".into()),
        tzid: Some("Europe/London".into()),
        status: ProfileStatus::Active,
        server_url: None,
        created_at: now + Duration::seconds(1),
        updated_at: now,
    };
    api.state.store.create_profile(&profile).await.unwrap();
    let calendar = api
        .state
        .store
        .upsert_calendar(&Calendar {
            id: CalendarId::generate(),
            profile_id: profile.id.clone(),
            account_id: who.account.id.clone(),
            provider_calendar_id: format!("{name}@group.calendar.example"),
            name: name.to_owned(),
            is_primary: false,
            read_only: false,
            deleted: false,
            color: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    (profile, calendar)
}

/// The `event_uid`s of a response, in order.
fn uids(body: &Value) -> Vec<String> {
    body["events"].as_array().unwrap().iter().map(|e| e["event_uid"].as_str().unwrap().to_owned()).collect()
}

fn errors(field: &str, key: &str, description: &str) -> Value {
    json!({ "errors": { field: [{ "key": key, "description": description }] } })
}

/// The path of an absolute `next_page` URL on the test API's public URL.
pub(super) fn page_path(next_page: &Value) -> String {
    let url = next_page.as_str().unwrap();
    let path = url.strip_prefix("http://calsync.test").unwrap_or_else(|| panic!("not on the public URL: {url}"));
    assert!(!path.contains('?'), "next_page carries no query string: {url}");
    path.to_owned()
}

async fn the_time_zone_is_required_and_must_be_known(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;

    for path in ["/v1/events", "/v1/free_busy", "/v1/events?tzid=", "/v1/events?from=2026-05-01"] {
        let (status, body) = api.get(path, &who.access_token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(body, errors("tzid", "errors.required", "required"), "{path}");
    }
    let (status, body) = api.get("/v1/events?tzid=Mars/Olympus_Mons", &who.access_token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, errors("tzid", "errors.unknown_tzid", "`Mars/Olympus_Mons` is not a known IANA time zone"));
    let (status, _) = api.get("/v1/free_busy?tzid=Mars/Olympus_Mons", &who.access_token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn bad_windows_are_refused_naming_the_field(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let later = "`to` must be later than `from`";
    let not_a_time = "must be a date (YYYY-MM-DD) or an RFC 3339 time";

    let cases = [
        ("from=2026-05-10&to=2026-05-05", errors("to", "errors.invalid", later)),
        ("from=2026-05-10&to=2026-05-10", errors("to", "errors.invalid", later)),
        ("from=2027-01-01", errors("from", "errors.invalid", later)),
        ("from=yesterday", errors("from", "errors.invalid", not_a_time)),
        ("to=2026-13-01", errors("to", "errors.invalid", not_a_time)),
        ("last_modified=2026-05-01", errors("last_modified", "errors.invalid", "must be an RFC 3339 time")),
        ("include_deleted=maybe", errors("include_deleted", "errors.invalid_type", "must be true or false")),
    ];
    for (query, expected) in cases {
        let (status, body) = api.get(&format!("/v1/events?tzid=Etc/UTC&{query}"), &who.access_token).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(body, expected, "{query}");
    }
    let (status, body) = api.get("/v1/free_busy?tzid=Etc/UTC&from=2026-05-10&to=2026-05-05", &who.access_token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, errors("to", "errors.invalid", later));
}

async fn reads_are_limited_to_the_applications_own_window(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let early = "is earlier than the application's sync window allows";
    let late = "is later than the application's sync window allows";

    // Default window of 42 days back and 201 ahead: now is 2026-05-01, so 2026-03-20 is the limit.
    let ok = |q: &str| format!("/v1/events?tzid=Etc/UTC&{q}");
    assert_eq!(api.get(&ok("from=2026-03-20"), &who.access_token).await.0, StatusCode::OK);
    let (status, body) = api.get(&ok("from=2026-03-19T23:59:59Z"), &who.access_token).await;
    assert_eq!((status, body), (StatusCode::UNPROCESSABLE_ENTITY, errors("from", "errors.out_of_range", early)));
    assert_eq!(api.get(&ok("to=2026-11-19"), &who.access_token).await.0, StatusCode::OK);
    let (status, body) = api.get(&ok("to=2026-11-20"), &who.access_token).await;
    assert_eq!((status, body), (StatusCode::UNPROCESSABLE_ENTITY, errors("to", "errors.out_of_range", late)));

    // An application that syncs one week back may read one week back.
    let update = ApplicationUpdate { sync_past_days: Some(7), sync_future_days: Some(30), ..Default::default() };
    api.state.store.update_application(&app.id, &update, api.now()).await.unwrap();
    assert_eq!(api.get(&ok("from=2026-04-24"), &who.access_token).await.0, StatusCode::OK);
    let (status, body) = api.get(&ok("from=2026-04-23"), &who.access_token).await;
    assert_eq!((status, body), (StatusCode::UNPROCESSABLE_ENTITY, errors("from", "errors.out_of_range", early)));
    let (status, body) = api.get(&ok("to=2026-06-02"), &who.access_token).await;
    assert_eq!((status, body), (StatusCode::UNPROCESSABLE_ENTITY, errors("to", "errors.out_of_range", late)));
    let (status, body) = api.get("/v1/free_busy?tzid=Etc/UTC&from=2026-04-23", &who.access_token).await;
    assert_eq!((status, body), (StatusCode::UNPROCESSABLE_ENTITY, errors("from", "errors.out_of_range", early)));

    // Its default window is narrowed to match: an event 20 days ahead is outside it.
    seed(api, &third_party(&who, &who.calendar, "soon", utc("2026-05-05T09:00:00Z"), utc("2026-05-05T10:00:00Z")))
        .await;
    seed(api, &third_party(&who, &who.calendar, "later", utc("2026-06-05T09:00:00Z"), utc("2026-06-05T10:00:00Z")))
        .await;
    let (status, body) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
    assert_eq!(body["events"][0]["summary"], "Event soon");
}

async fn the_default_window_covers_recent_and_coming_weeks_only(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let now = api.now();
    for (id, offset_days) in [("past-50", -50), ("past-40", -40), ("next-10", 10), ("next-200", 200), ("next-300", 300)]
    {
        let start = now + Duration::days(offset_days);
        let event = third_party(
            &who,
            &who.calendar,
            id,
            EventTime::Instant { at: start, tzid: None },
            EventTime::Instant { at: start + Duration::hours(1), tzid: None },
        );
        seed(api, &event).await;
    }

    let (status, body) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    let summaries: Vec<&str> =
        body["events"].as_array().unwrap().iter().map(|e| e["summary"].as_str().unwrap()).collect();
    assert_eq!(summaries, ["Event past-40", "Event next-10", "Event next-200"]);
    assert_eq!(body["pages"], json!({"current": 1, "total": 1}));
}

async fn unknown_query_parameters_and_a_get_body_are_ignored(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let start = api.now() + Duration::days(3);
    let event = third_party(
        &who,
        &who.calendar,
        "soon",
        EventTime::Instant { at: start, tzid: None },
        EventTime::Instant { at: start + Duration::hours(1), tzid: None },
    );
    seed(api, &event).await;

    let (status, plain) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    // The npm SDK passes unknown options straight through; pycronofy sends `{}` on every GET.
    let (status, extra) = api
        .request(
            http::Method::GET,
            "/v1/events?tzid=Etc/UTC&sdk_option=1&include_userinfo=False&calendar_ids_typo[]=x",
            Some(&who.access_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(extra, plain);
    assert_eq!(plain["events"].as_array().unwrap().len(), 1);
}

async fn dates_are_read_as_local_days_of_the_query_zone(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    // 23:30 UTC on 4 May is 01:30 on 5 May in Paris.
    let late =
        seed(api, &third_party(&who, &who.calendar, "late", utc("2026-05-04T23:30:00Z"), utc("2026-05-04T23:45:00Z")))
            .await;
    let all_day = seed(api, &third_party(&who, &who.calendar, "all-day", day("2026-05-05"), day("2026-05-06"))).await;
    let before = seed(api, &third_party(&who, &who.calendar, "before", day("2026-05-04"), day("2026-05-05"))).await;

    let path = "/v1/events?tzid=Europe/Paris&from=2026-05-05&to=2026-05-06";
    let (status, body) = api.get(path, &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    // The all-day event of 4 May ends (exclusively) when the window starts: Cronofy counts an
    // event that ends on `from` as inside it.
    assert_eq!(uids(&body), [before.to_string(), late.to_string(), all_day.to_string()]);

    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&from=2026-05-05&to=2026-05-06", &who.access_token).await;
    assert_eq!(uids(&body), [before.to_string(), all_day.to_string()]);
    // `to` is exclusive.
    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&from=2026-05-03&to=2026-05-05", &who.access_token).await;
    assert_eq!(uids(&body), [before.to_string(), late.to_string()]);
    // Fractional seconds and offsets are accepted.
    let (_, body) = api
        .get(
            "/v1/events?tzid=Etc/UTC&from=2026-05-05T01:00:00.000%2B02:00&to=2026-05-04T23:59:59.500Z",
            &who.access_token,
        )
        .await;
    assert_eq!(uids(&body), [before.to_string(), late.to_string()]);
}

async fn timed_and_all_day_events_are_written_exactly(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let mut meeting = third_party(
        &who,
        &who.calendar,
        "review",
        EventTime::Instant { at: at("2026-05-04T09:00:00Z"), tzid: Some(chrono_tz::Europe::London) },
        EventTime::Instant { at: at("2026-05-04T10:00:00Z"), tzid: Some(chrono_tz::Europe::London) },
    );
    meeting.summary = Some("Design review".into());
    meeting.description = Some("Agenda: the API".into());
    meeting.location = Some(Location { description: Some("Room 1".into()), lat: Some(51.5), long: Some(-0.125) });
    meeting.attendees = vec![
        Attendee {
            email: "ada@example.com".into(),
            display_name: Some("Ada".into()),
            status: AttendeeStatus::Accepted,
        },
        Attendee { email: "bob@example.com".into(), display_name: None, status: AttendeeStatus::NeedsAction },
    ];
    meeting.organizer = Some(Organizer { email: Some("ada@example.com".into()), display_name: Some("Ada".into()) });
    meeting.categories = vec!["work".into()];
    meeting.url = Some("https://meet.example/abc".into());
    meeting.recurrence_rule = Some("FREQ=WEEKLY".into());
    meeting.series_id = Some("series-1".into());
    meeting.participation_status = AttendeeStatus::Accepted;
    meeting.event_private = true;
    let meeting_uid = seed(api, &meeting).await;
    let mut holiday = third_party(&who, &who.calendar, "holiday", day("2026-05-06"), day("2026-05-08"));
    holiday.summary = None;
    holiday.transparency = Transparency::Transparent;
    let holiday_uid = seed(api, &holiday).await;

    let (status, body) = api.get("/v1/events?tzid=Europe/London", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    let options = json!({"delete": true, "update": true, "change_participation_status": true});
    assert_eq!(
        body,
        json!({
            "pages": {"current": 1, "total": 1},
            "events": [
                {
                    "calendar_id": who.calendar.id, "event_uid": meeting_uid,
                    "summary": "Design review", "description": "Agenda: the API",
                    "start": "2026-05-04T09:00:00Z", "end": "2026-05-04T10:00:00Z", "deleted": false,
                    "created": "2026-05-01T10:00:00Z", "updated": "2026-05-01T10:00:00Z",
                    "location": {"description": "Room 1"},
                    "participation_status": "accepted",
                    "attendees": [
                        {"email": "ada@example.com", "display_name": "Ada", "status": "accepted"},
                        {"email": "bob@example.com", "status": "needs_action"},
                    ],
                    "organizer": {"email": "ada@example.com", "display_name": "Ada"},
                    "transparency": "opaque", "status": "confirmed", "categories": ["work"],
                    "recurring": true, "series_identifier": "series-1", "event_private": true,
                    "meeting_url": "https://meet.example/abc",
                    "options": options,
                },
                {
                    "calendar_id": who.calendar.id, "event_uid": holiday_uid,
                    "summary": "", "description": "",
                    "start": "2026-05-06", "end": "2026-05-08", "deleted": false,
                    "created": "2026-05-01T10:00:00Z", "updated": "2026-05-01T10:00:00Z",
                    "participation_status": "unknown", "attendees": [],
                    "transparency": "transparent", "status": "confirmed", "categories": [],
                    "recurring": false, "event_private": false,
                    "options": options,
                },
            ],
        })
    );
}

async fn localized_times_use_the_events_zone_or_else_the_querys(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let zoned = EventTime::Instant { at: at("2026-05-04T09:00:00Z"), tzid: Some(chrono_tz::Europe::London) };
    let zoned_end = EventTime::Instant { at: at("2026-05-04T10:00:00Z"), tzid: Some(chrono_tz::Europe::London) };
    seed(api, &third_party(&who, &who.calendar, "a-zoned", zoned, zoned_end)).await;
    seed(
        api,
        &third_party(&who, &who.calendar, "b-floating", utc("2026-05-05T09:00:00Z"), utc("2026-05-05T09:30:00Z")),
    )
    .await;
    seed(api, &third_party(&who, &who.calendar, "c-all-day", day("2026-05-06"), day("2026-05-07"))).await;

    for path in
        ["/v1/events?tzid=Europe/Paris&localized_times=true", "/v1/free_busy?tzid=Europe/Paris&localized_times=True"]
    {
        let (status, body) = api.get(path, &who.access_token).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let items = body.get("events").or(body.get("free_busy")).unwrap();
        let times: Vec<(Value, Value)> =
            items.as_array().unwrap().iter().map(|e| (e["start"].clone(), e["end"].clone())).collect();
        assert_eq!(
            times,
            [
                (
                    json!({"time": "2026-05-04T10:00:00+01:00", "tzid": "Europe/London"}),
                    json!({"time": "2026-05-04T11:00:00+01:00", "tzid": "Europe/London"}),
                ),
                (
                    json!({"time": "2026-05-05T11:00:00+02:00", "tzid": "Europe/Paris"}),
                    json!({"time": "2026-05-05T11:30:00+02:00", "tzid": "Europe/Paris"}),
                ),
                (json!("2026-05-06"), json!("2026-05-07")),
            ],
            "{path}"
        );
    }
}

async fn include_geo_adds_coordinates_as_strings(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let mut placed =
        third_party(&who, &who.calendar, "placed", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z"));
    placed.location = Some(Location { description: Some("Office".into()), lat: Some(51.5), long: Some(-0.125) });
    seed(api, &placed).await;
    let mut pinned =
        third_party(&who, &who.calendar, "pinned", utc("2026-05-05T09:00:00Z"), utc("2026-05-05T10:00:00Z"));
    pinned.location = Some(Location { description: None, lat: Some(48.25), long: Some(2.5) });
    seed(api, &pinned).await;

    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&include_geo=true", &who.access_token).await;
    assert_eq!(body["events"][0]["location"], json!({"description": "Office", "lat": "51.5", "long": "-0.125"}));
    assert_eq!(body["events"][1]["location"], json!({"lat": "48.25", "long": "2.5"}));
    let (_, body) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(body["events"][0]["location"], json!({"description": "Office"}));
    assert!(body["events"][1].get("location").is_none(), "{}", body["events"][1]);
}

async fn options_allow_changes_only_where_the_application_may_make_them(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let (other, _) = api.application("Other").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let (_, google) = google_calendar(api, &who, "Work").await;
    let slot = |h: u32| (utc(&format!("2026-05-04T{h:02}:00:00Z")), utc(&format!("2026-05-04T{h:02}:30:00Z")));

    let (s, e) = slot(8);
    seed(api, &third_party(&who, &who.calendar, "hosted", s, e)).await;
    let (s, e) = slot(9);
    seed(api, &third_party(&who, &google, "google", s, e)).await;
    let (s, e) = slot(10);
    seed(api, &partner(&who, &app, "mine", s, e)).await;
    let (s, e) = slot(11);
    seed(api, &partner(&who, &other, "theirs", s, e)).await;

    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&include_managed=true", &who.access_token).await;
    let seen: Vec<(String, Value, Option<Value>)> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["summary"].as_str().unwrap().to_owned(), e["options"]["update"].clone(), e.get("event_id").cloned())
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("Event hosted".to_owned(), json!(true), None),
            ("Event google".to_owned(), json!(false), None),
            ("Partner mine".to_owned(), json!(true), Some(json!("mine"))),
            ("Partner theirs".to_owned(), json!(false), None),
        ]
    );
    for event in body["events"].as_array().unwrap() {
        let update = event["options"]["update"].clone();
        assert_eq!(
            event["options"],
            json!({"delete": update, "update": update, "change_participation_status": update})
        );
    }
}

async fn deleted_events_need_include_deleted_and_last_modified_selects_later_changes(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let gone =
        seed(api, &third_party(&who, &who.calendar, "gone", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z")))
            .await;
    let kept =
        seed(api, &third_party(&who, &who.calendar, "kept", utc("2026-05-05T09:00:00Z"), utc("2026-05-05T10:00:00Z")))
            .await;
    api.clock.advance(Duration::hours(1));
    assert!(api.state.store.mark_event_deleted(&gone, api.now()).await.unwrap());

    let (_, body) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(uids(&body), [kept.to_string()]);

    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&include_deleted=True", &who.access_token).await;
    assert_eq!(uids(&body), [gone.to_string(), kept.to_string()]);
    assert_eq!(body["events"][0]["deleted"], json!(true));
    assert_eq!(body["events"][0]["updated"], json!("2026-05-01T11:00:00Z"));
    assert_eq!(body["events"][0]["created"], json!("2026-05-01T10:00:00Z"));

    let since = "last_modified=2026-05-01T11:00:00Z";
    let (_, body) = api.get(&format!("/v1/events?tzid=Etc/UTC&include_deleted=true&{since}"), &who.access_token).await;
    assert_eq!(uids(&body), [gone.to_string()]);
    let (_, body) = api.get(&format!("/v1/events?tzid=Etc/UTC&{since}"), &who.access_token).await;
    assert_eq!(body, json!({"pages": {"current": 1, "total": 1}, "events": []}));
    let (_, body) = api
        .get(
            "/v1/events?tzid=Etc/UTC&include_deleted=true&last_modified=2026-05-01T12:00:00%2B02:00",
            &who.access_token,
        )
        .await;
    assert_eq!(uids(&body), [gone.to_string(), kept.to_string()]);
}

async fn managed_events_follow_include_managed_and_only_managed(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let (other, _) = api.application("Other").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let external =
        seed(api, &third_party(&who, &who.calendar, "ext", utc("2026-05-04T08:00:00Z"), utc("2026-05-04T09:00:00Z")))
            .await;
    let mine = seed(api, &partner(&who, &app, "mine", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z"))).await;
    let theirs =
        seed(api, &partner(&who, &other, "theirs", utc("2026-05-04T10:00:00Z"), utc("2026-05-04T11:00:00Z"))).await;

    let token = who.access_token.as_str();
    let read = |q: &'static str| async move { uids(&api.get(&format!("/v1/events?tzid=Etc/UTC{q}"), token).await.1) };
    // Another application's events are ordinary events to this one.
    assert_eq!(read("").await, [external.to_string(), theirs.to_string()]);
    assert_eq!(read("&include_managed=False").await, [external.to_string(), theirs.to_string()]);
    assert_eq!(read("&include_managed=True").await, [external.to_string(), mine.to_string(), theirs.to_string()]);
    assert_eq!(read("&only_managed=true").await, [mine.to_string()]);
    assert_eq!(read("&only_managed=true&include_managed=false").await, [mine.to_string()]);

    // Free/busy leaves the application's own events out unless asked, like event reads.
    let (_, body) = api.get("/v1/free_busy?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(body["free_busy"].as_array().unwrap().len(), 2);
    let (_, body) = api.get("/v1/free_busy?tzid=Etc/UTC&include_managed=true", &who.access_token).await;
    assert_eq!(body["free_busy"].as_array().unwrap().len(), 3);
}

async fn only_managed_needs_no_read_events_scope_but_other_reads_do(api: &TestApi) {
    let (app, _) = api.application("Writer").await;
    let who = api.authorized(&app, "create_event delete_event").await;
    seed(api, &third_party(&who, &who.calendar, "ext", utc("2026-05-04T08:00:00Z"), utc("2026-05-04T09:00:00Z"))).await;
    let mine = seed(api, &partner(&who, &app, "mine", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z"))).await;

    let (status, body) = api.get("/v1/events?tzid=Etc/UTC&only_managed=True", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(uids(&body), [mine.to_string()]);

    let forbidden = json!({"error": "insufficient_scope", "scope": "read_events"});
    for path in
        ["/v1/events?tzid=Etc/UTC", "/v1/events?tzid=Etc/UTC&only_managed=false&include_managed=true", "/v1/events"]
    {
        assert_eq!(api.get(path, &who.access_token).await, (StatusCode::FORBIDDEN, forbidden.clone()), "{path}");
    }
    let (status, _) = api.get("/v1/events?tzid=Etc/UTC", "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn managed_events_ignore_the_default_window_only(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let far = api.now() + Duration::days(400);
    let far_end = far + Duration::hours(1);
    let instant = |at| EventTime::Instant { at, tzid: None };
    let mine = seed(api, &partner(&who, &app, "far-mine", instant(far), instant(far_end))).await;
    seed(api, &third_party(&who, &who.calendar, "far-ext", instant(far), instant(far_end))).await;

    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&include_managed=true", &who.access_token).await;
    assert_eq!(uids(&body), [mine.to_string()]);
    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&only_managed=true", &who.access_token).await;
    assert_eq!(uids(&body), [mine.to_string()]);
    // With a window given, managed events keep to it like any other.
    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&include_managed=true&from=2026-05-01", &who.access_token).await;
    assert_eq!(uids(&body), Vec::<String>::new());
    // And without include_managed they are not there at all.
    let (_, body) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(uids(&body), Vec::<String>::new());
}

async fn moved_events_come_back_with_include_moved(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let left =
        seed(api, &third_party(&who, &who.calendar, "left", utc("2026-03-01T09:00:00Z"), utc("2026-03-01T10:00:00Z")))
            .await;
    let inside =
        seed(api, &third_party(&who, &who.calendar, "in", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z")))
            .await;
    let marked = api.state.store.mark_events_left_window(&who.calendar.id, at("2026-03-20T00:00:00Z"), api.now()).await;
    assert_eq!(marked.unwrap(), 1);

    let (_, body) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(uids(&body), [inside.to_string()]);
    let (_, body) = api.get("/v1/events?tzid=Etc/UTC&include_moved=true", &who.access_token).await;
    assert_eq!(uids(&body), [left.to_string(), inside.to_string()]);
}

async fn calendar_ids_restrict_the_read(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let (_, google) = google_calendar(api, &who, "Work").await;
    let home =
        seed(api, &third_party(&who, &who.calendar, "home", utc("2026-05-04T08:00:00Z"), utc("2026-05-04T09:00:00Z")))
            .await;
    let work =
        seed(api, &third_party(&who, &google, "work", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z"))).await;

    let (_, body) = api.get(&format!("/v1/events?tzid=Etc/UTC&calendar_ids[]={}", google.id), &who.access_token).await;
    assert_eq!(uids(&body), [work.to_string()]);
    let both = format!("/v1/events?tzid=Etc/UTC&calendar_ids[]={}&calendar_ids[]={}", google.id, who.calendar.id);
    assert_eq!(uids(&api.get(&both, &who.access_token).await.1), [home.to_string(), work.to_string()]);
    let (_, body) =
        api.get(&format!("/v1/free_busy?tzid=Etc/UTC&calendar_ids[]={}", who.calendar.id), &who.access_token).await;
    assert_eq!(
        body["free_busy"],
        json!([{"calendar_id": who.calendar.id, "start": "2026-05-04T08:00:00Z", "end": "2026-05-04T09:00:00Z", "free_busy_status": "busy"}])
    );
}

async fn unknown_or_malformed_calendar_ids_are_404_naming_the_field(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let expected = json!({
        "error": "not_found",
        "errors": {"calendar_ids": [{"key": "errors.not_found", "description": "unknown calendar"}]},
    });
    let unknown = CalendarId::generate();
    for endpoint in ["events", "free_busy"] {
        for ids in [
            format!("calendar_ids[]={unknown}"),
            format!("calendar_ids[]={}&calendar_ids[]={unknown}", who.calendar.id),
            "calendar_ids[]=not-a-calendar".to_owned(),
        ] {
            let path = format!("/v1/{endpoint}?tzid=Etc/UTC&{ids}");
            assert_eq!(api.get(&path, &who.access_token).await, (StatusCode::NOT_FOUND, expected.clone()), "{path}");
        }
    }
}

async fn two_hundred_fifty_events_come_in_three_pages_each_exactly_once(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    let start = at("2026-05-02T00:00:00Z");
    let mut seeded = Vec::new();
    for i in 0..250_i64 {
        // Pairs share a start time, so the uid tie-break is exercised too.
        let s = start + Duration::minutes(30 * (i / 2));
        let event = third_party(
            &who,
            &who.calendar,
            &format!("ev-{i:03}"),
            EventTime::Instant { at: s, tzid: None },
            EventTime::Instant { at: s + Duration::minutes(15), tzid: None },
        );
        seeded.push(seed(api, &event).await.to_string());
    }

    let (status, first) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["pages"]["current"], 1);
    assert_eq!(first["pages"]["total"], 3);
    let mut seen = uids(&first);
    assert_eq!(seen.len(), 100);

    // node appends the caller's options to next_page: they must change nothing.
    let (status, second) = api
        .get(
            &format!("{}?tzid=Mars/Nowhere&calendar_ids[]=cal_x", page_path(&first["pages"]["next_page"])),
            &who.access_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["pages"]["current"], 2);
    assert_eq!(second["pages"]["total"], 3);
    seen.extend(uids(&second));

    let (status, third) = api.get(&page_path(&second["pages"]["next_page"]), &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(third["pages"], json!({"current": 3, "total": 3}));
    seen.extend(uids(&third));
    assert_eq!(uids(&third).len(), 50);

    // In start order, every event exactly once.
    let mut expected = seeded.clone();
    expected.sort_by_key(|uid| {
        let i = seeded.iter().position(|u| u == uid).unwrap() as i64;
        (i / 2, uid.clone())
    });
    assert_eq!(seen, expected);

    // Free/busy pages the same way.
    let (_, first) = api.get("/v1/free_busy?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(first["pages"]["total"], 3);
    let next = page_path(&first["pages"]["next_page"]);
    assert!(next.starts_with("/v1/free_busy/pages/"), "{next}");
    let (status, second) = api.get(&next, &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["pages"]["current"], 2);
    assert_eq!(second["free_busy"].as_array().unwrap().len(), 100);
}

async fn a_garbage_or_cross_endpoint_page_token_is_not_found(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, READ_SCOPES).await;
    for i in 0..101 {
        let s = at("2026-05-02T00:00:00Z") + Duration::minutes(i);
        let event = third_party(
            &who,
            &who.calendar,
            &format!("e{i}"),
            EventTime::Instant { at: s, tzid: None },
            EventTime::Instant { at: s, tzid: None },
        );
        seed(api, &event).await;
    }
    let (_, first) = api.get("/v1/events?tzid=Etc/UTC", &who.access_token).await;
    let events_page = page_path(&first["pages"]["next_page"]);
    let token = events_page.trim_start_matches("/v1/events/pages/");

    let not_found = (StatusCode::NOT_FOUND, json!({"error": "not_found"}));
    assert_eq!(api.get(&format!("/v1/free_busy/pages/{token}"), &who.access_token).await, not_found);
    assert_eq!(api.get("/v1/events/pages/%25%25%25", &who.access_token).await, not_found);
    assert_eq!(api.get("/v1/events/pages/e30", &who.access_token).await, not_found);
    // A token outside the application's window is one calsync never issued.
    let crafted = calsync_core::api::pages::encode_token(&json!({
        "feature": "events", "tzid": "Etc/UTC", "from": "2020-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z",
        "window_given": true, "calendar_ids": [], "include_deleted": false, "include_moved": false,
        "include_managed": false, "only_managed": false, "localized_times": false, "include_geo": false,
        "last_modified": null, "page": 1,
    }));
    assert_eq!(api.get(&format!("/v1/events/pages/{crafted}"), &who.access_token).await, not_found);
    // The token is not a credential.
    assert_eq!(api.get(&events_page, "not-a-token").await.0, StatusCode::UNAUTHORIZED);
}

async fn free_busy_statuses_follow_transparency_status_and_the_owners_answer(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let who = api.authorized(&app, "read_free_busy").await;
    let cal = &who.calendar;
    let slot = |h: u32| (utc(&format!("2026-05-04T{h:02}:00:00Z")), utc(&format!("2026-05-04T{h:02}:30:00Z")));
    let with = |id: &str, h: u32, f: &dyn Fn(&mut EventUpsert)| {
        let (s, e) = slot(h);
        let mut event = third_party(&who, cal, id, s, e);
        f(&mut event);
        event
    };
    seed(api, &with("busy", 8, &|_| {})).await;
    seed(api, &with("tentative", 9, &|e| e.status = EventStatus::Tentative)).await;
    seed(api, &with("unanswered", 10, &|e| e.participation_status = AttendeeStatus::NeedsAction)).await;
    seed(api, &with("transparent", 11, &|e| e.transparency = Transparency::Transparent)).await;
    seed(api, &with("declined", 12, &|e| e.participation_status = AttendeeStatus::Declined)).await;
    seed(api, &with("cancelled", 13, &|e| e.status = EventStatus::Cancelled)).await;
    let deleted = seed(api, &with("deleted", 14, &|_| {})).await;
    api.state.store.mark_event_deleted(&deleted, api.now()).await.unwrap();
    seed(api, &third_party(&who, cal, "all-day", day("2026-05-06"), day("2026-05-08"))).await;

    let (status, body) = api.get("/v1/free_busy?tzid=Etc/UTC", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    let block = |h: u32, status: &str| json!({"calendar_id": cal.id, "start": format!("2026-05-04T{h:02}:00:00Z"), "end": format!("2026-05-04T{h:02}:30:00Z"), "free_busy_status": status});
    assert_eq!(
        body,
        json!({
            "pages": {"current": 1, "total": 1},
            "free_busy": [
                block(8, "busy"), block(9, "tentative"), block(10, "tentative"), block(11, "free"), block(12, "free"),
                {"calendar_id": cal.id, "start": "2026-05-06", "end": "2026-05-08", "free_busy_status": "busy"},
            ],
        })
    );
}

async fn free_busy_needs_a_free_busy_or_events_scope(api: &TestApi) {
    let (app, _) = api.application("Reader").await;
    let writer = api.authorized(&app, "create_event").await;
    let reader = api.authorized(&app, "read_events").await;
    let forbidden = (StatusCode::FORBIDDEN, json!({"error": "insufficient_scope", "scope": "read_free_busy"}));
    assert_eq!(api.get("/v1/free_busy?tzid=Etc/UTC", &writer.access_token).await, forbidden);
    assert_eq!(api.get("/v1/free_busy?tzid=Etc/UTC", &reader.access_token).await.0, StatusCode::OK);
}

/// Strings planted in every content field of the canary events.
const CANARIES: [&str; 7] = [
    "CANARY-SUMMARY-7f3a",
    "CANARY-DESCRIPTION-91bc",
    "canary-attendee-4d2e@example.com",
    "CANARY-ATTENDEE-NAME-55aa",
    "canary-organizer-0c1d@example.com",
    "CANARY-LOCATION-e8f0",
    "CANARY-URL-b7c6",
];

async fn a_free_busy_only_authorization_never_sees_event_details(api: &TestApi) {
    let (app, _) = api.application("Availability").await;
    let who = api.authorized(&app, "read_free_busy").await;
    // Enough events for a second page, so the page URL is exercised too; one is this
    // application's own, which it could read with `only_managed` if it held event access.
    for i in 0..105_i64 {
        let s = at("2026-05-04T08:00:00Z") + Duration::minutes(30 * i);
        let (start, end) = (
            EventTime::Instant { at: s, tzid: None },
            EventTime::Instant { at: s + Duration::minutes(20), tzid: None },
        );
        let mut event = if i == 0 {
            partner(&who, &app, &format!("CANARY-EVENT-ID-{i}"), start, end)
        } else {
            third_party(&who, &who.calendar, &format!("canary-provider-{i}"), start, end)
        };
        event.summary = Some(format!("{} {i}", CANARIES[0]));
        event.description = Some(CANARIES[1].into());
        event.attendees = vec![Attendee {
            email: CANARIES[2].into(),
            display_name: Some(CANARIES[3].into()),
            status: AttendeeStatus::Accepted,
        }];
        event.organizer = Some(Organizer { email: Some(CANARIES[4].into()), display_name: Some(CANARIES[3].into()) });
        event.location = Some(Location { description: Some(CANARIES[5].into()), lat: Some(1.0), long: Some(2.0) });
        event.url = Some(format!("https://{}.example", CANARIES[6].to_lowercase()));
        event.categories = vec![CANARIES[0].into()];
        seed(api, &event).await;
    }

    let mut bodies = Vec::new();
    for path in [
        "/v1/events?tzid=Etc/UTC",
        "/v1/events?tzid=Etc/UTC&only_managed=true",
        "/v1/events?tzid=Etc/UTC&include_managed=true&include_geo=true&localized_times=true",
    ] {
        let (status, body) = api.get(path, &who.access_token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        bodies.push((path.to_owned(), body));
    }
    let (status, first) =
        api.get("/v1/free_busy?tzid=Etc/UTC&include_managed=true&localized_times=true", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["pages"]["total"], 2);
    let next = page_path(&first["pages"]["next_page"]);
    bodies.push(("/v1/free_busy".to_owned(), first));
    let (status, second) = api.get(&next, &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["free_busy"].as_array().unwrap().len(), 5);
    bodies.push((next, second));
    for path in ["/v1/calendars", "/v1/userinfo", "/v1/account", "/v1/profiles"] {
        let (status, body) = api.get(path, &who.access_token).await;
        assert!(status == StatusCode::OK || status == StatusCode::FORBIDDEN, "{path}: {status}");
        bodies.push((path.to_owned(), body));
    }

    for (path, body) in bodies {
        let text = body.to_string().to_lowercase();
        for canary in CANARIES {
            assert!(!text.contains(&canary.to_lowercase()), "{path} leaks {canary}: {text}");
        }
        assert!(!text.contains("canary"), "{path} leaks a canary: {text}");
    }
}

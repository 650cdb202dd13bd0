//! Event upserts: idempotency, change tracking, stale versions, partner keys, event times.

use calsync_core::{
    Store,
    domain::{
        Attendee, AttendeeStatus, EventKind, EventStatus, EventTime, Location, Organizer, Reminder, Transparency,
    },
    store::{EventUpsert, UpsertOutcome},
};
use calsync_tests::fixtures::{Mailbox, application, at, mailbox, third_party_event};
use chrono::{Duration, NaiveDate};

use super::on_both_backends;

on_both_backends!(
    a_third_party_event_is_created_then_unchanged_then_updated_by_content,
    a_stale_provider_version_never_overwrites_a_newer_one,
    partner_events_are_keyed_by_the_application_event_id,
    changes_since_a_time_include_deletions_and_only_later_changes,
    every_event_field_reads_back_as_written_including_all_day_dates,
    events_ending_before_the_window_are_marked_once_when_they_leave_it,
);

fn third_party(m: &Mailbox, provider_id: &str, summary: &str) -> EventUpsert {
    EventUpsert {
        ical_uid: Some(format!("{provider_id}@icloud.example")),
        etag: Some("\"1\"".into()),
        provider_created_at: Some(at("2026-04-01T00:00:00Z")),
        provider_updated_at: Some(at("2026-04-01T00:00:00Z")),
        ..third_party_event(
            &m.calendar,
            provider_id,
            summary,
            EventTime::Instant { at: at("2026-05-04T09:00:00Z"), tzid: Some(chrono_tz::Europe::London) },
            EventTime::Instant { at: at("2026-05-04T10:00:00Z"), tzid: Some(chrono_tz::Europe::London) },
        )
    }
}

async fn a_third_party_event_is_created_then_unchanged_then_updated_by_content(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let event = third_party(&m, "ev-1", "Standup");

    let created = store.upsert_event(&event, t0).await.unwrap();
    assert!(matches!(created, UpsertOutcome::Created(_)));

    // Same content, new etag and provider timestamp: no change an integrator could see.
    let mut touched = event.clone();
    touched.etag = Some("\"2\"".into());
    touched.provider_updated_at = Some(at("2026-04-02T00:00:00Z"));
    let t1 = t0 + Duration::minutes(5);
    assert_eq!(store.upsert_event(&touched, t1).await.unwrap(), UpsertOutcome::Unchanged(created.uid().clone()));
    assert_eq!(store.get_event(created.uid()).await.unwrap().unwrap().last_modified, t0);

    let mut renamed = touched.clone();
    renamed.summary = Some("Standup (moved)".into());
    let t2 = t0 + Duration::minutes(10);
    assert_eq!(store.upsert_event(&renamed, t2).await.unwrap(), UpsertOutcome::Updated(created.uid().clone()));
    let stored = store.get_event(created.uid()).await.unwrap().unwrap();
    assert_eq!(stored.summary.as_deref(), Some("Standup (moved)"));
    assert_eq!(stored.last_modified, t2);
    assert_eq!(stored.created_at, t0);
}

async fn a_stale_provider_version_never_overwrites_a_newer_one(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let mut v5 = third_party(&m, "ev-1", "Version 5");
    v5.provider_updated_at = Some(at("2026-04-05T00:00:00Z"));
    let mut v4 = third_party(&m, "ev-1", "Version 4");
    v4.provider_updated_at = Some(at("2026-04-04T00:00:00Z"));

    let uid = store.upsert_event(&v5, t0).await.unwrap().uid().clone();
    assert_eq!(store.upsert_event(&v4, t0 + Duration::minutes(1)).await.unwrap(), UpsertOutcome::Stale(uid.clone()));
    assert_eq!(store.get_event(&uid).await.unwrap().unwrap().summary.as_deref(), Some("Version 5"));
}

async fn partner_events_are_keyed_by_the_application_event_id(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let app_a = application(store, "A", "a", t0).await;
    let app_b = application(store, "B", "b", t0).await;
    let partner = |app: &calsync_core::domain::Application, summary: &str| EventUpsert {
        kind: EventKind::Partner,
        application_id: Some(app.id.clone()),
        event_id: Some("booking-42".into()),
        provider_id: None,
        provider_updated_at: None,
        ..third_party(&m, "unused", summary)
    };

    let a1 = store.upsert_event(&partner(&app_a, "Interview"), t0).await.unwrap();
    let b1 = store.upsert_event(&partner(&app_b, "Other app, same id"), t0).await.unwrap();
    assert!(matches!(a1, UpsertOutcome::Created(_)) && matches!(b1, UpsertOutcome::Created(_)));
    assert_ne!(a1.uid(), b1.uid());

    let a2 = store.upsert_event(&partner(&app_a, "Interview (2nd round)"), t0 + Duration::hours(1)).await.unwrap();
    assert_eq!(a2, UpsertOutcome::Updated(a1.uid().clone()));
    let found = store.find_partner_event(&m.calendar.id, &app_a.id, "booking-42").await.unwrap().unwrap();
    assert_eq!(found.summary.as_deref(), Some("Interview (2nd round)"));
    assert_eq!(found.kind, EventKind::Partner);
}

async fn changes_since_a_time_include_deletions_and_only_later_changes(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let early = store.upsert_event(&third_party(&m, "early", "Early"), t0).await.unwrap();
    let t1 = t0 + Duration::seconds(30);
    let late = store.upsert_event(&third_party(&m, "late", "Late"), t1).await.unwrap();
    let t2 = t0 + Duration::seconds(60);
    assert!(store.mark_event_deleted(early.uid(), t2).await.unwrap());
    assert!(!store.mark_event_deleted(early.uid(), t2).await.unwrap(), "deleting twice changes nothing");

    let changed = store.list_events_changed_since(std::slice::from_ref(&m.calendar.id), t0, 100).await.unwrap();
    let uids: Vec<_> = changed.iter().map(|e| (e.uid.clone(), e.deleted)).collect();
    assert_eq!(uids, vec![(late.uid().clone(), false), (early.uid().clone(), true)]);
    assert!(store.list_events_changed_since(std::slice::from_ref(&m.calendar.id), t2, 100).await.unwrap().is_empty());
}

async fn every_event_field_reads_back_as_written_including_all_day_dates(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let event = EventUpsert {
        description: Some("Bring snacks — ünïcödé".into()),
        start: EventTime::Date(NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()),
        end: EventTime::Date(NaiveDate::from_ymd_opt(2026, 12, 26).unwrap()),
        recurrence_rule: Some("FREQ=YEARLY".into()),
        series_id: Some("series-1".into()),
        original_start: Some(at("2025-12-24T00:00:00Z")),
        location: Some(Location { description: Some("Home".into()), lat: Some(51.5), long: Some(-0.12) }),
        attendees: vec![Attendee {
            email: "bob@example.com".into(),
            display_name: Some("Bob".into()),
            status: AttendeeStatus::Tentative,
        }],
        organizer: Some(Organizer { email: Some("ada@example.com".into()), display_name: None }),
        categories: vec!["family".into()],
        color: Some("#ff0000".into()),
        url: Some("https://meet.example/xmas".into()),
        reminders: vec![Reminder { minutes: 10 }, Reminder { minutes: 60 }],
        event_private: true,
        participation_status: AttendeeStatus::Accepted,
        transparency: Transparency::Transparent,
        status: EventStatus::Tentative,
        ..third_party(&m, "xmas", "Christmas")
    };
    let uid = store.upsert_event(&event, t0).await.unwrap().uid().clone();
    let stored = store.get_event(&uid).await.unwrap().unwrap();

    assert_eq!(stored.start, event.start);
    assert_eq!(stored.end, event.end);
    assert_eq!(stored.description, event.description);
    assert_eq!(stored.location, event.location);
    assert_eq!(stored.attendees, event.attendees);
    assert_eq!(stored.organizer, event.organizer);
    assert_eq!(stored.categories, event.categories);
    assert_eq!(stored.recurrence_rule, event.recurrence_rule);
    assert_eq!(stored.original_start, event.original_start);
    assert_eq!(
        (stored.transparency, stored.status, stored.color.clone()),
        (Transparency::Transparent, EventStatus::Tentative, event.color.clone())
    );
    assert_eq!((stored.url.clone(), stored.reminders.clone()), (event.url.clone(), event.reminders.clone()));
    assert_eq!((stored.event_private, stored.participation_status), (true, AttendeeStatus::Accepted));
    assert_eq!(stored.content_hash, event.content_hash());
    assert_eq!(stored.ical_uid.as_deref(), Some("xmas@icloud.example"));
    assert_eq!(stored.provider_created_at, event.provider_created_at);

    let timed = third_party(&m, "timed", "Timed");
    let uid = store.upsert_event(&timed, t0).await.unwrap().uid().clone();
    let stored = store.get_event(&uid).await.unwrap().unwrap();
    assert_eq!(stored.start, timed.start);
    assert_eq!(stored.start.tzid(), Some("Europe/London"));
}

async fn events_ending_before_the_window_are_marked_once_when_they_leave_it(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let old = store.upsert_event(&third_party(&m, "old", "Old"), t0).await.unwrap(); // ends 2026-05-04T10:00Z
    let mut future = third_party(&m, "future", "Future");
    future.start = EventTime::Instant { at: at("2026-09-01T09:00:00Z"), tzid: None };
    future.end = EventTime::Instant { at: at("2026-09-01T10:00:00Z"), tzid: None };
    let future = store.upsert_event(&future, t0).await.unwrap();

    let t1 = at("2026-06-20T00:00:00Z");
    let window_start = t1 - Duration::days(42);
    assert_eq!(store.mark_events_left_window(&m.calendar.id, window_start, t1).await.unwrap(), 1);
    assert_eq!(store.mark_events_left_window(&m.calendar.id, window_start, t1 + Duration::days(1)).await.unwrap(), 0);
    assert_eq!(store.get_event(old.uid()).await.unwrap().unwrap().left_window_at, Some(t1));
    assert_eq!(store.get_event(future.uid()).await.unwrap().unwrap().left_window_at, None);
}

//! The daily window advance against real CalDAV servers: an event that exists unedited beyond
//! the horizon is invisible to incremental syncs (nothing changes on the server) and appears
//! when the advance lists the days that entered the window; events that left the window are
//! marked with the time they left, once; a window that grows back unmarks them; the advance is
//! idempotent; and the scheduled fan-outs queue one job per live calendar or polled profile.

use calsync_core::domain::{Calendar, Event, ProfileStatus};
use calsync_core::jobs::{JobOutcome, SyncJob};
use calsync_core::providers::caldav::Precondition;
use calsync_core::store::ApplicationUpdate;
use calsync_core::sync::{SyncReport, advance_window_reporting, sync_calendar_reporting};
use calsync_tests::api::TestApi;
use calsync_tests::caldav::{Server, event, fresh_calendar};
use chrono::{DateTime, Duration, Utc};

use super::{caldav_account, etag_of, ics, job, run_queued_jobs, snapshot, stored_calendar, take_queued};

sync_on_both_backends_and_servers!(
    overrides_that_move_an_instance_across_the_window_edge_add_and_remove_exactly_that_instance,
    the_window_advance_lists_the_days_that_entered_the_window_and_marks_what_left_it,
    the_scheduled_fan_outs_queue_one_job_per_live_calendar_and_polled_profile,
);

/// `(summary, left_window_at)` of the calendar's live events, by start.
async fn cached(api: &TestApi, calendar: &Calendar) -> Vec<(String, Option<DateTime<Utc>>)> {
    let (mut events, _) = snapshot(api, calendar).await;
    events.retain(|e| !e.deleted);
    events.sort_by_key(|e| e.start.sort_key());
    events.into_iter().map(|e: Event| (e.summary.unwrap_or_default(), e.left_window_at)).collect()
}

/// Keeps 1 day back and 10 ahead: on 1 May 10:00 the cache holds 29 April to 13 May.
async fn narrow_window(api: &TestApi, who: &calsync_tests::api::Authorized) -> calsync_core::domain::ApplicationId {
    let application = api.state.store.list_authorizations(&who.account.id).await.unwrap()[0].application_id.clone();
    let narrow =
        ApplicationUpdate { sync_past_days: Some(1), sync_future_days: Some(10), ..ApplicationUpdate::default() };
    api.state.store.update_application(&application, &narrow, api.now()).await.unwrap();
    application
}

/// `(summary, start, deleted)` of every cached event of the calendar changed after `since`.
async fn changed_after(api: &TestApi, calendar: &Calendar, since: DateTime<Utc>) -> Vec<(String, String, bool)> {
    let (mut events, _) = snapshot(api, calendar).await;
    events.retain(|e| e.last_modified > since);
    events.sort_by_key(|e| e.start.sort_key());
    events.into_iter().map(|e| (e.summary.unwrap_or_default(), e.start.sort_key().to_rfc3339(), e.deleted)).collect()
}

async fn overrides_that_move_an_instance_across_the_window_edge_add_and_remove_exactly_that_instance(
    api: &TestApi,
    server: Server,
) {
    let (who, profile) = caldav_account(api, server).await;
    narrow_window(api, &who).await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    // Tuesdays from 5 May: the 5th and the 12th are inside the window, the 19th and 26th beyond.
    let master = [
        "BEGIN:VEVENT",
        "UID:edge-weekly",
        "DTSTAMP:20260501T100000Z",
        "DTSTART:20260505T140000Z",
        "DTEND:20260505T150000Z",
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "SUMMARY:Weekly",
        "END:VEVENT",
    ];
    let series = client.put(&href, "edge-weekly.ics", &ics(&master), Precondition::Create).await.unwrap().href;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    run_queued_jobs(api, &href).await;
    let synced = api.now();
    let in_window = |day: &str| ("Weekly".to_owned(), format!("2026-05-{day}T14:00:00+00:00"), false);
    assert_eq!(
        changed_after(api, &calendar, DateTime::<Utc>::UNIX_EPOCH).await,
        vec![in_window("05"), in_window("12")]
    );

    // The 12th moves out beyond the window's end and the 19th moves in, to the 8th.
    api.clock.advance(Duration::minutes(1));
    let mut edited = master.to_vec();
    edited.extend([
        "BEGIN:VEVENT",
        "UID:edge-weekly",
        "DTSTAMP:20260501T110000Z",
        "RECURRENCE-ID:20260512T140000Z",
        "DTSTART:20260520T140000Z",
        "DTEND:20260520T150000Z",
        "SUMMARY:Weekly",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:edge-weekly",
        "DTSTAMP:20260501T110000Z",
        "RECURRENCE-ID:20260519T140000Z",
        "DTSTART:20260508T140000Z",
        "DTEND:20260508T150000Z",
        "SUMMARY:Weekly (moved in)",
        "END:VEVENT",
    ]);
    let etag = etag_of(&client, &href, &series).await;
    client.put(&href, "edge-weekly.ics", &ics(&edited), Precondition::Update(etag)).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, JobOutcome::Done);
    assert_eq!(
        changed_after(api, &calendar, synced).await,
        vec![
            ("Weekly (moved in)".to_owned(), "2026-05-08T14:00:00+00:00".to_owned(), false),
            ("Weekly".to_owned(), "2026-05-12T14:00:00+00:00".to_owned(), true),
        ]
    );
}

async fn the_window_advance_lists_the_days_that_entered_the_window_and_marks_what_left_it(
    api: &TestApi,
    server: Server,
) {
    // An application that keeps 1 day back and 10 ahead: on 1 May 10:00 the cache holds 29 April
    // 00:00 to 13 May 00:00 (whole UTC days with a day of margin).
    let (who, profile) = caldav_account(api, server).await;
    let application = narrow_window(api, &who).await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    for (uid, summary, start, end) in [
        ("win-early", "Early", "20260430T090000Z", "20260430T100000Z"),
        ("win-soon", "Soon", "20260505T090000Z", "20260505T100000Z"),
        ("win-later", "Later", "20260520T090000Z", "20260520T100000Z"),
    ] {
        client.put(&href, &format!("{uid}.ics"), &event(uid, summary, start, end), Precondition::Create).await.unwrap();
    }
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    run_queued_jobs(api, &href).await;
    assert_eq!(cached(api, &calendar).await, vec![("Early".to_owned(), None), ("Soon".to_owned(), None)]);

    // Ten days later nothing changed on the server: a sync ends at the change marker and still
    // does not know "Later", which has entered the window (9 May to 23 May).
    api.clock.advance(Duration::days(10));
    let (_, report) = sync_calendar_reporting(&api.state, &calendar.id).await.unwrap();
    assert_eq!(report, SyncReport { unchanged: true, requests: 1, ..SyncReport::default() });

    // The advance lists the days that entered (13 to 23 May) in one request, and marks "Early"
    // and "Soon", which ended before 9 May, as having left it now.
    let advanced_at = api.now();
    let (outcome, report) = advance_window_reporting(&api.state, &calendar.id).await.unwrap();
    assert_eq!((outcome, report.changed, report.deleted, report.requests), (JobOutcome::Done, 1, 0, 1));
    let expected = vec![
        ("Early".to_owned(), Some(advanced_at)),
        ("Soon".to_owned(), Some(advanced_at)),
        ("Later".to_owned(), None),
    ];
    assert_eq!(cached(api, &calendar).await, expected);

    // Again, later the same day: the window has not moved, so nothing is listed or written, and
    // the first time an event left the window is the one kept.
    let before = snapshot(api, &calendar).await;
    api.clock.advance(Duration::hours(1));
    for _ in 0..3 {
        let (outcome, report) = advance_window_reporting(&api.state, &calendar.id).await.unwrap();
        assert_eq!((outcome, report.changed, report.deleted, report.requests), (JobOutcome::Done, 0, 0, 0));
    }
    let mut after = snapshot(api, &calendar).await;
    // Only the sync state's bookkeeping moved (last success).
    after.1 = before.1.clone();
    assert_eq!(after, before);

    // The application now keeps 30 days back: the window grows back over "Soon" and "Early",
    // which are unmarked; nothing is listed twice.
    let wide = ApplicationUpdate { sync_past_days: Some(30), ..ApplicationUpdate::default() };
    api.state.store.update_application(&application, &wide, api.now()).await.unwrap();
    let (_, report) = advance_window_reporting(&api.state, &calendar.id).await.unwrap();
    assert_eq!((report.changed, report.deleted, report.requests), (0, 0, 1));
    let back = vec![("Early".to_owned(), None), ("Soon".to_owned(), None), ("Later".to_owned(), None)];
    assert_eq!(cached(api, &calendar).await, back);
}

async fn the_scheduled_fan_outs_queue_one_job_per_live_calendar_and_polled_profile(api: &TestApi, server: Server) {
    let (who, profile) = caldav_account(api, server).await;
    let client = server.client();
    let href = fresh_calendar(server, &client).await;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, JobOutcome::Done);
    let calendar = stored_calendar(api, &who, &href).await;
    run_queued_jobs(api, &href).await;
    // Other tests' calendars on the shared server account are calendars of this profile too.
    let live: Vec<Calendar> =
        api.state.store.list_calendars(&who.account.id).await.unwrap().into_iter().filter(|c| !c.deleted).collect();
    assert!(live.iter().any(|c| c.id == calendar.id) && live.iter().any(|c| c.id == who.calendar.id));

    // A second account whose profile is disconnected: neither fan-out queues anything for it.
    let (other, gone) = caldav_account(api, server).await;
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: gone.id.clone() }).await, JobOutcome::Done);
    take_queued(api).await;
    api.state.store.set_profile_status(&gone.id, ProfileStatus::Disconnected, api.now()).await.unwrap();
    api.state.store.set_profile_status(&other.profile.id, ProfileStatus::Disconnected, api.now()).await.unwrap();

    assert_eq!(job(api, SyncJob::AdvanceWindows { after: None }).await, JobOutcome::Done);
    let mut queued = take_queued(api).await;
    let mut expected: Vec<SyncJob> =
        live.iter().map(|c| SyncJob::AdvanceWindow { calendar_id: c.id.clone() }).collect();
    let key = |job: &SyncJob| serde_json::to_string(job).unwrap();
    queued.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(queued, expected);

    // The poll reaches the profiles on a remote service only: the hosted one has nothing to poll.
    assert_eq!(job(api, SyncJob::PollProfiles { after: None }).await, JobOutcome::Done);
    assert_eq!(take_queued(api).await, vec![SyncJob::SyncCalendarList { profile_id: profile.id.clone() }]);
}

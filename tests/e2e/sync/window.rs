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

use super::{caldav_account, job, run_queued_jobs, snapshot, stored_calendar};

sync_on_both_backends_and_servers!(
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

async fn the_window_advance_lists_the_days_that_entered_the_window_and_marks_what_left_it(
    api: &TestApi,
    server: Server,
) {
    // An application that keeps 1 day back and 10 ahead: on 1 May 10:00 the cache holds 29 April
    // 00:00 to 13 May 00:00 (whole UTC days with a day of margin).
    let (who, profile) = caldav_account(api, server).await;
    let application = api.state.store.list_authorizations(&who.account.id).await.unwrap()[0].application_id.clone();
    let narrow =
        ApplicationUpdate { sync_past_days: Some(1), sync_future_days: Some(10), ..ApplicationUpdate::default() };
    api.state.store.update_application(&application, &narrow, api.now()).await.unwrap();
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
    drain(api).await;
    api.state.store.set_profile_status(&gone.id, ProfileStatus::Disconnected, api.now()).await.unwrap();
    api.state.store.set_profile_status(&other.profile.id, ProfileStatus::Disconnected, api.now()).await.unwrap();

    assert_eq!(job(api, SyncJob::AdvanceWindows { after: None }).await, JobOutcome::Done);
    let mut queued = drain(api).await;
    let mut expected: Vec<SyncJob> =
        live.iter().map(|c| SyncJob::AdvanceWindow { calendar_id: c.id.clone() }).collect();
    let key = |job: &SyncJob| serde_json::to_string(job).unwrap();
    queued.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(queued, expected);

    // The poll reaches the profiles on a remote service only: the hosted one has nothing to poll.
    assert_eq!(job(api, SyncJob::PollProfiles { after: None }).await, JobOutcome::Done);
    assert_eq!(drain(api).await, vec![SyncJob::SyncCalendarList { profile_id: profile.id.clone() }]);
}

/// Takes every job off the sync queue without running it.
async fn drain(api: &TestApi) -> Vec<SyncJob> {
    use calsync_core::adapters::QueueName;
    let mut jobs = Vec::new();
    loop {
        let messages = api.state.queue.receive(QueueName::Sync, 10, std::time::Duration::ZERO).await.unwrap();
        if messages.is_empty() {
            return jobs;
        }
        for message in messages {
            jobs.push(serde_json::from_str(&message.body).expect("a sync job"));
            api.state.queue.delete(QueueName::Sync, &message.receipt).await.unwrap();
        }
    }
}

//! Calendars calsync hosts run through the same jobs as remote ones, with no remote side: the
//! calendar list and calendar syncs change nothing and send nothing, a partner event's push is
//! recorded in place (once), and the window advance marks the events that left the window.

use calsync_core::domain::EventKind;
use calsync_core::jobs::{JobOutcome, SyncJob};
use calsync_core::sync::{SyncReport, advance_window_reporting, sync_calendar_reporting};
use calsync_tests::api::TestApi;
use chrono::Duration;
use serde_json::json;

use super::{job, snapshot};

mod on {
    #[tokio::test]
    async fn sqlite() {
        let api = calsync_tests::api::TestApi::new(calsync_tests::db::Backend::Sqlite).await;
        super::hosted_calendars_run_through_the_same_jobs_with_no_remote_side(&api).await;
        api.cleanup().await;
    }

    #[tokio::test]
    async fn postgres() {
        let api = calsync_tests::api::TestApi::new(calsync_tests::db::Backend::Postgres).await;
        super::hosted_calendars_run_through_the_same_jobs_with_no_remote_side(&api).await;
        api.cleanup().await;
    }
}

async fn hosted_calendars_run_through_the_same_jobs_with_no_remote_side(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let who = api.authorized(&app, "read_events create_event").await;
    let calendar = who.calendar.clone();
    let body = json!({"event_id": "review", "summary": "Review", "start": "2026-05-04T09:00:00Z", "end": "2026-05-04T10:00:00Z"});
    let (status, _) = api.post(&format!("/v1/calendars/{}/events", calendar.id), Some(&who.access_token), body).await;
    assert_eq!(status, 202);

    // The calendar list and the calendar sync change nothing, and reach no server.
    let before = snapshot(api, &calendar).await;
    let calendars = api.state.store.list_calendars(&who.account.id).await.unwrap();
    assert_eq!(job(api, SyncJob::SyncCalendarList { profile_id: who.profile.id.clone() }).await, JobOutcome::Done);
    assert_eq!(api.state.store.list_calendars(&who.account.id).await.unwrap(), calendars);
    let (outcome, first) = sync_calendar_reporting(&api.state, &calendar.id).await.unwrap();
    assert_eq!(outcome, JobOutcome::Done);
    assert_eq!((first.changed, first.deleted, first.requests), (0, 0, 0));
    let (_, second) = sync_calendar_reporting(&api.state, &calendar.id).await.unwrap();
    assert_eq!(second, SyncReport { unchanged: true, ..SyncReport::default() });
    assert_eq!(snapshot(api, &calendar).await.0, before.0);

    // A push of a hosted event is recorded in place, once.
    let event = before.0.into_iter().find(|e| e.kind == EventKind::Partner).expect("the partner event");
    let push = SyncJob::PushEvent { event_uid: event.uid.clone() };
    assert_eq!(job(api, push.clone()).await, JobOutcome::Done);
    assert_eq!(job(api, push).await, JobOutcome::Skipped("already pushed"));
    let pushed = api.state.store.get_event(&event.uid).await.unwrap().expect("the event");
    assert_eq!(pushed.last_modified, event.last_modified);

    // Sixty days later the event has left the window: the advance marks it.
    api.clock.advance(Duration::days(60));
    let (outcome, report) = advance_window_reporting(&api.state, &calendar.id).await.unwrap();
    assert_eq!((outcome, report.requests), (JobOutcome::Done, 0));
    let left = api.state.store.get_event(&event.uid).await.unwrap().expect("the event");
    assert_eq!(left.left_window_at, Some(api.now()));
}

//! Delivery: an endpoint that fails three times gets the notification exactly once, with
//! growing waits between attempts; a redelivered job sends nothing; an endpoint failing for a
//! day has its channel closed; a redirect is not followed; during a secret rotation both secrets
//! sign.

use calsync_core::apps;
use calsync_core::jobs::JobOutcome;
use calsync_core::store::Notification;
use calsync_tests::api::TestApi;
use calsync_tests::receiver::Receiver;
use chrono::Duration;
use serde_json::json;

use super::{deliver, deliver_queued, open_channel, sdks_accept};
use crate::api::api_on_both_backends;

api_on_both_backends!(
    an_endpoint_failing_three_times_gets_the_notification_exactly_once,
    an_endpoint_failing_for_a_day_has_its_channel_closed,
    a_redirect_is_not_followed,
    during_a_secret_rotation_both_secrets_sign,
    a_notification_whose_job_was_lost_is_requeued_by_the_poll,
);

/// The only notification of the account's only channel.
async fn only_notification(api: &TestApi, channel_id: &str) -> Notification {
    let id = calsync_core::domain::ChannelId::parse(channel_id).unwrap();
    let mut all = api.state.store.list_channel_notifications(&id).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

async fn an_endpoint_failing_three_times_gets_the_notification_exactly_once(api: &TestApi) {
    let (app, _) = api.application("Notified").await;
    let who = api.authorized(&app, "read_events").await;
    let receiver = Receiver::start(&[500, 500, 500]).await;
    let channel = open_channel(api, &who, &receiver.url, json!({})).await;
    let channel_id = channel["channel"]["channel_id"].as_str().unwrap();

    // The first attempt fails and schedules the next, about 30 seconds on.
    let outcomes: Vec<JobOutcome> = deliver_queued(api).await.into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes, vec![JobOutcome::Skipped("delivery failed; retry scheduled")]);
    let mut notification = only_notification(api, channel_id).await;
    let mut waits = Vec::new();
    for _ in 0..3 {
        let due = notification.next_attempt_at.expect("a next attempt");
        waits.push((due - api.now()).num_seconds());
        // A copy arriving early does nothing.
        assert_eq!(deliver(api, &notification.id).await, JobOutcome::Skipped("not due yet"));
        api.clock.advance(due - api.now());
        deliver(api, &notification.id).await;
        notification = only_notification(api, channel_id).await;
    }
    assert!(
        (22..=38).contains(&waits[0]) && (45..=75).contains(&waits[1]) && (90..=150).contains(&waits[2]),
        "{waits:?}"
    );

    // Delivered on the fourth attempt, once; the redelivered job sends nothing.
    let answered: Vec<u16> = receiver.received().iter().map(|r| r.answered).collect();
    assert_eq!(answered, vec![500, 500, 500, 200]);
    assert_eq!((notification.attempts, notification.last_status.as_deref()), (4, Some("200")));
    assert_eq!(notification.delivered_at, Some(api.now()));
    assert!(notification.last_latency_ms.is_some());
    assert_eq!(deliver(api, &notification.id).await, JobOutcome::Skipped("already delivered"));
    assert_eq!(receiver.received().len(), 4);
}

async fn an_endpoint_failing_for_a_day_has_its_channel_closed(api: &TestApi) {
    let (app, _) = api.application("Notified").await;
    let who = api.authorized(&app, "read_events").await;
    let receiver = Receiver::start(&[503; 64]).await;
    let channel = open_channel(api, &who, &receiver.url, json!({})).await;
    let channel_id = channel["channel"]["channel_id"].as_str().unwrap();
    deliver_queued(api).await;
    let notification = only_notification(api, channel_id).await;

    // Still retried just before the day is up; given up, and the channel closed, after it.
    api.clock.advance(Duration::hours(24) - Duration::seconds(1));
    assert_eq!(deliver(api, &notification.id).await, JobOutcome::Skipped("delivery failed; retry scheduled"));
    let due = only_notification(api, channel_id).await.next_attempt_at.expect("a next attempt");
    api.clock.advance(due - api.now());
    assert_eq!(deliver(api, &notification.id).await, JobOutcome::Skipped("delivery given up; channel closed"));
    let notification = only_notification(api, channel_id).await;
    assert_eq!((notification.attempts, notification.abandoned_at), (3, Some(api.now())));
    let id = calsync_core::domain::ChannelId::parse(channel_id).unwrap();
    let closed = api.state.store.get_channel(&id).await.unwrap().expect("the channel");
    assert_eq!(closed.closed_at, Some(api.now()));
    assert_eq!(
        api.state.store.channel_close_reason(&id).await.unwrap().as_deref(),
        Some("the callback endpoint kept failing for 24 hours")
    );
    assert_eq!(deliver(api, &notification.id).await, JobOutcome::Skipped("delivery was given up"));
    assert_eq!(receiver.received().len(), 3);
}

async fn a_redirect_is_not_followed(api: &TestApi) {
    let (app, _) = api.application("Notified").await;
    let who = api.authorized(&app, "read_events").await;
    let target = Receiver::start(&[]).await;
    let redirecting = Receiver::redirecting_to(&target.url).await;
    open_channel(api, &who, &redirecting.url, json!({})).await;
    let outcomes: Vec<JobOutcome> = deliver_queued(api).await.into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes, vec![JobOutcome::Skipped("delivery failed; retry scheduled")]);
    assert_eq!(redirecting.received().len(), 1);
    assert!(target.received().is_empty());
}

async fn during_a_secret_rotation_both_secrets_sign(api: &TestApi) {
    let (app, old) = api.application("Notified").await;
    let new = apps::rotate_secret(&api.state.store, &api.state.vault, &app.id, api.now()).await.unwrap();
    let who = api.authorized(&app, "read_events").await;
    let receiver = Receiver::start(&[]).await;
    open_channel(api, &who, &receiver.url, json!({})).await;
    deliver_queued(api).await;
    let received = &receiver.received()[0];
    let signature = received.signature.as_deref().expect("a signature");
    assert_eq!(signature.split(',').count(), 2, "{signature}");
    for secret in [&new, &old] {
        assert_eq!(sdks_accept(secret, signature, &received.body), (true, true));
    }
}

async fn a_notification_whose_job_was_lost_is_requeued_by_the_poll(api: &TestApi) {
    use calsync_core::adapters::QueueName;
    use calsync_core::jobs::{SyncJob, handle_sync_message};
    let (app, _) = api.application("Notified").await;
    let who = api.authorized(&app, "read_events").await;
    let receiver = Receiver::start(&[]).await;
    open_channel(api, &who, &receiver.url, json!({})).await;
    // The verification's job is lost.
    let lost = api.state.queue.receive(QueueName::Notify, 10, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(lost.len(), 1);
    api.state.queue.delete(QueueName::Notify, &lost[0].receipt).await.unwrap();

    // Within half an hour the poll leaves it alone (its job may only be slow); after that it
    // queues the job again, once.
    let poll = serde_json::to_string(&SyncJob::PollProfiles { after: None }).unwrap();
    api.clock.advance(Duration::minutes(29));
    assert_eq!(handle_sync_message(&api.state, &poll).await.unwrap(), JobOutcome::Done);
    assert!(deliver_queued(api).await.is_empty());
    api.clock.advance(Duration::minutes(2));
    assert_eq!(handle_sync_message(&api.state, &poll).await.unwrap(), JobOutcome::Done);
    let outcomes: Vec<JobOutcome> = deliver_queued(api).await.into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes, vec![JobOutcome::Done]);
    assert_eq!(handle_sync_message(&api.state, &poll).await.unwrap(), JobOutcome::Done);
    assert!(deliver_queued(api).await.is_empty());
    assert_eq!(receiver.received().len(), 1);
}

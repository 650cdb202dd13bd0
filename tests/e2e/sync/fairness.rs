//! Fairness to self-hosted calendar servers, on a CalDAV profile (Radicale): a job that finds
//! every slot at its server taken, or the minute's request budget spent, sends nothing to the
//! server and is queued again with a delay; a slot whose holder died is taken over once it
//! expires; the requests a job sent are counted against the server.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use calsync_core::AppState;
use calsync_core::adapters::queue::InProcessQueue;
use calsync_core::adapters::{Queue, QueueError, QueueName, ReceivedMessage};
use calsync_core::config::ServerBudget;
use calsync_core::jobs::{JobOutcome, SyncJob, handle_sync_message};
use calsync_tests::api::TestApi;
use calsync_tests::caldav::Server;
use chrono::{Duration, DurationRound};

use super::caldav_account;

const WAITING: JobOutcome = JobOutcome::Skipped("waiting for room at the calendar server; queued again");

/// A queue that remembers what was sent to it, with the delay asked for.
#[derive(Debug)]
struct RecordingQueue {
    inner: InProcessQueue,
    sent: Mutex<Vec<(String, Option<StdDuration>)>>,
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn send(&self, queue: QueueName, body: String, delay: Option<StdDuration>) -> Result<(), QueueError> {
        self.sent.lock().unwrap().push((body.clone(), delay));
        self.inner.send(queue, body, delay).await
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        wait: StdDuration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        self.inner.receive(queue, max, wait).await
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(queue, receipt).await
    }
}

fn budgeted(api: &TestApi, budget: ServerBudget, queue: Arc<RecordingQueue>) -> AppState {
    let mut config = (*api.state.config).clone();
    config.server_budget = budget;
    AppState { config: Arc::new(config), queue, ..api.state.clone() }
}

async fn run(state: &AppState, job: &SyncJob) -> JobOutcome {
    handle_sync_message(state, &serde_json::to_string(job).unwrap()).await.expect("the job is handled")
}

async fn a_busy_server_turns_jobs_away_until_a_slot_frees_and_its_budget_holds_for_the_minute(api: &TestApi) {
    let (who, profile) = caldav_account(api, Server::Radicale).await;
    calsync_tests::caldav::fresh_calendar(Server::Radicale, &Server::Radicale.client()).await;
    let server = "127.0.0.1";
    let queue = Arc::new(RecordingQueue { inner: InProcessQueue::new(), sent: Mutex::new(Vec::new()) });
    let state = budgeted(api, ServerBudget { concurrency: 1, requests_per_minute: 1_000 }, queue.clone());
    let list = SyncJob::SyncCalendarList { profile_id: profile.id.clone() };
    let calendars = || async {
        let all = api.state.store.list_calendars(&who.account.id).await.unwrap();
        all.into_iter().filter(|c| c.profile_id == profile.id).count()
    };

    // Another worker holds the server's only slot: the job waits, queued again with a delay.
    let now = api.now();
    assert_eq!(
        api.state.store.take_server_slot(server, 1, "other", now + Duration::minutes(2), now).await.unwrap(),
        Some(0)
    );
    assert_eq!(run(&state, &list).await, WAITING);
    assert_eq!(calendars().await, 0, "nothing was read from the server");
    let sent = queue.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(serde_json::from_str::<SyncJob>(&sent[0].0).unwrap(), list);
    let delay = sent[0].1.expect("a delay");
    assert!(delay >= StdDuration::from_secs(10) && delay <= StdDuration::from_secs(20), "{delay:?}");

    // The slot is given back: the job runs and its requests are counted against the server.
    api.state.store.release_server_slot(server, 0, "other").await.unwrap();
    let (outcome, report) = calsync_core::sync::sync_calendar_list_reporting(&state, &profile.id).await.unwrap();
    assert_eq!(outcome, JobOutcome::Done);
    assert!(calendars().await > 0);
    let minute = now.duration_trunc(Duration::minutes(1)).unwrap();
    let counted = api.state.store.server_requests(server, minute).await.unwrap();
    assert!(report.requests > 0);
    assert_eq!(counted, report.requests);
    // And the slot is free again.
    assert_eq!(
        api.state.store.take_server_slot(server, 1, "probe", now + Duration::minutes(2), now).await.unwrap(),
        Some(0)
    );
    api.state.store.release_server_slot(server, 0, "probe").await.unwrap();

    // The minute's budget is spent: the next job waits for the next minute.
    let state = budgeted(
        api,
        ServerBudget { concurrency: 1, requests_per_minute: u32::try_from(counted).unwrap() },
        queue.clone(),
    );
    assert_eq!(run(&state, &list).await, WAITING);
    let delay = queue.sent.lock().unwrap().last().unwrap().1.expect("a delay");
    let rest = (minute + Duration::minutes(1) - now).to_std().unwrap();
    assert!(delay >= rest && delay <= rest + StdDuration::from_secs(5), "{delay:?} for {rest:?}");
    api.clock.advance(Duration::minutes(1));
    let state = budgeted(
        api,
        ServerBudget { concurrency: 1, requests_per_minute: u32::try_from(counted).unwrap() },
        queue.clone(),
    );
    assert_eq!(run(&state, &list).await, JobOutcome::Done);

    // A slot whose holder died is taken over once its lease ends.
    let now = api.now();
    assert_eq!(
        api.state.store.take_server_slot(server, 1, "dead", now + Duration::minutes(2), now).await.unwrap(),
        Some(0)
    );
    let state = budgeted(api, ServerBudget { concurrency: 1, requests_per_minute: 1_000 }, queue.clone());
    assert_eq!(run(&state, &list).await, WAITING);
    api.clock.advance(Duration::minutes(3));
    let state = budgeted(api, ServerBudget { concurrency: 1, requests_per_minute: 1_000 }, queue.clone());
    assert_eq!(run(&state, &list).await, JobOutcome::Done);
}

async fn slots_are_taken_one_holder_each_up_to_the_limit(api: &TestApi) {
    let store = &api.state.store;
    let now = api.now();
    let until = now + Duration::minutes(2);
    assert_eq!(store.take_server_slot("mail.corp.example", 2, "a", until, now).await.unwrap(), Some(0));
    assert_eq!(store.take_server_slot("mail.corp.example", 2, "b", until, now).await.unwrap(), Some(1));
    assert_eq!(store.take_server_slot("mail.corp.example", 2, "c", until, now).await.unwrap(), None);
    assert_eq!(store.take_server_slot("dav.other.example", 2, "c", until, now).await.unwrap(), Some(0), "per server");
    // Only the holder gives a slot back.
    store.release_server_slot("mail.corp.example", 0, "c").await.unwrap();
    assert_eq!(store.take_server_slot("mail.corp.example", 2, "c", until, now).await.unwrap(), None);
    store.release_server_slot("mail.corp.example", 0, "a").await.unwrap();
    assert_eq!(store.take_server_slot("mail.corp.example", 2, "c", until, now).await.unwrap(), Some(0));
    // Expired slots go to whoever asks.
    let later = until + Duration::seconds(1);
    assert_eq!(
        store.take_server_slot("mail.corp.example", 2, "d", later + Duration::minutes(2), later).await.unwrap(),
        Some(0)
    );
}

use crate::api::api_on_both_backends as fairness_on_both_backends;

fairness_on_both_backends!(
    a_busy_server_turns_jobs_away_until_a_slot_frees_and_its_budget_holds_for_the_minute,
    slots_are_taken_one_holder_each_up_to_the_limit,
);

//! What `calsync serve` runs beside the API: the sync and notify workers on the in-process
//! queue, the retention and backup schedules, and the schedules that queue the calendar poll and
//! the daily window advance, each as a task that stops on shutdown.
//!
//! The workers follow the SQS contract the Lambda functions have: a message is deleted after it
//! was handled or found to be poison, and left for redelivery after a retryable failure.

use std::time::Duration;

use tokio::{sync::watch, task::JoinSet};

use crate::{
    adapters::QueueName,
    backup::{self, BackupInput, LogProgress},
    jobs::{self, JobError, SyncJob},
    retention::{self, RetentionInput},
    state::AppState,
};

/// How long a scheduled run may take locally before it stops and leaves the rest to the next one.
const RUN_BUDGET: chrono::Duration = chrono::Duration::minutes(5);

/// How often remote calendars are polled for changes (CalDAV has no push).
const POLL_EVERY: Duration = Duration::from_secs(15 * 60);
/// How often the sync window moves.
const ADVANCE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Starts the workers and schedules; they run until `shutdown` turns true.
pub fn spawn_background(state: &AppState, shutdown: watch::Receiver<bool>) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    tasks.spawn(worker(state.clone(), QueueName::Sync, shutdown.clone()));
    tasks.spawn(worker(state.clone(), QueueName::Notify, shutdown.clone()));
    tasks.spawn(schedule(state.clone(), "retention", Duration::from_secs(3600), shutdown.clone()));
    tasks.spawn(schedule(state.clone(), "backup", Duration::from_secs(24 * 3600), shutdown.clone()));
    tasks.spawn(enqueue(state.clone(), SyncJob::PollProfiles { after: None }, POLL_EVERY, shutdown.clone()));
    tasks.spawn(enqueue(state.clone(), SyncJob::AdvanceWindows { after: None }, ADVANCE_EVERY, shutdown));
    tasks
}

async fn worker(state: AppState, queue: QueueName, mut shutdown: watch::Receiver<bool>) {
    loop {
        let received = tokio::select! {
            _ = shutdown.changed() => return,
            r = state.queue.receive(queue, 10, Duration::from_secs(5)) => r,
        };
        let messages = match received {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error.message = %e, error.cause_chain = ?e, ?queue, "receiving from the local queue");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for message in messages {
            let result = match queue {
                QueueName::Sync => jobs::handle_sync_message(&state, &message.body).await,
                QueueName::Notify => jobs::handle_notify_message(&state, &message.body).await,
            };
            let acknowledge = match result {
                Ok(outcome) => {
                    tracing::debug!(message_id = %message.message_id, ?outcome, "job handled");
                    true
                }
                Err(JobError::Poison(reason)) => {
                    tracing::warn!(message_id = %message.message_id, reason, "poison message dropped");
                    true
                }
                Err(e @ JobError::Retryable(_)) => {
                    tracing::warn!(message_id = %message.message_id, error.message = %e, error.cause_chain = ?e, "job failed; will retry");
                    false
                }
            };
            if acknowledge {
                if let Err(e) = state.queue.delete(queue, &message.receipt).await {
                    tracing::error!(error.message = %e, "acknowledging a local message");
                }
            }
        }
    }
}

async fn schedule(state: AppState, job: &'static str, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let deadline = state.clock.now() + RUN_BUDGET;
        let result = match job {
            "retention" => {
                retention::run(&state, &RetentionInput::default(), deadline).await.map(|r| serde_json::to_value(r).ok())
            }
            _ => backup::run(&state, &BackupInput::default(), &LogProgress::default(), deadline)
                .await
                .map(|r| serde_json::to_value(r).ok()),
        };
        match result {
            Ok(report) => tracing::info!(job, report = %report.unwrap_or_default(), "scheduled run finished"),
            Err(e) => tracing::error!(job, error.message = %e, error.cause_chain = ?e, "scheduled run failed"),
        }
    }
}

/// Sends `job` to the sync queue every `every`, as the production scheduler does.
async fn enqueue(state: AppState, job: SyncJob, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    let body = match serde_json::to_string(&job) {
        Ok(body) => body,
        Err(e) => return tracing::error!(error.message = %e, "encoding a scheduled job"),
    };
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = state.queue.send(QueueName::Sync, body.clone(), None).await {
            tracing::error!(error.message = %e, error.cause_chain = ?e, "queueing a scheduled job");
        }
    }
}

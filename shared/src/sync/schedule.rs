//! The scheduled fan-outs, each one message sent by the scheduler to the sync queue:
//!
//! - `PollProfiles` (every 15 minutes): CalDAV and iCloud have no push, so every connected
//!   profile on a remote service gets a `SyncCalendarList`, which queues a `SyncCalendar` for
//!   each calendar whose change marker moved. The first page also requeues push notifications
//!   whose delivery job was lost.
//! - `AdvanceWindows` (daily): every live calendar gets an `AdvanceWindow`, which lists the days
//!   that newly entered its window and marks the events that left it.
//!
//! Each walks its rows a page at a time and queues itself for the next page, so no message does
//! unbounded work, and delays each job by a random part of `job_spread` (up to SQS's 15 minutes),
//! so the providers see the work spread out rather than all at once (providers.md §2.5).

use std::time::Duration;

use crate::adapters::QueueName;
use crate::domain::{CalendarId, ProfileId};
use crate::jobs::{JobError, JobOutcome, SyncJob};
use crate::state::AppState;

/// Rows one fan-out message queues jobs for.
pub const PAGE: usize = 500;

/// Queues a calendar list sync for each polled profile after `after`, one page, and the next page.
#[tracing::instrument(skip_all)]
pub async fn poll_profiles(state: &AppState, after: Option<&ProfileId>) -> Result<JobOutcome, JobError> {
    if after.is_none() {
        // Once per poll, not per page: pick up push notifications whose delivery job was lost.
        crate::notify::requeue_stranded(state).await?;
    }
    let page = state.store.polled_profile_ids(after, PAGE as i64).await?;
    for profile_id in &page {
        send(state, &SyncJob::SyncCalendarList { profile_id: profile_id.clone() }, spread(state)).await?;
    }
    if page.len() == PAGE {
        send(state, &SyncJob::PollProfiles { after: page.last().cloned() }, None).await?;
    }
    tracing::info!(profiles = page.len(), "profile polls queued");
    Ok(JobOutcome::Done)
}

/// Queues the window advance of the live calendars after `after`, one page, and the next page.
#[tracing::instrument(skip_all)]
pub async fn advance_windows(state: &AppState, after: Option<&CalendarId>) -> Result<JobOutcome, JobError> {
    let page = state.store.live_calendar_ids(after, PAGE as i64).await?;
    for calendar_id in &page {
        send(state, &SyncJob::AdvanceWindow { calendar_id: calendar_id.clone() }, spread(state)).await?;
    }
    if page.len() == PAGE {
        send(state, &SyncJob::AdvanceWindows { after: page.last().cloned() }, None).await?;
    }
    tracing::info!(calendars = page.len(), "window advances queued");
    Ok(JobOutcome::Done)
}

/// A random delay within the configured spread.
fn spread(state: &AppState) -> Option<Duration> {
    let spread = state.config.job_spread.as_secs();
    (spread > 0).then(|| Duration::from_secs(rand::random::<u64>() % spread))
}

async fn send(state: &AppState, job: &SyncJob, delay: Option<Duration>) -> Result<(), JobError> {
    let body = serde_json::to_string(job).map_err(|e| JobError::Retryable(e.into()))?;
    state.queue.send(QueueName::Sync, body, delay).await.map_err(|e| JobError::Retryable(e.into()))
}

//! The daily window advance, fanned out: one `AdvanceWindows` message (sent by the scheduler)
//! walks the live calendars a page at a time and queues an `AdvanceWindow` job for each, then
//! queues itself for the next page, so no single message does unbounded work. Each calendar's
//! job is delayed by a random part of SQS's 15-minute limit, so a day's advances reach the
//! providers spread out rather than all at once (providers.md §2.5: never a midnight full sync).

use std::time::Duration;

use crate::adapters::QueueName;
use crate::domain::CalendarId;
use crate::jobs::{JobError, JobOutcome, SyncJob};
use crate::state::AppState;

/// Calendars queued by one `AdvanceWindows` message.
pub const PAGE: i64 = 500;
/// The longest delay SQS allows on a message.
const MAX_SPREAD_SECS: u64 = 15 * 60;

/// Queues the window advance of the live calendars after `after`, one page, and the next page.
#[tracing::instrument(skip_all)]
pub async fn advance_windows(state: &AppState, after: Option<&CalendarId>) -> Result<JobOutcome, JobError> {
    let page = state.store.live_calendar_ids(after, PAGE).await?;
    for calendar_id in &page {
        let delay = Duration::from_secs(rand::random::<u64>() % MAX_SPREAD_SECS);
        send(state, &SyncJob::AdvanceWindow { calendar_id: calendar_id.clone() }, Some(delay)).await?;
    }
    if usize::try_from(PAGE).is_ok_and(|page_size| page.len() == page_size) {
        let next = SyncJob::AdvanceWindows { after: page.last().cloned() };
        send(state, &next, None).await?;
    }
    tracing::info!(calendars = page.len(), "window advances queued");
    Ok(JobOutcome::Done)
}

async fn send(state: &AppState, job: &SyncJob, delay: Option<Duration>) -> Result<(), JobError> {
    let body = serde_json::to_string(job).map_err(|e| JobError::Retryable(e.into()))?;
    state.queue.send(QueueName::Sync, body, delay).await.map_err(|e| JobError::Retryable(e.into()))
}

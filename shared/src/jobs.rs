//! Messages on the sync and notify queues, and the per-message handlers the SQS functions and
//! the local workers call.
//!
//! Delivery is at-least-once, so every handler is idempotent: a job for a row that no longer
//! exists (erased, purged) is acknowledged and does nothing.

use serde::{Deserialize, Serialize};

use crate::{
    authorization::service_accounts::{self, MailboxRequest},
    domain::{CalendarId, EventUid, ProfileId},
    notify,
    state::AppState,
    sync,
};

/// A job on the sync queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SyncJob {
    SyncCalendarList {
        profile_id: ProfileId,
    },
    SyncCalendar {
        calendar_id: CalendarId,
    },
    PushEvent {
        event_uid: EventUid,
    },
    AdvanceWindow {
        calendar_id: CalendarId,
    },
    /// The daily fan-out (sent by the scheduler): queue an `AdvanceWindow` for every live
    /// calendar after `after`, a page at a time.
    AdvanceWindows {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<CalendarId>,
    },
    /// The periodic poll (sent by the scheduler): queue a `SyncCalendarList` for every connected
    /// profile on a remote service after `after`, a page at a time.
    PollProfiles {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<ProfileId>,
    },
    /// Authorize one mailbox through a service account and call the application back
    /// (`POST /v1/service_account_authorizations`).
    AuthorizeMailbox(MailboxRequest),
}

/// A job on the notify queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NotifyJob {
    /// Deliver one stored notification to its channel (the row says what and where).
    Deliver { notification_id: String },
}

/// What happened to a message that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    /// Nothing to do (the target is gone, or no adapter handles it yet); acknowledged.
    Skipped(&'static str),
}

/// Why a message failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The message can never succeed (not JSON, unknown type, too large): acknowledge it and
    /// log the reason instead of retrying it until it lands in the DLQ.
    #[error("poison message: {0}")]
    Poison(String),
    /// A temporary failure (database, provider throttling): report it so SQS redelivers.
    #[error("retryable failure")]
    Retryable(#[from] anyhow::Error),
}

impl From<crate::store::StoreError> for JobError {
    fn from(e: crate::store::StoreError) -> Self {
        JobError::Retryable(e.into())
    }
}

/// Largest message body accepted; larger ones are poison.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, JobError> {
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(JobError::Poison(format!("body of {} bytes is over the limit", body.len())));
    }
    // serde's message names the problem (unknown variant, missing field) without echoing the body.
    serde_json::from_str(body).map_err(|e| JobError::Poison(format!("not a job: {e}")))
}

/// Handles one message from the sync queue.
#[tracing::instrument(name = "sync job", skip_all)]
pub async fn handle_sync_message(state: &AppState, body: &str) -> Result<JobOutcome, JobError> {
    let job: SyncJob = parse(body)?;
    tracing::info!(job = ?job, "sync job received");
    match job {
        SyncJob::SyncCalendarList { profile_id } => {
            let Some(profile) = state.store.get_profile(&profile_id).await? else {
                return Ok(JobOutcome::Skipped("profile no longer exists"));
            };
            if sync::handles(profile.provider) {
                return sync::sync_calendar_list(state, &profile_id).await;
            }
        }
        SyncJob::SyncCalendar { calendar_id } => {
            if calendar_handled(state, &calendar_id).await? {
                return sync::sync_calendar(state, &calendar_id).await;
            }
        }
        SyncJob::AdvanceWindow { calendar_id } => {
            if calendar_handled(state, &calendar_id).await? {
                return sync::advance_window(state, &calendar_id).await;
            }
        }
        SyncJob::AdvanceWindows { after } => return sync::advance_windows(state, after.as_ref()).await,
        SyncJob::PollProfiles { after } => return sync::poll_profiles(state, after.as_ref()).await,
        SyncJob::AuthorizeMailbox(request) => return service_accounts::authorize_mailbox(state, &request).await,
        SyncJob::PushEvent { event_uid } => {
            let Some(event) = state.store.get_event(&event_uid).await? else {
                return Ok(JobOutcome::Skipped("event no longer exists"));
            };
            if calendar_handled(state, &event.calendar_id).await? {
                return sync::push_event(state, &event_uid).await;
            }
        }
    }
    // Providers without an adapter yet are acknowledged so their jobs do not cycle through the DLQ.
    Ok(JobOutcome::Skipped("no provider adapter is configured for this profile"))
}

/// Whether the calendar exists on a profile the engine has an adapter for; a calendar that no
/// longer exists is handled (the job acknowledges it as gone).
async fn calendar_handled(state: &AppState, calendar_id: &CalendarId) -> Result<bool, JobError> {
    let Some(calendar) = state.store.get_calendar(calendar_id).await? else { return Ok(true) };
    let profile = state.store.get_profile(&calendar.profile_id).await?;
    Ok(profile.is_none_or(|p| sync::handles(p.provider)))
}

/// Handles one message from the notify queue.
#[tracing::instrument(name = "notify job", skip_all)]
pub async fn handle_notify_message(state: &AppState, body: &str) -> Result<JobOutcome, JobError> {
    let job: NotifyJob = parse(body)?;
    match job {
        NotifyJob::Deliver { notification_id } => notify::deliver(state, &notification_id).await,
    }
}

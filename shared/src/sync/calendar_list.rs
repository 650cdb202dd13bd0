//! Refreshing a profile's calendar list: new calendars are added, changed ones updated, ones
//! gone from the service marked deleted, and a `SyncCalendar` job is queued for each live one.

use std::collections::HashSet;

use super::connect::{Failure, conclude, connect};
use crate::adapters::QueueName;
use crate::domain::{Calendar, CalendarId, ProfileId, ProfileStatus};
use crate::jobs::{JobError, JobOutcome, SyncJob};
use crate::state::AppState;

/// Refreshes a profile's calendars; see the module doc.
#[tracing::instrument(skip_all, fields(profile_id = %profile_id))]
pub async fn sync_calendar_list(state: &AppState, profile_id: &ProfileId) -> Result<JobOutcome, JobError> {
    let Some(profile) = state.store.get_profile(profile_id).await? else {
        return Ok(JobOutcome::Skipped("profile no longer exists"));
    };
    if profile.status == ProfileStatus::Disconnected {
        return Ok(JobOutcome::Skipped("the profile is disconnected"));
    }
    let remote = match connect(state, &profile).await {
        Ok(provider) => provider.list_calendars().await.map_err(Failure::from),
        Err(failure) => Err(failure),
    };
    let remote = match remote {
        Ok(remote) => remote,
        Err(failure) => return conclude(state, &profile, None, failure).await,
    };
    let now = state.clock.now();
    let known: Vec<Calendar> = state
        .store
        .list_calendars(&profile.account_id)
        .await?
        .into_iter()
        .filter(|c| c.profile_id == profile.id)
        .collect();
    let mut seen = HashSet::new();
    for calendar in remote {
        seen.insert(calendar.remote_id.clone());
        let existing = known.iter().find(|c| c.provider_calendar_id == calendar.remote_id);
        let wanted = Calendar {
            id: existing.map_or_else(CalendarId::generate, |c| c.id.clone()),
            profile_id: profile.id.clone(),
            account_id: profile.account_id.clone(),
            provider_calendar_id: calendar.remote_id,
            name: calendar.name,
            is_primary: calendar.is_primary,
            read_only: calendar.read_only,
            deleted: false,
            color: calendar.color,
            created_at: existing.map_or(now, |c| c.created_at),
            updated_at: existing.map_or(now, |c| c.updated_at),
        };
        let stored = match existing {
            Some(c) if *c == wanted => c.clone(),
            _ => state.store.upsert_calendar(&Calendar { updated_at: now, ..wanted }).await?,
        };
        let job = serde_json::to_string(&SyncJob::SyncCalendar { calendar_id: stored.id })
            .map_err(|e| JobError::Retryable(e.into()))?;
        state.queue.send(QueueName::Sync, job, None).await.map_err(|e| JobError::Retryable(e.into()))?;
    }
    for gone in known.into_iter().filter(|c| !c.deleted && !seen.contains(&c.provider_calendar_id)) {
        state.store.upsert_calendar(&Calendar { deleted: true, updated_at: now, ..gone }).await?;
    }
    Ok(JobOutcome::Done)
}

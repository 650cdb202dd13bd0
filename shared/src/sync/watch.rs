//! Push channels for calendars whose service has push (Google `events.watch`, Graph
//! subscriptions): one is opened after a calendar syncs, renewed when less than a day of its life
//! is left (the new channel overlaps the old, which is then stopped), and answered by
//! `POST /push/google` or `POST /push/microsoft/{channel}`, which queue a sync of the calendar.
//! Graph's lifecycle notifications (`/push/microsoft/{channel}/lifecycle`) that ask for
//! reauthorization or report the subscription removed expire the channel, so the sync they
//! queue replaces it. Push is only a hint (providers.md §1.4): the periodic calendar-list poll
//! still syncs a watched calendar when its last sync is an hour old.

use chrono::Duration;

use super::provider::CalendarProvider;
use crate::adapters::QueueName;
use crate::crypto::{constant_time_eq, token_hash};
use crate::domain::{Calendar, random_token};
use crate::jobs::SyncJob;
use crate::state::AppState;
use crate::store::{ProviderWatch, StoreError};

/// Where providers deliver push notifications.
pub const GOOGLE_PUSH_PATH: &str = "/push/google";
/// Where Graph delivers change notifications (`/{channel}`) and lifecycle notifications
/// (`/{channel}/lifecycle`).
pub const MICROSOFT_PUSH_PATH: &str = "/push/microsoft";
/// A channel with less life than this left is replaced.
pub const RENEW_BEFORE: Duration = Duration::hours(24);
/// A watched calendar not synced for this long is synced by the poll anyway.
pub const SAFETY_POLL: Duration = Duration::hours(1);

/// Opens or renews the calendar's channel; failures are logged and left to the next sync, since
/// the poll covers a calendar without push.
pub(super) async fn ensure(state: &AppState, provider: &dyn CalendarProvider, calendar: &Calendar) {
    let Some(path) = provider.push_path() else { return };
    if let Err(e) = ensure_inner(state, provider, calendar, path).await {
        tracing::warn!(calendar_id = %calendar.id, error.message = %e, "the calendar's push channel could not be opened");
    }
}

async fn ensure_inner(
    state: &AppState,
    provider: &dyn CalendarProvider,
    calendar: &Calendar,
    path: &str,
) -> Result<(), anyhow::Error> {
    let now = state.clock.now();
    let existing = state.store.watches_of_calendar(&calendar.id).await?;
    if existing.first().is_some_and(|w| w.expires_at - now > RENEW_BEFORE) {
        return Ok(());
    }
    let channel_id = random_token(40);
    let token = random_token(40);
    let address = format!("{}{path}", state.config.public_url);
    let Some(opened) = provider.watch(&calendar.provider_calendar_id, &address, &channel_id, &token).await? else {
        return Ok(());
    };
    state
        .store
        .put_watch(&ProviderWatch {
            channel_id,
            calendar_id: calendar.id.clone(),
            account_id: calendar.account_id.clone(),
            resource_id: opened.resource_id,
            token_hash: token_hash(&token),
            expires_at: opened.expires_at,
            created_at: now,
            last_notified_at: None,
        })
        .await?;
    for old in existing {
        if let Err(e) = provider.unwatch(&old.channel_id, &old.resource_id).await {
            // It expires on its own; its notifications find no channel and are ignored.
            tracing::warn!(error = %e, "an old push channel could not be stopped");
        }
        state.store.delete_watch(&old.channel_id).await?;
    }
    Ok(())
}

/// Whether the calendar has a live channel and synced within the safety-poll interval, so the
/// poll may leave it to push.
pub(super) async fn left_to_push(state: &AppState, calendar: &Calendar) -> Result<bool, StoreError> {
    let now = state.clock.now();
    let live = state.store.watches_of_calendar(&calendar.id).await?.into_iter().any(|w| w.expires_at > now);
    if !live {
        return Ok(false);
    }
    let sync = state.store.get_sync_state(&calendar.id).await?;
    Ok(sync.is_some_and(|s| s.last_error.is_none() && s.last_success_at.is_some_and(|at| now - at < SAFETY_POLL)))
}

/// What a push notification led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// A sync of the calendar was queued.
    Queued,
    /// The channel's first message (`sync`), or a channel calsync no longer holds: nothing to do.
    Ignored,
    /// The token does not match the channel's.
    Refused,
}

/// Handles one Google notification: channel id, the token it echoes, and Google's resource state.
pub async fn notified(
    state: &AppState,
    channel_id: &str,
    token: Option<&str>,
    resource_state: &str,
) -> Result<Pushed, anyhow::Error> {
    let Some(watch) = state.store.watch_by_channel(channel_id).await? else {
        return Ok(Pushed::Ignored);
    };
    if !token.is_some_and(|t| constant_time_eq(&token_hash(t), &watch.token_hash)) {
        return Ok(Pushed::Refused);
    }
    if resource_state == "sync" {
        return Ok(Pushed::Ignored);
    }
    queue_sync(state, &watch).await
}

/// What a Graph lifecycle notification asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// The subscription needs new authorization or it stops: replace it now.
    ReauthorizationRequired,
    /// Graph dropped the subscription: open a new one and catch up on what was missed.
    SubscriptionRemoved,
    /// Notifications were lost: catch up.
    Missed,
}

impl Lifecycle {
    pub fn parse(event: &str) -> Option<Self> {
        match event {
            "reauthorizationRequired" => Some(Self::ReauthorizationRequired),
            "subscriptionRemoved" => Some(Self::SubscriptionRemoved),
            "missed" => Some(Self::Missed),
            _ => None,
        }
    }
}

/// Handles one item of a Graph notification delivered to the channel's URL: the subscription it
/// names must be the channel's, and its `clientState` the channel's token. A change queues a
/// sync; a lifecycle event also marks the subscription for replacement when Graph asks for that
/// or dropped it, so the sync opens a new one (the delta feed covers whatever was missed).
pub async fn graph_notified(
    state: &AppState,
    channel_id: &str,
    subscription_id: &str,
    client_state: Option<&str>,
    lifecycle: Option<Lifecycle>,
) -> Result<Pushed, anyhow::Error> {
    let Some(watch) = state.store.watch_by_channel(channel_id).await? else {
        return Ok(Pushed::Ignored);
    };
    if !client_state.is_some_and(|t| constant_time_eq(&token_hash(t), &watch.token_hash)) {
        return Ok(Pushed::Refused);
    }
    if !constant_time_eq(subscription_id, &watch.resource_id) {
        // A subscription this channel replaced, still delivering until it is deleted.
        return Ok(Pushed::Ignored);
    }
    if matches!(lifecycle, Some(Lifecycle::ReauthorizationRequired | Lifecycle::SubscriptionRemoved)) {
        state.store.expire_watch(channel_id, state.clock.now()).await?;
    }
    queue_sync(state, &watch).await
}

async fn queue_sync(state: &AppState, watch: &ProviderWatch) -> Result<Pushed, anyhow::Error> {
    state.store.touch_watch(&watch.channel_id, state.clock.now()).await?;
    let job = serde_json::to_string(&SyncJob::SyncCalendar { calendar_id: watch.calendar_id.clone() })?;
    state.queue.send(QueueName::Sync, job, None).await?;
    Ok(Pushed::Queued)
}

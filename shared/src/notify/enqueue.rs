//! Deciding who is told what: a notification row per interested channel, then a `Deliver` job
//! for it on the notify queue.
//!
//! Changes come only from syncs, never from an application's own API writes, so an application
//! is not notified of what it did itself. A sync that changed many events gives each interested
//! channel one `change` notification. A channel hears about a calendar when it has no
//! `calendar_ids` filter or its filter names the calendar; an `only_managed` channel hears only
//! about changes to its own application's events.

use std::collections::HashSet;

use chrono::{DateTime, DurationRound, Utc};

use super::payload::Kind;
use crate::adapters::QueueName;
use crate::domain::{AccountId, ApplicationId, Calendar, Channel};
use crate::jobs::NotifyJob;
use crate::state::AppState;
use crate::store::Notification;

/// What one sync changed in one calendar, as channels filter it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// Events that originate in the calendar service.
    pub third_party: bool,
    /// Applications whose own (partner) events changed at the provider.
    pub managed_by: HashSet<ApplicationId>,
}

impl Changed {
    pub fn is_empty(&self) -> bool {
        !self.third_party && self.managed_by.is_empty()
    }

    fn concerns(&self, channel: &Channel, calendar: &Calendar) -> bool {
        let calendar_wanted = channel.filters.calendar_ids.as_ref().is_none_or(|ids| ids.contains(&calendar.id));
        let managed_only = channel.filters.only_managed == Some(true);
        calendar_wanted && (self.managed_by.contains(&channel.application_id) || (!managed_only && self.third_party))
    }
}

/// The `changes_since` for changes written at `written`: the whole second before it, so the
/// read back (`last_modified` strictly after it) includes them whatever their sub-second part.
pub fn changes_since(written: DateTime<Utc>) -> DateTime<Utc> {
    let second = chrono::Duration::seconds(1);
    written.duration_trunc(second).unwrap_or(written) - second
}

/// Tells each interested channel of the calendar's account that the sync at `written` changed
/// events.
pub async fn changes(
    state: &AppState,
    calendar: &Calendar,
    changed: &Changed,
    written: DateTime<Utc>,
) -> anyhow::Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let kind = Kind::Change { changes_since: changes_since(written) };
    for channel in state.store.list_account_channels(&calendar.account_id).await? {
        if changed.concerns(&channel, calendar) {
            send(state, &channel, kind).await?;
        }
    }
    Ok(())
}

/// Tells every channel over the account `kind` (a profile was disconnected, or finished its
/// first sync).
pub async fn account_event(state: &AppState, account: &AccountId, kind: Kind) -> anyhow::Result<()> {
    for channel in state.store.list_account_channels(account).await? {
        send(state, &channel, kind).await?;
    }
    Ok(())
}

/// Stores a notification of `kind` for `channel` and queues its delivery.
pub async fn send(state: &AppState, channel: &Channel, kind: Kind) -> anyhow::Result<()> {
    let notification = Notification {
        id: format!("ntf_{}", crate::domain::random_token(26).to_ascii_lowercase()),
        channel_id: channel.id.clone(),
        application_id: channel.application_id.clone(),
        account_id: channel.account_id.clone(),
        kind: kind.name().to_owned(),
        changes_since: kind.changes_since(),
        created_at: state.clock.now(),
        attempts: 0,
        last_attempt_at: None,
        last_status: None,
        last_latency_ms: None,
        next_attempt_at: None,
        delivered_at: None,
        abandoned_at: None,
    };
    state.store.create_notification(&notification).await?;
    let job = serde_json::to_string(&NotifyJob::Deliver { notification_id: notification.id })?;
    state.queue.send(QueueName::Notify, job, None).await?;
    Ok(())
}

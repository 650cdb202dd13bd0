//! Deciding who is told what: a notification row per interested channel, then a `Deliver` job
//! for it on the notify queue.
//!
//! Changes come from syncs, and from API writes, which other applications on the account see as
//! external events; an application is never notified of what it did itself. A sync or request
//! that changed many events gives each interested channel one `change` notification. A channel hears about a calendar when it has no
//! `calendar_ids` filter or its filter names the calendar; an `only_managed` channel hears only
//! about changes to its own application's events.

use std::collections::HashSet;

use chrono::{DateTime, DurationRound, Utc};

use super::payload::Kind;
use crate::adapters::QueueName;
use crate::domain::{AccountId, ApplicationId, CalendarId, Channel};
use crate::jobs::NotifyJob;
use crate::state::AppState;
use crate::store::Notification;

/// What one sync or request changed, as channels filter it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// Events that are not the notified application's own: from the calendar service, or
    /// written by another application.
    pub third_party: bool,
    /// Applications whose own (partner) events changed at the provider.
    pub managed_by: HashSet<ApplicationId>,
    /// The application that made the change through the API, whose channels are not told.
    pub written_by: Option<ApplicationId>,
}

impl Changed {
    pub fn is_empty(&self) -> bool {
        !self.third_party && self.managed_by.is_empty()
    }

    fn concerns(&self, channel: &Channel, calendars: &[CalendarId]) -> bool {
        let calendar_wanted =
            channel.filters.calendar_ids.as_ref().is_none_or(|ids| calendars.iter().any(|c| ids.contains(c)));
        let managed_only = channel.filters.only_managed == Some(true);
        self.written_by.as_ref() != Some(&channel.application_id)
            && calendar_wanted
            && (self.managed_by.contains(&channel.application_id) || (!managed_only && self.third_party))
    }
}

/// The `changes_since` for changes written at `written`: the whole second before it, so the
/// read back (`last_modified` strictly after it) includes them whatever their sub-second part.
pub fn changes_since(written: DateTime<Utc>) -> DateTime<Utc> {
    let second = chrono::Duration::seconds(1);
    written.duration_trunc(second).unwrap_or(written) - second
}

/// Tells each interested channel of `account` that the sync or request at `written` changed
/// events of `calendars`.
pub async fn changes(
    state: &AppState,
    account: &AccountId,
    calendars: &[CalendarId],
    changed: &Changed,
    written: DateTime<Utc>,
) -> anyhow::Result<()> {
    if changed.is_empty() || calendars.is_empty() {
        return Ok(());
    }
    let kind = Kind::Change { changes_since: changes_since(written) };
    for channel in state.store.list_account_channels(account).await? {
        if changed.concerns(&channel, calendars) {
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
        channel_id: Some(channel.id.clone()),
        account_id: Some(channel.account_id.clone()),
        changes_since: kind.changes_since(),
        ..new_notification(state, &channel.application_id, kind)
    };
    state.store.create_notification(&notification).await?;
    queue(state, &notification.id).await
}

/// A Smart Invite callback about the recipient row with `reply_token`, to `callback_url`, saying
/// `body`; the caller stores it (with the reply, in one transaction) and then [`queue`]s it.
pub fn smart_invite_callback(
    state: &AppState,
    application: &ApplicationId,
    reply_token: &str,
    callback_url: &str,
    body: String,
) -> Notification {
    Notification {
        smart_invite_token: Some(reply_token.to_owned()),
        callback_url: Some(callback_url.to_owned()),
        body: Some(body),
        ..new_notification(state, application, Kind::SmartInvite)
    }
}

/// Queues the delivery of stored notification `id`.
pub async fn queue(state: &AppState, id: &str) -> anyhow::Result<()> {
    let job = serde_json::to_string(&NotifyJob::Deliver { notification_id: id.to_owned() })?;
    state.queue.send(QueueName::Notify, job, None).await?;
    Ok(())
}

fn new_notification(state: &AppState, application: &ApplicationId, kind: Kind) -> Notification {
    Notification {
        id: format!("ntf_{}", crate::domain::random_token(26).to_ascii_lowercase()),
        channel_id: None,
        application_id: application.clone(),
        account_id: None,
        kind: kind.name().to_owned(),
        changes_since: None,
        created_at: state.clock.now(),
        attempts: 0,
        last_attempt_at: None,
        last_status: None,
        last_latency_ms: None,
        next_attempt_at: None,
        delivered_at: None,
        abandoned_at: None,
        smart_invite_token: None,
        callback_url: None,
        body: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChannelFilters, ChannelId};

    fn channel(application: &ApplicationId, filters: ChannelFilters) -> Channel {
        Channel {
            id: ChannelId::generate(),
            application_id: application.clone(),
            account_id: AccountId::generate(),
            callback_url: "https://hooks.example/".into(),
            filters,
            created_at: DateTime::UNIX_EPOCH,
            closed_at: None,
        }
    }

    #[test]
    fn channels_hear_of_their_calendars_their_own_events_and_never_their_own_writes() {
        let (mine, theirs) = (ApplicationId::generate(), ApplicationId::generate());
        let (work, home) = (CalendarId::generate(), CalendarId::generate());
        let everything = channel(&mine, ChannelFilters::default());
        let work_only = channel(&mine, ChannelFilters { calendar_ids: Some(vec![work.clone()]), only_managed: None });
        let managed = channel(&mine, ChannelFilters { calendar_ids: None, only_managed: Some(true) });

        let from_provider = Changed { third_party: true, ..Changed::default() };
        assert!(from_provider.concerns(&everything, std::slice::from_ref(&home)));
        assert!(!from_provider.concerns(&work_only, std::slice::from_ref(&home)));
        assert!(from_provider.concerns(&work_only, &[home.clone(), work.clone()]));
        assert!(!from_provider.concerns(&managed, std::slice::from_ref(&work)));

        let own_removed = Changed { managed_by: HashSet::from([mine.clone()]), ..Changed::default() };
        assert!(own_removed.concerns(&managed, std::slice::from_ref(&work)));
        let others_removed = Changed { managed_by: HashSet::from([theirs.clone()]), ..Changed::default() };
        assert!(!others_removed.concerns(&managed, std::slice::from_ref(&work)));
        assert!(!others_removed.concerns(&everything, std::slice::from_ref(&work)));

        let my_write = Changed { third_party: true, written_by: Some(mine.clone()), ..Changed::default() };
        assert!(!my_write.concerns(&everything, std::slice::from_ref(&work)));
        let their_write = Changed { third_party: true, written_by: Some(theirs), ..Changed::default() };
        assert!(their_write.concerns(&everything, std::slice::from_ref(&work)));
        assert!(!their_write.concerns(&managed, std::slice::from_ref(&work)));
    }
}

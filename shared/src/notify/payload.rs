//! The JSON body of a push notification, in Cronofy's shape (cronofy-api.md §4.5):
//! `{"notification": {"type": …, "changes_since"?: …}, "channel": {channel_id, callback_url, filters}}`,
//! and of a Smart Invite callback (§4.8): `{"notification": {"type": "smart_invite"}, "smart_invite": …}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::domain::Channel;

/// What a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Sent right after a channel is created.
    Verification,
    /// Events changed; reading `/v1/events?last_modified=<changes_since>` returns them.
    Change { changes_since: DateTime<Utc> },
    /// The provider refused the profile's credentials.
    ProfileDisconnected,
    /// Every calendar of a newly connected profile finished its first sync.
    ProfileInitialSyncCompleted,
    /// A Smart Invite recipient replied; the body was fixed when the reply arrived.
    SmartInvite,
}

impl Kind {
    /// The `type` as sent and stored.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Verification => "verification",
            Kind::Change { .. } => "change",
            Kind::ProfileDisconnected => "profile_disconnected",
            Kind::ProfileInitialSyncCompleted => "profile_initial_sync_completed",
            Kind::SmartInvite => "smart_invite",
        }
    }

    /// The stored form read back.
    pub fn from_stored(name: &str, changes_since: Option<DateTime<Utc>>) -> Option<Self> {
        match (name, changes_since) {
            ("verification", _) => Some(Kind::Verification),
            ("change", Some(changes_since)) => Some(Kind::Change { changes_since }),
            ("profile_disconnected", _) => Some(Kind::ProfileDisconnected),
            ("profile_initial_sync_completed", _) => Some(Kind::ProfileInitialSyncCompleted),
            ("smart_invite", _) => Some(Kind::SmartInvite),
            _ => None,
        }
    }

    pub fn changes_since(self) -> Option<DateTime<Utc>> {
        match self {
            Kind::Change { changes_since } => Some(changes_since),
            _ => None,
        }
    }
}

/// A channel as the API and notifications show it.
pub fn channel_json(channel: &Channel) -> Value {
    json!({
        "channel_id": channel.id,
        "callback_url": channel.callback_url,
        "filters": channel.filters,
    })
}

/// The body of a Smart Invite callback reporting on `invite` (the invite object as the API shows
/// it, with the `reply` that prompted the callback).
pub fn smart_invite_body(invite: &Value) -> String {
    json!({ "notification": { "type": Kind::SmartInvite.name() }, "smart_invite": invite }).to_string()
}

/// The body sent for `kind` to `channel`.
pub fn body(kind: Kind, channel: &Channel) -> Vec<u8> {
    let mut notification = json!({ "type": kind.name() });
    if let Some(since) = kind.changes_since() {
        notification["changes_since"] = json!(since.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    json!({ "notification": notification, "channel": channel_json(channel) }).to_string().into_bytes()
}

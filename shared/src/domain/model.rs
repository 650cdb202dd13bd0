//! The entities the cache holds, as the rest of the code sees them.
//!
//! Enumerations are stored as their snake_case names (TEXT on both backends) so the database
//! stays readable by operators and a new variant needs no migration.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    AccountId, ApplicationId, AuthorizationId, CalendarId, ChannelId, EventTime, EventUid, IntegratorId, ProfileId,
    Scopes,
};

/// Defines an enum stored as TEXT, with `as_str`/`parse`, serde and sqlx support on any backend.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name where String: sqlx::Type<DB> {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name where &'r str: sqlx::Decode<'r, DB> {
            fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<DB>>::decode(value)?;
                $name::parse(text).ok_or_else(|| format!("unknown {} `{}`", stringify!($name), text).into())
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name where &'q str: sqlx::Encode<'q, DB> {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<DB>>::encode(self.as_str(), buf)
            }
        }
    };
}

text_enum!(/// The calendar service behind a profile, as Cronofy's `provider_name` says it.
ProviderName {
    Google => "google",
    Office365 => "office365",
    LiveConnect => "live_connect",
    Apple => "apple",
    Exchange => "exchange",
    CalDav => "caldav",
    Hosted => "cronofy",
});

text_enum!(/// The finer service kind (`provider_service`).
ProviderService {
    Gsuite => "gsuite",
    Google => "google",
    Office365 => "office365",
    OutlookCom => "outlook_com",
    Icloud => "icloud",
    Exchange => "exchange",
    CalDav => "caldav",
    Hosted => "cronofy",
});

text_enum!(/// Whether calsync can currently reach the profile's calendars.
ProfileStatus {
    Active => "active",
    Disconnected => "disconnected",
});

text_enum!(/// What kind of secret a profile's credentials are.
CredentialKind {
    OauthTokenSet => "oauth_token_set",
    AppSpecificPassword => "app_specific_password",
    Password => "password",
    ServiceAccount => "service_account",
});

text_enum!(/// Who an event belongs to, which decides its retention rule.
EventKind {
    ThirdParty => "third_party",
    Partner => "partner",
});

text_enum!(/// An event's status.
EventStatus {
    Confirmed => "confirmed",
    Tentative => "tentative",
    Cancelled => "cancelled",
});

text_enum!(/// Whether an event blocks time.
Transparency {
    Opaque => "opaque",
    Transparent => "transparent",
    Unknown => "unknown",
});

text_enum!(/// An attendee's answer.
AttendeeStatus {
    NeedsAction => "needs_action",
    Accepted => "accepted",
    Tentative => "tentative",
    Declined => "declined",
    Unknown => "unknown",
});

/// An integrator: the organisation whose developers build applications on calsync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integrator {
    pub id: IntegratorId,
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    pub phone: Option<String>,
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An integrator's billing details, kept permanently (card details are never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingInfo {
    pub integrator_id: IntegratorId,
    pub contact_name: String,
    pub contact_email: String,
    pub postal_address: String,
    pub company_name: String,
    pub tax_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// An integrator application (OAuth client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: ApplicationId,
    pub integrator_id: Option<IntegratorId>,
    pub name: String,
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub sync_past_days: i32,
    pub sync_future_days: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An end-user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub email: Option<String>,
    pub name: Option<String>,
    pub default_tzid: String,
    pub created_at: DateTime<Utc>,
    /// When the last active authorization on the account ended; starts the retention clocks.
    pub authorizations_ended_at: Option<DateTime<Utc>>,
}

/// One connected calendar service of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: ProfileId,
    pub account_id: AccountId,
    pub provider: ProviderName,
    pub provider_service: ProviderService,
    pub email: String,
    pub name: Option<String>,
    pub tzid: Option<String>,
    pub status: ProfileStatus,
    /// Server base URL for CalDAV and Exchange; none for Google/Microsoft.
    pub server_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A calendar of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub id: CalendarId,
    pub profile_id: ProfileId,
    pub account_id: AccountId,
    pub provider_calendar_id: String,
    pub name: String,
    pub is_primary: bool,
    pub read_only: bool,
    pub deleted: bool,
    pub color: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Calendar {
    /// A new calendar kept by calsync itself (application calendars, "calsync calendar"
    /// profiles): it has no remote side, so its provider id is a fresh local one.
    pub fn new_hosted(
        profile_id: &ProfileId,
        account_id: &AccountId,
        name: &str,
        is_primary: bool,
        now: DateTime<Utc>,
    ) -> Self {
        Calendar {
            id: CalendarId::generate(),
            profile_id: profile_id.clone(),
            account_id: account_id.clone(),
            provider_calendar_id: format!("hosted:{}", super::random_token(24)),
            name: name.to_owned(),
            is_primary,
            read_only: false,
            deleted: false,
            color: None,
            created_at: now,
            updated_at: now,
        }
    }
}

/// An application's grant over an account. Tokens are stored only as SHA-256 hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub id: AuthorizationId,
    pub application_id: ApplicationId,
    pub account_id: AccountId,
    pub scopes: Scopes,
    pub access_token_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub terminated_at: Option<DateTime<Utc>>,
}

/// Where an event takes place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long: Option<f64>,
}

/// A person invited to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub email: String,
    pub display_name: Option<String>,
    pub status: AttendeeStatus,
}

/// A reminder before an event starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    pub minutes: i32,
}

/// Who organises an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organizer {
    pub email: Option<String>,
    pub display_name: Option<String>,
}

/// A cached event, third-party or partner.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub uid: EventUid,
    pub calendar_id: CalendarId,
    pub profile_id: ProfileId,
    pub account_id: AccountId,
    pub kind: EventKind,
    /// The application that created a partner event, and its own `event_id` for it.
    pub application_id: Option<ApplicationId>,
    pub event_id: Option<String>,
    /// The provider's id for the event (or the series instance), and its iCalendar UID.
    pub provider_id: Option<String>,
    pub ical_uid: Option<String>,
    pub etag: Option<String>,
    /// SHA-256 of the content fields: a sync that sees the same hash changes nothing.
    pub content_hash: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub start: EventTime,
    pub end: EventTime,
    pub recurrence_rule: Option<String>,
    pub series_id: Option<String>,
    pub original_start: Option<DateTime<Utc>>,
    pub location: Option<Location>,
    pub attendees: Vec<Attendee>,
    pub organizer: Option<Organizer>,
    pub categories: Vec<String>,
    pub color: Option<String>,
    pub url: Option<String>,
    pub reminders: Vec<Reminder>,
    pub event_private: bool,
    /// The calendar owner's own answer to the event.
    pub participation_status: AttendeeStatus,
    pub transparency: Transparency,
    pub status: EventStatus,
    pub deleted: bool,
    pub provider_created_at: Option<DateTime<Utc>>,
    pub provider_updated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Change-tracking time that `/v1/events?last_modified=` compares against.
    pub last_modified: DateTime<Utc>,
    /// When the event left every application's sync window (retention removes it 31 days later).
    pub left_window_at: Option<DateTime<Utc>>,
}

/// Per-calendar sync progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncState {
    pub calendar_id: CalendarId,
    pub cursor: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub error_count: i32,
    pub backoff_until: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Which changes a channel is told about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ChannelFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_ids: Option<Vec<CalendarId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_managed: Option<bool>,
}

/// A push notification channel of an application over an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: ChannelId,
    pub application_id: ApplicationId,
    pub account_id: AccountId,
    pub callback_url: String,
    pub filters: ChannelFilters,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_enums_round_trip_through_their_names() {
        for p in ProviderService::ALL {
            assert_eq!(ProviderService::parse(p.as_str()), Some(*p));
        }
        assert_eq!(serde_json::to_string(&ProviderName::LiveConnect).unwrap(), "\"live_connect\"");
        assert_eq!(ProviderName::parse("myspace"), None);
    }
}

//! The rows of the authorization flow as the store reads and writes them: pending authorize
//! requests (end-user and Enterprise Connect), authorization codes and application calendars. Secrets (request ids, codes) only
//! ever appear here as SHA-256 hashes.

use chrono::{DateTime, Utc};

use crate::domain::{AccountId, ApplicationCalendarId, ApplicationId, CalendarId, ProfileId, Scopes};

/// What an application asked for on `/oauth/authorize`, kept while the user chooses a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub application_id: ApplicationId,
    pub redirect_uri: String,
    pub scopes: Scopes,
    /// The application's opaque `state`, echoed on the redirect.
    pub state: Option<String>,
    /// Set on an Enterprise Connect request: the scopes the service account's mailboxes may be
    /// granted. Such a request completes only on the Enterprise Connect page, and an end-user
    /// request only on the end-user page.
    pub delegated_scopes: Option<Scopes>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A new authorization code, already hashed.
#[derive(Debug, Clone)]
pub struct NewAuthorizationCode {
    pub code_hash: String,
    pub application_id: ApplicationId,
    pub account_id: AccountId,
    /// The profile the user connected; none for a service account's own authorization.
    pub profile_id: Option<ProfileId>,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a redeemed authorization code grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeemedCode {
    pub account_id: AccountId,
    pub profile_id: Option<ProfileId>,
    pub scopes: Scopes,
}

/// A calendar calsync hosts for one application, keyed by the application's own id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationCalendar {
    /// The `apc_` id, the calendar's `sub`.
    pub id: ApplicationCalendarId,
    pub application_id: ApplicationId,
    /// The application's own key (`application_calendar_id` in the request).
    pub application_calendar_id: String,
    pub account_id: AccountId,
    pub profile_id: ProfileId,
    pub calendar_id: CalendarId,
    pub created_at: DateTime<Utc>,
}

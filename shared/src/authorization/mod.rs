//! End-user authorization (OAuth 2.0 authorization code grant) and application calendars.
//!
//! The flow: `/oauth/authorize` checks the application's request and records it as a pending
//! authorize request under a random id (`request`); the page's forms carry only that id, so the
//! browser cannot alter the client, redirect URI, scopes or state. When the user connects a
//! calendar service, `connect` creates the account, profile and sealed credentials, completes
//! the request exactly once and mints a single-use authorization code, which the application
//! exchanges for tokens (`exchange`). `revoke` ends authorizations; `application_calendars`
//! hosts calendars the application creates for itself. `service_accounts` is Enterprise Connect:
//! an organisation's service account authorized once, and mailboxes authorized through it.
//!
//! Accounts are born with their retention clock running (`authorizations_ended_at` = creation
//! time) and the first authorization stops it. An account whose code is never exchanged, or
//! that lost a race to create the same application calendar, is therefore removed by the
//! ordinary retention rules instead of lingering unowned.

mod application_calendars;
mod connect;
mod connection;
mod exchange;
pub mod google;
pub mod microsoft;
mod records;
mod redirect;
mod request;
mod response;
mod revoke;
mod service;
pub mod service_accounts;
mod verify;

pub use application_calendars::{application_calendar, validate_application_calendar_id};
pub use connect::complete;
pub(crate) use connect::redirect_with_code;
pub(crate) use connection::valid_email;
pub use connection::{Connection, ConnectionForm, FieldProblem};
pub use exchange::{exchange_code, refresh};
pub use records::{ApplicationCalendar, AuthorizeRequest, NewAuthorizationCode, RedeemedCode};
pub use redirect::append_query;
pub use request::{
    AUTHORIZE_REQUEST_TTL, AuthorizeParams, DEFAULT_SCOPE, Flow, Refusal, Started, load, load_enterprise, start,
    start_enterprise,
};
pub use response::{LinkingProfile, TokenResponse, token_response};
pub use revoke::{RevokeTarget, revoke};
pub use service::Service;
pub use verify::verify;

use chrono::{DateTime, Utc};

use crate::domain::{Account, AccountId};

/// How long an authorization code can be exchanged.
pub const CODE_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// A new account with no authorization yet: its retention clock runs until one is issued.
fn new_account(email: Option<String>, now: DateTime<Utc>) -> Account {
    Account {
        id: AccountId::generate(),
        email,
        name: None,
        default_tzid: "Etc/UTC".to_owned(),
        created_at: now,
        authorizations_ended_at: Some(now),
    }
}

//! Enterprise Connect: an organisation authorizes calsync once with a service account (an
//! Exchange account holding the ApplicationImpersonation role), and the application then
//! authorizes the organisation's mailboxes without their users' passwords.
//!
//! `connect` completes the Enterprise Connect page: the credentials were tried against Exchange
//! (`verify`), so the service account's own calsync account, its row with the sealed credentials
//! and a single-use code are stored. The code buys a token holding
//! `service_account/accounts/manage` (30 minutes), with which the application asks for mailboxes
//! (`POST /v1/service_account_authorizations`); each request becomes a [`MailboxRequest`] job
//! (`mailbox`) that checks the service account may act for the mailbox, finds or creates the
//! mailbox's account and its profile (linked to the service account, with no credentials of its
//! own) and calls the application back with a code for it, or with `access_denied`.
//!
//! Only the service account's credentials are ever stored (policy.md "Enterprise Connect"): a
//! mailbox profile reaches Exchange by opening them and impersonating the mailbox
//! (`sync::connect`).
//!
//! `google` is the Google Workspace kind: the domain delegates the calendar scope to calsync's
//! own Google service account (the operator's key), the page proves it with a token minted for
//! an address of the domain, and each mailbox gets a token minted for it, never stored.

mod connect;
pub mod google;
mod mailbox;
pub mod office365;
mod verify;

pub use connect::{complete_service_account, exchange_credentials};
pub use mailbox::authorize_mailbox;
pub use verify::{MailboxCheck, check_mailbox, verify_service_account};

use serde::{Deserialize, Serialize};

use crate::domain::{ApplicationId, ServiceAccountId};

/// One mailbox an application asked a service account to authorize: a job on the sync queue.
/// Nothing secret: the callback is signed when it is sent, and the code is minted then.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxRequest {
    pub service_account_id: ServiceAccountId,
    /// The application the code is for (the service account's), kept so a failure can still be
    /// reported, signed, once the service account is gone.
    pub application_id: ApplicationId,
    /// The mailbox's address, lower case.
    pub email: String,
    /// The scopes the mailbox's authorization grants, space-separated.
    pub scope: String,
    /// Where the code (or the error) is POSTed; also the code's `redirect_uri`.
    pub callback_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

// Jobs are logged as they arrive: the address, the callback URL and the state stay out of logs.
impl std::fmt::Debug for MailboxRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxRequest")
            .field("service_account_id", &self.service_account_id)
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

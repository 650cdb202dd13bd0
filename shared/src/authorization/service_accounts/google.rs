//! Enterprise Connect for Google Workspace with domain-wide delegation. A Workspace
//! administrator trusts calsync's own Google service account (the operator's key,
//! `providers::google::delegation`) with the calendar scope on the Admin console's domain-wide
//! delegation page, then types an address of the domain on the Enterprise Connect page. calsync
//! proves the delegation by minting a token for that address (the JWT bearer grant) and reading
//! its primary calendar (`calendarList/primary`). The service account row is the domain: its
//! `email` is that address (whose domain bounds the mailboxes), and its credentials are the
//! minted token set, sealed (policy.md: "Google: OAuth token set"); no end-user credential is
//! ever stored. Each mailbox gets its own token minted when it is checked or synced, never
//! stored.

use reqwest::Method;

use super::{
    MailboxCheck,
    connect::{Authorized, complete},
};
use crate::{
    authorization::{AuthorizeRequest, FieldProblem},
    crypto::Credentials,
    domain::{ProviderName, ServiceAccount},
    providers::google::{
        client::{ApiError, GoogleClient},
        delegation::{DelegationError, ServiceAccountKey},
    },
    state::AppState,
};

const NOT_DELEGATED: &str = "Google did not let calsync act for this address: the domain has not delegated the \
                             calendar scope to calsync's service account. In the Google Admin console, under \
                             Security, Access and data control, API controls, Manage domain-wide delegation, add the \
                             client ID and scope shown above (changes can take a few minutes), then try again.";
const UNKNOWN_USER: &str = "Google refused a token for this address. Enter the address of an active user of your \
                            Google Workspace domain (an administrator's, for example) and try again.";
const NO_CALENDAR: &str = "Google gave calsync a token for this address but its calendar could not be read. Check \
                           that the user has Google Calendar and that the delegated scope is exactly the one shown \
                           above, then try again.";
const UNAVAILABLE: &str = "Google could not be reached. Please try again in a moment.";
const NOT_CONFIGURED: &str = "Google Workspace service accounts cannot be connected on this installation.";

/// calsync's Google service account key, when the operator configured one.
pub fn google_service_account(state: &AppState) -> Option<&ServiceAccountKey> {
    state.providers.google_service_account.as_ref()
}

/// The client id of calsync's Google service account, when the Google Workspace choice is
/// offered.
pub fn client_id(state: &AppState) -> Option<&str> {
    google_service_account(state).map(|key| key.client_id.as_str())
}

fn http() -> Option<reqwest::Client> {
    crate::providers::http::service_client()
}

/// Mints a token for `email` through the domain's delegation.
async fn mint(state: &AppState, key: &ServiceAccountKey, email: &str) -> Result<Credentials, DelegationError> {
    let http = http().ok_or_else(|| DelegationError::Protocol("the HTTP client could not be built".into()))?;
    key.mint(&http, &state.config.google.token_url, email, state.clock.now()).await
}

/// Proves on the Enterprise Connect page that the domain of `email` delegated the calendar
/// scope to calsync's service account: a token for `email`, and its primary calendar read with
/// it. Returns that token set (the service account's credentials), or the problems to show.
pub async fn verify_google_delegation(state: &AppState, email: &str) -> Result<Credentials, Vec<FieldProblem>> {
    let problem = |message| Err(vec![FieldProblem { field: "email", message }]);
    let Some(key) = google_service_account(state) else { return problem(NOT_CONFIGURED) };
    let credentials = match mint(state, key, email).await {
        Ok(credentials) => credentials,
        Err(DelegationError::NotDelegated) => return problem(NOT_DELEGATED),
        Err(DelegationError::Refused) => return problem(UNKNOWN_USER),
        Err(DelegationError::Transient { .. }) => return problem(UNAVAILABLE),
        Err(error) => {
            tracing::error!(%error, "a Google domain-wide delegation could not be checked");
            return problem(UNAVAILABLE);
        }
    };
    let Credentials::OauthTokenSet { access_token, .. } = &credentials else { return problem(UNAVAILABLE) };
    let Ok(client) = GoogleClient::new(&state.config.google.api_url, access_token) else {
        return problem(UNAVAILABLE);
    };
    let url = client.url(&["users", "me", "calendarList", "primary"], &[]);
    match client.send(Method::GET, url, None, None).await {
        Ok(_) => Ok(credentials),
        Err(ApiError::Transient { .. }) => problem(UNAVAILABLE),
        Err(error) => {
            tracing::info!(%error, "a delegated token could not read the primary calendar");
            problem(NO_CALENDAR)
        }
    }
}

/// Whether calsync's service account may act for `mailbox` through the domain's delegation:
/// an address of the service account's domain for which Google mints a token.
pub async fn check_google_mailbox(state: &AppState, service_account: &ServiceAccount, mailbox: &str) -> MailboxCheck {
    if !service_account.covers(mailbox) {
        return MailboxCheck::Denied("the address is not in the service account's domain".into());
    }
    let Some(key) = google_service_account(state) else {
        return MailboxCheck::Denied("Google service accounts are not configured on this installation".into());
    };
    match mint(state, key, mailbox).await {
        Ok(_) => MailboxCheck::Allowed,
        Err(DelegationError::NotDelegated) => MailboxCheck::Denied(
            "the domain no longer delegates the calendar scope to calsync's service account".into(),
        ),
        Err(DelegationError::Refused) => MailboxCheck::Denied("Google refused a token for this mailbox".into()),
        Err(DelegationError::Transient { reason, .. }) => MailboxCheck::Retry(reason),
        Err(error) => {
            tracing::error!(%error, "a token for a delegated mailbox could not be minted");
            MailboxCheck::Denied("calsync could not obtain a token for this mailbox".into())
        }
    }
}

/// Completes a pending Enterprise Connect request with a proven delegation: the application's
/// existing Google service account for `email` gets the new token set, else a new one is
/// stored. Returns the redirect URI carrying a new code; `None` when the request was completed
/// meanwhile.
pub async fn complete_google(
    state: &AppState,
    request_id: &str,
    request: &AuthorizeRequest,
    email: &str,
    credentials: &Credentials,
) -> anyhow::Result<Option<String>> {
    let email = email.to_ascii_lowercase();
    let authorized = Authorized {
        provider: ProviderName::Google,
        principal: email.clone(),
        account_email: Some(email),
        server_url: None,
        credentials,
    };
    complete(state, request_id, request, authorized).await
}

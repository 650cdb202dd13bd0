//! Trying a service account against Exchange: on the Enterprise Connect page, that its
//! credentials sign in (a GetFolder of its own calendar); for each mailbox it is asked to
//! authorize, that it may act for that mailbox (the same GetFolder, impersonating the mailbox).

use std::time::Duration;

use crate::authorization::FieldProblem;
use crate::crypto::Credentials;
use crate::providers::caldav::Policy;
use crate::providers::ews::{EwsAccount, EwsError, Login};
use crate::state::AppState;

/// How long the page, or a mailbox check, waits for Exchange.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(20);

const REFUSED: &str = "The Exchange server refused this email address and password. Check them (and the username, \
                       if the server needs one) and try again.";
const NO_RIGHTS: &str = "The Exchange server accepted the sign-in but does not let this account act. Check that the \
                         account is enabled and try again.";
const UNREACHABLE: &str = "The Exchange server could not be found or did not answer as an Exchange server. Check the \
                           server address, or enter it if you left it blank, and try again.";
const NOT_PUBLIC: &str = "calsync cannot connect to this address.";

/// Signs `credentials` in at Exchange, acting for `mailbox` when given, and reads that
/// mailbox's calendar folder.
async fn read_calendar(
    state: &AppState,
    credentials: &Credentials,
    email: &str,
    server_url: Option<&str>,
    mailbox: Option<&str>,
) -> Result<(), EwsError> {
    let login = Login::from_credentials(credentials)
        .ok_or_else(|| EwsError::Refused("the credentials are not an Exchange password".into()))?;
    // Plain HTTP and private addresses are reachable in the local mode only.
    let account = EwsAccount::new(login, mailbox, Policy::for_mode(state.config.mode))?;
    let attempt = async {
        let client = account.discover(server_url, mailbox.unwrap_or(email)).await?;
        client.calendar_folder().await.map(|_| ())
    };
    match tokio::time::timeout(VERIFY_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err(EwsError::Transient { retry_after: None, reason: "timed out".into() }),
    }
}

/// Checks a service account's credentials on the Enterprise Connect page; the problems to show
/// otherwise. An account without a mailbox of its own (ErrorNonExistentMailbox) signed in, which
/// is all a service account needs.
pub async fn verify_service_account(
    state: &AppState,
    credentials: &Credentials,
    email: &str,
    server_url: Option<&str>,
) -> Result<(), Vec<FieldProblem>> {
    let problem = |field, message| Err(vec![FieldProblem { field, message }]);
    match read_calendar(state, credentials, email, server_url, None).await {
        Ok(()) => Ok(()),
        Err(EwsError::AccessGone(code)) if code == "ErrorNonExistentMailbox" => Ok(()),
        Err(EwsError::Unauthorized) => problem("password", REFUSED),
        Err(EwsError::AccessGone(_)) => problem("email", NO_RIGHTS),
        Err(EwsError::Refused(_)) => problem("server_url", NOT_PUBLIC),
        Err(error) => {
            tracing::info!(%error, "a service account's credentials could not be checked");
            problem("server_url", UNREACHABLE)
        }
    }
}

/// Whether a service account may act for a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxCheck {
    Allowed,
    /// It may not (or cannot sign in); the reason, for the application.
    Denied(String),
    /// Exchange could not say now; worth trying again.
    Retry(String),
}

/// Impersonates `mailbox` with the service account's credentials and reads its calendar.
pub async fn check_mailbox(
    state: &AppState,
    credentials: &Credentials,
    service_email: &str,
    server_url: Option<&str>,
    mailbox: &str,
) -> MailboxCheck {
    match read_calendar(state, credentials, service_email, server_url, Some(mailbox)).await {
        Ok(()) => MailboxCheck::Allowed,
        Err(EwsError::Unauthorized) => {
            MailboxCheck::Denied("the Exchange server refused the service account's credentials".into())
        }
        Err(EwsError::AccessGone(code)) => {
            MailboxCheck::Denied(format!("the service account may not act for this mailbox ({code})"))
        }
        Err(EwsError::Transient { reason, .. }) => MailboxCheck::Retry(reason),
        Err(error) => {
            tracing::info!(%error, "a mailbox could not be reached through its service account");
            MailboxCheck::Denied("the mailbox's Exchange server could not be reached".into())
        }
    }
}

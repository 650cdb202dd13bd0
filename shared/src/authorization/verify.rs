//! Trying the credentials an end-user typed before the connection is stored: a CalDAV or iCloud
//! account is discovered and its calendars listed with them, so a mistyped password or server
//! address is reported on the form (and nothing is stored) instead of surfacing later as a
//! disconnected profile. Exchange is stored unchecked until its adapter exists.

use std::time::Duration;

use chrono_tz::Tz;

use super::{Connection, FieldProblem};
use crate::providers::caldav::Policy;
use crate::state::AppState;
use crate::sync::caldav::CalDavProvider;
use crate::sync::{CalendarProvider, ProviderError};

/// How long the page waits for the server before reporting it unreachable.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(20);

const REFUSED_PASSWORD: &str = "The server did not accept this user name and password.";
const REFUSED_APPLE_ID: &str = "Apple did not accept this Apple ID and app-specific password. Create an app-specific password at \
     appleid.apple.com and try again.";
const UNREACHABLE: &str = "The calendar server could not be reached or did not answer as a CalDAV server. Check the \
                           address and try again.";
const NOT_PUBLIC: &str = "calsync cannot connect to this address.";
const APPLE_UNREACHABLE: &str = "Apple's calendar server could not be reached. Please try again in a moment.";

/// Checks the connection's credentials against its service; the problems to show otherwise.
pub async fn verify(state: &AppState, connection: &Connection) -> Result<(), Vec<FieldProblem>> {
    let (server_url, icloud) = match connection {
        Connection::Icloud { .. } => (state.config.icloud_caldav_url.clone(), true),
        Connection::CalDav { server_url, .. } => (server_url.clone(), false),
        // Google and Microsoft accounts were verified by the provider's own sign-in.
        Connection::Google { .. } | Connection::Microsoft { .. } | Connection::Exchange { .. } | Connection::Hosted => {
            return Ok(());
        }
    };
    let Some(credentials) = connection.credentials() else { return Ok(()) };
    let problem = |field, message| Err(vec![FieldProblem { field, message }]);
    let unreachable = if icloud { ("email", APPLE_UNREACHABLE) } else { ("server_url", UNREACHABLE) };
    let policy = Policy::for_mode(state.config.mode);
    let Ok(provider) = CalDavProvider::new(&server_url, &credentials, policy, Tz::UTC) else {
        return problem(unreachable.0, if icloud { APPLE_UNREACHABLE } else { NOT_PUBLIC });
    };
    match tokio::time::timeout(VERIFY_TIMEOUT, provider.list_calendars(None)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(ProviderError::CredentialsDead)) => {
            problem("password", if icloud { REFUSED_APPLE_ID } else { REFUSED_PASSWORD })
        }
        Ok(Err(error)) => {
            tracing::info!(%error, "a connection's credentials could not be checked");
            problem(unreachable.0, unreachable.1)
        }
        Err(_) => problem(unreachable.0, unreachable.1),
    }
}

//! Trying the credentials an end-user typed before the connection is stored: a CalDAV, iCloud or
//! Exchange account is discovered and its calendars listed with them, so a mistyped password or
//! server address is reported on the form (and nothing is stored) instead of surfacing later as
//! a disconnected profile.

use std::time::Duration;

use chrono_tz::Tz;
use url::Url;

use super::{Connection, FieldProblem};
use crate::providers::caldav::Policy;
use crate::state::AppState;
use crate::sync::caldav::CalDavProvider;
use crate::sync::ews::EwsProvider;
use crate::sync::{CalendarProvider, ProviderError};

/// How long the page waits for the server before reporting it unreachable.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(20);

const REFUSED_PASSWORD: &str = "The server did not accept this user name and password.";
const REFUSED_APPLE_ID: &str = "Apple did not accept this Apple ID and app-specific password. Create an app-specific password at \
     appleid.apple.com and try again.";
const UNREACHABLE: &str = "The calendar server could not be reached or did not answer as a CalDAV server. Check the \
                           address and try again.";
const EXCHANGE_UNREACHABLE: &str = "The Exchange server could not be found or did not answer as an Exchange server. \
                                    Check the server address, or enter it if you left it blank, and try again.";
const NOT_PUBLIC: &str = "calsync cannot connect to this address.";
const APPLE_UNREACHABLE: &str = "Apple's calendar server could not be reached. Please try again in a moment.";

/// A field and the message shown on it.
type Problem = (&'static str, &'static str);

/// Checks the connection's credentials against its service; the problems to show otherwise.
pub async fn verify(state: &AppState, connection: &Connection) -> Result<(), Vec<FieldProblem>> {
    let problem = |(field, message): Problem| Err(vec![FieldProblem { field, message }]);
    let Some(credentials) = connection.credentials() else { return Ok(()) };
    let policy = Policy::for_mode(state.config.mode);
    // The adapter, what to say when the password is refused, and when the server is not found.
    let (provider, refused, unreachable): (Box<dyn CalendarProvider>, Problem, Problem) = match connection {
        Connection::Icloud { .. } => {
            let Ok(provider) = CalDavProvider::new(&state.config.icloud_caldav_url, &credentials, policy, Tz::UTC)
            else {
                return problem(("email", APPLE_UNREACHABLE));
            };
            (Box::new(provider), ("password", REFUSED_APPLE_ID), ("email", APPLE_UNREACHABLE))
        }
        Connection::CalDav { server_url, .. } => {
            let Ok(provider) = CalDavProvider::new(server_url, &credentials, policy, Tz::UTC) else {
                return problem(("server_url", NOT_PUBLIC));
            };
            (Box::new(provider), ("password", REFUSED_PASSWORD), ("server_url", UNREACHABLE))
        }
        Connection::Exchange { email, server_url, .. } => {
            if server_url.as_deref().is_some_and(|url| !admitted(url, policy)) {
                return problem(("server_url", NOT_PUBLIC));
            }
            let server_url = server_url.as_deref();
            let Ok(provider) = EwsProvider::new(email, server_url, &credentials, None, policy, Tz::UTC, None) else {
                return problem(("server_url", EXCHANGE_UNREACHABLE));
            };
            (Box::new(provider), ("password", REFUSED_PASSWORD), ("server_url", EXCHANGE_UNREACHABLE))
        }
        // Google and Microsoft accounts were verified by the provider's own sign-in.
        Connection::Google { .. } | Connection::Microsoft { .. } | Connection::Hosted => return Ok(()),
    };
    match tokio::time::timeout(VERIFY_TIMEOUT, provider.list_calendars(None)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(ProviderError::CredentialsDead)) => problem(refused),
        Ok(Err(error)) => {
            tracing::info!(%error, "a connection's credentials could not be checked");
            problem(unreachable)
        }
        Err(_) => problem(unreachable),
    }
}

/// Whether the policy lets calsync reach `url`'s host (outside the local mode, only public
/// addresses; names are also checked where they resolve).
fn admitted(url: &str, policy: Policy) -> bool {
    policy.allow_private || Url::parse(url).is_ok_and(|u| crate::net::check_host(&u).is_ok())
}

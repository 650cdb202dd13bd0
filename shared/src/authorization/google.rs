//! Connecting a Google account: the page sends the end-user to Google's sign-in with the
//! pending request's id as the OAuth `state`, and Google sends them back to
//! `/oauth/callback/google` with a code. The code is exchanged with calsync's client, the
//! account's address is read from its primary calendar (one request, no extra scope), and the
//! connection completes the pending request like any other.

use reqwest::Method;

use super::Connection;
use crate::providers::google::client::{ApiError, GoogleClient};
use crate::providers::oauth::{IdentityPlatform, OAuthError, PlatformKind};
use crate::state::AppState;

/// The path Google sends the end-user back to.
pub const CALLBACK_PATH: &str = "/oauth/callback/google";

/// Why a Google sign-in could not become a connection; worded for the end-user's page.
#[derive(Debug, thiserror::Error)]
pub enum GoogleSignInError {
    #[error("Google is not configured on this calsync installation")]
    NotConfigured,
    #[error("Google did not accept the sign-in; please try again")]
    Refused,
    #[error("Google could not be reached; please try again in a moment")]
    Unavailable,
}

fn platform(state: &AppState) -> Result<IdentityPlatform, GoogleSignInError> {
    let google = &state.config.google;
    IdentityPlatform::at(PlatformKind::Google, &google.authorize_url, &google.token_url)
        .map_err(|_| GoogleSignInError::NotConfigured)
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.config.public_url)
}

/// Where to send the end-user to sign in with Google for the pending request `request_id`.
pub fn sign_in_url(state: &AppState, request_id: &str) -> Result<String, GoogleSignInError> {
    let client = state.providers.google.as_ref().ok_or(GoogleSignInError::NotConfigured)?;
    Ok(platform(state)?.authorization_url(client, &redirect_uri(state), request_id))
}

/// Turns the code Google sent back into a connection.
pub async fn connection(state: &AppState, code: &str) -> Result<Connection, GoogleSignInError> {
    let client = state.providers.google.as_ref().ok_or(GoogleSignInError::NotConfigured)?;
    let http = crate::providers::http::service_client().ok_or(GoogleSignInError::Unavailable)?;
    let now = state.clock.now();
    let credentials =
        platform(state)?.exchange_code(&http, client, code, &redirect_uri(state), now).await.map_err(|e| match e {
            OAuthError::Transient { .. } => GoogleSignInError::Unavailable,
            other => {
                tracing::warn!(error = %other, "a Google sign-in was refused at the code exchange");
                GoogleSignInError::Refused
            }
        })?;
    let crate::crypto::Credentials::OauthTokenSet { access_token, refresh_token, .. } = &credentials else {
        return Err(GoogleSignInError::Refused);
    };
    if refresh_token.is_none() {
        // Without offline access the calendar could be read for an hour only.
        tracing::warn!("Google granted no refresh token");
        return Err(GoogleSignInError::Refused);
    }
    let api =
        GoogleClient::new(&state.config.google.api_url, access_token).map_err(|_| GoogleSignInError::Unavailable)?;
    let url = api.url(&["users", "me", "calendarList", "primary"], &[]);
    let primary = api.send(Method::GET, url, None, None).await.map_err(|e| match e {
        ApiError::Transient { .. } => GoogleSignInError::Unavailable,
        _ => GoogleSignInError::Refused,
    })?;
    let email = primary["id"].as_str().filter(|id| id.contains('@')).ok_or(GoogleSignInError::Refused)?.to_owned();
    Ok(Connection::Google { email, credentials })
}

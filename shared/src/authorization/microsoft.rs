//! Connecting a Microsoft account, work or school (Office 365) or personal (Outlook.com,
//! Hotmail, Live): the page sends the end-user to the Microsoft identity platform's sign-in (the
//! `common` tenant, which takes both kinds of account) with the pending request's id as the OAuth
//! `state`, and Microsoft sends them back to `/oauth/callback/microsoft` with a code. The code is
//! exchanged with calsync's client, the account is read from Graph's `/me`, and the connection
//! completes the pending request like any other.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::Value;

use super::Connection;
use crate::crypto::Credentials;
use crate::providers::graph::client::{ApiError, GraphClient};
use crate::providers::oauth::{IdentityPlatform, OAuthError, PlatformKind};
use crate::state::AppState;

/// The path Microsoft sends the end-user back to.
pub const CALLBACK_PATH: &str = "/oauth/callback/microsoft";

/// The tenant every personal Microsoft account belongs to (Microsoft's documented consumer
/// tenant id; it is the `tid` of their ID tokens).
const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// Why a Microsoft sign-in could not become a connection; worded for the end-user's page.
#[derive(Debug, thiserror::Error)]
pub enum MicrosoftSignInError {
    #[error("Microsoft is not configured on this calsync installation")]
    NotConfigured,
    #[error("Microsoft did not accept the sign-in; please try again")]
    Refused,
    #[error("Microsoft could not be reached; please try again in a moment")]
    Unavailable,
}

fn platform(state: &AppState) -> Result<IdentityPlatform, MicrosoftSignInError> {
    let microsoft = &state.config.microsoft;
    IdentityPlatform::at(PlatformKind::Microsoft, &microsoft.authorize_url, &microsoft.token_url)
        .map_err(|_| MicrosoftSignInError::NotConfigured)
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.config.public_url)
}

/// Where to send the end-user to sign in with Microsoft for the pending request `request_id`.
pub fn sign_in_url(state: &AppState, request_id: &str) -> Result<String, MicrosoftSignInError> {
    let client = state.providers.microsoft.as_ref().ok_or(MicrosoftSignInError::NotConfigured)?;
    Ok(platform(state)?.authorization_url(client, &redirect_uri(state), request_id))
}

/// Turns the code Microsoft sent back into a connection.
pub async fn connection(state: &AppState, code: &str) -> Result<Connection, MicrosoftSignInError> {
    let client = state.providers.microsoft.as_ref().ok_or(MicrosoftSignInError::NotConfigured)?;
    let http = crate::providers::http::service_client().ok_or(MicrosoftSignInError::Unavailable)?;
    let now = state.clock.now();

    // Exchange the code; without a refresh token the calendar could be read for an hour only.
    let (credentials, id_token) = platform(state)?
        .exchange_code_with_id_token(&http, client, code, &redirect_uri(state), now)
        .await
        .map_err(|e| match e {
            OAuthError::Transient { .. } => MicrosoftSignInError::Unavailable,
            other => {
                tracing::warn!(error = %other, "a Microsoft sign-in was refused at the code exchange");
                MicrosoftSignInError::Refused
            }
        })?;
    let Credentials::OauthTokenSet { access_token, refresh_token, .. } = &credentials else {
        return Err(MicrosoftSignInError::Refused);
    };
    if refresh_token.is_none() {
        tracing::warn!("Microsoft granted no refresh token");
        return Err(MicrosoftSignInError::Refused);
    }

    // Read the account: its address names the profile.
    let graph = GraphClient::new(&state.config.microsoft.graph_url, access_token)
        .map_err(|_| MicrosoftSignInError::Unavailable)?;
    let me = graph.send(Method::GET, graph.url(&["me"], &[]), None, None).await.map_err(|e| match e {
        ApiError::Transient { .. } => MicrosoftSignInError::Unavailable,
        other => {
            tracing::warn!(error = %other, "Graph refused to read a newly signed-in Microsoft account");
            MicrosoftSignInError::Refused
        }
    })?;
    // Personal accounts have no Exchange `mail` attribute (null); their address is the UPN.
    let email = [&me["mail"], &me["userPrincipalName"]]
        .into_iter()
        .filter_map(Value::as_str)
        .find(|address| address.contains('@'))
        .ok_or(MicrosoftSignInError::Refused)?
        .to_owned();
    let personal = is_personal(id_token.as_deref(), me["id"].as_str().unwrap_or_default());
    Ok(Connection::Microsoft { email, personal, credentials })
}

/// Whether the account is a personal Microsoft account (Outlook.com, Hotmail, Live) rather than
/// a work or school one (Office 365).
///
/// The ID token's `tid` claim names the account's tenant, and every personal account is in the
/// consumer tenant. The platform sends an ID token for the `openid` scope calsync asks for; when
/// there is none or it cannot be read (the tests' fake Microsoft sends none), Graph's user id
/// decides by its shape: a personal account's is 16 hex digits, a work account's a GUID. An id of
/// neither shape is taken for a work account.
fn is_personal(id_token: Option<&str>, user_id: &str) -> bool {
    if let Some(tenant) = id_token.and_then(tenant_of) {
        return tenant.eq_ignore_ascii_case(CONSUMER_TENANT);
    }
    user_id.len() == 16 && user_id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The `tid` claim of an ID token. Its signature is not checked: the token came straight from
/// the token endpoint over TLS, in answer to calsync's own client credentials, which OpenID
/// Connect Core §3.1.3.7 accepts in place of the signature; and the claim only labels the
/// profile, it grants nothing.
fn tenant_of(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["tid"].as_str().filter(|tid| !tid.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_token(claims: &Value) -> String {
        format!("eyJhbGciOiJub25lIn0.{}.c2ln", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    #[test]
    fn the_id_tokens_tenant_decides_personal_or_work_before_the_user_ids_shape() {
        let consumer = id_token(&serde_json::json!({"tid": CONSUMER_TENANT, "oid": "x"}));
        let work = id_token(&serde_json::json!({"tid": "5b1c0e7a-2f4d-4c8e-9a6b-3d2e1f0a9b8c"}));
        let guid = "48d31887-5fad-4d73-a9f5-3c356e68a038";
        assert!(is_personal(Some(&consumer), guid));
        assert!(!is_personal(Some(&work), "d7c2bd8b2e5e3d22"));
        assert!(is_personal(None, "d7c2bd8b2e5e3d22"));
        assert!(!is_personal(None, guid));
        assert!(!is_personal(None, ""));
        assert!(is_personal(Some("not a token"), "D7C2BD8B2E5E3D22"), "an unreadable token falls back on the id");
        let without_tid = id_token(&serde_json::json!({"sub": "x"}));
        assert!(!is_personal(Some(&without_tid), guid));
    }
}

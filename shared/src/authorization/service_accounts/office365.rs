//! Enterprise Connect for Office 365 with application permissions (providers.md §3.7: work and
//! school tenants only). The administrator grants calsync's application its permissions for the
//! whole tenant at the identity platform's v2 admin consent endpoint and comes back to
//! [`CALLBACK_PATH`] with the tenant's id. That redirect is not signed, so anyone could send a
//! browser there naming a tenant that consented for another application; the administrator
//! therefore signs in once more, at the tenant (OpenID Connect, `openid User.Read`, back at the
//! same callback with a code), and the tenant calsync goes on with is the one Graph's
//! `GET /organization` names for that signed-in user, never the redirect's. A client credentials
//! grant for that tenant proves the consent; the tenant's verified domains (Graph `GET /organization`) say which addresses belong
//! to it. The service account is the tenant: its row holds the tenant id (as its `email`), the
//! domains (as its `server_url`) and the application token set, sealed, as its credentials
//! (policy.md: "Office 365: OAuth token set").
//!
//! App tokens have no refresh token: a new client credentials grant renews one, and the renewed
//! set replaces the service account's stored one. Mailboxes are reached at Graph's
//! `/users/{address}` with that token.

use reqwest::Method;
use serde_json::Value;

use super::{
    MailboxCheck,
    connect::{Authorized, complete},
};
use crate::{
    authorization::AuthorizeRequest,
    crypto::Credentials,
    domain::{ProviderName, ServiceAccount},
    providers::{
        graph::client::{ApiError, GraphClient},
        oauth::{IdentityPlatform, OAuthError, PlatformKind, needs_refresh},
    },
    state::AppState,
};

/// Where the identity platform sends the administrator back after the admin consent.
pub const CALLBACK_PATH: &str = "/enterprise_connect/callback/microsoft";

/// Why a consent could not become a service account; worded for the administrator's page.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("Microsoft is not configured on this calsync installation")]
    NotConfigured,
    #[error("Microsoft did not confirm the consent for your organisation; please try again")]
    Refused,
    #[error("Microsoft could not be reached; please try again in a moment")]
    Unavailable,
}

fn platform(state: &AppState) -> Result<IdentityPlatform, ConsentError> {
    let microsoft = &state.config.microsoft;
    IdentityPlatform::at(PlatformKind::Microsoft, &microsoft.authorize_url, &microsoft.token_url)
        .map_err(|_| ConsentError::NotConfigured)
}

fn http() -> Result<reqwest::Client, ConsentError> {
    crate::providers::http::service_client().ok_or(ConsentError::Unavailable)
}

/// The admin consent endpoint's address (for the page's CSP), when calsync's Microsoft client is
/// configured.
pub fn consent_page(state: &AppState) -> Option<String> {
    state.providers.microsoft.as_ref()?;
    Some(platform(state).ok()?.authority().to_string())
}

/// Where to send the administrator to consent for the pending Enterprise Connect request
/// `request_id`.
pub fn admin_consent_url(state: &AppState, request_id: &str) -> Result<String, ConsentError> {
    let client = state.providers.microsoft.as_ref().ok_or(ConsentError::NotConfigured)?;
    let redirect_uri = format!("{}{CALLBACK_PATH}", state.config.public_url);
    Ok(platform(state)?.admin_consent_url(client, &redirect_uri, request_id))
}

/// Where to send the administrator, back from the admin consent for `tenant`, to sign in at the
/// tenant: the identity platform sends them back to the callback with a code and `request_id`.
pub fn tenant_sign_in_url(state: &AppState, tenant: &str, request_id: &str) -> Result<String, ConsentError> {
    let client = state.providers.microsoft.as_ref().ok_or(ConsentError::NotConfigured)?;
    if tenant.is_empty() || !tenant.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')) {
        return Err(ConsentError::Refused);
    }
    let mut url = platform(state)?.authority();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend([tenant, "oauth2", "v2.0", "authorize"]);
    }
    url.query_pairs_mut()
        .append_pair("client_id", &client.client_id)
        .append_pair("response_type", "code")
        .append_pair("response_mode", "query")
        .append_pair("redirect_uri", &format!("{}{CALLBACK_PATH}", state.config.public_url))
        .append_pair("scope", SIGN_IN_SCOPE)
        .append_pair("state", request_id);
    Ok(url.into())
}

/// What the administrator's own sign-in asks for: who they are, and their organisation.
const SIGN_IN_SCOPE: &str = "openid User.Read";

/// The tenant of the administrator who signed in with `code`: Graph's `GET /organization` with
/// their delegated token (never kept).
pub async fn signed_in_tenant(state: &AppState, code: &str) -> Result<String, ConsentError> {
    let client = state.providers.microsoft.as_ref().ok_or(ConsentError::NotConfigured)?;
    let platform = platform(state)?;
    let mut token_url = platform.authority();
    if let Ok(mut path) = token_url.path_segments_mut() {
        path.pop_if_empty().extend(["organizations", "oauth2", "v2.0", "token"]);
    }
    let platform = IdentityPlatform { token_url, ..platform };
    let redirect_uri = format!("{}{CALLBACK_PATH}", state.config.public_url);
    let credentials =
        platform.exchange_code(&http()?, client, code, &redirect_uri, state.clock.now()).await.map_err(|e| match e {
            OAuthError::Transient { .. } => ConsentError::Unavailable,
            other => {
                tracing::warn!(error = %other, "an Office 365 administrator's sign-in was refused at the code exchange");
                ConsentError::Refused
            }
        })?;
    let organization = organization(state, &credentials, "a signed-in administrator's").await?;
    let tenants: Vec<&str> =
        organization["value"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_str()).collect();
    match tenants.as_slice() {
        [tenant] => Ok(tenant.to_ascii_lowercase()),
        // A personal account has no organization.
        _ => Err(ConsentError::Refused),
    }
}

/// Graph's `organization` as the token in `credentials` sees it (`whose` says whose, for the log).
async fn organization(state: &AppState, credentials: &Credentials, whose: &str) -> Result<Value, ConsentError> {
    let Credentials::OauthTokenSet { access_token, .. } = credentials else { return Err(ConsentError::Refused) };
    let graph =
        GraphClient::new(&state.config.microsoft.graph_url, access_token).map_err(|_| ConsentError::Unavailable)?;
    graph.send(Method::GET, graph.url(&["organization"], &[]), None, None).await.map_err(|e| match e {
        ApiError::Transient { .. } => ConsentError::Unavailable,
        other => {
            tracing::warn!(error = %other, "Graph refused to read {whose} organization");
            ConsentError::Refused
        }
    })
}

/// A tenant whose administrator consented: its id, verified domains (default first) and an
/// application token.
#[derive(Debug)]
pub struct ConsentedTenant {
    pub id: String,
    pub domains: Vec<String>,
    pub credentials: Credentials,
}

/// Proves the consent for `tenant` with a client credentials grant and reads its verified domains.
pub async fn consented_tenant(state: &AppState, tenant: &str) -> Result<ConsentedTenant, ConsentError> {
    let client = state.providers.microsoft.as_ref().ok_or(ConsentError::NotConfigured)?;
    let tenant = tenant.to_ascii_lowercase();
    let credentials = platform(state)?.client_credentials(&http()?, client, &tenant, state.clock.now()).await.map_err(
        |e| match e {
            OAuthError::Transient { .. } => ConsentError::Unavailable,
            other => {
                tracing::warn!(error = %other, "an Office 365 admin consent could not be confirmed with a token");
                ConsentError::Refused
            }
        },
    )?;
    let organization = organization(state, &credentials, "a consenting tenant's").await?;
    let Some(found) = organization["value"].as_array().and_then(|all| all.iter().find(|o| o["id"] == tenant.as_str()))
    else {
        tracing::warn!("Graph's organization is not the tenant that consented");
        return Err(ConsentError::Refused);
    };
    let mut domains: Vec<(bool, String)> = found["verifiedDomains"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| Some((d["isDefault"] != true, d["name"].as_str()?.to_ascii_lowercase())))
        .filter(|(_, name)| !name.is_empty() && !name.contains(char::is_whitespace))
        .collect();
    domains.sort();
    domains.dedup_by(|a, b| a.1 == b.1);
    if domains.is_empty() {
        return Err(ConsentError::Refused);
    }
    Ok(ConsentedTenant { id: tenant, domains: domains.into_iter().map(|(_, d)| d).collect(), credentials })
}

/// Completes a pending Enterprise Connect request with a consented tenant: the application's
/// existing service account for the tenant gets the new token and domains, else a new one is
/// stored. Returns the redirect URI carrying a new code; `None` when the request was completed
/// meanwhile.
pub async fn complete_office365(
    state: &AppState,
    request_id: &str,
    request: &AuthorizeRequest,
    tenant: &ConsentedTenant,
) -> anyhow::Result<Option<String>> {
    let authorized = Authorized {
        provider: ProviderName::Office365,
        principal: tenant.id.clone(),
        account_email: None,
        server_url: Some(tenant.domains.join(" ")),
        credentials: &tenant.credentials,
    };
    complete(state, request_id, request, authorized).await
}

/// The tenant's application token, renewed by a new client credentials grant when it is near
/// expiry (the renewed set replaces the service account's stored one).
async fn app_token(
    state: &AppState,
    service_account: &ServiceAccount,
    credentials: Credentials,
) -> Result<Credentials, OAuthError> {
    let now = state.clock.now();
    if !needs_refresh(&credentials, now) {
        return Ok(credentials);
    }
    let tenant = service_account.tenant().unwrap_or_default();
    let client = state.providers.microsoft.as_ref().ok_or(OAuthError::Protocol("no Microsoft client".into()))?;
    let platform = platform(state).map_err(|_| OAuthError::Protocol("the Microsoft endpoints are invalid".into()))?;
    let http = http().map_err(|_| OAuthError::Protocol("no HTTP client".into()))?;
    let renewed = platform.client_credentials(&http, client, tenant, now).await?;
    let sealed = state
        .vault
        .seal_service_account(&service_account.id, &renewed)
        .map_err(|_| OAuthError::Protocol("the renewed token could not be sealed".into()))?;
    let domains = service_account.server_url.as_deref();
    let saved = state
        .store
        .update_service_account(&service_account.id, domains, &service_account.delegated_scopes, &sealed, now)
        .await;
    if let Err(e) = saved {
        tracing::error!(error.message = %e, "a renewed Office 365 application token could not be stored");
    }
    Ok(renewed)
}

/// Whether the tenant's application token reaches `mailbox`: an address of the tenant's domains
/// whose calendars Graph lists (`GET /users/{address}/calendars?$top=1`).
pub async fn check_office365_mailbox(
    state: &AppState,
    service_account: &ServiceAccount,
    credentials: Credentials,
    mailbox: &str,
) -> MailboxCheck {
    if !service_account.covers(mailbox) {
        return MailboxCheck::Denied("the address is not in one of the tenant's verified domains".into());
    }
    let credentials = match app_token(state, service_account, credentials).await {
        Ok(credentials) => credentials,
        Err(OAuthError::Transient { reason, .. }) => return MailboxCheck::Retry(reason),
        Err(OAuthError::Revoked) => return MailboxCheck::Denied("the tenant withdrew its consent".into()),
        Err(error) => {
            tracing::warn!(%error, "an Office 365 application token could not be renewed");
            return MailboxCheck::Denied("calsync could not obtain a token for the tenant".into());
        }
    };
    let Credentials::OauthTokenSet { access_token, .. } = &credentials else {
        return MailboxCheck::Denied("the service account's credentials are not a token set".into());
    };
    let Ok(graph) = GraphClient::new(&state.config.microsoft.graph_url, access_token) else {
        return MailboxCheck::Denied("the Graph URL is invalid".into());
    };
    let url = graph.url(&["users", mailbox, "calendars"], &[("$top", "1")]);
    match graph.send(Method::GET, url, None, None).await {
        Ok(_) => MailboxCheck::Allowed,
        Err(ApiError::NotFound) => MailboxCheck::Denied("the tenant has no mailbox at this address".into()),
        Err(ApiError::Transient { reason, .. }) => MailboxCheck::Retry(reason),
        Err(error) => {
            tracing::info!(%error, "Graph refused a mailbox to the tenant's application token");
            MailboxCheck::Denied("the tenant's consent does not reach this mailbox".into())
        }
    }
}

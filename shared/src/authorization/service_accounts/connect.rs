//! Completing an Enterprise Connect request once the service account's credentials were tried:
//! the service account's own calsync account and its row with the sealed credentials (or, when the
//! organisation authorizes the same account again, new credentials on the existing row), and the
//! authorization code the application exchanges for the service account's token.

use anyhow::Context;

use crate::{
    authorization::{AuthorizeRequest, Connection, new_account, redirect_with_code},
    crypto::{Credentials, token_hash},
    domain::{ProviderName, ServiceAccount, ServiceAccountId},
    state::AppState,
};

/// Completes a pending Enterprise Connect request with a verified Exchange service account and
/// returns the redirect URI carrying a new code. `None` when the request was completed meanwhile.
pub async fn complete_service_account(
    state: &AppState,
    request_id: &str,
    request: &AuthorizeRequest,
    connection: &Connection,
) -> anyhow::Result<Option<String>> {
    let Connection::Exchange { email, password, username, server_url } = connection else {
        anyhow::bail!("Enterprise Connect takes an Exchange service account only");
    };
    let email = email.to_ascii_lowercase();
    let credentials = exchange_credentials(&email, password, username.as_deref());
    let authorized = Authorized {
        provider: ProviderName::Exchange,
        principal: email.clone(),
        account_email: Some(email),
        server_url: server_url.clone(),
        credentials: &credentials,
    };
    complete(state, request_id, request, authorized).await
}

/// An Exchange service account's credentials as sealed and as tried at the server.
pub fn exchange_credentials(email: &str, password: &str, username: Option<&str>) -> Credentials {
    Credentials::ServiceAccount {
        provider: ProviderName::Exchange,
        principal: email.to_owned(),
        secret: password.to_owned(),
        username: username.map(str::to_owned),
        tenant: None,
    }
}

/// What an organisation authorized: a service account and how it reaches mailboxes.
pub(super) struct Authorized<'a> {
    pub provider: ProviderName,
    /// The service account's identity at the provider, lower case: its address, or the Office
    /// 365 tenant id. The application has one service account per provider and principal.
    pub principal: String,
    /// The email of the service account's own calsync account, when it has one.
    pub account_email: Option<String>,
    /// Where it reaches mailboxes (Exchange's server, Office 365's verified domains).
    pub server_url: Option<String>,
    pub credentials: &'a Credentials,
}

/// Completes a pending Enterprise Connect request with what the organisation authorized and
/// returns the redirect URI carrying a new code; `None` when the request was completed meanwhile.
/// The application's existing service account for the same provider and principal gets the new
/// credentials (a changed password is fixed by authorizing again), else a new one is stored with
/// its own calsync account.
pub(super) async fn complete(
    state: &AppState,
    request_id: &str,
    request: &AuthorizeRequest,
    authorized: Authorized<'_>,
) -> anyhow::Result<Option<String>> {
    let store = &state.store;
    let now = state.clock.now();
    let delegated = request.delegated_scopes.clone().context("not an Enterprise Connect request")?;

    // Complete the request first: of two submissions of the page only one stores anything.
    if !store.complete_authorize_request(&token_hash(request_id), now).await? {
        return Ok(None);
    }

    let Authorized { provider, principal, account_email, server_url, credentials } = authorized;
    let application = &request.application_id;
    let account_id = match store.find_service_account(application, provider, &principal).await? {
        Some(existing) => {
            let sealed = state.vault.seal_service_account(&existing.id, credentials).context("sealing")?;
            store.update_service_account(&existing.id, server_url.as_deref(), &delegated, &sealed, now).await?;
            tracing::info!(service_account_id = %existing.id, %provider, "service account authorized again");
            existing.account_id
        }
        None => {
            let account = new_account(account_email, now);
            store.create_account(&account).await?;
            let service_account = ServiceAccount {
                id: ServiceAccountId::generate(),
                application_id: application.clone(),
                account_id: account.id.clone(),
                provider,
                email: principal,
                server_url,
                delegated_scopes: delegated,
                created_at: now,
                updated_at: now,
            };
            let sealed = state.vault.seal_service_account(&service_account.id, credentials).context("sealing")?;
            store.create_service_account(&service_account, &sealed).await?;
            tracing::info!(service_account_id = %service_account.id, %provider, "service account authorized");
            account.id
        }
    };
    Ok(Some(redirect_with_code(state, request, account_id, None).await?))
}

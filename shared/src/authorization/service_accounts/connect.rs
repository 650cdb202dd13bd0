//! Completing an Enterprise Connect request once the service account's credentials were tried:
//! the service account's own calsync account and its row with the sealed credentials (or, when the
//! organisation authorizes the same account again, new credentials on the existing row), and the
//! authorization code the application exchanges for the service account's token.

use anyhow::Context;

use crate::{
    authorization::{AuthorizeRequest, CODE_TTL, Connection, NewAuthorizationCode, append_query, new_account},
    crypto::{Credentials, token_hash},
    domain::{AccountId, ProviderName, ServiceAccount, ServiceAccountId, random_token},
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
    let store = &state.store;
    let now = state.clock.now();
    let Connection::Exchange { email, password, username, server_url } = connection else {
        anyhow::bail!("Enterprise Connect takes an Exchange service account only");
    };
    let delegated = request.delegated_scopes.clone().context("not an Enterprise Connect request")?;

    // Complete the request first: of two submissions of the page only one stores anything.
    if !store.complete_authorize_request(&token_hash(request_id), now).await? {
        return Ok(None);
    }

    // The service account: the application's existing one for this address gets the new
    // credentials (a changed password is fixed by authorizing again), else a new one.
    let email = email.to_ascii_lowercase();
    let credentials = Credentials::ServiceAccount {
        provider: ProviderName::Exchange,
        principal: email.clone(),
        secret: password.clone(),
        username: username.clone(),
        tenant: None,
    };
    let application = &request.application_id;
    let account_id = match store.find_service_account(application, ProviderName::Exchange, &email).await? {
        Some(existing) => {
            let sealed = state.vault.seal_service_account(&existing.id, &credentials).context("sealing")?;
            store.update_service_account(&existing.id, server_url.as_deref(), &delegated, &sealed, now).await?;
            tracing::info!(service_account_id = %existing.id, "service account authorized again");
            existing.account_id
        }
        None => {
            let account = new_account(Some(email.clone()), now);
            store.create_account(&account).await?;
            let service_account = ServiceAccount {
                id: ServiceAccountId::generate(),
                application_id: application.clone(),
                account_id: account.id.clone(),
                provider: ProviderName::Exchange,
                email,
                server_url: server_url.clone(),
                delegated_scopes: delegated,
                created_at: now,
                updated_at: now,
            };
            let sealed = state.vault.seal_service_account(&service_account.id, &credentials).context("sealing")?;
            store.create_service_account(&service_account, &sealed).await?;
            tracing::info!(service_account_id = %service_account.id, "service account authorized");
            account.id
        }
    };

    Ok(Some(redirect_with_code(state, request, account_id).await?))
}

/// The service account's own authorization code (naming no profile) for `account_id`, and the
/// application's redirect URI carrying it.
pub(super) async fn redirect_with_code(
    state: &AppState,
    request: &AuthorizeRequest,
    account_id: AccountId,
) -> anyhow::Result<String> {
    let now = state.clock.now();
    let code = random_token(32);
    state
        .store
        .create_authorization_code(&NewAuthorizationCode {
            code_hash: token_hash(&code),
            application_id: request.application_id.clone(),
            account_id,
            profile_id: None,
            redirect_uri: request.redirect_uri.clone(),
            scopes: request.scopes.clone(),
            created_at: now,
            expires_at: now + CODE_TTL,
        })
        .await?;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = request.state.as_deref() {
        pairs.push(("state", state));
    }
    Ok(append_query(&request.redirect_uri, &pairs))
}

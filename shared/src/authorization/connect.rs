//! Completing an authorization request once the user has connected a calendar service: the
//! account, its profile and sealed credentials (or hosted calendar), and the authorization code
//! the application exchanges for tokens.

use anyhow::Context;

use super::{AuthorizeRequest, CODE_TTL, Connection, NewAuthorizationCode, append_query, new_account};
use crate::{
    adapters::QueueName,
    crypto::token_hash,
    domain::{AccountId, Calendar, Profile, ProfileId, ProfileStatus, random_token},
    jobs::SyncJob,
    state::AppState,
};

/// Completes a pending request with a validated connection: creates the account, its profile
/// and sealed credentials (or its hosted calendar), and returns the redirect URI carrying a new
/// authorization code. `None` when the request was completed meanwhile (a second submission).
pub async fn complete(
    state: &AppState,
    request_id: &str,
    request: &AuthorizeRequest,
    connection: &Connection,
) -> anyhow::Result<Option<String>> {
    let store = &state.store;
    let now = state.clock.now();

    // Complete the request first: of two submissions of the page only one creates an account.
    if !store.complete_authorize_request(&token_hash(request_id), now).await? {
        return Ok(None);
    }

    let account = new_account(connection.account_email(), now);
    store.create_account(&account).await?;
    let (provider, provider_service, profile_name, server_url) =
        connection.profile_fields(&state.config.icloud_caldav_url);
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: account.id.clone(),
        provider,
        provider_service,
        email: profile_name,
        name: None,
        tzid: None,
        status: ProfileStatus::Active,
        server_url,
        created_at: now,
        updated_at: now,
    };
    store.create_profile(&profile).await?;

    match connection.credentials() {
        Some(credentials) => {
            // The page tried the credentials before completing (verify.rs).
            let sealed = state.vault.seal(&profile.id, &credentials).context("sealing the credentials")?;
            store.put_credentials(&profile.id, &account.id, &sealed, now).await?;
            let job = serde_json::to_string(&SyncJob::SyncCalendarList { profile_id: profile.id.clone() })?;
            state.queue.send(QueueName::Sync, job, None).await.context("queueing the first calendar sync")?;
        }
        None => {
            store.upsert_calendar(&Calendar::new_hosted(&profile.id, &account.id, "Calendar", true, now)).await?;
        }
    }

    Ok(Some(redirect_with_code(state, request, account.id.clone(), Some(profile.id.clone())).await?))
}

/// A new authorization code for `account_id` (and the profile just connected, when there is one;
/// an Enterprise Connect service account's code names none), and the application's redirect URI
/// carrying it with the request's `state`.
pub(crate) async fn redirect_with_code(
    state: &AppState,
    request: &AuthorizeRequest,
    account_id: AccountId,
    profile_id: Option<ProfileId>,
) -> anyhow::Result<String> {
    let now = state.clock.now();
    let code = random_token(32);
    state
        .store
        .create_authorization_code(&NewAuthorizationCode {
            code_hash: token_hash(&code),
            application_id: request.application_id.clone(),
            account_id,
            profile_id,
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

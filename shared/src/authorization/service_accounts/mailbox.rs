//! The job behind `POST /v1/service_account_authorizations`: one mailbox authorized through a
//! service account, and the application called back with a code for it (or `access_denied`).
//!
//! Nothing is stored for a mailbox the service account may not act for. Otherwise the mailbox's
//! account and Exchange profile are found (the service account authorized it before) or created;
//! the profile names the service account and holds no credentials of its own. The code is bound
//! to the callback URL as its redirect URI, its calendar list sync is queued as after any new
//! connection, and the callback goes out signed through the outbound URL policy of push
//! notifications. Delivery is at-least-once: a retried job finds the same account and profile
//! and sends a fresh code (an unused one expires in ten minutes). Transient failures, Exchange's
//! or the callback endpoint's, fail the job so the queue retries it.

use anyhow::{Context, anyhow};
use serde_json::{Map, Value, json};

use super::{MailboxCheck, MailboxRequest, check_mailbox};
use crate::{
    adapters::QueueName,
    authorization::{CODE_TTL, NewAuthorizationCode, new_account},
    crypto::token_hash,
    domain::{
        AccountId, ApplicationId, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService, Scopes,
        ServiceAccount, random_token,
    },
    jobs::{JobError, JobOutcome, SyncJob},
    notify,
    state::AppState,
};

/// Authorizes one mailbox through its service account; see the module doc.
#[tracing::instrument(skip_all, fields(service_account_id = %request.service_account_id))]
pub async fn authorize_mailbox(state: &AppState, request: &MailboxRequest) -> Result<JobOutcome, JobError> {
    let store = &state.store;

    // The service account, its credentials and the scopes asked for, as they are now.
    let Some(service_account) = store.get_service_account(&request.service_account_id).await? else {
        return call_back(state, request, Err("the service account is no longer authorized")).await;
    };
    let Some(sealed) = store.get_service_account_credentials(&service_account.id).await? else {
        return call_back(state, request, Err("the service account is no longer authorized")).await;
    };
    let Ok(credentials) = state.vault.open_service_account(&service_account.id, &sealed) else {
        tracing::error!("a service account's credentials could not be opened");
        return call_back(state, request, Err("the service account's credentials cannot be used")).await;
    };
    let scopes = match Scopes::parse(&request.scope) {
        Ok(scopes) if !scopes.is_empty() && scopes.is_subset(&service_account.delegated_scopes) => scopes,
        _ => return call_back(state, request, Err("the scope is outside the service account's delegated scope")).await,
    };

    // May the service account act for the mailbox? Nothing is stored unless it may.
    let server_url = service_account.server_url.as_deref();
    let check = if service_account.provider == ProviderName::Office365 {
        super::office365::check_office365_mailbox(state, &service_account, credentials, &request.email).await
    } else if service_account.provider == ProviderName::Google {
        // Each mailbox gets its own token through the domain's delegation.
        drop(credentials);
        super::google::check_google_mailbox(state, &service_account, &request.email).await
    } else {
        let check = check_mailbox(state, &credentials, &service_account.email, server_url, &request.email).await;
        drop(credentials);
        check
    };
    match check {
        MailboxCheck::Allowed => {}
        MailboxCheck::Denied(reason) => {
            tracing::info!(%reason, "a mailbox authorization was denied");
            return call_back(state, request, Err(&reason)).await;
        }
        MailboxCheck::Retry(reason) => {
            return Err(JobError::Retryable(anyhow!("the mailbox could not be checked: {reason}")));
        }
    }

    // The mailbox's account and profile, its first calendar sync, and the code.
    let (account_id, profile_id) = mailbox_profile(state, &service_account, &request.email).await?;
    let job = serde_json::to_string(&SyncJob::SyncCalendarList { profile_id: profile_id.clone() })
        .map_err(|e| JobError::Retryable(e.into()))?;
    state.queue.send(QueueName::Sync, job, None).await.context("queueing the first calendar sync")?;
    let code = random_token(32);
    let now = state.clock.now();
    store
        .create_authorization_code(&NewAuthorizationCode {
            code_hash: token_hash(&code),
            application_id: service_account.application_id.clone(),
            account_id,
            profile_id: Some(profile_id),
            redirect_uri: request.callback_url.clone(),
            scopes,
            created_at: now,
            expires_at: now + CODE_TTL,
        })
        .await?;
    call_back(state, request, Ok(&code)).await
}

/// The account and profile through which `service_account` reaches `email`: the existing ones
/// (reconnected if they were disconnected), else new ones.
async fn mailbox_profile(
    state: &AppState,
    service_account: &ServiceAccount,
    email: &str,
) -> Result<(AccountId, ProfileId), JobError> {
    let store = &state.store;
    let now = state.clock.now();
    let email = email.to_ascii_lowercase();
    if let Some(id) = store.find_service_account_profile(&service_account.id, &email).await? {
        if let Some(profile) = store.get_profile(&id).await? {
            if profile.status != ProfileStatus::Active {
                store.set_profile_status(&profile.id, ProfileStatus::Active, now).await?;
            }
            return Ok((profile.account_id, profile.id));
        }
    }
    // A new account's retention clock runs until the application exchanges the code, so an
    // account whose code is never used is removed like any other.
    let account = new_account(Some(email.clone()), now);
    store.create_account(&account).await?;
    let office365 = service_account.provider == ProviderName::Office365;
    let google = service_account.provider == ProviderName::Google;
    let (provider, provider_service) = match service_account.provider {
        ProviderName::Office365 => (ProviderName::Office365, ProviderService::Office365),
        ProviderName::Google => (ProviderName::Google, ProviderService::Gsuite),
        _ => (ProviderName::Exchange, ProviderService::Exchange),
    };
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: account.id.clone(),
        provider,
        provider_service,
        email,
        name: None,
        tzid: None,
        status: ProfileStatus::Active,
        // The organisation's server: Autodiscover is asked there for the mailbox. (An Office
        // 365 service account's `server_url` lists its tenant's domains: not a server.)
        server_url: if office365 || google { None } else { service_account.server_url.clone() },
        created_at: now,
        updated_at: now,
    };
    // Two jobs for one mailbox at once: the loser conflicts, and its retry finds the winner's.
    store.create_service_account_profile(&profile, &service_account.id).await?;
    tracing::info!(profile_id = %profile.id, "mailbox connected through its service account");
    Ok((account.id, profile.id))
}

/// POSTs `{"authorization": {...}}` to the request's callback URL: the code, or `access_denied`
/// with why. Done when the application answered 2xx, given up when the URL is no longer allowed,
/// retried otherwise.
async fn call_back(
    state: &AppState,
    request: &MailboxRequest,
    outcome: Result<&str, &str>,
) -> Result<JobOutcome, JobError> {
    let mut authorization = Map::new();
    match outcome {
        Ok(code) => {
            authorization.insert("code".into(), json!(code));
        }
        Err(reason) => {
            authorization.insert("error".into(), json!("access_denied"));
            authorization.insert("error_description".into(), json!(reason));
        }
    }
    if let Some(oauth_state) = &request.state {
        authorization.insert("state".into(), json!(oauth_state));
    }
    let body = serde_json::to_vec(&json!({ "authorization": Value::Object(authorization) }))
        .map_err(|e| JobError::Retryable(e.into()))?;
    let signature = signature(state, &request.application_id, &body).await?;
    let attempt = state.callbacks.deliver(&request.callback_url, body, &signature).await;
    tracing::info!(
        application_id = %request.application_id,
        status = %attempt.status,
        latency_ms = attempt.latency.as_millis() as u64,
        granted = outcome.is_ok(),
        "service account authorization callback"
    );
    if attempt.delivered {
        Ok(JobOutcome::Done)
    } else if attempt.refused {
        Ok(JobOutcome::Skipped("the callback URL leads to an address that is not allowed"))
    } else {
        Err(JobError::Retryable(anyhow!("the callback endpoint answered {}", attempt.status)))
    }
}

/// `Cronofy-HMAC-SHA256` of `body` with the application's live client secrets, as push
/// notifications are signed; empty (no header) for an application with no sealed secret.
async fn signature(state: &AppState, application: &ApplicationId, body: &[u8]) -> Result<String, JobError> {
    let now = state.clock.now();
    let mut secrets = Vec::new();
    for sealed in state.store.signing_secrets(application, now).await? {
        match state.vault.open_secret(application, &sealed) {
            Ok(secret) => secrets.push(secret),
            Err(e) => tracing::error!(error.message = %e, "a sealed client secret could not be opened"),
        }
    }
    Ok(notify::signature(&secrets, body))
}

//! Reaching a profile's calendar service, and what the engine does when that fails.
//!
//! Failures are classified once (providers.md §7): transient ones are retried with exponential
//! backoff and jitter (a `Retry-After` the service sent is honoured exactly), dead credentials
//! disconnect the profile and stop its jobs without a retry storm, and permanent failures are
//! recorded with their reason and acknowledged.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::caldav::CalDavProvider;
use super::ews::EwsProvider;
use super::google::GoogleProvider;
use super::graph::GraphProvider;
use super::hosted::HostedProvider;
use super::provider::{CalendarProvider, ProviderError};
use crate::domain::{Calendar, CalendarId, Profile, ProfileStatus, ProviderName};
use crate::jobs::{JobError, JobOutcome};
use crate::notify;
use crate::providers::caldav::Policy;
use crate::providers::oauth::{IdentityPlatform, PlatformKind};
use crate::state::AppState;
use crate::store::StoreError;

/// The first wait after a transient failure when the service named no delay; it doubles with
/// each consecutive failure.
const FIRST_RETRY: Duration = Duration::from_secs(60);
/// The longest wait between attempts after transient failures.
const MAX_RETRY: Duration = Duration::from_secs(60 * 60);
/// Wait before trying again after a permanent failure.
const PERMANENT_BACKOFF: chrono::Duration = chrono::Duration::hours(1);

/// What went wrong inside a job.
#[derive(Debug)]
pub(super) enum Failure {
    Provider(ProviderError),
    Store(StoreError),
}

impl From<ProviderError> for Failure {
    fn from(e: ProviderError) -> Self {
        Failure::Provider(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// Whether the engine has an adapter for this provider.
pub fn handles(provider: ProviderName) -> bool {
    matches!(
        provider,
        ProviderName::Apple
            | ProviderName::CalDav
            | ProviderName::Exchange
            | ProviderName::Google
            | ProviderName::Office365
            | ProviderName::LiveConnect
            | ProviderName::Hosted
    )
}

/// The adapter for a profile, with its credentials renewed when the service rotates them.
pub(super) async fn connect(state: &AppState, profile: &Profile) -> Result<Box<dyn CalendarProvider>, Failure> {
    if profile.provider == ProviderName::Hosted {
        let calendars = state.store.list_calendars(&profile.account_id).await?;
        let own = calendars.into_iter().filter(|c| c.profile_id == profile.id).collect();
        return Ok(Box::new(HostedProvider::new(own)));
    }
    let linked = state.store.profile_service_account(&profile.id).await?;
    let (credentials, impersonate) = match linked.clone() {
        // A mailbox reached through a service account (Enterprise Connect): the service account's
        // credentials, acting for the mailbox. A service account that is gone (its account was
        // erased) is as dead as a refused password: the profile is disconnected.
        Some(service_account) => {
            let Some(sealed) = state.store.get_service_account_credentials(&service_account).await? else {
                return Err(ProviderError::CredentialsDead.into());
            };
            let credentials = state
                .vault
                .open_service_account(&service_account, &sealed)
                .map_err(|_| ProviderError::Permanent("the service account's credentials cannot be opened".into()))?;
            (credentials, Some(profile.email.clone()))
        }
        None => {
            let Some(sealed) = state.store.get_credentials(&profile.id).await? else {
                return Err(ProviderError::CredentialsDead.into());
            };
            let credentials = state
                .vault
                .open(&profile.id, &sealed)
                .map_err(|_| ProviderError::Permanent("the profile's credentials cannot be opened".into()))?;
            (credentials, None)
        }
    };
    let default_tz = profile.tzid.as_deref().and_then(|z| z.parse::<Tz>().ok()).unwrap_or(Tz::UTC);
    let provider: Box<dyn CalendarProvider> = if profile.provider == ProviderName::Google && impersonate.is_some() {
        // A Workspace mailbox through domain-wide delegation: a token minted for it with
        // calsync's service account key, and its own quotaUser.
        let Some(key) = state.providers.google_service_account.clone() else {
            return Err(ProviderError::Permanent("no Google service account key is configured".into()).into());
        };
        let google = &state.config.google;
        let quota_user = super::google::quota_user(&profile.id);
        Box::new(GoogleProvider::delegated(
            &google.api_url,
            key,
            &google.token_url,
            &profile.email,
            &quota_user,
            default_tz,
            state.clock.now(),
        )?)
    } else if profile.provider == ProviderName::Google {
        let google = &state.config.google;
        let platform = IdentityPlatform::at(PlatformKind::Google, &google.authorize_url, &google.token_url)
            .map_err(|_| ProviderError::Permanent("the Google endpoints are not valid URLs".into()))?;
        let oauth = state.providers.google.clone();
        Box::new(GoogleProvider::new(&google.api_url, platform, oauth, credentials, default_tz, state.clock.now())?)
    } else if matches!(profile.provider, ProviderName::Office365 | ProviderName::LiveConnect) {
        let microsoft = &state.config.microsoft;
        let platform = IdentityPlatform::at(PlatformKind::Microsoft, &microsoft.authorize_url, &microsoft.token_url)
            .map_err(|_| ProviderError::Permanent("the Microsoft endpoints are not valid URLs".into()))?;
        let oauth = state.providers.microsoft.clone();
        match &linked {
            // An Office 365 tenant's mailbox (Enterprise Connect): the tenant's application token
            // at `users/{address}`, renewed for the tenant the service account names.
            Some(service_account) => {
                let tenant = state.store.get_service_account(service_account).await?;
                let Some(tenant) = tenant.as_ref().and_then(|s| s.tenant()) else {
                    return Err(ProviderError::CredentialsDead.into());
                };
                let url = &microsoft.graph_url;
                let now = state.clock.now();
                Box::new(GraphProvider::for_mailbox(url, platform, oauth, credentials, tenant, &profile.email, now)?)
            }
            None => {
                Box::new(GraphProvider::new(&microsoft.graph_url, platform, oauth, credentials, state.clock.now())?)
            }
        }
    } else if profile.provider == ProviderName::Exchange {
        // The endpoint an earlier listing found spares Autodiscover; plain HTTP and private
        // addresses are reachable in the local mode only.
        let known = state.store.profile_calendar_home(&profile.id).await?;
        let policy = Policy::for_mode(state.config.mode);
        let server_url = profile.server_url.as_deref();
        Box::new(EwsProvider::new(
            &profile.email,
            server_url,
            &credentials,
            impersonate.as_deref(),
            policy,
            default_tz,
            known.as_deref(),
        )?)
    } else {
        let Some(server_url) = profile.server_url.as_deref() else {
            return Err(ProviderError::Permanent("the profile has no server URL".into()).into());
        };
        // Plain HTTP and servers on private addresses are reachable in the local mode only.
        let policy = Policy::for_mode(state.config.mode);
        Box::new(CalDavProvider::new(server_url, &credentials, policy, default_tz)?)
    };
    // Renewed credentials are a profile's own; a service account's are never copied to a profile.
    let renewed = provider.refresh_credentials().await?;
    if let (Some(renewed), Some(service_account), ProviderName::Office365) = (&renewed, &linked, profile.provider) {
        // An Office 365 tenant's renewed application token replaces the service account's.
        if let Some(current) = state.store.get_service_account(service_account).await? {
            let sealed = state
                .vault
                .seal_service_account(service_account, renewed)
                .map_err(|_| ProviderError::Permanent("renewed credentials could not be sealed".into()))?;
            let (domains, delegated) = (current.server_url.as_deref(), &current.delegated_scopes);
            state.store.update_service_account(service_account, domains, delegated, &sealed, state.clock.now()).await?;
        }
    }
    if let Some(renewed) = renewed.filter(|_| impersonate.is_none()) {
        let sealed = state
            .vault
            .seal(&profile.id, &renewed)
            .map_err(|_| ProviderError::Permanent("renewed credentials could not be sealed".into()))?;
        state.store.put_credentials(&profile.id, &profile.account_id, &sealed, state.clock.now()).await?;
    }
    Ok(provider)
}

/// How long to wait after the `failures`-th consecutive transient failure of a calendar: the
/// service's own `Retry-After` when it sent one, else a doubling delay capped at an hour, spread
/// by ±25 % so calendars that failed together do not retry together. The spread is derived from
/// the calendar and the attempt, so it is stable for one attempt and differs between calendars.
pub fn retry_delay(calendar: &CalendarId, failures: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait;
    }
    let doubled = FIRST_RETRY.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let base = doubled.min(MAX_RETRY);
    let digest = Sha256::digest(format!("{calendar}:{failures}").as_bytes());
    // A fraction in [0, 1) from the digest, mapped onto [0.75, 1.25).
    let fraction = f64::from(u16::from_be_bytes([digest[0], digest[1]])) / 65_536.0;
    base.mul_f64(0.75 + fraction / 2.0)
}

/// Turns a failure into the job's result; `calendar` is where a failure is recorded, with
/// `previous_failures` the streak before this one.
pub(super) async fn conclude(
    state: &AppState,
    profile: &Profile,
    calendar: Option<(&Calendar, u32)>,
    failure: Failure,
) -> Result<JobOutcome, JobError> {
    let now = state.clock.now();
    let error = match failure {
        Failure::Store(e) => return Err(e.into()),
        Failure::Provider(e) => e,
    };
    let record = |code: &'static str, until: DateTime<Utc>| async move {
        if let Some((calendar, _)) = calendar {
            state.store.record_sync_failure(&calendar.id, &calendar.account_id, code, until, now).await?;
        }
        Ok::<(), StoreError>(())
    };
    match error {
        ProviderError::CredentialsDead => {
            tracing::warn!(profile_id = %profile.id, "the provider refused the credentials; profile disconnected");
            state.store.set_profile_status(&profile.id, ProfileStatus::Disconnected, now).await?;
            record("credentials_dead", now).await?;
            // Jobs skip disconnected profiles, so this is told once, not on every retry.
            let kind = notify::Kind::ProfileDisconnected;
            if let Err(e) = notify::account_event(state, &profile.account_id, kind).await {
                tracing::error!(error.message = %e, error.cause_chain = ?e, "disconnection notifications could not be queued");
            }
            Ok(JobOutcome::Skipped("the provider refused the credentials; the profile is disconnected"))
        }
        ProviderError::Transient { retry_after, reason } => {
            if let Some((calendar, previous)) = calendar {
                let wait = retry_delay(&calendar.id, previous + 1, retry_after);
                let wait = chrono::Duration::from_std(wait).unwrap_or(PERMANENT_BACKOFF);
                record("provider_unavailable", now + wait).await?;
            }
            Err(JobError::Retryable(anyhow::anyhow!("transient provider failure: {reason}")))
        }
        ProviderError::SyncTokenInvalid | ProviderError::Conflict | ProviderError::Permanent(_) => {
            tracing::warn!(profile_id = %profile.id, %error, "job failed permanently");
            record("provider_error", now + PERMANENT_BACKOFF).await?;
            Ok(JobOutcome::Skipped("the provider failed permanently; recorded"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_after_from_the_service_is_waited_exactly() {
        let calendar = CalendarId::generate();
        assert_eq!(retry_delay(&calendar, 3, Some(Duration::from_secs(7))), Duration::from_secs(7));
    }

    #[test]
    fn transient_retries_double_within_a_quarter_either_way_and_stop_growing_at_an_hour() {
        let calendar = CalendarId::generate();
        for (failures, base) in [(1u32, 60u64), (2, 120), (3, 240), (4, 480), (7, 3600), (40, 3600)] {
            let wait = retry_delay(&calendar, failures, None).as_secs_f64();
            let base = base as f64;
            assert!((base * 0.75..base * 1.25).contains(&wait), "failure {failures}: {wait}s");
        }
    }

    #[test]
    fn calendars_that_failed_together_retry_at_different_times() {
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| retry_delay(&CalendarId::generate(), 1, None)).collect();
        assert!(waits.len() > 15, "{waits:?}");
    }
}

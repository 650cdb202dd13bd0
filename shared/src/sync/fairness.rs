//! Fairness to self-hosted calendar servers: a large organisation's mailboxes all live on one
//! Exchange (or CalDAV) server, and syncing thousands of them at once must not flood it. Every
//! job that talks to such a server first takes one of its slots (at most
//! `CALSYNC_SERVER_CONCURRENCY` jobs per server at a time) and checks the minute's request count
//! against `CALSYNC_SERVER_REQUESTS_PER_MINUTE`; the requests it sent are counted when it ends.
//! A job that finds no slot or a spent budget is queued again for later and acknowledged, so
//! waiting never counts as a failure, backs a calendar off, or exhausts redelivery.
//!
//! The budget is checked before a job starts, so one job may overshoot it by its own requests;
//! the next minute pays for it. Google, Microsoft and iCloud are left out: they throttle each
//! account themselves, and one host serves everyone there.

use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};

use crate::adapters::QueueName;
use crate::domain::{Profile, ProviderName};
use crate::jobs::{JobError, SyncJob};
use crate::state::AppState;
use crate::store::StoreError;

/// How long a slot stays held if its job dies without giving it back (longer than the sync
/// function's 60-second timeout).
const SLOT_LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// When every slot is taken, the job comes back after this long, give or take a third.
const SLOT_RETRY: Duration = Duration::from_secs(15);

/// The server a profile's jobs talk to, when it is budgeted: the host of the profile's server
/// (for Exchange without one, the email's domain, which autodiscovery starts from).
pub(super) fn server_of(profile: &Profile) -> Option<String> {
    let host = |url: &str| url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    match profile.provider {
        ProviderName::Exchange => match profile.server_url.as_deref() {
            Some(url) => host(url),
            None => profile.email.rsplit_once('@').map(|(_, domain)| domain.to_ascii_lowercase()),
        },
        ProviderName::CalDav => profile.server_url.as_deref().and_then(host),
        _ => None,
    }
}

/// A slot held at a server.
#[derive(Debug)]
pub(super) struct Pass {
    server: String,
    slot: u32,
    holder: String,
}

/// Whether a job may go ahead.
#[derive(Debug)]
pub(super) enum Admission {
    /// The profile's server is not budgeted.
    Free,
    /// Go ahead, holding this slot.
    Admitted(Pass),
    /// Come back after this long.
    Wait(Duration),
}

fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::minutes(1)).unwrap_or(at)
}

/// Takes a slot at the profile's server, if it is budgeted and the minute's budget is not spent.
pub(super) async fn admit(state: &AppState, profile: &Profile) -> Result<Admission, StoreError> {
    let Some(server) = server_of(profile) else { return Ok(Admission::Free) };
    let budget = state.config.server_budget;
    let now = state.clock.now();
    let minute = minute_of(now);
    if state.store.server_requests(&server, minute).await? >= u64::from(budget.requests_per_minute) {
        let rest = (minute + chrono::Duration::minutes(1) - now).to_std().unwrap_or(SLOT_RETRY);
        tracing::info!(server = %server, "the server's request budget for this minute is spent; the job waits");
        return Ok(Admission::Wait(rest + jitter(Duration::from_secs(5))));
    }
    let holder = format!("job-{:032x}", rand::random::<u128>());
    match state.store.take_server_slot(&server, budget.concurrency, &holder, now + SLOT_LEASE, now).await? {
        Some(slot) => Ok(Admission::Admitted(Pass { server, slot, holder })),
        None => {
            tracing::info!(server = %server, "every slot at the server is taken; the job waits");
            Ok(Admission::Wait(SLOT_RETRY.mul_f64(2.0 / 3.0) + jitter(SLOT_RETRY.mul_f64(2.0 / 3.0))))
        }
    }
}

/// A random part of `up_to`, so jobs turned away together do not come back together.
fn jitter(up_to: Duration) -> Duration {
    up_to.mul_f64(rand::random::<f64>())
}

/// Counts the job's requests against the server and gives its slot back.
pub(super) async fn release(state: &AppState, pass: Pass, requests: u64) -> Result<(), StoreError> {
    let now = state.clock.now();
    let minute = minute_of(now);
    state.store.count_server_requests(&pass.server, minute, requests, minute - chrono::Duration::hours(1)).await?;
    state.store.release_server_slot(&pass.server, pass.slot, &pass.holder).await
}

/// Queues `job` again to run after `delay`.
pub(super) async fn requeue(state: &AppState, job: &SyncJob, delay: Duration) -> Result<(), JobError> {
    let body = serde_json::to_string(job).map_err(|e| JobError::Retryable(e.into()))?;
    state.queue.send(QueueName::Sync, body, Some(delay)).await.map_err(|e| JobError::Retryable(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountId, ProfileId, ProfileStatus, ProviderService};

    fn profile(provider: ProviderName, email: &str, server_url: Option<&str>) -> Profile {
        let now = Utc::now();
        Profile {
            id: ProfileId::generate(),
            account_id: AccountId::generate(),
            provider,
            provider_service: ProviderService::Exchange,
            email: email.into(),
            name: None,
            tzid: None,
            status: ProfileStatus::Active,
            server_url: server_url.map(str::to_owned),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn self_hosted_servers_are_budgeted_by_host_and_cloud_services_are_not() {
        let exchange =
            profile(ProviderName::Exchange, "ada@corp.example", Some("https://Mail.Corp.example/EWS/Exchange.asmx"));
        assert_eq!(server_of(&exchange).as_deref(), Some("mail.corp.example"));
        let discovered = profile(ProviderName::Exchange, "ada@Corp.example", None);
        assert_eq!(server_of(&discovered).as_deref(), Some("corp.example"));
        let caldav = profile(ProviderName::CalDav, "ada", Some("https://dav.example.org:8443/cal/"));
        assert_eq!(server_of(&caldav).as_deref(), Some("dav.example.org"));
        for cloud in [ProviderName::Google, ProviderName::Office365, ProviderName::Apple, ProviderName::Hosted] {
            assert_eq!(server_of(&profile(cloud, "ada@corp.example", Some("https://caldav.icloud.com"))), None);
        }
    }
}

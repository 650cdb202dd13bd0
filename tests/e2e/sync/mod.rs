//! The sync engine end to end: CalDAV profiles on real Radicale and Xandikos servers (started by
//! infra/caldav.sh) and hosted calendars, driven through the sync queue's job handler and read
//! back through `/v1/events`, on SQLite and PostgreSQL.
//!
//! `calendar`: incremental sync, resync, the change-marker short-circuit, backoff and SQS batches;
//! `connect`: a profile connected through the authorization page and read back exactly;
//! `push`: partner events written back to the server; `window`: the daily window advance;
//! `hosted`: calendars calsync hosts, through the same jobs; `hostile`: bad data from a server.

use calsync_core::crypto::Credentials;
use calsync_core::domain::{
    AccountId, Calendar, Event, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService, SyncState,
};
use calsync_core::jobs::{JobOutcome, SyncJob, handle_sync_message};
use calsync_core::providers::caldav::CalDavClient;
use calsync_tests::api::{Authorized, TestApi};
use calsync_tests::caldav::Server;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

macro_rules! sync_on_both_backends_and_servers {
    ($($name:ident),+ $(,)?) => {
        sync_on_both_backends_and_servers!(@backend sqlite, Sqlite, $($name),+);
        sync_on_both_backends_and_servers!(@backend postgres, Postgres, $($name),+);
    };
    (@backend $module:ident, $backend:ident, $($name:ident),+) => {
        mod $module {
            sync_on_both_backends_and_servers!(@server radicale, Radicale, $backend, $($name),+);
            sync_on_both_backends_and_servers!(@server xandikos, Xandikos, $backend, $($name),+);
        }
    };
    (@server $module:ident, $server:ident, $backend:ident, $($name:ident),+) => {
        mod $module {
            $(
                #[tokio::test]
                async fn $name() {
                    let api = calsync_tests::api::TestApi::new(calsync_tests::db::Backend::$backend).await;
                    super::super::$name(&api, calsync_tests::caldav::Server::$server).await;
                    api.cleanup().await;
                }
            )+
        }
    };
}

/// An account authorized for an application, with a CalDAV profile on `server`.
pub(super) async fn caldav_account(api: &TestApi, server: Server) -> (Authorized, Profile) {
    caldav_account_with_scopes(api, server, "read_events").await
}

/// [`caldav_account`] with the authorization's `scopes`.
pub(super) async fn caldav_account_with_scopes(api: &TestApi, server: Server, scopes: &str) -> (Authorized, Profile) {
    let (app, _) = api.application("Syncer").await;
    let who = api.authorized(&app, scopes).await;
    let endpoint = server.endpoint();
    let now = api.now();
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: who.account.id.clone(),
        provider: ProviderName::CalDav,
        provider_service: ProviderService::CalDav,
        email: "ada@example.com".into(),
        name: Some("Ada Lovelace".into()),
        tzid: Some("Etc/UTC".into()),
        status: ProfileStatus::Active,
        server_url: Some(endpoint.url.clone()),
        created_at: now,
        updated_at: now,
    };
    api.state.store.create_profile(&profile).await.unwrap();
    let credentials = Credentials::Password {
        email: "ada@example.com".into(),
        password: endpoint.password.clone(),
        username: Some(endpoint.username.clone()),
    };
    let sealed = api.state.vault.seal(&profile.id, &credentials).unwrap();
    api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, now).await.unwrap();
    (who, profile)
}

/// An account authorized for an application (with `scopes`) and an OAuth profile of `provider`
/// for "Ada Lovelace" at `email`, in London time, holding `access` and `refresh` tokens that
/// expire in an hour.
pub(super) async fn oauth_account(
    api: &TestApi,
    scopes: &str,
    (provider, service): (ProviderName, ProviderService),
    email: &str,
    (access, refresh): (String, String),
    scope: &str,
) -> (Authorized, Profile) {
    let (app, _) = api.application("Syncer").await;
    let who = api.authorized(&app, scopes).await;
    let now = api.now();
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: who.account.id.clone(),
        provider,
        provider_service: service,
        email: email.into(),
        name: Some("Ada Lovelace".into()),
        tzid: Some("Europe/London".into()),
        status: ProfileStatus::Active,
        server_url: None,
        created_at: now,
        updated_at: now,
    };
    api.state.store.create_profile(&profile).await.unwrap();
    let credentials = Credentials::OauthTokenSet {
        access_token: access,
        refresh_token: Some(refresh),
        expires_at: Some(now + Duration::hours(1)),
        scope: Some(scope.into()),
    };
    let sealed = api.state.vault.seal(&profile.id, &credentials).unwrap();
    api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, now).await.unwrap();
    (who, profile)
}

pub(super) async fn job(api: &TestApi, job: SyncJob) -> JobOutcome {
    redelivered(api, &job).await.expect("the sync job succeeds")
}

/// Handles a sync job, redelivering a calendar list job that failed retryably, as SQS would.
/// The tests share one server account, and Radicale answers a home listing that races another
/// test's calendar deletion with a 500, which production retries the same way.
pub(super) async fn redelivered(api: &TestApi, job: &SyncJob) -> Result<JobOutcome, String> {
    let body = serde_json::to_string(job).unwrap();
    for _ in 0..4 {
        match handle_sync_message(&api.state, &body).await {
            Err(calsync_core::jobs::JobError::Retryable(_)) if matches!(job, SyncJob::SyncCalendarList { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other.map_err(|e| format!("{e:?}")),
        }
    }
    handle_sync_message(&api.state, &body).await.map_err(|e| format!("{e:?}"))
}

/// The stored calendar synced from the collection at `href`.
pub(super) async fn stored_calendar(api: &TestApi, who: &Authorized, href: &str) -> Calendar {
    stored_calendar_of_account(api, &who.account.id, href).await
}

/// The stored calendar of `account` synced from the collection at `href`.
pub(super) async fn stored_calendar_of_account(api: &TestApi, account: &AccountId, href: &str) -> Calendar {
    let calendars = api.state.store.list_calendars(account).await.unwrap();
    calendars.into_iter().find(|c| c.provider_calendar_id == href).expect("the calendar was synced")
}

pub(super) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `(summary, start, deleted)` of the calendar's events, in the API's order.
pub(super) async fn events(
    api: &TestApi,
    who: &Authorized,
    calendar: &Calendar,
    extra: &str,
) -> Vec<(String, Value, bool)> {
    // From the day before now: the API reads only within the application's sync window.
    let from = (api.now() - Duration::days(1)).date_naive();
    let path = format!("/v1/events?tzid=Etc/UTC&from={from}&to=2026-06-01&calendar_ids[]={}{extra}", calendar.id);
    let (status, body) = api.get(&path, &who.access_token).await;
    assert_eq!(status, 200, "{body}");
    let list = body["events"].as_array().expect("an events array");
    list.iter()
        .map(|e| {
            (e["summary"].as_str().unwrap_or_default().to_owned(), e["start"].clone(), e["deleted"] == json!(true))
        })
        .collect()
}

/// Events changed after `since`, deleted ones included.
pub(super) async fn changed_since(
    api: &TestApi,
    who: &Authorized,
    calendar: &Calendar,
    since: DateTime<Utc>,
) -> Vec<(String, Value, bool)> {
    events(api, who, calendar, &format!("&include_deleted=true&last_modified={}", stamp(since))).await
}

pub(super) fn ics(lines: &[&str]) -> String {
    let mut all = vec!["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calsync//tests//EN"];
    all.extend_from_slice(lines);
    all.push("END:VCALENDAR");
    all.push("");
    all.join("\r\n")
}

pub(super) fn all_day() -> String {
    ics(&[
        "BEGIN:VEVENT",
        "UID:sync-holiday",
        "DTSTAMP:20260501T100000Z",
        "DTSTART;VALUE=DATE:20260506",
        "DTEND;VALUE=DATE:20260507",
        "SUMMARY:Holiday",
        "END:VEVENT",
    ])
}

pub(super) fn weekly_with_a_moved_instance() -> String {
    ics(&[
        "BEGIN:VEVENT",
        "UID:sync-weekly",
        "DTSTAMP:20260501T100000Z",
        "DTSTART:20260505T140000Z",
        "DTEND:20260505T150000Z",
        "RRULE:FREQ=WEEKLY;COUNT=4",
        "SUMMARY:Weekly review",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "UID:sync-weekly",
        "DTSTAMP:20260501T100000Z",
        "RECURRENCE-ID:20260512T140000Z",
        "DTSTART:20260512T160000Z",
        "DTEND:20260512T170000Z",
        "SUMMARY:Weekly review (moved)",
        "END:VEVENT",
    ])
}

pub(super) async fn etag_of(client: &CalDavClient, calendar: &str, href: &str) -> String {
    let listed = client.list_etags(calendar).await.expect("list etags");
    listed.into_iter().find(|(h, _)| h == href).map(|(_, etag)| etag).expect("the resource is listed")
}

pub(super) fn row(summary: &str, start: &str) -> (String, Value, bool) {
    (summary.to_owned(), json!(start), false)
}

/// Everything the store holds about one calendar's sync: its events and its sync state.
pub(super) async fn snapshot(api: &TestApi, calendar: &Calendar) -> (Vec<Event>, Option<SyncState>) {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let calendars = std::slice::from_ref(&calendar.id);
    let events = api.state.store.list_events_changed_since(calendars, epoch, 10_000).await.unwrap();
    (events, api.state.store.get_sync_state(&calendar.id).await.unwrap())
}

mod calendar;
mod connect;
mod ews;
mod fairness;
mod google;
mod hosted;
mod hostile;
mod microsoft;
mod push;
mod window;

/// Takes every visible job off the sync queue, without running it.
pub(crate) async fn take_queued(api: &TestApi) -> Vec<SyncJob> {
    use calsync_core::adapters::QueueName;
    let mut jobs = Vec::new();
    loop {
        let messages = api.state.queue.receive(QueueName::Sync, 10, std::time::Duration::ZERO).await.unwrap();
        if messages.is_empty() {
            return jobs;
        }
        for message in messages {
            jobs.push(serde_json::from_str(&message.body).expect("a sync job"));
            api.state.queue.delete(QueueName::Sync, &message.receipt).await.unwrap();
        }
    }
}

/// Runs the sync jobs waiting on the queue, and those they queue, until none is left. The
/// server account is shared with other tests, so jobs for any calendar but the one at `href` are
/// dropped unrun. Returns each job run with its outcome.
pub(super) async fn run_queued_jobs(api: &TestApi, href: &str) -> Vec<(SyncJob, Result<JobOutcome, String>)> {
    let mut ran = Vec::new();
    loop {
        let jobs = take_queued(api).await;
        if jobs.is_empty() {
            return ran;
        }
        for job in jobs {
            let calendar = match &job {
                SyncJob::SyncCalendar { calendar_id } | SyncJob::AdvanceWindow { calendar_id } => {
                    api.state.store.get_calendar(calendar_id).await.unwrap()
                }
                _ => None,
            };
            if calendar.is_none_or(|c| c.provider_calendar_id == href) {
                let outcome = redelivered(api, &job).await;
                ran.push((job, outcome));
            }
        }
    }
}

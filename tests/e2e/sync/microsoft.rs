//! Office 365 and Outlook.com profiles on the fake Microsoft (tests/src/microsoft.rs), through
//! the same jobs as CalDAV and Google: initial sync of server-expanded instances (a series with
//! an exception, an all-day event, a Windows time zone), incremental edits and deletions, one
//! request for a calendar with no change, a cancelled occurrence, `@removed` entries that are not
//! deletions, a dead delta link resynced without spurious changes, throttling with Retry-After,
//! refresh-token rotation and a revoked grant, partner events written back under their version,
//! the window advance and re-baseline, and subscriptions with their handshake, notifications and
//! lifecycle events.
//!
//! The API is served on a loopback port: Graph validates a subscription's URL by calling it.

use std::sync::Arc;

use calsync_core::AppState;
use calsync_core::adapters::QueueName;
use calsync_core::crypto::Credentials;
use calsync_core::domain::{Profile, ProfileStatus, ProviderName, ProviderService};
use calsync_core::jobs::{JobOutcome, SyncJob, handle_sync_message};
use calsync_core::providers::{OAuthClient, ProviderClients};
use calsync_tests::api::{Authorized, TestApi};
use calsync_tests::microsoft::{CLIENT_ID, CLIENT_SECRET, FakeMicrosoft};
use chrono::Duration;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{changed_since, events, oauth_account, row, stored_calendar};

const ADA: &str = "ada@contoso.example";

use crate::api::served_on_both_backends as microsoft_on_both_backends;

microsoft_on_both_backends!(
    a_microsoft_calendar_syncs_instances_then_edits_deletions_and_a_cancelled_occurrence,
    removals_graph_reports_for_events_that_still_exist_or_were_never_cached_are_not_deletions,
    a_dead_delta_link_resyncs_without_spurious_changes_and_throttling_waits_for_retry_after,
    a_rotated_refresh_token_replaces_the_old_one_and_a_revoked_grant_disconnects_the_profile,
    a_partner_event_is_written_to_microsoft_and_updated_under_its_version,
    the_window_advance_reads_the_gained_days_and_the_delta_range_is_rebaselined_weekly,
    subscriptions_are_validated_notify_a_sync_and_lifecycle_events_replace_them,
);

/// The API's state pointed at the fake Microsoft, with calsync's OAuth client registered there;
/// the fake's clock is set to the test's, so subscriptions are judged by it.
fn microsoft_state(api: &TestApi, microsoft: &FakeMicrosoft) -> AppState {
    microsoft.set_now(api.now());
    let mut config = (*api.state.config).clone();
    config.microsoft.authorize_url = microsoft.authorize_url();
    config.microsoft.token_url = microsoft.token_url();
    config.microsoft.graph_url = microsoft.graph_url();
    let client = OAuthClient { client_id: CLIENT_ID.into(), client_secret: SecretString::from(CLIENT_SECRET) };
    AppState {
        config: Arc::new(config),
        providers: Arc::new(ProviderClients { microsoft: Some(client), ..ProviderClients::default() }),
        ..api.state.clone()
    }
}

/// An account authorized for an application, with an Office 365 profile whose tokens expire in
/// an hour. Returns the refresh token too.
async fn microsoft_account(api: &TestApi, microsoft: &FakeMicrosoft, scopes: &str) -> (Authorized, Profile, String) {
    let tokens = microsoft.issue_tokens(ADA);
    let refresh = tokens.1.clone();
    let kind = (ProviderName::Office365, ProviderService::Office365);
    let scope = "openid email offline_access User.Read Calendars.ReadWrite";
    let (who, profile) = oauth_account(api, scopes, kind, ADA, tokens, scope).await;
    (who, profile, refresh)
}

async fn store_tokens(
    api: &TestApi,
    who: &Authorized,
    profile: &Profile,
    access: &str,
    refresh: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) {
    let credentials = Credentials::OauthTokenSet {
        access_token: access.into(),
        refresh_token: Some(refresh.into()),
        expires_at: Some(expires_at),
        scope: Some("openid email offline_access User.Read Calendars.ReadWrite".into()),
    };
    let sealed = api.state.vault.seal(&profile.id, &credentials).unwrap();
    api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, api.now()).await.unwrap();
}

async fn stored_tokens(api: &TestApi, profile: &Profile) -> (String, Option<String>) {
    let sealed = api.state.store.get_credentials(&profile.id).await.unwrap().expect("credentials");
    match &api.state.vault.open(&profile.id, &sealed).unwrap() {
        Credentials::OauthTokenSet { access_token, refresh_token, .. } => (access_token.clone(), refresh_token.clone()),
        other => panic!("not a token set: {other:?}"),
    }
}

async fn run(state: &AppState, job: SyncJob) -> Result<JobOutcome, String> {
    let body = serde_json::to_string(&job).unwrap();
    handle_sync_message(state, &body).await.map_err(|e| format!("{e:?}"))
}

/// A Graph event in `zone` (a Windows name, as Outlook writes them).
fn timed(id: &str, subject: &str, start: &str, end: &str, zone: &str) -> Value {
    json!({"id": id, "subject": subject, "start": {"dateTime": start, "timeZone": zone},
           "end": {"dateTime": end, "timeZone": zone}})
}

/// An instance of the weekly series `weekly-master`, as calendarView hands them out.
fn instance(id: &str, subject: &str, start: &str, end: &str, kind: &str) -> Value {
    let mut event = timed(id, subject, start, end, "UTC");
    event["type"] = json!(kind);
    event["seriesMasterId"] = json!("weekly-master");
    event
}

/// The default calendar with a single event in London time, an all-day event and three
/// instances of a weekly series (one moved: an exception), and a read-only calendar.
fn seed(microsoft: &FakeMicrosoft) -> String {
    let calendar = microsoft.add_calendar(ADA, "Calendar", true, true);
    microsoft.add_calendar(ADA, "Birthdays", false, false);
    microsoft.put_event(
        &calendar,
        timed("standup", "Standup", "2026-05-04T10:00:00", "2026-05-04T10:30:00", "GMT Standard Time"),
    );
    microsoft.put_event(
        &calendar,
        json!({"id": "holiday", "subject": "Holiday", "isAllDay": true,
               "start": {"dateTime": "2026-05-06T00:00:00", "timeZone": "UTC"},
               "end": {"dateTime": "2026-05-07T00:00:00", "timeZone": "UTC"}}),
    );
    microsoft.put_event(
        &calendar,
        instance("weekly-1", "Weekly review", "2026-05-05T14:00:00", "2026-05-05T15:00:00", "occurrence"),
    );
    microsoft.put_event(
        &calendar,
        instance("weekly-2", "Weekly review (moved)", "2026-05-12T16:00:00", "2026-05-12T17:00:00", "exception"),
    );
    microsoft.put_event(
        &calendar,
        instance("weekly-3", "Weekly review", "2026-05-19T14:00:00", "2026-05-19T15:00:00", "occurrence"),
    );
    calendar
}

/// Lists the profile's calendars and syncs the default one; returns it.
async fn first_sync(
    api: &TestApi,
    state: &AppState,
    who: &Authorized,
    profile: &Profile,
    remote: &str,
) -> calsync_core::domain::Calendar {
    assert_eq!(run(state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, Ok(JobOutcome::Done));
    let calendar = stored_calendar(api, who, remote).await;
    assert_eq!(run(state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
    calendar
}

async fn sync(state: &AppState, calendar: &calsync_core::domain::Calendar) {
    assert_eq!(run(state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
}

async fn a_microsoft_calendar_syncs_instances_then_edits_deletions_and_a_cancelled_occurrence(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let remote = seed(&microsoft);
    let state = microsoft_state(api, &microsoft);
    let (who, profile, _) = microsoft_account(api, &microsoft, "read_events").await;

    let calendar = first_sync(api, &state, &who, &profile, &remote).await;
    assert!(calendar.is_primary && !calendar.read_only);
    let birthdays = api.state.store.list_calendars(&who.account.id).await.unwrap();
    assert!(birthdays.iter().any(|c| c.name == "Birthdays" && c.read_only), "{birthdays:?}");
    assert_eq!(
        events(api, &who, &calendar, "").await,
        vec![
            row("Standup", "2026-05-04T09:00:00Z"),
            row("Weekly review", "2026-05-05T14:00:00Z"),
            row("Holiday", "2026-05-06"),
            row("Weekly review (moved)", "2026-05-12T16:00:00Z"),
            row("Weekly review", "2026-05-19T14:00:00Z"),
        ]
    );
    // Every Graph request asks for immutable ids and UTC.
    for request in microsoft.requests().iter().filter(|r| r.path.starts_with("/v1.0/")) {
        assert!(request.prefer.contains(&"IdType=\"ImmutableId\"".to_owned()), "{request:?}");
        assert!(request.prefer.contains(&"outlook.timezone=\"UTC\"".to_owned()), "{request:?}");
    }

    // An edit and a deletion in Outlook: exactly those change.
    let first = api.now();
    api.clock.advance(Duration::minutes(1));
    microsoft.put_event(
        &remote,
        timed("standup", "Standup (renamed)", "2026-05-04T10:00:00", "2026-05-04T10:30:00", "GMT Standard Time"),
    );
    microsoft.delete_event(&remote, "holiday");
    let state = microsoft_state(api, &microsoft);
    sync(&state, &calendar).await;
    assert_eq!(
        changed_since(api, &who, &calendar, first + Duration::seconds(1)).await,
        vec![row("Standup (renamed)", "2026-05-04T09:00:00Z"), ("Holiday".to_owned(), json!("2026-05-06"), true)]
    );

    // Nothing changed: one request, nothing written.
    let second = api.now();
    api.clock.advance(Duration::minutes(1));
    let state = microsoft_state(api, &microsoft);
    let before = microsoft.api_request_count();
    sync(&state, &calendar).await;
    assert_eq!(microsoft.api_request_count() - before, 1, "a no-change sync costs one request");
    assert_eq!(changed_since(api, &who, &calendar, second + Duration::seconds(1)).await, vec![]);

    // One occurrence cancelled in Outlook: that instance alone is tombstoned, the series lives.
    let third = api.now();
    api.clock.advance(Duration::minutes(1));
    microsoft.delete_event(&remote, "weekly-3");
    let state = microsoft_state(api, &microsoft);
    sync(&state, &calendar).await;
    assert_eq!(
        changed_since(api, &who, &calendar, third + Duration::seconds(1)).await,
        vec![("Weekly review".to_owned(), json!("2026-05-19T14:00:00Z"), true)]
    );
    assert_eq!(
        events(api, &who, &calendar, "").await,
        vec![
            row("Standup (renamed)", "2026-05-04T09:00:00Z"),
            row("Weekly review", "2026-05-05T14:00:00Z"),
            row("Weekly review (moved)", "2026-05-12T16:00:00Z"),
        ]
    );
}

async fn removals_graph_reports_for_events_that_still_exist_or_were_never_cached_are_not_deletions(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let remote = seed(&microsoft);
    // Before the sync window (from 2026-03-19) but inside the padded delta range (from 03-12).
    microsoft.put_event(&remote, timed("old", "Old", "2026-03-15T09:00:00", "2026-03-15T10:00:00", "UTC"));
    let state = microsoft_state(api, &microsoft);
    let (who, profile, _) = microsoft_account(api, &microsoft, "read_events").await;
    let calendar = first_sync(api, &state, &who, &profile, &remote).await;

    // Moved far beyond the range: Graph reports it removed, though it exists. It leaves the
    // window, and the lookup shows Graph still has it.
    let first = api.now();
    api.clock.advance(Duration::minutes(1));
    microsoft.put_event(&remote, timed("standup", "Standup", "2027-06-01T10:00:00", "2027-06-01T10:30:00", "UTC"));
    // An uncached event deleted: reported removed, and nothing in the cache changes for it.
    microsoft.delete_event(&remote, "old");
    let state = microsoft_state(api, &microsoft);
    let before = microsoft.requests().len();
    sync(&state, &calendar).await;
    let lookups: Vec<String> = microsoft.requests()[before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.contains("/me/events/"))
        .map(|r| r.path.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(lookups, ["old", "standup"], "each removal is looked up");
    assert_eq!(
        changed_since(api, &who, &calendar, first + Duration::seconds(1)).await,
        vec![("Standup".to_owned(), json!("2026-05-04T09:00:00Z"), true)],
        "only the event that left the window leaves the cache"
    );
    assert!(microsoft.events(&remote).iter().any(|e| e["id"] == "standup"), "and Microsoft still has it");
    let stored = api
        .state
        .store
        .list_events_changed_since(std::slice::from_ref(&calendar.id), chrono::DateTime::UNIX_EPOCH, 100)
        .await
        .unwrap();
    let deleted: Vec<_> = stored.iter().filter(|e| e.deleted).map(|e| e.summary.clone().unwrap_or_default()).collect();
    assert_eq!(deleted, ["Standup"], "the removal of the uncached event tombstoned nothing");
}

async fn a_dead_delta_link_resyncs_without_spurious_changes_and_throttling_waits_for_retry_after(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let remote = seed(&microsoft);
    microsoft.set_page_size(2);
    let state = microsoft_state(api, &microsoft);
    let (who, profile, _) = microsoft_account(api, &microsoft, "read_events").await;
    let calendar = first_sync(api, &state, &who, &profile, &remote).await;
    let synced = events(api, &who, &calendar, "").await;
    assert_eq!(synced.len(), 5, "paged round read whole: {synced:?}");

    let before = api.now();
    api.clock.advance(Duration::minutes(1));
    microsoft.expire_delta_tokens();
    let state = microsoft_state(api, &microsoft);
    let requests = microsoft.requests().len();
    sync(&state, &calendar).await;
    let rounds: Vec<_> = microsoft.requests()[requests..]
        .iter()
        .filter(|r| r.query.iter().any(|(k, _)| k == "startDateTime"))
        .cloned()
        .collect();
    assert_eq!(rounds.len(), 1, "a new round from scratch after the 410");
    assert_eq!(changed_since(api, &who, &calendar, before + Duration::seconds(1)).await, vec![]);
    assert_eq!(events(api, &who, &calendar, "").await, synced);

    // Throttled: the job is retried later, after exactly the wait Graph asked for.
    microsoft.throttle_next(1, 7);
    let outcome = run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await;
    assert!(outcome.as_ref().is_err_and(|e| e.contains("Retryable") && e.contains("429")), "{outcome:?}");
    let sync_state = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    assert_eq!(sync_state.backoff_until, Some(api.now() + Duration::seconds(7)));
    // Before then the calendar is left alone; afterwards it syncs.
    let requests = microsoft.api_request_count();
    assert!(matches!(
        run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await,
        Ok(JobOutcome::Skipped(_))
    ));
    assert_eq!(microsoft.api_request_count(), requests);
    api.clock.advance(Duration::seconds(8));
    let state = microsoft_state(api, &microsoft);
    sync(&state, &calendar).await;
}

async fn a_rotated_refresh_token_replaces_the_old_one_and_a_revoked_grant_disconnects_the_profile(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    seed(&microsoft);
    let state = microsoft_state(api, &microsoft);
    let (who, profile, refresh) = microsoft_account(api, &microsoft, "read_events").await;
    // The access token is about to expire and Microsoft no longer takes it.
    microsoft.expire_access_tokens();
    store_tokens(api, &who, &profile, "stale", &refresh, api.now() + Duration::minutes(2)).await;

    assert_eq!(run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, Ok(JobOutcome::Done));
    let (access, rotated) = stored_tokens(api, &profile).await;
    assert_ne!(access, "stale");
    let rotated = rotated.expect("a refresh token");
    assert_ne!(rotated, refresh, "Microsoft rotated the refresh token and the new one is kept");
    let refreshes: Vec<_> =
        microsoft.requests().into_iter().filter(|r| r.path == "/common/oauth2/v2.0/token").collect();
    assert_eq!(refreshes.len(), 1);
    let form: std::collections::BTreeMap<_, _> = refreshes[0].form.iter().cloned().collect();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], refresh);
    assert!(form["scope"].contains("offline_access"), "{form:?}");

    // Revoked by the user: the profile is disconnected, the application told, nothing retried.
    let receiver = calsync_tests::receiver::Receiver::start(&[]).await;
    let (status, channel) =
        api.post("/v1/channels", Some(&who.access_token), json!({"callback_url": receiver.url})).await;
    assert_eq!(status, 200, "{channel}");
    let channel_id =
        calsync_core::domain::ChannelId::parse(channel["channel"]["channel_id"].as_str().unwrap()).unwrap();
    microsoft.revoke(&rotated);
    store_tokens(api, &who, &profile, "stale", &rotated, api.now() - Duration::minutes(1)).await;
    let outcome = run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await;
    assert!(matches!(outcome, Ok(JobOutcome::Skipped(_))), "{outcome:?}");
    let stored = api.state.store.get_profile(&profile.id).await.unwrap().expect("the profile");
    assert_eq!(stored.status, ProfileStatus::Disconnected);
    let told: Vec<String> =
        api.state.store.list_channel_notifications(&channel_id).await.unwrap().into_iter().map(|n| n.kind).collect();
    assert_eq!(told.iter().filter(|kind| *kind == "profile_disconnected").count(), 1, "{told:?}");
    // Later jobs do not knock on Microsoft's door again.
    let before = microsoft.requests().len();
    let outcome = run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await;
    assert!(matches!(outcome, Ok(JobOutcome::Skipped(_))), "{outcome:?}");
    assert_eq!(microsoft.requests().len(), before);
}

async fn a_partner_event_is_written_to_microsoft_and_updated_under_its_version(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let remote = microsoft.add_calendar(ADA, "Calendar", true, true);
    let state = microsoft_state(api, &microsoft);
    let (who, profile, _) = microsoft_account(api, &microsoft, "read_events create_event delete_event").await;
    let calendar = first_sync(api, &state, &who, &profile, &remote).await;

    let body = json!({"event_id": "p1", "summary": "Interview", "description": "Room 1",
                      "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
    let path = format!("/v1/calendars/{}/events", calendar.id);
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    let listed = api
        .state
        .store
        .list_events_changed_since(std::slice::from_ref(&calendar.id), chrono::DateTime::UNIX_EPOCH, 10)
        .await
        .unwrap();
    let partner = listed.iter().find(|e| e.event_id.as_deref() == Some("p1")).expect("the partner event").uid.clone();
    assert_eq!(run(&state, SyncJob::PushEvent { event_uid: partner.clone() }).await, Ok(JobOutcome::Done));
    let written = microsoft.events(&remote);
    assert_eq!(written.len(), 1, "{written:?}");
    let id = written[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(written[0]["subject"], "Interview");
    assert_eq!(written[0]["body"], json!({"contentType": "text", "content": "Room 1"}));
    assert_eq!(written[0]["start"]["dateTime"], "2026-05-07T10:00:00.0000000");
    let create = microsoft.requests().into_iter().find(|r| r.method == "POST" && r.path.ends_with("/events")).unwrap();
    assert!(
        create.body.as_ref().is_some_and(|b| b["transactionId"].as_str().is_some_and(|t| t.starts_with("calsync-")))
    );

    // The sync does not import it as a third-party event.
    sync(&state, &calendar).await;
    assert_eq!(
        events(api, &who, &calendar, "&include_managed=true").await,
        vec![row("Interview", "2026-05-07T10:00:00Z")]
    );

    // Edited in Outlook meanwhile, then updated by the application: the conditional update
    // fails, the current version is read, and the application's version is written over it.
    let mut edited = microsoft.events(&remote)[0].clone();
    edited["subject"] = json!("Interview (edited in Outlook)");
    microsoft.put_event(&remote, edited);
    let body = json!({"event_id": "p1", "summary": "Interview (room 2)", "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    assert_eq!(run(&state, SyncJob::PushEvent { event_uid: partner.clone() }).await, Ok(JobOutcome::Done));
    let written = microsoft.events(&remote);
    assert_eq!((written.len(), written[0]["id"].as_str()), (1, Some(id.as_str())));
    assert_eq!(written[0]["subject"], "Interview (room 2)");
    let patches: Vec<_> = microsoft.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 2, "one refused for its stale version, one after reading the current one");
    assert!(patches.iter().all(|p| p.if_match.is_some()), "updates are conditional");

    // Deleted by the application: gone at Microsoft.
    let (status, _) = api.delete(&path, &who.access_token, json!({"event_id": "p1"})).await;
    assert_eq!(status, 202);
    assert_eq!(run(&state, SyncJob::PushEvent { event_uid: partner }).await, Ok(JobOutcome::Done));
    assert_eq!(microsoft.events(&remote), Vec::<Value>::new());
}

async fn the_window_advance_reads_the_gained_days_and_the_delta_range_is_rebaselined_weekly(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let remote = seed(&microsoft);
    // Beyond the window's end (201 days ahead, plus a day of margin) until the window moves.
    microsoft.put_event(&remote, timed("later", "Later", "2026-11-20T09:00:00", "2026-11-20T10:00:00", "UTC"));
    let state = microsoft_state(api, &microsoft);
    let (who, profile, _) = microsoft_account(api, &microsoft, "read_events").await;
    let calendar = first_sync(api, &state, &who, &profile, &remote).await;
    let round = microsoft.requests().into_iter().find(|r| r.path.ends_with("/calendarView/delta")).unwrap();
    let param = |r: &calsync_tests::microsoft::Request, name: &str| {
        r.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    assert_eq!(param(&round, "startDateTime"), "2026-03-12T00:00:00Z", "a week before the window");
    assert_eq!(param(&round, "endDateTime"), "2026-12-04T00:00:00Z", "two weeks beyond it");
    let cached_later = || async {
        let all = api
            .state
            .store
            .list_events_changed_since(std::slice::from_ref(&calendar.id), chrono::DateTime::UNIX_EPOCH, 100)
            .await
            .unwrap();
        all.iter().filter(|e| e.summary.as_deref() == Some("Later") && !e.deleted).count()
    };
    assert_eq!(cached_later().await, 0, "outside the window");

    api.clock.advance(Duration::days(5));
    let state = microsoft_state(api, &microsoft);
    let before = microsoft.requests().len();
    assert_eq!(run(&state, SyncJob::AdvanceWindow { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
    // The tokens expired meanwhile and were refreshed; then one Graph request.
    let views: Vec<_> =
        microsoft.requests()[before..].iter().filter(|r| r.path.starts_with("/v1.0/")).cloned().collect();
    assert_eq!(views.len(), 1, "{views:?}");
    assert!(views[0].path.ends_with("/calendarView"), "{views:?}");
    assert_eq!(param(&views[0], "startDateTime"), "2026-11-20T00:00:00Z", "from the old window's end");
    assert_eq!(param(&views[0], "endDateTime"), "2026-11-25T00:00:00Z", "to the new one's");
    assert_eq!(cached_later().await, 1, "the event that entered the window is cached");

    // Within a week of the range's end the next sync starts a new round, changing nothing.
    let state = microsoft_state(api, &microsoft);
    let before = microsoft.requests().len();
    sync(&state, &calendar).await;
    assert!(microsoft.requests()[before..].iter().all(|r| !r.query.iter().any(|(k, _)| k == "startDateTime")));
    api.clock.advance(Duration::days(3));
    let moment = api.now();
    api.clock.advance(Duration::minutes(1));
    let state = microsoft_state(api, &microsoft);
    let before = microsoft.requests().len();
    sync(&state, &calendar).await;
    let rounds: Vec<_> = microsoft.requests()[before..]
        .iter()
        .filter(|r| r.path.ends_with("/calendarView/delta") && r.query.iter().any(|(k, _)| k == "startDateTime"))
        .cloned()
        .collect();
    assert_eq!(rounds.len(), 1, "re-baselined");
    assert_eq!(param(&rounds[0], "endDateTime"), "2026-12-12T00:00:00Z");
    // (Read from the store: the application's access token has expired over these days.)
    let changed =
        api.state.store.list_events_changed_since(std::slice::from_ref(&calendar.id), moment, 100).await.unwrap();
    assert_eq!(changed, vec![], "no spurious changes");
}

/// Every sync job waiting on the in-process queue, taken off it.
async fn queued(state: &AppState) -> Vec<SyncJob> {
    let mut jobs = Vec::new();
    loop {
        let batch = state.queue.receive(QueueName::Sync, 10, std::time::Duration::ZERO).await.unwrap();
        if batch.is_empty() {
            return jobs;
        }
        for message in batch {
            jobs.push(serde_json::from_str(&message.body).unwrap());
            state.queue.delete(QueueName::Sync, &message.receipt).await.unwrap();
        }
    }
}

async fn post_json(url: &str, body: Value) -> u16 {
    reqwest::Client::new().post(url).json(&body).send().await.unwrap().status().as_u16()
}

async fn subscriptions_are_validated_notify_a_sync_and_lifecycle_events_replace_them(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let remote = seed(&microsoft);
    let state = microsoft_state(api, &microsoft);
    let (who, profile, _) = microsoft_account(api, &microsoft, "read_events").await;
    let calendar = first_sync(api, &state, &who, &profile, &remote).await;
    queued(&state).await;

    // One subscription on the calendar's events, at calsync's URLs (which passed Graph's
    // validation handshake), with a client state.
    let subscriptions = microsoft.subscriptions();
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    let subscription = subscriptions[0].clone();
    assert_eq!(subscription.resource, format!("me/calendars/{remote}/events"));
    assert_eq!(subscription.change_type, "created,updated,deleted");
    let prefix = format!("{}/push/microsoft/", api.base_url);
    assert!(subscription.notification_url.starts_with(&prefix), "{subscription:?}");
    assert_eq!(subscription.lifecycle_notification_url, Some(format!("{}/lifecycle", subscription.notification_url)));
    assert!(subscription.expiration > api.now() + Duration::days(6), "{subscription:?}");
    let client_state = subscription.client_state.clone().expect("a client state");
    let (status, body, content_type) = microsoft.validate(&subscription.notification_url, "token with spaces+&").await;
    assert_eq!((status, body.as_str()), (200, "token with spaces+&"));
    assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));

    // A change queues a sync; a wrong client state is refused and queues nothing.
    assert_eq!(microsoft.notify(&subscription.id, "updated").await, 202);
    assert_eq!(queued(&state).await, vec![SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }]);
    let forged =
        json!({"value": [{"subscriptionId": subscription.id, "clientState": "guessed", "changeType": "updated"}]});
    assert_eq!(post_json(&subscription.notification_url, forged).await, 401);
    assert_eq!(
        post_json(
            &format!("{prefix}unknown"),
            json!({"value": [{"subscriptionId": "x", "clientState": client_state}]})
        )
        .await,
        202
    );
    assert_eq!(post_json(&subscription.notification_url, json!({"not": "graph"})).await, 400);
    assert_eq!(queued(&state).await, vec![]);

    // `missed`: a sync catches up through the delta feed; the subscription stays.
    assert_eq!(microsoft.lifecycle(&subscription.id, "missed").await, 202);
    assert_eq!(queued(&state).await, vec![SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }]);
    sync(&state, &calendar).await;
    let ids: Vec<String> = microsoft.subscriptions().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, std::slice::from_ref(&subscription.id));

    // The poll leaves a calendar with push alone for an hour, then syncs it anyway.
    run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await.unwrap();
    assert!(!queued(&state).await.contains(&SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }));
    api.clock.advance(Duration::minutes(61));
    let state = microsoft_state(api, &microsoft);
    run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await.unwrap();
    assert!(queued(&state).await.contains(&SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }));

    // `reauthorizationRequired`: the sync it queues replaces the subscription with a new one.
    let fresh = microsoft.issue_tokens(ADA);
    store_tokens(api, &who, &profile, &fresh.0, &fresh.1, api.now() + Duration::hours(1)).await;
    assert_eq!(microsoft.lifecycle(&subscription.id, "reauthorizationRequired").await, 202);
    assert_eq!(queued(&state).await, vec![SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }]);
    sync(&state, &calendar).await;
    let renewed = microsoft.subscriptions();
    assert_eq!(renewed.len(), 1, "the old one was deleted: {renewed:?}");
    assert_ne!(renewed[0].id, subscription.id);
    assert_eq!(microsoft.notify(&renewed[0].id, "created").await, 202);
    assert_eq!(queued(&state).await, vec![SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }]);

    // `subscriptionRemoved`: replaced the same way.
    assert_eq!(microsoft.lifecycle(&renewed[0].id, "subscriptionRemoved").await, 202);
    assert_eq!(queued(&state).await, vec![SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }]);
    sync(&state, &calendar).await;
    let again = microsoft.subscriptions();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_ne!(again[0].id, renewed[0].id);
}

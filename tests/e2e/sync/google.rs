//! Google Calendar profiles on the fake Google server (tests/src/google.rs), through the same
//! jobs as CalDAV: initial sync of a series with a moved and a cancelled instance, incremental
//! edits and deletions, one request for a calendar with no change, a dead sync token resynced
//! without spurious changes, throttling with Retry-After, token refresh and a revoked grant, and
//! partner events written back with our own event ids.

use std::sync::Arc;

use calsync_core::AppState;
use calsync_core::crypto::Credentials;
use calsync_core::domain::{Profile, ProfileStatus, ProviderName, ProviderService};
use calsync_core::jobs::{JobOutcome, SyncJob, handle_sync_message};
use calsync_core::providers::{OAuthClient, ProviderClients};
use calsync_tests::api::{Authorized, TestApi};
use calsync_tests::google::{CLIENT_ID, CLIENT_SECRET, FakeGoogle};
use chrono::Duration;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{changed_since, events, oauth_account, row, stored_calendar};

const ADA: &str = "ada@gmail.example";

/// The API's state pointed at the fake Google, with calsync's OAuth client registered there.
fn google_state(api: &TestApi, google: &FakeGoogle) -> AppState {
    let mut config = (*api.state.config).clone();
    config.google.authorize_url = google.authorize_url();
    config.google.token_url = google.token_url();
    config.google.api_url = google.api_url();
    let client = OAuthClient { client_id: CLIENT_ID.into(), client_secret: SecretString::from(CLIENT_SECRET) };
    AppState {
        config: Arc::new(config),
        providers: Arc::new(ProviderClients { google: Some(client), ..ProviderClients::default() }),
        ..api.state.clone()
    }
}

/// An account authorized for an application, with a Google profile whose tokens expire in an hour.
async fn google_account(api: &TestApi, google: &FakeGoogle, scopes: &str) -> (Authorized, Profile) {
    let kind = (ProviderName::Google, ProviderService::Google);
    let scope = "openid email https://www.googleapis.com/auth/calendar";
    oauth_account(api, scopes, kind, ADA, google.issue_tokens(ADA), scope).await
}

async fn run(state: &AppState, job: SyncJob) -> Result<JobOutcome, String> {
    let body = serde_json::to_string(&job).unwrap();
    handle_sync_message(state, &body).await.map_err(|e| format!("{e:?}"))
}

fn timed(id: &str, summary: &str, start: &str, end: &str) -> Value {
    json!({"id": id, "summary": summary, "start": {"dateTime": start, "timeZone": "UTC"}, "end": {"dateTime": end, "timeZone": "UTC"}})
}

/// A calendar with a single event, an all-day one, and a weekly series with a moved and a
/// cancelled instance.
fn seed(google: &FakeGoogle) {
    google.add_calendar(ADA, ADA, "Ada", "owner", true);
    google.add_calendar(ADA, "holidays@group.v.calendar.google.com", "Holidays", "reader", false);
    google.put_event(ADA, timed("standup1", "Standup", "2026-05-04T09:00:00Z", "2026-05-04T09:30:00Z"));
    google.put_event(
        ADA,
        json!({"id": "holiday1", "summary": "Holiday", "start": {"date": "2026-05-06"}, "end": {"date": "2026-05-07"}}),
    );
    let mut weekly = timed("weekly1", "Weekly review", "2026-05-05T14:00:00Z", "2026-05-05T15:00:00Z");
    weekly["recurrence"] = json!(["RRULE:FREQ=WEEKLY;COUNT=4"]);
    google.put_event(ADA, weekly);
    let mut moved =
        timed("weekly1_20260512T140000Z", "Weekly review (moved)", "2026-05-12T16:00:00Z", "2026-05-12T17:00:00Z");
    moved["recurringEventId"] = json!("weekly1");
    moved["iCalUID"] = json!("weekly1@google.com");
    moved["originalStartTime"] = json!({"dateTime": "2026-05-12T14:00:00Z", "timeZone": "UTC"});
    google.put_event(ADA, moved);
    let mut cancelled =
        timed("weekly1_20260519T140000Z", "Weekly review", "2026-05-19T14:00:00Z", "2026-05-19T15:00:00Z");
    cancelled["recurringEventId"] = json!("weekly1");
    cancelled["iCalUID"] = json!("weekly1@google.com");
    cancelled["originalStartTime"] = json!({"dateTime": "2026-05-19T14:00:00Z", "timeZone": "UTC"});
    google.put_event(ADA, cancelled);
    google.delete_event(ADA, "weekly1_20260519T140000Z");
}

use crate::api::api_on_both_backends as google_on_both_backends;

google_on_both_backends!(
    a_window_advance_lists_only_the_days_it_gained,
    a_google_calendar_syncs_a_series_with_moved_and_cancelled_instances_then_edits_and_deletions,
    a_dead_sync_token_resyncs_without_spurious_changes_and_throttling_waits_for_retry_after,
    an_expiring_token_is_refreshed_and_a_revoked_grant_disconnects_the_profile,
    a_partner_event_is_written_to_google_with_our_own_id_and_updated_with_its_etag,
    the_calendar_list_is_read_with_its_own_sync_token_and_unchanged_calendars_are_still_polled,
);

async fn a_google_calendar_syncs_a_series_with_moved_and_cancelled_instances_then_edits_and_deletions(api: &TestApi) {
    let google = FakeGoogle::start().await;
    seed(&google);
    let state = google_state(api, &google);
    let (who, profile) = google_account(api, &google, "read_events").await;

    assert_eq!(run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, Ok(JobOutcome::Done));
    let calendar = stored_calendar(api, &who, ADA).await;
    assert!(calendar.is_primary && !calendar.read_only);
    let holidays = stored_calendar(api, &who, "holidays@group.v.calendar.google.com").await;
    assert!(holidays.read_only);
    assert_eq!(run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
    assert_eq!(
        events(api, &who, &calendar, "").await,
        vec![
            row("Standup", "2026-05-04T09:00:00Z"),
            row("Weekly review", "2026-05-05T14:00:00Z"),
            row("Holiday", "2026-05-06"),
            row("Weekly review (moved)", "2026-05-12T16:00:00Z"),
            row("Weekly review", "2026-05-26T14:00:00Z"),
        ]
    );

    // An edit and a deletion on the phone: exactly those change.
    let first = api.now();
    api.clock.advance(Duration::minutes(1));
    google.put_event(ADA, timed("standup1", "Standup (renamed)", "2026-05-04T09:00:00Z", "2026-05-04T09:30:00Z"));
    google.delete_event(ADA, "holiday1");
    let state = google_state(api, &google);
    assert_eq!(run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
    assert_eq!(
        changed_since(api, &who, &calendar, first + Duration::seconds(1)).await,
        vec![row("Standup (renamed)", "2026-05-04T09:00:00Z"), ("Holiday".to_owned(), json!("2026-05-06"), true)]
    );

    // Nothing changed: one request, nothing written.
    let second = api.now();
    api.clock.advance(Duration::minutes(1));
    let before = google.api_request_count();
    assert_eq!(run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
    assert_eq!(google.api_request_count() - before, 1, "a no-change sync costs one request");
    assert_eq!(changed_since(api, &who, &calendar, second + Duration::seconds(1)).await, vec![]);

    // Another instance cancelled on the phone: that instance alone is tombstoned.
    let third = api.now();
    api.clock.advance(Duration::minutes(1));
    let mut cancelled =
        timed("weekly1_20260526T140000Z", "Weekly review", "2026-05-26T14:00:00Z", "2026-05-26T15:00:00Z");
    cancelled["recurringEventId"] = json!("weekly1");
    cancelled["iCalUID"] = json!("weekly1@google.com");
    cancelled["originalStartTime"] = json!({"dateTime": "2026-05-26T14:00:00Z", "timeZone": "UTC"});
    google.put_event(ADA, cancelled);
    google.delete_event(ADA, "weekly1_20260526T140000Z");
    assert_eq!(run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
    assert_eq!(
        changed_since(api, &who, &calendar, third + Duration::seconds(1)).await,
        vec![("Weekly review".to_owned(), json!("2026-05-26T14:00:00Z"), true)]
    );
}

async fn a_dead_sync_token_resyncs_without_spurious_changes_and_throttling_waits_for_retry_after(api: &TestApi) {
    let google = FakeGoogle::start().await;
    seed(&google);
    google.set_page_size(2);
    let state = google_state(api, &google);
    let (who, profile) = google_account(api, &google, "read_events").await;
    run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await.unwrap();
    let calendar = stored_calendar(api, &who, ADA).await;
    run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await.unwrap();
    let synced = events(api, &who, &calendar, "").await;
    assert_eq!(synced.len(), 5, "paged listing read whole: {synced:?}");

    let before = api.now();
    api.clock.advance(Duration::minutes(1));
    google.invalidate_sync_tokens();
    assert_eq!(run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
    assert_eq!(changed_since(api, &who, &calendar, before + Duration::seconds(1)).await, vec![]);
    assert_eq!(events(api, &who, &calendar, "").await, synced);

    // Throttled: the job is retried later, after exactly the wait Google asked for.
    google.throttle_next(1, 429, Some(7));
    let outcome = run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await;
    assert!(outcome.as_ref().is_err_and(|e| e.contains("Retryable")), "{outcome:?}");
    let sync_state = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    assert_eq!(sync_state.backoff_until, Some(api.now() + Duration::seconds(7)));

    // A per-user quota answer (403 rateLimitExceeded) without Retry-After backs off with jitter.
    api.clock.advance(Duration::seconds(8));
    google.throttle_next(1, 403, None);
    let outcome = run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await;
    assert!(outcome.as_ref().is_err_and(|e| e.contains("rateLimitExceeded")), "{outcome:?}");
    let sync_state = api.state.store.get_sync_state(&calendar.id).await.unwrap().expect("a sync state");
    let wait = sync_state.backoff_until.expect("a backoff") - api.now();
    assert!(
        wait > Duration::seconds(60) && wait < Duration::seconds(300),
        "the second failure waits ~2 minutes: {wait}"
    );
}

async fn an_expiring_token_is_refreshed_and_a_revoked_grant_disconnects_the_profile(api: &TestApi) {
    let google = FakeGoogle::start().await;
    seed(&google);
    let state = google_state(api, &google);
    let (who, profile) = google_account(api, &google, "read_events").await;
    // The stored access token is about to expire and Google has already forgotten it.
    let sealed = api.state.store.get_credentials(&profile.id).await.unwrap().unwrap();
    let opened = api.state.vault.open(&profile.id, &sealed).unwrap();
    let Credentials::OauthTokenSet { refresh_token, .. } = &opened else { panic!("a token set") };
    let refresh_token = refresh_token.clone();
    let expiring = Credentials::OauthTokenSet {
        access_token: "ya29.stale".into(),
        refresh_token: refresh_token.clone(),
        expires_at: Some(api.now() + Duration::minutes(2)),
        scope: None,
    };
    let sealed = api.state.vault.seal(&profile.id, &expiring).unwrap();
    api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, api.now()).await.unwrap();

    assert_eq!(run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await, Ok(JobOutcome::Done));
    let sealed = api.state.store.get_credentials(&profile.id).await.unwrap().unwrap();
    let opened = api.state.vault.open(&profile.id, &sealed).unwrap();
    let Credentials::OauthTokenSet { access_token, refresh_token: kept, expires_at, .. } = &opened else {
        panic!("a token set")
    };
    let (access_token, kept, expires_at) = (access_token.clone(), kept.clone(), *expires_at);
    assert_ne!(access_token, "ya29.stale");
    assert_eq!(kept, refresh_token, "Google keeps its refresh token");
    assert_eq!(expires_at, Some(api.now() + Duration::seconds(3599)));
    let refreshes = google.requests().into_iter().filter(|r| r.path == "/token").count();
    assert_eq!(refreshes, 1);

    // Revoked by the user: the profile is disconnected, the application told, nothing retried.
    let receiver = calsync_tests::receiver::Receiver::start(&[]).await;
    let (status, channel) =
        api.post("/v1/channels", Some(&who.access_token), json!({"callback_url": receiver.url})).await;
    assert_eq!(status, 200, "{channel}");
    let channel_id =
        calsync_core::domain::ChannelId::parse(channel["channel"]["channel_id"].as_str().unwrap()).unwrap();
    google.revoke(refresh_token.as_deref().unwrap());
    let revoked = Credentials::OauthTokenSet {
        access_token: "ya29.stale".into(),
        refresh_token,
        expires_at: Some(api.now() - Duration::minutes(1)),
        scope: None,
    };
    let sealed = api.state.vault.seal(&profile.id, &revoked).unwrap();
    api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, api.now()).await.unwrap();
    let outcome = run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await;
    assert!(matches!(outcome, Ok(JobOutcome::Skipped(_))), "{outcome:?}");
    let stored = api.state.store.get_profile(&profile.id).await.unwrap().expect("the profile");
    assert_eq!(stored.status, ProfileStatus::Disconnected);
    let told: Vec<String> =
        api.state.store.list_channel_notifications(&channel_id).await.unwrap().into_iter().map(|n| n.kind).collect();
    assert!(told.contains(&"profile_disconnected".to_owned()), "{told:?}");
}

async fn the_calendar_list_is_read_with_its_own_sync_token_and_unchanged_calendars_are_still_polled(api: &TestApi) {
    let google = FakeGoogle::start().await;
    seed(&google);
    let state = google_state(api, &google);
    let (who, profile) = google_account(api, &google, "read_events").await;
    let list = |profile: &Profile| SyncJob::SyncCalendarList { profile_id: profile.id.clone() };
    let listings = |google: &FakeGoogle| -> Vec<Vec<(String, String)>> {
        google.requests().into_iter().filter(|r| r.path.ends_with("/calendarList")).map(|r| r.query).collect()
    };
    let sync_token = |query: &Vec<(String, String)>| query.iter().any(|(k, _)| k == "syncToken");
    assert_eq!(run(&state, list(&profile)).await, Ok(JobOutcome::Done));
    assert!(!sync_token(&listings(&google)[0]), "the first listing is whole");

    // A calendar added and one removed: the next listing asks only for what changed.
    google.add_calendar(ADA, "team@group.calendar.google.com", "Team", "writer", false);
    google.remove_calendar(ADA, "holidays@group.v.calendar.google.com");
    let (report_outcome, report) =
        calsync_core::sync::sync_calendar_list_reporting(&state, &profile.id).await.expect("listed");
    assert_eq!(report_outcome, JobOutcome::Done);
    assert!(sync_token(&listings(&google)[1]), "incremental");
    assert_eq!(report.requests, 1);
    let calendars = api.state.store.list_calendars(&who.account.id).await.unwrap();
    let mut states: Vec<(String, bool)> = calendars
        .iter()
        .filter(|c| c.profile_id == profile.id)
        .map(|c| (c.provider_calendar_id.clone(), c.deleted))
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            (ADA.to_owned(), false),
            ("holidays@group.v.calendar.google.com".to_owned(), true),
            ("team@group.calendar.google.com".to_owned(), false),
        ]
    );
    // The unchanged calendar, absent from the incremental listing, is still polled.
    assert_eq!(report.queued, 2, "the primary calendar and the new one");

    // A dead list token: listed whole again, nothing lost.
    google.invalidate_sync_tokens();
    assert_eq!(run(&state, list(&profile)).await, Ok(JobOutcome::Done));
    let all = listings(&google);
    assert_eq!((sync_token(&all[2]), sync_token(&all[3])), (true, false), "{all:?}");
    let calendars = api.state.store.list_calendars(&who.account.id).await.unwrap();
    let live = calendars.iter().filter(|c| c.profile_id == profile.id && !c.deleted).count();
    assert_eq!(live, 2);
}

async fn a_partner_event_is_written_to_google_with_our_own_id_and_updated_with_its_etag(api: &TestApi) {
    let google = FakeGoogle::start().await;
    google.add_calendar(ADA, ADA, "Ada", "owner", true);
    let state = google_state(api, &google);
    let (who, profile) = google_account(api, &google, "read_events create_event delete_event").await;
    run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await.unwrap();
    let calendar = stored_calendar(api, &who, ADA).await;
    run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await.unwrap();

    let body = json!({"event_id": "p1", "summary": "Interview", "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
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
    let written: Vec<Value> = google.events(ADA).into_iter().filter(|e| e["summary"] == "Interview").collect();
    assert_eq!(written.len(), 1);
    let id = written[0]["id"].as_str().unwrap().to_owned();
    assert!(id.chars().all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c)), "{id}");
    assert_eq!(written[0]["start"]["dateTime"].as_str().map(|s| s.starts_with("2026-05-07T10:00:00")), Some(true));

    // The sync does not import it as a third-party event.
    run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await.unwrap();
    assert_eq!(
        events(api, &who, &calendar, "&include_managed=true").await,
        vec![row("Interview", "2026-05-07T10:00:00Z")]
    );

    // Updated: written again over the same event, conditional on its version.
    let body = json!({"event_id": "p1", "summary": "Interview (room 2)", "start": "2026-05-07T10:00:00Z", "end": "2026-05-07T11:00:00Z"});
    assert_eq!(api.post(&path, Some(&who.access_token), body).await.0, 202);
    assert_eq!(run(&state, SyncJob::PushEvent { event_uid: partner }).await, Ok(JobOutcome::Done));
    let written: Vec<Value> = google.events(ADA).into_iter().filter(|e| e["id"] == json!(id)).collect();
    assert_eq!(written[0]["summary"], "Interview (room 2)");
    let put = google.requests().into_iter().rev().find(|r| r.method == "PUT").expect("an update");
    assert!(put.if_match.is_some(), "the update is conditional");
}

mod connect {
    //! A Google account connected through the authorization page: calsync's page sends the
    //! browser to Google's sign-in, Google sends it back with a code, and the application gets
    //! its own code, for an account whose Google profile syncs.

    use calsync_tests::oauth::{REDIRECT, authorize_uri, exchange, form, query_of, request_id, send_to};
    use http::Method;

    use super::*;

    async fn connects_through_googles_sign_in(api: &TestApi) {
        let google = FakeGoogle::start().await;
        let email = "grace@gmail.com";
        google.sign_in_as(email);
        google.add_calendar(email, email, "Grace", "owner", true);
        let state = google_state(api, &google);
        let (app, secret) = api.application("Planner").await;
        let pairs = [
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "read_events"),
            ("state", "app-state-1"),
        ];
        let page = send_to(&state, Method::GET, &authorize_uri(&pairs), None, String::new()).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let request = request_id(&page.body);

        // The page sends the browser to Google with calsync's client and the pending request.
        let chosen = form(&[("request", request.as_str()), ("service", "google")]);
        let to_google =
            send_to(&state, Method::POST, "/oauth/authorize", Some("application/x-www-form-urlencoded"), chosen).await;
        assert_eq!(to_google.status, 302, "{}", to_google.body);
        let location = to_google.header("location").expect("a Location").to_owned();
        assert!(location.starts_with(&google.authorize_url()), "{location}");
        let asked: std::collections::BTreeMap<String, String> = query_of(&location).into_iter().collect();
        assert_eq!(asked["client_id"], CLIENT_ID);
        assert_eq!(asked["redirect_uri"], "http://calsync.test/oauth/callback/google");
        assert_eq!(asked["state"], request);
        assert_eq!(asked["access_type"], "offline");

        // Google signs the user in and sends the browser back with a code.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let back = http.get(&location).send().await.unwrap();
        assert_eq!(back.status(), 302);
        let callback = back.headers()["location"].to_str().unwrap().to_owned();
        let path = callback.strip_prefix("http://calsync.test").expect("back to calsync").to_owned();
        let to_app = send_to(&state, Method::GET, &path, None, String::new()).await;
        assert_eq!(to_app.status, 302, "{}", to_app.body);
        let returned: std::collections::BTreeMap<String, String> =
            query_of(to_app.header("location").unwrap()).into_iter().collect();
        assert_eq!(returned["state"], "app-state-1");

        // The application's code buys tokens for an account with a Google profile.
        let (status, tokens) = exchange(api, &app, &secret, &returned["code"]).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["linking_profile"]["provider_name"], "google");
        assert_eq!(tokens["linking_profile"]["profile_name"], email);
        let profile_id = tokens["linking_profile"]["profile_id"].as_str().unwrap().to_owned();
        let profile = api
            .state
            .store
            .get_profile(&calsync_core::domain::ProfileId::parse(&profile_id).unwrap())
            .await
            .unwrap()
            .expect("the profile");
        assert_eq!((profile.provider, profile.provider_service), (ProviderName::Google, ProviderService::Google));
        let sealed = api.state.store.get_credentials(&profile.id).await.unwrap().expect("sealed credentials");
        let opened = api.state.vault.open(&profile.id, &sealed).unwrap();
        assert!(matches!(&opened, Credentials::OauthTokenSet { refresh_token: Some(_), .. }));

        // And it syncs.
        assert_eq!(
            run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await,
            Ok(JobOutcome::Done)
        );
        let calendars = api.state.store.list_calendars(&profile.account_id).await.unwrap();
        assert_eq!(calendars.iter().map(|c| c.provider_calendar_id.as_str()).collect::<Vec<_>>(), [email]);
    }

    async fn a_declined_google_sign_in_shows_the_page_again(api: &TestApi) {
        let google = FakeGoogle::start().await;
        let state = google_state(api, &google);
        let (app, _) = api.application("Planner").await;
        let pairs = [
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "read_events"),
        ];
        let page = send_to(&state, Method::GET, &authorize_uri(&pairs), None, String::new()).await;
        let request = request_id(&page.body);

        let path = format!("/oauth/callback/google?error=access_denied&state={request}");
        let again = send_to(&state, Method::GET, &path, None, String::new()).await;
        assert_eq!(again.status, 200);
        assert!(again.body.contains("Google sign-in was cancelled"), "{}", again.body);
        let unknown =
            send_to(&state, Method::GET, "/oauth/callback/google?code=x&state=nope", None, String::new()).await;
        assert_eq!(unknown.status, 400);
        // Without calsync's client at Google, Google is not offered at all.
        let bare = send_to(
            &api.state,
            Method::POST,
            "/oauth/authorize",
            Some("application/x-www-form-urlencoded"),
            form(&[("request", request.as_str()), ("service", "google")]),
        )
        .await;
        assert!(bare.body.contains("not configured"), "{}", bare.body);
    }

    google_on_both_backends!(connects_through_googles_sign_in, a_declined_google_sign_in_shows_the_page_again);
}

mod push {
    //! Google push: a channel per synced calendar, notifications that queue a sync (with the
    //! channel's token only), renewal before expiry, and the hourly safety poll.

    use calsync_core::adapters::QueueName;
    use http::Request;
    use tower::ServiceExt;

    use super::*;

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

    async fn notify(state: &AppState, channel: &str, token: &str, resource_state: &str) -> u16 {
        let request = Request::post("/push/google")
            .header("x-goog-channel-id", channel)
            .header("x-goog-channel-token", token)
            .header("x-goog-resource-state", resource_state)
            .header("x-goog-message-number", "2")
            .body(axum::body::Body::empty())
            .unwrap();
        calsync_core::api::app(state.clone()).oneshot(request).await.unwrap().status().as_u16()
    }

    async fn google_push_queues_a_sync_renews_its_channel_and_the_poll_still_checks_hourly(api: &TestApi) {
        let google = FakeGoogle::start().await;
        seed(&google);
        let state = google_state(api, &google);
        let (who, profile) = google_account(api, &google, "read_events").await;
        run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await.unwrap();
        let calendar = stored_calendar(api, &who, ADA).await;
        run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await.unwrap();
        queued(&state).await;

        // One channel, at calsync's push address, with a token.
        let channels = google.channels();
        assert_eq!(channels.len(), 1, "{channels:?}");
        let channel = channels[0].clone();
        assert_eq!((channel.calendar_id.as_str(), channel.address.as_str()), (ADA, "http://calsync.test/push/google"));
        let token = channel.token.clone().expect("a token");

        // The channel's first message does nothing; a change queues a sync; a wrong token is refused.
        assert_eq!(notify(&state, &channel.id, &token, "sync").await, 200);
        assert_eq!(queued(&state).await, vec![]);
        assert_eq!(notify(&state, &channel.id, &token, "exists").await, 200);
        assert_eq!(queued(&state).await, vec![SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }]);
        assert_eq!(notify(&state, &channel.id, "guessed", "exists").await, 401);
        assert_eq!(notify(&state, "unknown-channel", &token, "exists").await, 200);
        assert_eq!(queued(&state).await, vec![]);

        // The poll leaves a calendar with push alone for an hour, then syncs it anyway.
        run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await.unwrap();
        let jobs = queued(&state).await;
        assert!(!jobs.contains(&SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }), "{jobs:?}");
        api.clock.advance(Duration::minutes(61));
        let state = google_state(api, &google);
        run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await.unwrap();
        assert!(queued(&state).await.contains(&SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }));

        // Less than a day of life left: the next sync opens a new channel and stops the old one.
        let expires = chrono::DateTime::from_timestamp_millis(channel.expiration_ms).unwrap();
        api.clock.set(expires - Duration::hours(12));
        let state = google_state(api, &google);
        let fresh = google.issue_tokens(ADA);
        let credentials = Credentials::OauthTokenSet {
            access_token: fresh.0,
            refresh_token: Some(fresh.1),
            expires_at: Some(api.now() + Duration::hours(1)),
            scope: None,
        };
        let sealed = api.state.vault.seal(&profile.id, &credentials).unwrap();
        api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, api.now()).await.unwrap();
        run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await.unwrap();
        let channels = google.channels();
        assert_eq!(channels.len(), 1, "the old channel was stopped: {channels:?}");
        assert_ne!(channels[0].id, channel.id);
        assert_eq!(notify(&state, &channel.id, &token, "exists").await, 200, "the old channel is forgotten");
        assert_eq!(queued(&state).await, vec![]);
    }

    google_on_both_backends!(google_push_queues_a_sync_renews_its_channel_and_the_poll_still_checks_hourly);
}

async fn a_window_advance_lists_only_the_days_it_gained(api: &TestApi) {
    let google = FakeGoogle::start().await;
    seed(&google);
    // Beyond the window's end (201 days ahead, plus a day of margin) until the window moves.
    google.put_event(ADA, timed("later1", "Later", "2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z"));
    let state = google_state(api, &google);
    let (who, profile) = google_account(api, &google, "read_events").await;
    run(&state, SyncJob::SyncCalendarList { profile_id: profile.id.clone() }).await.unwrap();
    let calendar = stored_calendar(api, &who, ADA).await;
    run(&state, SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).await.unwrap();
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
    let state = google_state(api, &google);
    let before = google.requests().len();
    assert_eq!(run(&state, SyncJob::AdvanceWindow { calendar_id: calendar.id.clone() }).await, Ok(JobOutcome::Done));
    // One listing bounded to the gained days (the fake also returns old recurring masters, which
    // are then read whole by iCalUID), never the whole calendar.
    let listings: Vec<_> = google.requests()[before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/events"))
        .filter(|r| !r.query.iter().any(|(k, _)| k == "iCalUID"))
        .cloned()
        .collect();
    assert_eq!(listings.len(), 1, "{listings:?}");
    let bound = |name: &str| listings[0].query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(bound("timeMin").as_deref(), Some("2026-11-20T00:00:00+00:00"), "from the old window's end");
    assert_eq!(bound("timeMax").as_deref(), Some("2026-11-25T00:00:00+00:00"), "to the new one's");
    assert_eq!(cached_later().await, 1, "the event that entered the window is cached");
}

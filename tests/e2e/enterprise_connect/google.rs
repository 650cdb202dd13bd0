//! Enterprise Connect for Google Workspace on the fake Google, on both backends: calsync's
//! service account (the test-only key under tests/fixtures/google) registered there, a domain
//! that delegated the calendar scope to its client id, the page proving the delegation, two
//! mailboxes authorized and synced with tokens minted for each by the JWT bearer grant (and no
//! mailbox credentials stored), an address outside the domain refused, and a withdrawn
//! delegation disconnecting the mailboxes at their next sync.

use std::sync::Arc;

use axum::body::Body;
use calsync_core::{
    AppState,
    authorization::service_accounts::MailboxRequest,
    crypto::Credentials,
    domain::{AccountId, Application, ChannelId, ProfileId, ProfileStatus, ProviderName, ServiceAccount},
    jobs::{JobOutcome, SyncJob, handle_sync_message},
    providers::{ProviderClients, google::delegation::ServiceAccountKey},
};
use calsync_tests::api::TestApi;
use calsync_tests::google::FakeGoogle;
use calsync_tests::oauth::{REDIRECT, Reply, form, query_of, send_to};
use calsync_tests::receiver::Receiver;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{
    MAY_EVENTS, SERVICE_SCOPE, account_of, enterprise_uri, request_id, run_queued_jobs_with, summaries_and_starts,
    take_queued,
};
use crate::api::api_on_both_backends;

api_on_both_backends!(
    the_google_workspace_page_proves_the_delegation_and_creates_a_service_account_whose_token_lives_1800_seconds,
    a_domain_that_did_not_delegate_gets_the_form_error_and_nothing_is_stored,
    two_workspace_mailboxes_sync_with_tokens_minted_for_each_and_no_mailbox_credentials_are_stored,
    an_address_outside_the_domain_is_refused_with_a_422_and_by_the_job,
    a_withdrawn_delegation_disconnects_the_mailbox_profiles_at_their_next_sync,
);

const KEY_FILE: &str = include_str!("../../fixtures/google/TEST-ONLY-service-account.json");
const PUBLIC_KEY: &str = include_str!("../../fixtures/google/TEST-ONLY-service-account.public.pem");
const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
const ADMIN: &str = "admin@corp.example";
const ADA: &str = "ada@corp.example";
const GRACE: &str = "grace@corp.example";
const PATH: &str = "/v1/service_account_authorizations";

fn key() -> ServiceAccountKey {
    ServiceAccountKey::from_json(KEY_FILE).expect("the test-only key")
}

/// The fake Google with calsync's service account registered, the users of corp.example (one
/// event each for Ada and Grace), and, when `delegated`, the domain's delegation of the
/// calendar scope to calsync's client id. Its JWT checks run on the API's clock.
async fn workspace(api: &TestApi, delegated: bool) -> FakeGoogle {
    let google = FakeGoogle::start().await;
    google.set_now(api.now());
    let key = key();
    google.register_service_account(&key.client_email, &key.client_id, PUBLIC_KEY);
    if delegated {
        google.delegate_domain("corp.example", &key.client_id, &[CALENDAR_SCOPE]);
    }
    for user in [ADMIN, ADA, GRACE] {
        google.add_calendar(user, user, user, "owner", true);
    }
    let timed = |id: &str, summary: &str, day: &str| {
        json!({"id": id, "summary": summary, "start": {"dateTime": format!("{day}T09:00:00Z"), "timeZone": "UTC"},
               "end": {"dateTime": format!("{day}T10:00:00Z"), "timeZone": "UTC"}})
    };
    google.put_event(ADA, timed("adareview", "Ada's review", "2026-05-04"));
    google.put_event(GRACE, timed("gracestandup", "Grace's standup", "2026-05-05"));
    google
}

/// The API's state pointed at the fake Google, with calsync's Google service account key.
fn google_state(api: &TestApi, google: &FakeGoogle) -> AppState {
    let mut config = (*api.state.config).clone();
    config.google.authorize_url = google.authorize_url();
    config.google.token_url = google.token_url();
    config.google.api_url = google.api_url();
    AppState {
        config: Arc::new(config),
        providers: Arc::new(ProviderClients { google_service_account: Some(key()), ..ProviderClients::default() }),
        ..api.state.clone()
    }
}

/// A JSON request to the API served with `state`.
async fn call(
    state: &AppState,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = bearer {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let request = match body {
        Some(json) => builder.header("content-type", "application/json").body(Body::from(json.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap();
    let response = calsync_core::api::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Opens the Enterprise Connect page.
async fn open_page(state: &AppState, app: &Application) -> Reply {
    let uri = enterprise_uri(
        app,
        &[("scope", SERVICE_SCOPE), ("delegated_scope", "read_events read_free_busy"), ("state", "org-1")],
    );
    let page = send_to(state, Method::GET, &uri, None, String::new()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page
}

/// Opens the Enterprise Connect page and submits the Google choice for `email`.
async fn submit_google(state: &AppState, app: &Application, email: &str) -> Reply {
    let page = open_page(state, app).await;
    let request = request_id(&page.body);
    let fields = form(&[("request", request.as_str()), ("service", "google"), ("email", email)]);
    let content_type = Some("application/x-www-form-urlencoded");
    send_to(state, Method::POST, "/enterprise_connect/oauth/authorize", content_type, fields).await
}

/// The Google service account's tokens: the page for ADMIN, and the code exchanged.
async fn service_account_tokens(state: &AppState, app: &Application, secret: &str) -> Value {
    let reply = submit_google(state, app, ADMIN).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let query = query_of(reply.header("location").expect("a redirect"));
    assert!(query.contains(&("state".to_owned(), "org-1".to_owned())), "{query:?}");
    let code = query.iter().find(|(k, _)| k == "code").expect("a code").1.clone();
    let body = json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
                      "code": code, "redirect_uri": REDIRECT});
    let (status, tokens) = call(state, Method::POST, "/oauth/token", None, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

async fn stored_service_account(api: &TestApi, tokens: &Value) -> ServiceAccount {
    api.state.store.find_service_account_by_account(&account_of(tokens)).await.unwrap().expect("a service account")
}

async fn the_google_workspace_page_proves_the_delegation_and_creates_a_service_account_whose_token_lives_1800_seconds(
    api: &TestApi,
) {
    let google = workspace(api, true).await;
    let state = google_state(api, &google);
    let (app, secret) = api.application("Planner").await;

    // Without calsync's service account key the choice is not offered.
    let uri = enterprise_uri(&app, &[("scope", SERVICE_SCOPE), ("delegated_scope", "read_events")]);
    let plain = send_to(&api.state, Method::GET, &uri, None, String::new()).await;
    assert!(!plain.body.contains("Google Workspace"), "{}", plain.body);

    // With it, the page says exactly what to grant.
    let page = open_page(&state, &app).await;
    assert!(page.body.contains("<h2>Google Workspace</h2>"), "{}", page.body);
    assert!(page.body.contains(&format!("<code>{}</code>", key().client_id)), "{}", page.body);
    assert!(page.body.contains(&format!("<code>{CALENDAR_SCOPE}</code>")), "{}", page.body);
    assert!(page.body.contains("Manage domain-wide delegation"), "{}", page.body);
    assert!(!page.body.contains("PRIVATE KEY"));

    let tokens = service_account_tokens(&state, &app, &secret).await;
    assert_eq!(tokens["expires_in"], json!(1800));
    assert_eq!(tokens["scope"], json!(SERVICE_SCOPE));

    // The service account is the domain, through the admin's address; its credentials are the
    // token minted for that address (no refresh token), sealed.
    let service_account = stored_service_account(api, &tokens).await;
    assert_eq!((service_account.provider, service_account.email.as_str()), (ProviderName::Google, ADMIN));
    assert_eq!(service_account.domain(), "corp.example");
    assert_eq!(service_account.server_url, None);
    let sealed = api.state.store.get_service_account_credentials(&service_account.id).await.unwrap().unwrap();
    let opened = api.state.vault.open_service_account(&service_account.id, &sealed).unwrap();
    let Credentials::OauthTokenSet { access_token, refresh_token, expires_at, scope } = &opened else {
        panic!("a token set")
    };
    assert_eq!(refresh_token, &None);
    assert_eq!(*expires_at, Some(api.now() + chrono::Duration::seconds(3599)));
    assert_eq!(scope.as_deref(), Some(CALENDAR_SCOPE));

    // Google saw one JWT grant for the admin and the primary calendar read with its token.
    let grants = google.jwt_grants();
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["sub"], json!(ADMIN));
    assert_eq!(grants[0]["iss"], json!(key().client_email));
    let reads: Vec<_> = google.requests().into_iter().filter(|r| r.path.starts_with("/calendar/v3/")).collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].path, "/calendar/v3/users/me/calendarList/primary");
    assert_eq!(reads[0].authorization.as_deref(), Some(format!("Bearer {access_token}").as_str()));
    assert!(google.requests().iter().all(|r| !r.form.iter().any(|(k, _)| k == "client_secret")));
}

async fn a_domain_that_did_not_delegate_gets_the_form_error_and_nothing_is_stored(api: &TestApi) {
    let google = workspace(api, false).await;
    let state = google_state(api, &google);
    let (app, _) = api.application("Planner").await;
    let accounts_before = api.state.store.count_accounts().await.unwrap();

    let reply = submit_google(&state, &app, ADMIN).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.body.contains("the domain has not delegated the calendar scope"), "{}", reply.body);
    assert!(reply.body.contains(&format!("value=\"{ADMIN}\"")), "the address is kept: {}", reply.body);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before);
    assert!(api.state.store.find_service_account(&app.id, ProviderName::Google, ADMIN).await.unwrap().is_none());

    // An unknown user of a delegating domain is refused in the admin's words too.
    google.delegate_domain("corp.example", &key().client_id, &[CALENDAR_SCOPE]);
    let reply = submit_google(&state, &app, "nobody@corp.example").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("Google refused a token for this address"), "{}", reply.body);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before);
}

/// A mailbox authorized through the service account.
struct Mailbox {
    tokens: Value,
    profile: ProfileId,
    account: AccountId,
}

/// Runs the page, asks for `mailboxes` with `receiver` as callback, runs the jobs and exchanges
/// the codes the callbacks carry.
async fn authorize_mailboxes(
    api: &TestApi,
    state: &AppState,
    receiver: &Receiver,
    mailboxes: &[&str],
) -> (Value, Vec<Mailbox>) {
    let (app, secret) = api.application("Planner").await;
    let service = service_account_tokens(state, &app, &secret).await;
    let entries: Vec<Value> = mailboxes
        .iter()
        .map(|m| json!({"email": m, "scope": "read_events", "callback_url": receiver.url, "state": format!("for {m}")}))
        .collect();
    let body = json!({"service_account_authorizations": entries});
    let (status, answer) = call(state, Method::POST, PATH, service["access_token"].as_str(), Some(body)).await;
    assert_eq!((status, answer), (StatusCode::ACCEPTED, Value::Null));
    for (job, outcome) in run_queued_jobs_with(api, state).await {
        assert!(outcome.is_ok(), "{job:?}: {outcome:?}");
    }
    let callbacks = receiver.bodies();
    assert_eq!(callbacks.len(), mailboxes.len(), "{callbacks:?}");
    let mut authorized = Vec::new();
    for (callback, mailbox) in callbacks.iter().zip(mailboxes) {
        assert_eq!(callback["authorization"]["state"], json!(format!("for {mailbox}")), "{callback}");
        let code = callback["authorization"]["code"].as_str().expect("a code");
        let body = json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
                          "code": code, "redirect_uri": receiver.url});
        let (status, tokens) = call(state, Method::POST, "/oauth/token", None, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let profile = ProfileId::parse(tokens["linking_profile"]["profile_id"].as_str().unwrap()).unwrap();
        authorized.push(Mailbox { account: account_of(&tokens), tokens, profile });
    }
    (service, authorized)
}

/// `(summary, start)` of every event the token reads in May 2026, read with `state`.
async fn events(state: &AppState, tokens: &Value) -> Vec<(String, String)> {
    let (status, body) = call(state, Method::GET, MAY_EVENTS, tokens["access_token"].as_str(), None).await;
    summaries_and_starts(status, &body)
}

async fn two_workspace_mailboxes_sync_with_tokens_minted_for_each_and_no_mailbox_credentials_are_stored(api: &TestApi) {
    let google = workspace(api, true).await;
    let state = google_state(api, &google);
    let receiver = Receiver::start(&[]).await;

    let (service, mailboxes) = authorize_mailboxes(api, &state, &receiver, &[ADA, GRACE]).await;

    for (mailbox, email) in mailboxes.iter().zip([ADA, GRACE]) {
        assert_eq!(
            mailbox.tokens["linking_profile"],
            json!({"provider_name": "google", "profile_id": mailbox.profile, "profile_name": email})
        );
    }
    assert_eq!(events(&state, &mailboxes[0].tokens).await, [("Ada's review".into(), "2026-05-04T09:00:00Z".into())]);
    assert_eq!(events(&state, &mailboxes[1].tokens).await, [("Grace's standup".into(), "2026-05-05T09:00:00Z".into())]);

    // Google saw JWT grants with each mailbox as subject, and each mailbox's API requests carry
    // a token minted for it and the mailbox's own quotaUser.
    let grants = google.jwt_grants();
    for email in [ADA, GRACE] {
        assert!(grants.iter().filter(|g| g["sub"] == json!(email)).count() >= 2, "a check and a sync: {grants:?}");
    }
    let mut quota_users = std::collections::BTreeSet::new();
    for (mailbox, email) in mailboxes.iter().zip([ADA, GRACE]) {
        let path = format!("/calendar/v3/calendars/{email}/events");
        let reads: Vec<_> = google.requests().into_iter().filter(|r| r.path == path).collect();
        assert!(!reads.is_empty(), "{email}'s events were read");
        for read in &reads {
            let token = read.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer ")).expect("a token");
            assert_eq!(google.token_owner(token).as_deref(), Some(email), "a token minted for {email}");
            let quota_user = read.query.iter().find(|(k, _)| k == "quotaUser").map(|(_, v)| v.clone());
            let quota_user = quota_user.expect("quotaUser on every request");
            assert!(!quota_user.contains('@') && !quota_user.contains(mailbox.profile.as_str()), "opaque");
            quota_users.insert(quota_user);
        }
    }
    assert_eq!(quota_users.len(), 2, "one quotaUser per mailbox: {quota_users:?}");
    let lists: Vec<_> =
        google.requests().into_iter().filter(|r| r.path == "/calendar/v3/users/me/calendarList").collect();
    assert_eq!(lists.len(), 2, "each mailbox's calendar list, read with its own token");

    // The store holds no credentials of either mailbox: only the service account's.
    let store = &api.state.store;
    let service_account = stored_service_account(api, &service).await;
    for mailbox in &mailboxes {
        assert_eq!(store.get_credentials(&mailbox.profile).await.unwrap(), None);
        assert_eq!(store.count_account_rows("credentials", "account_id", &mailbox.account).await.unwrap(), 0);
        assert_eq!(store.profile_service_account(&mailbox.profile).await.unwrap(), Some(service_account.id.clone()));
        let profile = store.get_profile(&mailbox.profile).await.unwrap().unwrap();
        assert_eq!((profile.provider, profile.status), (ProviderName::Google, ProfileStatus::Active));
        assert_eq!(profile.provider_service.to_string(), "gsuite");
    }
}

async fn an_address_outside_the_domain_is_refused_with_a_422_and_by_the_job(api: &TestApi) {
    let google = workspace(api, true).await;
    let state = google_state(api, &google);
    let receiver = Receiver::start(&[]).await;
    let (app, secret) = api.application("Planner").await;
    let service = service_account_tokens(&state, &app, &secret).await;

    let body = json!({"email": "eve@elsewhere.example", "scope": "read_events", "callback_url": receiver.url});
    let (status, answer) = call(&state, Method::POST, PATH, service["access_token"].as_str(), Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        answer["errors"]["email"],
        json!([{"key": "errors.invalid", "description": "must be an address of the service account's domain, corp.example"}])
    );
    assert_eq!(take_queued(api).await, vec![]);

    // A job for such an address (the domain check again, where the token is minted) is denied
    // without asking Google.
    let service_account = stored_service_account(api, &service).await;
    let grants_before = google.jwt_grants().len();
    let accounts_before = api.state.store.count_accounts().await.unwrap();
    let job = SyncJob::AuthorizeMailbox(MailboxRequest {
        service_account_id: service_account.id.clone(),
        application_id: app.id.clone(),
        email: "eve@elsewhere.example".into(),
        scope: "read_events".into(),
        callback_url: receiver.url.clone(),
        state: None,
    });
    let outcome = handle_sync_message(&state, &serde_json::to_string(&job).unwrap()).await.unwrap();
    assert_eq!(outcome, JobOutcome::Done);
    assert_eq!(
        receiver.bodies(),
        [json!({"authorization": {"error": "access_denied",
                                  "error_description": "the address is not in the service account's domain"}})]
    );
    assert_eq!(google.jwt_grants().len(), grants_before);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before);
}

async fn a_withdrawn_delegation_disconnects_the_mailbox_profiles_at_their_next_sync(api: &TestApi) {
    let google = workspace(api, true).await;
    let state = google_state(api, &google);
    let receiver = Receiver::start(&[]).await;
    let (_, mailboxes) = authorize_mailboxes(api, &state, &receiver, &[ADA, GRACE]).await;
    let channels = Receiver::start(&[]).await;
    let mut channel_ids = Vec::new();
    for mailbox in &mailboxes {
        let body = json!({"callback_url": channels.url});
        let (status, channel) =
            call(&state, Method::POST, "/v1/channels", mailbox.tokens["access_token"].as_str(), Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{channel}");
        channel_ids.push(ChannelId::parse(channel["channel"]["channel_id"].as_str().unwrap()).unwrap());
    }

    // The domain's administrator removes calsync's client from domain-wide delegation.
    google.withdraw_delegation("corp.example", &key().client_id);

    let store = &api.state.store;
    for (mailbox, channel_id) in mailboxes.iter().zip(&channel_ids) {
        let job = serde_json::to_string(&SyncJob::SyncCalendarList { profile_id: mailbox.profile.clone() }).unwrap();
        assert_eq!(
            handle_sync_message(&state, &job).await.unwrap(),
            JobOutcome::Skipped("the provider refused the credentials; the profile is disconnected")
        );
        assert_eq!(store.get_profile(&mailbox.profile).await.unwrap().unwrap().status, ProfileStatus::Disconnected);
        let told: Vec<String> =
            store.list_channel_notifications(channel_id).await.unwrap().into_iter().map(|n| n.kind).collect();
        assert_eq!(told.iter().filter(|kind| *kind == "profile_disconnected").count(), 1, "{told:?}");
        assert!(store.get_account(&mailbox.account).await.unwrap().is_some());
    }
    let refused = google.jwt_grants().into_iter().rev().take(2).collect::<Vec<_>>();
    assert!(refused.iter().all(|g| g["sub"] == json!(ADA) || g["sub"] == json!(GRACE)), "{refused:?}");
}

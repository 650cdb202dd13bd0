//! Enterprise Connect for Office 365 with application permissions, on the fake Microsoft: an
//! administrator's consent through the page becomes a service account (the tenant, its verified
//! domains and an app token; nothing is stored when they decline), mailboxes of the tenant are
//! authorized through `/v1/service_account_authorizations` and synced at Graph's
//! `/users/{address}/…` with the tenant's app token, with no credentials of their own; an address
//! outside the tenant's domains is refused, one the tenant has no mailbox for is denied, a
//! withdrawn consent disconnects the mailboxes at their next sync, and a no-change sync costs one
//! Graph request.

use std::sync::Arc;

use calsync_core::{
    AppState,
    crypto::Credentials,
    domain::{Application, CalendarId, ChannelId, ProfileId, ProfileStatus, ProviderName},
    jobs::{JobOutcome, SyncJob, handle_sync_message},
    providers::{OAuthClient, ProviderClients},
};
use calsync_tests::api::TestApi;
use calsync_tests::microsoft::{CLIENT_ID, CLIENT_SECRET, FakeMicrosoft, Request, WORK_DOMAINS, WORK_TENANT};
use calsync_tests::oauth::{REDIRECT, Reply, query_of, send_to};
use calsync_tests::receiver::Receiver;
use chrono::Duration;
use http::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{
    SERVICE_SCOPE, account_of, enterprise_uri, events, exchange, request_id, run_queued_jobs_with, take_queued,
};

use crate::api::served_on_both_backends as office365_on_both_backends;

office365_on_both_backends!(
    an_administrators_consent_on_the_page_stores_the_tenant_with_an_app_token_and_a_30_minute_token,
    a_declined_consent_shows_the_page_again_and_stores_nothing,
    a_forged_consent_callback_naming_another_tenant_stores_nothing,
    two_mailboxes_of_the_tenant_sync_at_users_with_the_app_token_and_store_no_credentials,
    an_address_outside_the_tenants_domains_is_refused_and_a_missing_mailbox_is_denied,
    a_withdrawn_consent_disconnects_the_mailboxes_at_their_next_sync,
    a_mailbox_graph_closes_to_the_app_token_is_disconnected_at_its_next_sync,
);

const ADA: &str = "ada@contoso.example";
const GRACE: &str = "grace@contoso.example";
const PATH: &str = "/v1/service_account_authorizations";

/// The API's state pointed at the fake Microsoft with calsync's client registered there.
fn office365_state(api: &TestApi, microsoft: &FakeMicrosoft) -> AppState {
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

/// A fake Microsoft whose tenant has Ada's and Grace's mailboxes, one event each; the
/// administrator (a work account of the tenant) signs in to consent.
async fn tenant() -> (FakeMicrosoft, Vec<String>) {
    let microsoft = FakeMicrosoft::start().await;
    microsoft.sign_in_as("admin@contoso.example", "Contoso Admin", false);
    let mut calendars = Vec::new();
    for (email, subject, day) in [(ADA, "Ada's review", "2026-05-04"), (GRACE, "Grace's standup", "2026-05-05")] {
        let calendar = microsoft.add_calendar(email, "Calendar", true, true);
        microsoft.put_event(
            &calendar,
            json!({"subject": subject, "start": {"dateTime": format!("{day}T09:00:00"), "timeZone": "UTC"},
                   "end": {"dateTime": format!("{day}T10:00:00"), "timeZone": "UTC"}}),
        );
        calendars.push(calendar);
    }
    (microsoft, calendars)
}

/// Follows a redirect to the fake Microsoft (without following its answer) and returns where it
/// sends the browser.
async fn at_microsoft(location: &str) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = client.get(location).send().await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::FOUND, "{}", answer.text().await.unwrap_or_default());
    answer.headers()["location"].to_str().unwrap().to_owned()
}

/// Opens the page, chooses Office 365, consents at the fake and comes back to the callback;
/// returns the callback's reply.
async fn consent(api: &TestApi, state: &AppState, app: &Application, delegated: &str) -> Reply {
    let uri = enterprise_uri(app, &[("scope", SERVICE_SCOPE), ("delegated_scope", delegated), ("state", "org-1")]);
    let page = send_to(state, Method::GET, &uri, None, String::new()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("name=\"service\" value=\"office365\""), "the Office 365 choice is offered");
    let id = request_id(&page.body);
    let form = calsync_tests::oauth::form(&[("request", id.as_str()), ("service", "office365")]);
    let chosen = send_to(
        state,
        Method::POST,
        "/enterprise_connect/oauth/authorize",
        Some("application/x-www-form-urlencoded"),
        form,
    )
    .await;
    assert_eq!(chosen.status, StatusCode::FOUND, "{}", chosen.body);
    let location = chosen.header("location").expect("a redirect").to_owned();
    let microsoft = state.config.microsoft.authorize_url.trim_end_matches("/common/oauth2/v2.0/authorize");
    assert!(location.starts_with(&format!("{microsoft}/organizations/v2.0/adminconsent?")), "{location}");
    let query = query_of(&location);
    let value = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(value("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(value("scope").as_deref(), Some("https://graph.microsoft.com/.default"));
    assert_eq!(value("state"), Some(id));
    let callback = value("redirect_uri").unwrap();
    assert_eq!(callback, format!("{}/enterprise_connect/callback/microsoft", state.config.public_url));

    // The fake sends the administrator back to the callback, which (after a consent) sends them
    // to sign in at the tenant, and back again with a code.
    let back = at_microsoft(&location).await;
    let path = back.strip_prefix(&state.config.public_url).expect("back at calsync").to_owned();
    let reply = send_to(state, Method::GET, &path, None, String::new()).await;
    let _ = api;
    match reply.header("location").filter(|l| l.starts_with(microsoft)) {
        Some(sign_in) => {
            assert!(sign_in.starts_with(&format!("{microsoft}/{WORK_TENANT}/oauth2/v2.0/authorize?")), "{sign_in}");
            let query = query_of(sign_in);
            assert!(query.iter().any(|(k, v)| k == "scope" && v == "openid User.Read"), "{sign_in}");
            let back = at_microsoft(sign_in).await;
            let path = back.strip_prefix(&state.config.public_url).expect("back at calsync").to_owned();
            send_to(state, Method::GET, &path, None, String::new()).await
        }
        None => reply,
    }
}

/// The client credentials grants the fake answered.
fn app_grants(microsoft: &FakeMicrosoft) -> Vec<Request> {
    let grants = microsoft.requests().into_iter().filter(|r| r.path.ends_with("/oauth2/v2.0/token"));
    grants.filter(|r| r.form.iter().any(|(k, v)| k == "grant_type" && v == "client_credentials")).collect()
}

/// The service account's token response after a consent.
async fn service_tokens(api: &TestApi, state: &AppState, app: &Application, secret: &str) -> Value {
    let reply = consent(api, state, app, "read_events read_free_busy").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let query = query_of(reply.header("location").expect("a redirect"));
    assert!(query.iter().any(|(k, v)| k == "state" && v == "org-1"));
    let code = query.iter().find(|(k, _)| k == "code").expect("a code").1.clone();
    let (status, tokens) = exchange(api, app, secret, &code, REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

async fn an_administrators_consent_on_the_page_stores_the_tenant_with_an_app_token_and_a_30_minute_token(
    api: &TestApi,
) {
    let (microsoft, _) = tenant().await;
    let state = office365_state(api, &microsoft);
    let (app, secret) = api.application("Planner").await;

    let tokens = service_tokens(api, &state, &app, &secret).await;

    assert_eq!(tokens["expires_in"], json!(1800));
    assert_eq!(tokens["scope"], json!(SERVICE_SCOPE));
    assert!(microsoft.consented(WORK_TENANT));
    let store = &api.state.store;
    let service_account = store.find_service_account_by_account(&account_of(&tokens)).await.unwrap().unwrap();
    assert_eq!(service_account.provider, ProviderName::Office365);
    assert_eq!(service_account.tenant(), Some(WORK_TENANT));
    assert_eq!(service_account.domains().collect::<Vec<_>>(), WORK_DOMAINS);
    assert_eq!(service_account.domain(), "contoso.example");
    let (status, info) = api.get("/v1/userinfo", tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["cronofy.type"], json!("service_account"));
    assert_eq!(info["cronofy.service_account.domain"], json!("contoso.example"));
    assert_eq!(info["email"], Value::Null, "a tenant has no address");
    assert_eq!(info["cronofy.data"]["service_account"]["provider_name"], json!("office365"));
    // Its credentials are the tenant's app token set: no refresh token, no user's password.
    let sealed = store.get_service_account_credentials(&service_account.id).await.unwrap().unwrap();
    match &api.state.vault.open_service_account(&service_account.id, &sealed).unwrap() {
        Credentials::OauthTokenSet { access_token, refresh_token, expires_at, .. } => {
            assert!(!access_token.is_empty());
            assert_eq!(refresh_token, &None);
            assert_eq!(*expires_at, Some(api.now() + Duration::seconds(3599)));
        }
        other => panic!("not a token set: {other:?}"),
    }
    let grant = app_grants(&microsoft);
    assert_eq!(grant.len(), 1);
    assert_eq!(grant[0].path, format!("/{WORK_TENANT}/oauth2/v2.0/token"));
    let field = |name: &str| grant[0].form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("grant_type"), Some("client_credentials"));
    assert_eq!(field("scope"), Some("https://graph.microsoft.com/.default"));
}

async fn a_declined_consent_shows_the_page_again_and_stores_nothing(api: &TestApi) {
    let (microsoft, _) = tenant().await;
    let state = office365_state(api, &microsoft);
    let (app, _) = api.application("Planner").await;
    microsoft.decline_next_consent();
    let accounts_before = api.state.store.count_accounts().await.unwrap();

    let reply = consent(api, &state, &app, "read_events").await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("The Office 365 consent was not given"), "{}", reply.body);
    assert!(!reply.body.contains("AADSTS65004"), "Microsoft's description is not shown");
    assert!(!microsoft.consented(WORK_TENANT));
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before, "no service account");
    let tokens = microsoft.requests().into_iter().filter(|r| r.path.ends_with("/token")).count();
    assert_eq!(tokens, 0, "no token is asked for a declined consent");
}

async fn a_forged_consent_callback_naming_another_tenant_stores_nothing(api: &TestApi) {
    // Fabrikam's administrator consented (for another application of this installation).
    let (microsoft, _) = tenant().await;
    let fabrikam = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    microsoft.add_tenant(fabrikam, &["fabrikam.example"]);
    microsoft.sign_in_as("admin@fabrikam.example", "Fabrikam Admin", false);
    let consent = format!(
        "{}/organizations/v2.0/adminconsent?client_id={CLIENT_ID}&scope=x&redirect_uri=https%3A%2F%2Fapp.example",
        microsoft.url
    );
    at_microsoft(&consent).await;
    assert!(microsoft.consented(fabrikam));

    // Contoso's administrator (whose tenant never consented) sends their browser to the callback
    // as if Fabrikam had consented for their request.
    microsoft.sign_in_as("admin@contoso.example", "Contoso Admin", false);
    let state = office365_state(api, &microsoft);
    let (app, _) = api.application("Snooper").await;
    let uri = enterprise_uri(&app, &[("scope", SERVICE_SCOPE), ("delegated_scope", "read_events")]);
    let page = send_to(&state, Method::GET, &uri, None, String::new()).await;
    let id = request_id(&page.body);
    let forged = format!("/enterprise_connect/callback/microsoft?tenant={fabrikam}&admin_consent=True&state={id}");
    let accounts_before = api.state.store.count_accounts().await.unwrap();
    let reply = send_to(&state, Method::GET, &forged, None, String::new()).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let back = at_microsoft(reply.header("location").unwrap()).await;
    let path = back.strip_prefix(&state.config.public_url).expect("back at calsync").to_owned();
    let reply = send_to(&state, Method::GET, &path, None, String::new()).await;

    // The signed-in administrator's tenant is Contoso, which never consented: nothing stored.
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.body);
    assert!(reply.body.contains("Microsoft did not confirm the consent"), "{}", reply.body);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before);
    let tenants: Vec<String> = app_grants(&microsoft)
        .iter()
        .map(|r| r.path.trim_start_matches('/').split('/').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(tenants, [WORK_TENANT], "no token was asked for Fabrikam");
}

/// Runs the consent, asks for `mailboxes` with `receiver` as callback and runs every queued job.
async fn authorize_mailboxes(
    api: &TestApi,
    state: &AppState,
    receiver: &Receiver,
    mailboxes: &[&str],
) -> (Application, String, Value) {
    let (app, secret) = api.application("Planner").await;
    let service = service_tokens(api, state, &app, &secret).await;
    let entries: Vec<Value> = mailboxes
        .iter()
        .map(|m| json!({"email": m, "scope": "read_events", "callback_url": receiver.url, "state": format!("for {m}")}))
        .collect();
    let body = json!({"service_account_authorizations": entries});
    let (status, answer) = api.post(PATH, service["access_token"].as_str(), body).await;
    assert_eq!((status, answer), (StatusCode::ACCEPTED, Value::Null));
    for (job, outcome) in run_queued_jobs_with(api, state).await {
        assert!(outcome.is_ok(), "{job:?}: {outcome:?}");
    }
    (app, secret, service)
}

async fn two_mailboxes_of_the_tenant_sync_at_users_with_the_app_token_and_store_no_credentials(api: &TestApi) {
    let (microsoft, calendars) = tenant().await;
    let state = office365_state(api, &microsoft);
    let receiver = Receiver::start(&[]).await;

    let (app, secret, service) = authorize_mailboxes(api, &state, &receiver, &[ADA, GRACE]).await;

    // Both callbacks carry codes that buy the mailbox's tokens.
    let callbacks = receiver.bodies();
    assert_eq!(callbacks.len(), 2, "{callbacks:?}");
    let mut mailboxes = Vec::new();
    for callback in &callbacks {
        let authorization = &callback["authorization"];
        let email = authorization["state"].as_str().unwrap().trim_start_matches("for ").to_owned();
        let code = authorization["code"].as_str().expect("a code");
        let (status, tokens) = exchange(api, &app, &secret, code, &receiver.url).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert_eq!(tokens["linking_profile"]["provider_name"], json!("office365"));
        assert_eq!(tokens["linking_profile"]["profile_name"], json!(email));
        mailboxes.push((email, tokens));
    }
    mailboxes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(mailboxes.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(), [ADA, GRACE]);
    assert_eq!(events(api, &mailboxes[0].1).await, [("Ada's review".to_owned(), "2026-05-04T09:00:00Z".to_owned())]);
    assert_eq!(events(api, &mailboxes[1].1).await, [("Grace's standup".to_owned(), "2026-05-05T09:00:00Z".to_owned())]);

    // Every Graph request for a mailbox went to /users/{address}/… with the tenant's app token.
    let store = &api.state.store;
    let service_account = store.find_service_account_by_account(&account_of(&service)).await.unwrap().unwrap();
    let sealed = store.get_service_account_credentials(&service_account.id).await.unwrap().unwrap();
    let opened = api.state.vault.open_service_account(&service_account.id, &sealed).unwrap();
    let Credentials::OauthTokenSet { access_token, .. } = &opened else { panic!("a token set") };
    // (The consent read the organisation twice: as the signed-in administrator, then with the
    // tenant's first app token.)
    let graph: Vec<Request> = microsoft.requests().into_iter().filter(|r| r.path.starts_with("/v1.0/")).collect();
    assert_eq!(graph.iter().filter(|r| r.path == "/v1.0/organization").count(), 2, "{graph:?}");
    assert_eq!(graph[0].path, "/v1.0/organization");
    let graph = graph[1..].to_vec();
    let bearer = format!("Bearer {access_token}");
    assert!(graph.iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())), "{graph:?}");
    assert!(!graph.iter().any(|r| r.path.starts_with("/v1.0/me")), "no delegated path");
    for email in [ADA, GRACE] {
        let prefix = format!("/v1.0/users/{}/", email.replace('@', "%40"));
        let own: Vec<&Request> = graph
            .iter()
            .filter(|r| r.path.starts_with(&prefix) || r.path.starts_with(&format!("/v1.0/users/{email}/")))
            .collect();
        assert!(own.len() >= 3, "a check, a calendar listing and a sync for {email}: {graph:?}");
    }
    // Besides: the consent's look at the organisation, and subscriptions on the mailboxes' events.
    let other: Vec<&Request> =
        graph.iter().filter(|r| r.path != "/v1.0/organization" && !r.path.starts_with("/v1.0/users/")).collect();
    assert!(other.iter().all(|r| r.path == "/v1.0/subscriptions"), "{other:?}");
    let resources: Vec<&str> = other.iter().filter_map(|r| r.body.as_ref()?["resource"].as_str()).collect();
    assert_eq!(resources.len(), 2, "{other:?}");
    for (resource, (email, calendar)) in resources.iter().zip([ADA, GRACE].iter().zip(&calendars)) {
        assert_eq!(*resource, format!("users/{email}/calendars/{calendar}/events"));
    }

    // The store holds no credentials of either mailbox.
    for (_, tokens) in &mailboxes {
        let account = account_of(tokens);
        assert_eq!(store.count_account_rows("credentials", "account_id", &account).await.unwrap(), 0);
        let profile =
            calsync_core::domain::ProfileId::parse(tokens["linking_profile"]["profile_id"].as_str().unwrap()).unwrap();
        assert_eq!(store.get_credentials(&profile).await.unwrap(), None);
        assert_eq!(store.profile_service_account(&profile).await.unwrap(), Some(service_account.id.clone()));
    }

    // A no-change sync of a mailbox costs one Graph request.
    let ada = account_of(&mailboxes[0].1);
    let calendar = store.list_calendars(&ada).await.unwrap().into_iter().next().expect("Ada's calendar");
    assert!(calendars.contains(&calendar.provider_calendar_id));
    let before = microsoft.api_request_count();
    let job = serde_json::to_string(&SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).unwrap();
    assert_eq!(handle_sync_message(&state, &job).await.unwrap(), JobOutcome::Done);
    let sent: Vec<Request> =
        microsoft.requests().into_iter().filter(|r| r.path.starts_with("/v1.0/")).skip(before).collect();
    assert_eq!(sent.len(), 1, "a no-change sync costs one request: {sent:?}");
    let _: CalendarId = calendar.id;
}

async fn an_address_outside_the_tenants_domains_is_refused_and_a_missing_mailbox_is_denied(api: &TestApi) {
    let (microsoft, _) = tenant().await;
    let state = office365_state(api, &microsoft);
    let receiver = Receiver::start(&[]).await;
    let (app, secret) = api.application("Planner").await;
    let service = service_tokens(api, &state, &app, &secret).await;
    let token = service["access_token"].as_str();

    // An address of another organisation: refused at once, from the domains stored at consent.
    let body = json!({"email": "eve@fabrikam.example", "scope": "read_events", "callback_url": receiver.url});
    let (status, answer) = api.post(PATH, token, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer.to_string().contains("contoso.example"), "{answer}");
    assert!(take_queued(api).await.is_empty());

    // An address of the tenant's domains that has no mailbox: Graph's 404, access_denied.
    let body = json!({"email": "nobody@contoso.example", "scope": "read_events", "callback_url": receiver.url,
                      "state": "s"});
    let accounts_before = api.state.store.count_accounts().await.unwrap();
    let (status, _) = api.post(PATH, token, body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    for (job, outcome) in run_queued_jobs_with(api, &state).await {
        assert!(outcome.is_ok(), "{job:?}: {outcome:?}");
    }
    let callbacks = receiver.bodies();
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0]["authorization"]["error"], json!("access_denied"));
    assert_eq!(callbacks[0]["authorization"]["state"], json!("s"));
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before, "nothing stored for it");
}

/// The mailboxes' profiles and a push channel on each, from the callbacks' codes.
async fn mailbox_channels(
    api: &TestApi,
    app: &Application,
    secret: &str,
    receiver: &Receiver,
    channels: &Receiver,
) -> Vec<(ProfileId, ChannelId)> {
    let mut opened = Vec::new();
    for callback in receiver.bodies() {
        let code = callback["authorization"]["code"].as_str().expect("a code");
        let (status, tokens) = exchange(api, app, secret, code, &receiver.url).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let profile = ProfileId::parse(tokens["linking_profile"]["profile_id"].as_str().unwrap()).unwrap();
        let body = json!({"callback_url": channels.url});
        let (status, channel) = api.post("/v1/channels", tokens["access_token"].as_str(), body).await;
        assert_eq!(status, StatusCode::OK, "{channel}");
        opened.push((profile, ChannelId::parse(channel["channel"]["channel_id"].as_str().unwrap()).unwrap()));
    }
    opened
}

/// Syncs the profile's calendar list: it is disconnected, and the application told once.
async fn disconnected_at_next_sync(api: &TestApi, state: &AppState, profile: &ProfileId, channel: &ChannelId) {
    let job = serde_json::to_string(&SyncJob::SyncCalendarList { profile_id: profile.clone() }).unwrap();
    assert_eq!(
        handle_sync_message(state, &job).await.unwrap(),
        JobOutcome::Skipped("the provider refused the credentials; the profile is disconnected")
    );
    let store = &api.state.store;
    assert_eq!(store.get_profile(profile).await.unwrap().unwrap().status, ProfileStatus::Disconnected);
    let told: Vec<String> =
        store.list_channel_notifications(channel).await.unwrap().into_iter().map(|n| n.kind).collect();
    assert_eq!(told.iter().filter(|kind| *kind == "profile_disconnected").count(), 1, "{told:?}");
}

async fn a_withdrawn_consent_disconnects_the_mailboxes_at_their_next_sync(api: &TestApi) {
    let (microsoft, _) = tenant().await;
    let state = office365_state(api, &microsoft);
    let receiver = Receiver::start(&[]).await;
    let channels = Receiver::start(&[]).await;
    let (app, secret, _) = authorize_mailboxes(api, &state, &receiver, &[ADA, GRACE]).await;
    let opened = mailbox_channels(api, &app, &secret, &receiver, &channels).await;
    assert_eq!(opened.len(), 2);

    // The administrator removes calsync's application; an hour later the app token needs renewing.
    microsoft.revoke_consent(WORK_TENANT);
    api.clock.advance(Duration::hours(2));

    for (profile, channel) in &opened {
        disconnected_at_next_sync(api, &state, profile, channel).await;
    }
    assert_eq!(app_grants(&microsoft).len(), 3, "the consent's grant, then one refused renewal per mailbox");
}

async fn a_mailbox_graph_closes_to_the_app_token_is_disconnected_at_its_next_sync(api: &TestApi) {
    let (microsoft, _) = tenant().await;
    let state = office365_state(api, &microsoft);
    let receiver = Receiver::start(&[]).await;
    let channels = Receiver::start(&[]).await;
    let (app, secret, _) = authorize_mailboxes(api, &state, &receiver, &[ADA]).await;
    let opened = mailbox_channels(api, &app, &secret, &receiver, &channels).await;

    // An application access policy now keeps the tenant's app token out of Ada's mailbox.
    microsoft.restrict_app_access(ADA);

    let (profile, channel) = &opened[0];
    disconnected_at_next_sync(api, &state, profile, channel).await;
    assert_eq!(app_grants(&microsoft).len(), 1, "the token was still good: no renewal");
}

//! A Microsoft account connected through the authorization page, against the fake Microsoft
//! (tests/src/microsoft.rs): calsync's page sends the browser to the identity platform's sign-in,
//! Microsoft sends it back with a code, calsync exchanges it and reads `/me`, and the application
//! gets its own code for an account whose profile is `office365` (work or school) or
//! `live_connect`/`outlook_com` (personal). A cancelled sign-in, a refused code and a grant without
//! offline access show the page again and create nothing.

use std::{collections::BTreeMap, sync::Arc, time::Duration as StdDuration};

use calsync_core::{
    AppState,
    adapters::QueueName,
    crypto::Credentials,
    domain::{ProfileId, ProviderName, ProviderService},
    jobs::SyncJob,
    providers::{OAuthClient, ProviderClients},
};
use calsync_tests::api::TestApi;
use calsync_tests::microsoft::{CLIENT_ID, CLIENT_SECRET, FakeMicrosoft};
use calsync_tests::oauth::{REDIRECT, Reply, authorize_uri, exchange, form, query_of, request_id, send_to};
use chrono::Duration;
use http::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;

use super::api_on_both_backends;

api_on_both_backends!(
    a_work_account_connects_as_office365_with_its_token_set_sealed,
    a_personal_account_connects_as_live_connect_outlook_com_named_by_its_user_principal_name,
    the_microsoft_sign_in_asks_for_offline_access_and_calendars_read_write,
    the_page_lets_its_forms_lead_to_both_google_and_microsoft_sign_ins,
    a_cancelled_microsoft_sign_in_shows_the_page_again_and_creates_nothing,
    a_code_microsoft_refuses_shows_the_page_again_and_creates_nothing,
    a_grant_without_offline_access_is_refused_and_creates_nothing,
);

const CALLBACK: &str = "http://calsync.test/oauth/callback/microsoft";
const SCOPES: &str = "openid email offline_access User.Read Calendars.ReadWrite";
const CANCELLED: &str = "Microsoft sign-in was cancelled. Choose Microsoft again, or another calendar service.";

fn client(id: &str, secret: &str) -> OAuthClient {
    OAuthClient { client_id: id.into(), client_secret: SecretString::from(secret) }
}

/// The API's state pointed at the fake Microsoft, with calsync's OAuth client registered there.
fn microsoft_state(api: &TestApi, microsoft: &FakeMicrosoft) -> AppState {
    let mut config = (*api.state.config).clone();
    config.microsoft.authorize_url = microsoft.authorize_url();
    config.microsoft.token_url = microsoft.token_url();
    config.microsoft.graph_url = microsoft.graph_url();
    AppState {
        config: Arc::new(config),
        providers: Arc::new(ProviderClients {
            microsoft: Some(client(CLIENT_ID, CLIENT_SECRET)),
            ..ProviderClients::default()
        }),
        ..api.state.clone()
    }
}

/// Opens the page for a new application; returns the application, its secret and the pending
/// request's id.
async fn open(api: &TestApi, state: &AppState) -> (calsync_core::domain::Application, String, String) {
    let (app, secret) = api.application("Planner").await;
    let pairs = [
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "read_events"),
        ("state", "app-state-1"),
    ];
    let page = send_to(state, Method::GET, &authorize_uri(&pairs), None, String::new()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let request = request_id(&page.body);
    (app, secret, request)
}

/// Chooses Microsoft on the page; returns where calsync sends the browser.
async fn choose_microsoft(state: &AppState, request: &str) -> String {
    let chosen = form(&[("request", request), ("service", "microsoft")]);
    let reply =
        send_to(state, Method::POST, "/oauth/authorize", Some("application/x-www-form-urlencoded"), chosen).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    reply.header("location").expect("a Location").to_owned()
}

/// Lets the fake sign the browser in at `sign_in`; returns calsync's answer to the callback.
async fn sign_in_and_come_back(state: &AppState, sign_in: &str) -> Reply {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let back = http.get(sign_in).send().await.unwrap();
    assert_eq!(back.status(), 302);
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let path = callback.strip_prefix("http://calsync.test").expect("back to calsync").to_owned();
    assert!(path.starts_with("/oauth/callback/microsoft?code="), "{path}");
    send_to(state, Method::GET, &path, None, String::new()).await
}

/// Runs the whole connection for the account the fake signs in as; returns the profile id from
/// the application's token response, checked to be `provider_name` / `email`.
async fn connect(api: &TestApi, microsoft: &FakeMicrosoft, provider_name: &str, email: &str) -> ProfileId {
    let state = microsoft_state(api, microsoft);
    let (app, secret, request) = open(api, &state).await;
    let sign_in = choose_microsoft(&state, &request).await;
    let to_app = sign_in_and_come_back(&state, &sign_in).await;
    assert_eq!(to_app.status, StatusCode::FOUND, "{}", to_app.body);
    let location = to_app.header("location").unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let returned: BTreeMap<String, String> = query_of(location).into_iter().collect();
    assert_eq!(returned.keys().collect::<Vec<_>>(), ["code", "state"]);
    assert_eq!(returned["state"], "app-state-1");

    let (status, tokens) = exchange(api, &app, &secret, &returned["code"]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let profile_id = tokens["linking_profile"]["profile_id"].as_str().expect("a profile id").to_owned();
    assert_eq!(
        tokens["linking_profile"],
        json!({"provider_name": provider_name, "profile_id": profile_id, "profile_name": email})
    );
    ProfileId::parse(&profile_id).unwrap()
}

async fn a_work_account_connects_as_office365_with_its_token_set_sealed(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let email = "grace@contoso.example";
    microsoft.sign_in_as(email, "Grace Hopper", false);

    let profile_id = connect(api, &microsoft, "office365", email).await;

    let store = &api.state.store;
    let profile = store.get_profile(&profile_id).await.unwrap().expect("the profile");
    assert_eq!((profile.provider, profile.provider_service), (ProviderName::Office365, ProviderService::Office365));
    assert_eq!((profile.email.as_str(), profile.server_url.as_deref()), (email, None));
    let account = store.get_account(&profile.account_id).await.unwrap().expect("the account");
    assert_eq!(account.email.as_deref(), Some(email));

    // The code was exchanged once, with calsync's client and the callback it was issued for.
    let exchanges: Vec<_> =
        microsoft.requests().into_iter().filter(|r| r.path == "/common/oauth2/v2.0/token").collect();
    assert_eq!(exchanges.len(), 1);
    let fields: BTreeMap<String, String> = exchanges[0].form.iter().cloned().collect();
    assert_eq!(fields["grant_type"], "authorization_code");
    assert_eq!((fields["client_id"].as_str(), fields["client_secret"].as_str()), (CLIENT_ID, CLIENT_SECRET));
    assert_eq!(fields["redirect_uri"], CALLBACK);

    // The vault holds the whole token set, whose refresh token Microsoft honours.
    let sealed = store.get_credentials(&profile_id).await.unwrap().expect("sealed credentials");
    let opened = api.state.vault.open(&profile_id, &sealed).unwrap();
    let Credentials::OauthTokenSet { access_token, refresh_token: Some(refresh_token), expires_at, scope } = &opened
    else {
        panic!("a token set with a refresh token")
    };
    assert!(access_token.starts_with("EwB"), "{access_token}");
    assert_eq!(*expires_at, Some(api.now() + Duration::seconds(3599)));
    assert_eq!(scope.as_deref(), Some("openid email User.Read Calendars.ReadWrite"));
    let refreshed = reqwest::Client::new()
        .post(microsoft.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);

    // The first sync of its calendars is queued.
    let messages = api.state.queue.receive(QueueName::Sync, 10, StdDuration::ZERO).await.unwrap();
    let jobs: Vec<SyncJob> = messages.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert_eq!(jobs, [SyncJob::SyncCalendarList { profile_id }]);
}

async fn a_personal_account_connects_as_live_connect_outlook_com_named_by_its_user_principal_name(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let email = "grace@outlook.example";
    microsoft.sign_in_as(email, "Grace", true);

    let profile_id = connect(api, &microsoft, "live_connect", email).await;

    let store = &api.state.store;
    let profile = store.get_profile(&profile_id).await.unwrap().expect("the profile");
    assert_eq!((profile.provider, profile.provider_service), (ProviderName::LiveConnect, ProviderService::OutlookCom));
    assert_eq!(profile.email, email);
    let account = store.get_account(&profile.account_id).await.unwrap().expect("the account");
    assert_eq!(account.email.as_deref(), Some(email));
    let sealed = store.get_credentials(&profile_id).await.unwrap().expect("sealed credentials");
    let opened = api.state.vault.open(&profile_id, &sealed).unwrap();
    assert!(
        matches!(&opened, Credentials::OauthTokenSet { refresh_token: Some(r), .. } if r.starts_with("M.C5")),
        "a token set with Microsoft's refresh token"
    );
    // The address came from `/me`, read with the new access token.
    let me: Vec<_> = microsoft.requests().into_iter().filter(|r| r.path == "/v1.0/me").collect();
    assert_eq!(me.len(), 1);
    assert_eq!(
        (me[0].method.as_str(), me[0].authorization.as_deref().map(|a| a.starts_with("Bearer EwB"))),
        ("GET", Some(true))
    );
}

async fn the_microsoft_sign_in_asks_for_offline_access_and_calendars_read_write(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let state = microsoft_state(api, &microsoft);
    let (_, _, request) = open(api, &state).await;

    let sign_in = choose_microsoft(&state, &request).await;

    assert!(sign_in.starts_with(&format!("{}?", microsoft.authorize_url())), "{sign_in}");
    let asked: BTreeMap<String, String> = query_of(&sign_in).into_iter().collect();
    assert_eq!(
        asked,
        BTreeMap::from(
            [
                ("client_id", CLIENT_ID),
                ("redirect_uri", CALLBACK),
                ("response_type", "code"),
                ("scope", SCOPES),
                ("state", request.as_str()),
                ("response_mode", "query"),
                ("prompt", "select_account"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        )
    );
    let scopes: Vec<&str> = asked["scope"].split(' ').collect();
    assert!(scopes.contains(&"offline_access") && scopes.contains(&"Calendars.ReadWrite"), "{scopes:?}");
    assert!(!sign_in.contains(CLIENT_SECRET), "the secret never goes to the browser");
    // And that is what Microsoft is asked for when the browser gets there.
    sign_in_and_come_back(&state, &sign_in).await;
    let at_microsoft = microsoft.requests().into_iter().find(|r| r.path == "/common/oauth2/v2.0/authorize").unwrap();
    assert!(at_microsoft.query.contains(&("scope".to_owned(), SCOPES.to_owned())), "{:?}", at_microsoft.query);
}

async fn the_page_lets_its_forms_lead_to_both_google_and_microsoft_sign_ins(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let mut state = microsoft_state(api, &microsoft);
    state.providers = Arc::new(ProviderClients {
        google: Some(client("google-client", "google-secret")),
        microsoft: Some(client(CLIENT_ID, CLIENT_SECRET)),
        ..ProviderClients::default()
    });
    let (app, _) = api.application("Planner").await;
    let pairs = [("response_type", "code"), ("client_id", app.client_id.as_str()), ("redirect_uri", REDIRECT)];

    let page = send_to(&state, Method::GET, &authorize_uri(&pairs), None, String::new()).await;

    assert_eq!(page.status, StatusCode::OK);
    let expected = format!(
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; \
         form-action 'self' https://app.example https://accounts.google.com {}",
        microsoft.url
    );
    assert_eq!(page.header("content-security-policy"), Some(expected.as_str()));
    assert!(
        page.body.contains(
            "<button type=\"submit\" id=\"choose-microsoft\" name=\"service\" value=\"microsoft\">Microsoft (Office \
             365 / Outlook.com)</button><p class=\"hint\">Office 365, Outlook.com and Hotmail.</p>"
        ),
        "{}",
        page.body
    );
    // With Microsoft alone, only its sign-in is allowed.
    let alone = microsoft_state(api, &microsoft);
    let page = send_to(&alone, Method::GET, &authorize_uri(&pairs), None, String::new()).await;
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .ends_with(&format!("form-action 'self' https://app.example {}", microsoft.url)),
        "{:?}",
        page.header("content-security-policy")
    );
}

async fn a_cancelled_microsoft_sign_in_shows_the_page_again_and_creates_nothing(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let state = microsoft_state(api, &microsoft);
    let (_, _, request) = open(api, &state).await;
    let before = api.state.store.count_accounts().await.unwrap();

    let path = format!(
        "/oauth/callback/microsoft?error=access_denied&error_description={}&state={request}",
        "AADSTS65004%3A+User+declined+to+consent+to+access+the+app."
    );
    let again = send_to(&state, Method::GET, &path, None, String::new()).await;

    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.header("location"), None);
    assert!(again.body.contains(&format!("<p class=\"notice\" role=\"alert\">{CANCELLED}</p>")), "{}", again.body);
    assert!(!again.body.contains("AADSTS"), "Microsoft's description is not shown");
    assert_eq!(request_id(&again.body), request, "the same request can be tried again");
    // Microsoft comes first, for another try.
    let microsoft_at = again.body.find("id=\"choose-microsoft\"").unwrap();
    assert!(microsoft_at < again.body.find("id=\"choose-google\"").unwrap());
    // Another error from Microsoft is a failed sign-in, not a cancelled one.
    let failed = format!("/oauth/callback/microsoft?error=server_error&state={request}");
    let failed = send_to(&state, Method::GET, &failed, None, String::new()).await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
    assert!(
        failed
            .body
            .contains("Microsoft did not complete the sign-in. Choose Microsoft again, or another calendar service."),
        "{}",
        failed.body
    );
    // A callback for no pending request is the expired page.
    let unknown =
        send_to(&state, Method::GET, "/oauth/callback/microsoft?code=x&state=nope", None, String::new()).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body.contains("This page has expired"), "{}", unknown.body);

    assert_eq!(api.state.store.count_accounts().await.unwrap(), before);
    assert!(api.state.queue.receive(QueueName::Sync, 10, StdDuration::ZERO).await.unwrap().is_empty());
    assert!(microsoft.requests().iter().all(|r| r.path != "/common/oauth2/v2.0/token"), "no code was exchanged");
}

async fn a_code_microsoft_refuses_shows_the_page_again_and_creates_nothing(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let state = microsoft_state(api, &microsoft);
    let (_, _, request) = open(api, &state).await;
    let before = api.state.store.count_accounts().await.unwrap();

    let path = format!("/oauth/callback/microsoft?code=M.C5_forged&state={request}");
    let refused = send_to(&state, Method::GET, &path, None, String::new()).await;

    assert_eq!(refused.status, StatusCode::BAD_GATEWAY);
    assert_eq!(refused.header("location"), None);
    assert!(
        refused
            .body
            .contains("<p class=\"notice\" role=\"alert\">Microsoft did not accept the sign-in; please try again</p>"),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains("AADSTS") && !refused.body.contains("invalid_grant"), "{}", refused.body);
    assert_eq!(request_id(&refused.body), request);
    assert_eq!(microsoft.requests().iter().filter(|r| r.path == "/common/oauth2/v2.0/token").count(), 1);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), before);
    assert!(api.state.queue.receive(QueueName::Sync, 10, StdDuration::ZERO).await.unwrap().is_empty());
}

async fn a_grant_without_offline_access_is_refused_and_creates_nothing(api: &TestApi) {
    let microsoft = FakeMicrosoft::start().await;
    let state = microsoft_state(api, &microsoft);
    let (_, _, request) = open(api, &state).await;
    let before = api.state.store.count_accounts().await.unwrap();
    // A sign-in link altered to drop offline_access: Microsoft grants no refresh token.
    let sign_in = choose_microsoft(&state, &request).await;
    let mut altered = reqwest::Url::parse(&sign_in).unwrap();
    let pairs: Vec<(String, String)> = altered
        .query_pairs()
        .into_owned()
        .map(|(k, v)| if k == "scope" { (k, "openid email User.Read Calendars.ReadWrite".to_owned()) } else { (k, v) })
        .collect();
    altered.query_pairs_mut().clear().extend_pairs(pairs);

    let refused = sign_in_and_come_back(&state, altered.as_str()).await;

    assert_eq!(refused.status, StatusCode::BAD_GATEWAY, "{}", refused.body);
    assert!(refused.body.contains("Microsoft did not accept the sign-in; please try again"), "{}", refused.body);
    assert_eq!(microsoft.requests().iter().filter(|r| r.path == "/v1.0/me").count(), 0, "the account is not read");
    assert_eq!(api.state.store.count_accounts().await.unwrap(), before);
    assert!(api.state.queue.receive(QueueName::Sync, 10, StdDuration::ZERO).await.unwrap().is_empty());
}

//! The authorization page in a real browser: headless Chromium, driven by playwright-core from
//! tests/browser/authorize.mjs, opens an application's authorize link, picks the calsync
//! calendar (or Google or Microsoft, through the fake's sign-in and back) and lands on the
//! application's redirect URI with a code, which the test then exchanges for tokens over HTTP. `infra/browser.sh` installs Chromium and the npm packages and
//! prints the two variables this test reads; without them it fails, it never skips.

use std::path::{Path, PathBuf};

use calsync_core::{
    apps::{self, ApplicationRequest},
    crypto::token_hash,
};
use calsync_tests::{
    api::{TestApi, test_now},
    db::Backend,
};
use reqwest::Url;
use serde_json::{Value, json};

fn browser_setup() -> (String, PathBuf) {
    let missing = |what: &str| -> ! {
        panic!(
            "{what}: the browser test needs Chromium and tests/browser's npm packages. Install them and set \
             the variables with: eval \"$(infra/browser.sh)\""
        )
    };
    let chromium = std::env::var("CALSYNC_TEST_CHROMIUM").unwrap_or_default();
    let dir = std::env::var("CALSYNC_TEST_BROWSER_DIR").unwrap_or_default();
    if chromium.is_empty() || dir.is_empty() {
        missing("CALSYNC_TEST_CHROMIUM or CALSYNC_TEST_BROWSER_DIR is not set");
    }
    if !Path::new(&chromium).is_file() {
        missing(&format!("no browser at CALSYNC_TEST_CHROMIUM={chromium}"));
    }
    let dir = PathBuf::from(dir);
    if !dir.join("node_modules/playwright-core/package.json").is_file() {
        missing(&format!("playwright-core is not installed in {}", dir.display()));
    }
    (chromium, dir)
}

#[tokio::test]
async fn a_browser_connects_a_calsync_calendar_and_the_code_buys_tokens() {
    let (chromium, dir) = browser_setup();
    let api = TestApi::served(Backend::Sqlite, test_now()).await;
    // The redirect URI names `localhost` while the page is served from 127.0.0.1: another
    // origin, as a real application's is, so the page's CSP `form-action` must let the browser
    // follow the redirect after the form is posted.
    let port = Url::parse(&api.base_url).unwrap().port().unwrap();
    let redirect_uri = format!("http://localhost:{port}/demo/callback");
    let request = ApplicationRequest {
        name: "Browser test app".to_owned(),
        redirect_uris: vec![redirect_uri.clone()],
        sync_past_days: None,
        sync_future_days: None,
    };
    let created = apps::create(&api.state.store, &api.state.vault, request, api.now()).await.unwrap();
    let (app, secret) = (created.application, created.client_secret);
    let mut authorize = Url::parse(&format!("{}/oauth/authorize", api.base_url)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "read_events create_event")
        .append_pair("state", "browser state")
        .append_pair("provider_name", "")
        .append_pair("avoid_linking", "False");

    let (landed, title) = drive(&dir, chromium, authorize.to_string(), redirect_uri.clone(), "choose-calsync").await;
    assert_eq!(title, "Connect a calendar to Browser test app · calsync");
    assert!(landed.as_str().starts_with(&format!("{redirect_uri}?")), "{landed}");
    let query: Vec<(String, String)> = landed.query_pairs().into_owned().collect();
    assert_eq!(query.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["code", "state"]);
    assert_eq!(query[1].1, "browser state");

    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token", api.base_url))
        .header("authorization", "Bearer None")
        .json(&json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
                      "code": query[0].1, "redirect_uri": redirect_uri}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let tokens: Value = response.json().await.unwrap();
    let account = tokens["account_id"].as_str().unwrap();
    assert!(account.starts_with("acc_"), "{tokens}");
    assert_eq!(
        tokens,
        json!({
            "token_type": "bearer", "access_token": tokens["access_token"], "expires_in": 10800,
            "refresh_token": tokens["refresh_token"], "scope": "read_events create_event",
            "account_id": account, "sub": account,
            "linking_profile": {"provider_name": "cronofy", "profile_id": tokens["linking_profile"]["profile_id"],
                                "profile_name": "calsync calendar"},
        })
    );
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(access_token.len(), 32);
    let live = api.state.store.find_authorization_by_access_token(&token_hash(access_token), api.now()).await.unwrap();
    assert_eq!(live.map(|a| a.account_id.to_string()), Some(account.to_owned()));
    api.cleanup().await;
}

/// Runs the browser script off the runtime's thread (the API it talks to runs on it); returns
/// the URL the browser went to at the application and the authorization page's title.
async fn drive(dir: &Path, chromium: String, authorize_url: String, redirect: String, button: &str) -> (Url, String) {
    let script = dir.join("authorize.mjs");
    let button = button.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(authorize_url)
            .arg(redirect)
            .arg(button)
            .env("CALSYNC_TEST_CHROMIUM", chromium)
            .output()
    })
    .await
    .unwrap()
    .expect("run node (infra/browser.sh installs it)");
    assert!(
        output.status.success(),
        "the browser run failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let landed: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    (Url::parse(landed["url"].as_str().unwrap()).unwrap(), landed["title"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_browser_connects_a_google_account_through_googles_sign_in_and_back() {
    use calsync_core::providers::{OAuthClient, ProviderClients};
    use calsync_tests::google::{CLIENT_ID, CLIENT_SECRET, FakeGoogle};

    let (chromium, dir) = browser_setup();
    let google = FakeGoogle::start().await;
    google.sign_in_as("grace@gmail.com");
    google.add_calendar("grace@gmail.com", "grace@gmail.com", "Grace", "owner", true);
    // calsync served with Google configured at the fake, as an operator configures it.
    let api = TestApi::new(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut config = (*api.state.config).clone();
    config.public_url = base.clone();
    config.google.authorize_url = google.authorize_url();
    config.google.token_url = google.token_url();
    config.google.api_url = google.api_url();
    let client = OAuthClient { client_id: CLIENT_ID.into(), client_secret: secrecy::SecretString::from(CLIENT_SECRET) };
    let state = calsync_core::AppState {
        config: std::sync::Arc::new(config),
        providers: std::sync::Arc::new(ProviderClients { google: Some(client), ..ProviderClients::default() }),
        ..api.state.clone()
    };
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, calsync_core::api::app(state)).await;
    });

    let redirect_uri = format!("http://localhost:{port}/demo/callback");
    let request = ApplicationRequest {
        name: "Browser test app".to_owned(),
        redirect_uris: vec![redirect_uri.clone()],
        sync_past_days: None,
        sync_future_days: None,
    };
    let created = apps::create(&api.state.store, &api.state.vault, request, api.now()).await.unwrap();
    let (app, secret) = (created.application, created.client_secret);
    let mut authorize = Url::parse(&format!("{base}/oauth/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "read_events")
        .append_pair("state", "google state");

    // Chromium follows the page's form to Google (allowed by the page's CSP), Google's redirect
    // back to calsync, and calsync's redirect to the application.
    let (landed, _) = drive(&dir, chromium, authorize.to_string(), redirect_uri.clone(), "choose-google").await;
    assert!(landed.as_str().starts_with(&format!("{redirect_uri}?")), "{landed}");
    let query: std::collections::BTreeMap<String, String> = landed.query_pairs().into_owned().collect();
    assert_eq!(query["state"], "google state");
    assert!(google.requests().iter().any(|r| r.path == "/token"), "the code was exchanged at Google");

    let response = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .header("authorization", "Bearer None")
        .json(&json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
                      "code": query["code"], "redirect_uri": redirect_uri}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["linking_profile"]["provider_name"], "google", "{tokens}");
    assert_eq!(tokens["linking_profile"]["profile_name"], "grace@gmail.com");
    server.abort();
    api.cleanup().await;
}

#[tokio::test]
async fn a_browser_connects_a_microsoft_account_through_microsofts_sign_in_and_back() {
    use calsync_core::domain::{ProfileId, ProviderName, ProviderService};
    use calsync_core::providers::{OAuthClient, ProviderClients};
    use calsync_tests::microsoft::{CLIENT_ID, CLIENT_SECRET, FakeMicrosoft};

    let (chromium, dir) = browser_setup();
    let microsoft = FakeMicrosoft::start().await;
    microsoft.sign_in_as("grace@contoso.example", "Grace Hopper", false);
    // calsync served with Microsoft configured at the fake, as an operator configures it, and
    // Google configured too: the page's CSP must let the form lead to either sign-in.
    let api = TestApi::new(Backend::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut config = (*api.state.config).clone();
    config.public_url = base.clone();
    config.microsoft.authorize_url = microsoft.authorize_url();
    config.microsoft.token_url = microsoft.token_url();
    config.microsoft.graph_url = microsoft.graph_url();
    let client = |id: &str, secret: &str| OAuthClient {
        client_id: id.into(),
        client_secret: secrecy::SecretString::from(secret),
    };
    let state = calsync_core::AppState {
        config: std::sync::Arc::new(config),
        providers: std::sync::Arc::new(ProviderClients {
            google: Some(client("google-client", "google-secret")),
            microsoft: Some(client(CLIENT_ID, CLIENT_SECRET)),
            ..ProviderClients::default()
        }),
        ..api.state.clone()
    };
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, calsync_core::api::app(state)).await;
    });

    let redirect_uri = format!("http://localhost:{port}/demo/callback");
    let request = ApplicationRequest {
        name: "Browser test app".to_owned(),
        redirect_uris: vec![redirect_uri.clone()],
        sync_past_days: None,
        sync_future_days: None,
    };
    let created = apps::create(&api.state.store, &api.state.vault, request, api.now()).await.unwrap();
    let (app, secret) = (created.application, created.client_secret);
    let mut authorize = Url::parse(&format!("{base}/oauth/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "read_events")
        .append_pair("state", "microsoft state");

    // Chromium follows the page's form to Microsoft (allowed by the page's CSP), Microsoft's
    // redirect back to calsync, and calsync's redirect to the application.
    let (landed, _) = drive(&dir, chromium, authorize.to_string(), redirect_uri.clone(), "choose-microsoft").await;
    assert!(landed.as_str().starts_with(&format!("{redirect_uri}?")), "{landed}");
    let query: std::collections::BTreeMap<String, String> = landed.query_pairs().into_owned().collect();
    assert_eq!(query.keys().collect::<Vec<_>>(), ["code", "state"]);
    assert_eq!(query["state"], "microsoft state");
    let paths: Vec<String> = microsoft.requests().into_iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        paths,
        ["GET /common/oauth2/v2.0/authorize", "POST /common/oauth2/v2.0/token", "GET /v1.0/me"],
        "signed in at Microsoft, the code exchanged, the account read"
    );

    let response = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .header("authorization", "Bearer None")
        .json(&json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
                      "code": query["code"], "redirect_uri": redirect_uri}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let profile_id = tokens["linking_profile"]["profile_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        tokens["linking_profile"],
        json!({"provider_name": "office365", "profile_id": profile_id, "profile_name": "grace@contoso.example"}),
        "{tokens}"
    );
    let profile_id = ProfileId::parse(&profile_id).unwrap();
    let profile = api.state.store.get_profile(&profile_id).await.unwrap().expect("the profile");
    assert_eq!((profile.provider, profile.provider_service), (ProviderName::Office365, ProviderService::Office365));
    let sealed = api.state.store.get_credentials(&profile_id).await.unwrap().expect("sealed credentials");
    let opened = api.state.vault.open(&profile_id, &sealed).unwrap();
    assert!(
        matches!(&opened, calsync_core::crypto::Credentials::OauthTokenSet { refresh_token: Some(_), .. }),
        "a token set with a refresh token"
    );
    server.abort();
    api.cleanup().await;
}

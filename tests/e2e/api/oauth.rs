//! End-user authorization end to end: the authorize page and its forms, the code and refresh
//! grants of `/oauth/token`, revocation, and application calendars.

use std::{sync::Arc, time::Duration as StdDuration};

use calsync_core::{
    AppState,
    adapters::QueueName,
    crypto::{Credentials, token_hash},
    domain::{AccountId, Application, ProfileId, ProviderName, ProviderService},
    jobs::SyncJob,
};
use calsync_tests::api::TestApi;
use calsync_tests::caldav::{Server, apple_id};
use chrono::Duration;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use calsync_tests::oauth::{
    REDIRECT, Reply, authorize_uri, exchange, form, open_page, query_of, request_id, send_to, submit,
};

use super::api_on_both_backends;

api_on_both_backends!(
    the_authorize_page_shows_the_application_and_the_requested_scopes_in_words,
    a_provider_hint_opens_that_service_first,
    unknown_clients_and_unregistered_redirect_uris_get_an_error_page_and_no_redirect,
    bad_scopes_and_response_types_are_reported_to_the_application,
    a_hosted_calendar_choice_redirects_with_a_code_and_the_state,
    the_code_buys_the_exact_token_response_once,
    the_code_exchanges_with_a_form_body_and_only_for_its_redirect_uri,
    two_concurrent_exchanges_of_one_code_yield_one_token_set,
    codes_expire_after_ten_minutes,
    a_missing_scope_asks_for_the_sdk_default,
    token_errors_follow_rfc_6749,
    refreshing_replaces_the_access_token_and_echoes_the_refresh_token,
    revoking_by_access_token_ends_the_authorization_and_starts_the_retention_clock,
    revoking_by_refresh_token_or_sub_ends_only_the_applications_own_authorizations,
    icloud_credentials_are_stored_sealed_and_open_to_what_was_typed,
    an_invalid_icloud_email_shows_the_form_again_and_creates_nothing,
    caldav_and_exchange_forms_create_their_profiles,
    credentials_the_server_refuses_or_a_server_that_does_not_answer_show_the_form_again_and_store_nothing,
    server_urls_must_be_https_unless_the_installation_allows_http,
    google_and_microsoft_are_shown_but_not_configured,
    a_completed_or_unknown_request_cannot_be_submitted,
    application_calendars_are_idempotent_and_each_call_retires_the_previous_tokens,
    application_calendar_requests_are_checked,
);

async fn send(api: &TestApi, method: Method, uri: &str, content_type: Option<&str>, body: String) -> Reply {
    send_to(&api.state, method, uri, content_type, body).await
}

/// Runs the page with the hosted choice; returns the code from the redirect.
async fn hosted_code(api: &TestApi, app: &Application, scope: Option<&str>) -> String {
    let page = open_page(api, app, scope, "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let reply = submit(api, &[("request", &request_id(&page.body)), ("service", "calsync")]).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let location = reply.header("location").unwrap();
    query_of(location).into_iter().find(|(k, _)| k == "code").unwrap().1
}

/// Runs the hosted flow and exchanges the code; returns the token response.
async fn hosted_tokens(api: &TestApi, app: &Application, secret: &str, scope: &str) -> Value {
    let code = hosted_code(api, app, Some(scope)).await;
    let (status, body) = exchange(api, app, secret, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn account_of(tokens: &Value) -> AccountId {
    AccountId::parse(tokens["account_id"].as_str().unwrap()).unwrap()
}

async fn is_live(api: &TestApi, access_token: &str) -> bool {
    api.state.store.find_authorization_by_access_token(&token_hash(access_token), api.now()).await.unwrap().is_some()
}

async fn the_authorize_page_shows_the_application_and_the_requested_scopes_in_words(api: &TestApi) {
    let (app, _) = api.application("Planner <b>&</b>").await;

    let page = open_page(api, &app, Some("read_events create_event"), "xyz").await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        page.header("content-security-policy"),
        Some(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; \
             form-action 'self' https://app.example"
        )
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.contains("Connect a calendar to Planner &lt;b&gt;&amp;&lt;/b&gt;"), "{}", page.body);
    assert!(!page.body.contains("<b>&</b>"));
    assert!(page.body.contains("<li>Read the events in your calendars</li>"));
    assert!(page.body.contains("<li>Add events to your calendars and change the events it added</li>"));
    assert!(!page.body.contains("Delete the events it added"));
    for service in ["Google", "Microsoft (Office 365 / Outlook.com)", "Apple iCloud", "Exchange", "CalDAV"] {
        assert!(page.body.contains(service), "{service} missing");
    }
    assert!(page.body.contains(">calsync calendar</button>"));
    assert_eq!(request_id(&page.body).len(), 32);
    assert!(!page.body.contains("<script"));
}

async fn a_provider_hint_opens_that_service_first(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let pairs = [
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("provider_name", "apple"),
    ];

    let page = send(api, Method::GET, &authorize_uri(&pairs), None, String::new()).await;

    assert_eq!(page.status, StatusCode::OK);
    let icloud = page.body.find("<details class=\"choice\" id=\"icloud\" open>").expect("iCloud opened");
    let google = page.body.find("id=\"choose-google\"").unwrap();
    assert!(icloud < google);
    assert_eq!(page.body.matches(" open>").count(), 1);
}

async fn unknown_clients_and_unregistered_redirect_uris_get_an_error_page_and_no_redirect(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let cases = [
        vec![("response_type", "code"), ("client_id", "nope"), ("redirect_uri", REDIRECT)],
        vec![
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", "https://app.example/callback/x"),
        ],
        vec![("response_type", "code"), ("client_id", app.client_id.as_str())],
        vec![("response_type", "code"), ("redirect_uri", REDIRECT)],
    ];
    for pairs in cases {
        let page = send(api, Method::GET, &authorize_uri(&pairs), None, String::new()).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{pairs:?}");
        assert_eq!(page.header("location"), None);
        assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(page.body.contains("This authorization link cannot be used"));
    }
}

async fn bad_scopes_and_response_types_are_reported_to_the_application(api: &TestApi) {
    let (app, _) = api.application("Planner").await;

    let unknown_scope = open_page(api, &app, Some("read_events admin"), "s 1").await;
    assert_eq!(unknown_scope.status, StatusCode::FOUND);
    assert_eq!(
        unknown_scope.header("location"),
        Some("https://app.example/callback?error=invalid_scope&error_description=unknown+scope&state=s+1")
    );

    let pairs = [("response_type", "token"), ("client_id", app.client_id.as_str()), ("redirect_uri", REDIRECT)];
    let token = send(api, Method::GET, &authorize_uri(&pairs), None, String::new()).await;
    assert_eq!(token.status, StatusCode::FOUND);
    assert_eq!(
        token.header("location"),
        Some(
            "https://app.example/callback?error=unsupported_response_type&error_description=only+response_type%3Dcode+is+supported"
        )
    );
}

async fn a_hosted_calendar_choice_redirects_with_a_code_and_the_state(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let page = open_page(api, &app, Some("read_events"), "st ate&1").await;

    let reply = submit(api, &[("request", &request_id(&page.body)), ("service", "calsync")]).await;

    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let location = reply.header("location").unwrap();
    assert!(location.starts_with("https://app.example/callback?code="), "{location}");
    let query = query_of(location);
    assert_eq!(query.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["code", "state"]);
    assert_eq!(query[0].1.len(), 32);
    assert_eq!(query[1].1, "st ate&1");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

async fn the_code_buys_the_exact_token_response_once(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let code = hosted_code(api, &app, Some("read_events create_event")).await;
    let body = json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
                      "code": code, "redirect_uri": REDIRECT});

    let reply = send(api, Method::POST, "/oauth/token", Some("application/json"), body.to_string()).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("pragma"), Some("no-cache"));
    let tokens = reply.json();
    let account = account_of(&tokens);
    let profiles = api.state.store.list_profiles(&account).await.unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(
        tokens,
        json!({
            "token_type": "bearer",
            "access_token": tokens["access_token"],
            "expires_in": 10800,
            "refresh_token": tokens["refresh_token"],
            "scope": "read_events create_event",
            "account_id": account.as_str(),
            "sub": account.as_str(),
            "linking_profile": {"provider_name": "cronofy", "profile_id": profiles[0].id.as_str(),
                                "profile_name": "calsync calendar"},
        })
    );
    assert_eq!(tokens["access_token"].as_str().unwrap().len(), 32);
    assert!(is_live(api, tokens["access_token"].as_str().unwrap()).await);
    assert_eq!((profiles[0].provider, profiles[0].provider_service), (ProviderName::Hosted, ProviderService::Hosted));
    let calendars = api.state.store.list_calendars(&account).await.unwrap();
    assert_eq!(calendars.len(), 1);
    assert!(calendars[0].is_primary && !calendars[0].read_only);
    assert_eq!(calendars[0].name, "Calendar");
    assert!(calendars[0].provider_calendar_id.starts_with("hosted:"));
    let account_row = api.state.store.get_account(&account).await.unwrap().unwrap();
    assert_eq!((account_row.default_tzid.as_str(), account_row.authorizations_ended_at), ("Etc/UTC", None));
    let logs = api.state.store.list_request_logs(&app.id, 10).await.unwrap();
    assert!(logs.iter().any(|l| l.path == "/oauth/token" && l.status == 200), "{logs:?}");

    let again = send(api, Method::POST, "/oauth/token", Some("application/json"), body.to_string()).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        again.json(),
        json!({"error": "invalid_grant",
               "error_description": "the code is unknown, expired, already used or was issued for another redirect_uri"})
    );
    assert_eq!(api.state.store.list_authorizations(&account).await.unwrap().len(), 1);
}

async fn the_code_exchanges_with_a_form_body_and_only_for_its_redirect_uri(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let code = hosted_code(api, &app, Some("read_events")).await;
    let fields = |redirect_uri: &'static str| {
        form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id),
            ("client_secret", &secret),
            ("code", &code),
            ("redirect_uri", redirect_uri),
        ])
    };
    let form_type = Some("application/x-www-form-urlencoded");

    let wrong = send(api, Method::POST, "/oauth/token", form_type, fields("https://app.example/other")).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["error"], "invalid_grant");

    let right = send(api, Method::POST, "/oauth/token", form_type, fields(REDIRECT)).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    assert_eq!(right.json()["scope"], "read_events");
    assert_eq!(right.json()["token_type"], "bearer");
}

async fn two_concurrent_exchanges_of_one_code_yield_one_token_set(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let code = hosted_code(api, &app, Some("read_events")).await;

    let (a, b) = tokio::join!(exchange(api, &app, &secret, &code), exchange(api, &app, &secret, &code));

    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    let tokens = if a.0 == StatusCode::OK { a.1 } else { b.1 };
    assert_eq!(api.state.store.list_authorizations(&account_of(&tokens)).await.unwrap().len(), 1);
}

async fn codes_expire_after_ten_minutes(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let code = hosted_code(api, &app, None).await;

    api.clock.advance(Duration::minutes(10));

    let (status, body) = exchange(api, &app, &secret, &code).await;
    assert_eq!((status, &body["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_grant")));
}

async fn a_missing_scope_asks_for_the_sdk_default(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let code = hosted_code(api, &app, None).await;

    let (status, tokens) = exchange(api, &app, &secret, &code).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(tokens["scope"], "read_account list_calendars read_events create_event delete_event");
}

async fn token_errors_follow_rfc_6749(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let cases = [
        (
            json!({"client_id": app.client_id, "client_secret": "wrong", "grant_type": "refresh_token",
                "refresh_token": "x"}),
            "invalid_client",
        ),
        (
            json!({"client_id": "unknown", "client_secret": secret, "grant_type": "refresh_token",
                "refresh_token": "x"}),
            "invalid_client",
        ),
        (json!({"client_secret": secret, "grant_type": "refresh_token", "refresh_token": "x"}), "invalid_request"),
        (json!({"client_id": app.client_id, "client_secret": secret}), "invalid_request"),
        (
            json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "password"}),
            "unsupported_grant_type",
        ),
        (
            json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
                "redirect_uri": REDIRECT}),
            "invalid_request",
        ),
        (
            json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "refresh_token"}),
            "invalid_request",
        ),
        (
            json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "refresh_token",
                "refresh_token": "unknown"}),
            "invalid_grant",
        ),
        (
            json!({"client_id": app.client_id, "client_secret": secret, "grant_type": ["authorization_code"]}),
            "invalid_request",
        ),
    ];
    for (body, error) in cases {
        let (status, reply) = api.post("/oauth/token", Some("undefined"), body.clone()).await;
        assert_eq!((status, &reply["error"]), (StatusCode::BAD_REQUEST, &json!(error)), "{body}");
    }
}

async fn refreshing_replaces_the_access_token_and_echoes_the_refresh_token(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let first = hosted_tokens(api, &app, &secret, "read_events").await;
    api.clock.advance(Duration::hours(4));
    assert!(!is_live(api, first["access_token"].as_str().unwrap()).await);

    let (status, refreshed) = api
        .post(
            "/oauth/token",
            Some("None"),
            json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "refresh_token",
                   "refresh_token": first["refresh_token"]}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_ne!(refreshed["access_token"], first["access_token"]);
    assert_eq!(
        refreshed,
        json!({
            "token_type": "bearer", "access_token": refreshed["access_token"], "expires_in": 10800,
            "refresh_token": first["refresh_token"], "scope": "read_events", "account_id": first["account_id"],
            "sub": first["account_id"], "linking_profile": first["linking_profile"],
        })
    );
    assert!(is_live(api, refreshed["access_token"].as_str().unwrap()).await);
    assert!(!is_live(api, first["access_token"].as_str().unwrap()).await);

    let (other, other_secret) = api.application("Other").await;
    let (status, reply) = api
        .post(
            "/oauth/token",
            None,
            json!({"client_id": other.client_id, "client_secret": other_secret, "grant_type": "refresh_token",
                   "refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!((status, &reply["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_grant")));
}

async fn revoke(api: &TestApi, app: &Application, secret: &str, fields: Value) -> (StatusCode, Value) {
    let mut body = json!({"client_id": app.client_id, "client_secret": secret});
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    api.post("/oauth/token/revoke", Some("None"), body).await
}

async fn revoking_by_access_token_ends_the_authorization_and_starts_the_retention_clock(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let tokens = hosted_tokens(api, &app, &secret, "read_events").await;
    let account = account_of(&tokens);
    api.clock.advance(Duration::minutes(5));

    let (status, body) = revoke(api, &app, &secret, json!({"token": tokens["access_token"]})).await;

    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    assert!(!is_live(api, tokens["access_token"].as_str().unwrap()).await);
    let account_row = api.state.store.get_account(&account).await.unwrap().unwrap();
    assert_eq!(account_row.authorizations_ended_at, Some(api.now()));
    let (status, reply) = api
        .post(
            "/oauth/token",
            None,
            json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "refresh_token",
                   "refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_eq!((status, &reply["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_grant")));
}

async fn revoking_by_refresh_token_or_sub_ends_only_the_applications_own_authorizations(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let (other, other_secret) = api.application("Other").await;
    let by_refresh = api.authorized(&app, "read_events").await;
    let by_sub = api.authorized(&app, "read_events").await;
    let others = api.authorized(&other, "read_events").await;

    // The npm SDK's `refresh_token` field, and a form body.
    let (status, _) = revoke(api, &app, &secret, json!({"refresh_token": by_refresh.refresh_token})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!is_live(api, &by_refresh.access_token).await);

    let reply = send(
        api,
        Method::POST,
        "/oauth/token/revoke",
        Some("application/x-www-form-urlencoded"),
        form(&[("client_id", &app.client_id), ("client_secret", &secret), ("sub", by_sub.account.id.as_str())]),
    )
    .await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, ""));
    assert!(!is_live(api, &by_sub.access_token).await);

    // Another application's token and account, unknown tokens and subs: 200, nothing ends.
    for fields in [
        json!({"token": others.access_token}),
        json!({"sub": others.account.id.as_str()}),
        json!({"token": "unknown"}),
        json!({"sub": "apc_unknown"}),
        json!({"sub": "garbage"}),
    ] {
        let (status, body) = revoke(api, &app, &secret, fields.clone()).await;
        assert_eq!((status, body), (StatusCode::OK, Value::Null), "{fields}");
    }
    assert!(is_live(api, &others.access_token).await);
    let (status, reply) = revoke(api, &other, &other_secret, json!({})).await;
    assert_eq!((status, &reply["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_request")));
    let (status, reply) = revoke(api, &other, "wrong", json!({"token": others.access_token})).await;
    assert_eq!((status, &reply["error"]), (StatusCode::BAD_REQUEST, &json!("invalid_client")));
    assert!(is_live(api, &others.access_token).await);
}

async fn icloud_credentials_are_stored_sealed_and_open_to_what_was_typed(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let page = open_page(api, &app, Some("read_events"), "").await;
    let (apple_id, password) = apple_id();
    let password = password.as_str();

    let reply = submit(
        api,
        &[
            ("request", &request_id(&page.body)),
            ("service", "icloud"),
            ("email", &format!(" {apple_id} ")),
            ("password", password),
        ],
    )
    .await;

    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let location = reply.header("location").unwrap().to_owned();
    assert_eq!(query_of(&location).iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["code"]);
    let (status, tokens) = exchange(api, &app, &secret, &query_of(&location)[0].1).await;
    assert_eq!(status, StatusCode::OK);
    let profile_id = ProfileId::parse(tokens["linking_profile"]["profile_id"].as_str().unwrap()).unwrap();
    assert_eq!(
        tokens["linking_profile"],
        json!({"provider_name": "apple", "profile_id": profile_id.as_str(), "profile_name": apple_id})
    );
    let store = &api.state.store;
    let profile = store.get_profile(&profile_id).await.unwrap().unwrap();
    assert_eq!((profile.provider, profile.provider_service), (ProviderName::Apple, ProviderService::Icloud));
    assert_eq!(profile.server_url, Some(api.state.config.icloud_caldav_url.clone()));
    let account = store.get_account(&profile.account_id).await.unwrap().unwrap();
    assert_eq!(account.email.as_deref(), Some(apple_id.as_str()));

    let sealed = store.get_credentials(&profile_id).await.unwrap().expect("credentials stored");
    for stored in [&sealed.ciphertext, &sealed.wrapped_key] {
        assert!(!stored.windows(password.len()).any(|w| w == password.as_bytes()));
    }
    assert_eq!(
        api.state.vault.open(&profile_id, &sealed).unwrap(),
        Credentials::AppSpecificPassword { email: apple_id.clone(), password: password.into() }
    );

    let messages = api.state.queue.receive(QueueName::Sync, 10, StdDuration::ZERO).await.unwrap();
    let jobs: Vec<SyncJob> = messages.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert_eq!(jobs, [SyncJob::SyncCalendarList { profile_id }]);
}

async fn an_invalid_icloud_email_shows_the_form_again_and_creates_nothing(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let page = open_page(api, &app, Some("read_events"), "").await;
    let request = request_id(&page.body);
    let before = api.state.store.count_accounts().await.unwrap();

    let reply = submit(
        api,
        &[("request", &request), ("service", "icloud"), ("email", "ada<at>icloud"), ("password", "secret-typed")],
    )
    .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.header("location"), None);
    assert!(reply.body.contains("<li>Enter a valid email address, like name@example.com.</li>"), "{}", reply.body);
    assert!(reply.body.contains("value=\"ada&lt;at&gt;icloud\" required aria-invalid=\"true\""), "{}", reply.body);
    assert!(reply.body.contains("<details class=\"choice\" id=\"icloud\" open>"));
    assert!(!reply.body.contains("secret-typed"));
    assert_eq!(request_id(&reply.body), request);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), before);
    assert!(api.state.queue.receive(QueueName::Sync, 10, StdDuration::ZERO).await.unwrap().is_empty());

    // The same request still completes once the email is right.
    let (apple_id, password) = apple_id();
    let reply =
        submit(api, &[("request", &request), ("service", "icloud"), ("email", &apple_id), ("password", &password)])
            .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), before + 1);
}

async fn caldav_and_exchange_forms_create_their_profiles(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let store = &api.state.store;
    let radicale = Server::Radicale.endpoint();
    // Exchange accounts are tried before they are stored: one found through Autodiscover at the
    // server's base URL, one at its EWS endpoint signing in with a user name.
    let fake_exchange = calsync_tests::ews::FakeExchange::start().await;
    fake_exchange.add_account("ada@corp.example", "pw 2", None);
    fake_exchange.add_account("grace@corp.example", "pw 3", Some("CORP\\grace"));
    let ews_url = fake_exchange.ews_url();
    let cases = [
        (
            vec![
                ("service", "caldav"),
                ("server_url", radicale.url.as_str()),
                ("username", radicale.username.as_str()),
                ("password", radicale.password.as_str()),
            ],
            (ProviderName::CalDav, ProviderService::CalDav, radicale.username.as_str(), Some(radicale.url.as_str())),
            Credentials::Password {
                email: radicale.username.clone(),
                password: radicale.password.clone(),
                username: Some(radicale.username.clone()),
            },
        ),
        (
            vec![
                ("service", "exchange"),
                ("email", "ada@corp.example"),
                ("password", "pw 2"),
                ("server_url", fake_exchange.url.as_str()),
            ],
            (ProviderName::Exchange, ProviderService::Exchange, "ada@corp.example", Some(fake_exchange.url.as_str())),
            Credentials::Password { email: "ada@corp.example".into(), password: "pw 2".into(), username: None },
        ),
        (
            vec![
                ("service", "exchange"),
                ("email", "grace@corp.example"),
                ("password", "pw 3"),
                ("username", "CORP\\grace"),
                ("server_url", ews_url.as_str()),
            ],
            (ProviderName::Exchange, ProviderService::Exchange, "grace@corp.example", Some(ews_url.as_str())),
            Credentials::Password {
                email: "grace@corp.example".into(),
                password: "pw 3".into(),
                username: Some("CORP\\grace".into()),
            },
        ),
    ];
    for (fields, (provider, service, name, server_url), credentials) in cases {
        let page = open_page(api, &app, Some("read_events"), "").await;
        let request = request_id(&page.body);
        let mut fields = fields.clone();
        fields.push(("request", &request));
        let reply = submit(api, &fields).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
        let code = query_of(reply.header("location").unwrap())[0].1.clone();
        let (status, tokens) = exchange(api, &app, &secret, &code).await;
        assert_eq!(status, StatusCode::OK);
        let profile_id = ProfileId::parse(tokens["linking_profile"]["profile_id"].as_str().unwrap()).unwrap();
        let profile = store.get_profile(&profile_id).await.unwrap().unwrap();
        assert_eq!(
            (profile.provider, profile.provider_service, profile.email.as_str(), profile.server_url.as_deref()),
            (provider, service, name, server_url)
        );
        assert_eq!(tokens["linking_profile"]["provider_name"], json!(provider.as_str()));
        let sealed = store.get_credentials(&profile_id).await.unwrap().unwrap();
        assert_eq!(api.state.vault.open(&profile_id, &sealed).unwrap(), credentials);
    }
}

async fn server_urls_must_be_https_unless_the_installation_allows_http(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let mut config = (*api.state.config).clone();
    config.allow_http_callbacks = false;
    let strict = AppState { config: Arc::new(config), ..api.state.clone() };
    let page = open_page(api, &app, None, "").await;
    let request = request_id(&page.body);
    let radicale = Server::Radicale.endpoint();
    let pairs = [
        ("request", request.as_str()),
        ("service", "caldav"),
        ("server_url", radicale.url.as_str()),
        ("username", radicale.username.as_str()),
        ("password", radicale.password.as_str()),
    ];

    let refused =
        send_to(&strict, Method::POST, "/oauth/authorize", Some("application/x-www-form-urlencoded"), form(&pairs))
            .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("<li>Enter the server&#39;s address as a full URL starting with https://.</li>"));

    // Local mode (the test default) allows plain http.
    let accepted = submit(api, &pairs).await;
    assert_eq!(accepted.status, StatusCode::FOUND, "{}", accepted.body);
}

async fn google_and_microsoft_are_shown_but_not_configured(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let page = open_page(api, &app, None, "").await;
    let before = api.state.store.count_accounts().await.unwrap();

    for service in ["google", "microsoft"] {
        let reply = submit(api, &[("request", &request_id(&page.body)), ("service", service)]).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("location"), None);
        assert!(reply.body.contains("This provider is not configured on this calsync installation."));
    }
    let unknown = submit(api, &[("request", &request_id(&page.body)), ("service", "aol")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body.contains("Choose a calendar service."));
    assert_eq!(api.state.store.count_accounts().await.unwrap(), before);
}

async fn a_completed_or_unknown_request_cannot_be_submitted(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let page = open_page(api, &app, None, "").await;
    let request = request_id(&page.body);
    assert_eq!(submit(api, &[("request", &request), ("service", "calsync")]).await.status, StatusCode::FOUND);
    let accounts = api.state.store.count_accounts().await.unwrap();

    let again = submit(api, &[("request", &request), ("service", "calsync")]).await;
    let unknown = submit(api, &[("request", "x".repeat(32).as_str()), ("service", "calsync")]).await;
    let missing = submit(api, &[("service", "calsync")]).await;
    let not_a_form = send(api, Method::POST, "/oauth/authorize", Some("application/json"), "{}".into()).await;

    for reply in [again, unknown, missing, not_a_form] {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.header("location"), None);
        assert_eq!(reply.header("content-type"), Some("text/html; charset=utf-8"));
    }
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts);

    // A request expires after 30 minutes.
    let page = open_page(api, &app, None, "").await;
    api.clock.advance(Duration::minutes(30));
    let late = submit(api, &[("request", &request_id(&page.body)), ("service", "calsync")]).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.body.contains("This page has expired"));
}

async fn application_calendar(api: &TestApi, app: &Application, secret: &str, key: &str) -> Value {
    let (status, body) = api
        .post(
            "/v1/application_calendars",
            Some("None"),
            json!({"client_id": app.client_id, "client_secret": secret, "application_calendar_id": key}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn application_calendars_are_idempotent_and_each_call_retires_the_previous_tokens(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let store = &api.state.store;

    let first = application_calendar(api, &app, &secret, "my-calendar").await;
    let second = application_calendar(api, &app, &secret, "my-calendar").await;

    let sub = first["sub"].as_str().unwrap();
    assert!(sub.starts_with("apc_"), "{sub}");
    let account = account_of(&first);
    let profiles = store.list_profiles(&account).await.unwrap();
    assert_eq!(
        first,
        json!({
            "token_type": "bearer", "access_token": first["access_token"], "expires_in": 10800,
            "refresh_token": first["refresh_token"], "scope": "read_write", "account_id": account.as_str(),
            "sub": sub, "application_calendar_id": "my-calendar",
            "linking_profile": {"provider_name": "cronofy", "profile_id": profiles[0].id.as_str(),
                                "profile_name": "my-calendar"},
        })
    );
    assert_eq!(
        second,
        json!({
            "token_type": "bearer", "access_token": second["access_token"], "expires_in": 10800,
            "refresh_token": second["refresh_token"], "scope": "read_write", "account_id": account.as_str(),
            "sub": sub, "application_calendar_id": "my-calendar", "linking_profile": first["linking_profile"],
        })
    );
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert!(!is_live(api, first["access_token"].as_str().unwrap()).await);
    assert!(is_live(api, second["access_token"].as_str().unwrap()).await);
    assert_eq!(store.list_calendars(&account).await.unwrap().len(), 1);
    let live = store.get_account(&account).await.unwrap().unwrap();
    assert_eq!(live.authorizations_ended_at, None);

    // Refreshing keeps the application-calendar shape.
    let (status, refreshed) = api
        .post(
            "/oauth/token",
            None,
            json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "refresh_token",
                   "refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((&refreshed["sub"], &refreshed["scope"]), (&json!(sub), &json!("read_write")));

    // Another application's calendar with the same key is a different calendar.
    let (other, other_secret) = api.application("Other").await;
    let others = application_calendar(api, &other, &other_secret, "my-calendar").await;
    assert_ne!(others["sub"], first["sub"]);

    // Revoking by the apc_ sub ends its authorization, and only that one.
    let (status, _) = revoke(api, &app, &secret, json!({"sub": sub})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!is_live(api, refreshed["access_token"].as_str().unwrap()).await);
    assert!(is_live(api, others["access_token"].as_str().unwrap()).await);
    let ended = store.get_account(&account).await.unwrap().unwrap();
    assert_eq!(ended.authorizations_ended_at, Some(api.now()));

    // And a later call hands out working tokens for the same calendar again.
    let third = application_calendar(api, &app, &secret, "my-calendar").await;
    assert_eq!(third["sub"], first["sub"]);
    assert!(is_live(api, third["access_token"].as_str().unwrap()).await);
}

async fn application_calendar_requests_are_checked(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let before = api.state.store.count_accounts().await.unwrap();

    let (status, body) = api
        .post("/v1/application_calendars", Some("None"), json!({"client_id": app.client_id, "client_secret": secret}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"errors": {"application_calendar_id": [{"key": "errors.required", "description": "required"}]}})
    );

    let (status, body) = api
        .post(
            "/v1/application_calendars",
            None,
            json!({"client_id": app.client_id, "client_secret": secret, "application_calendar_id": "x".repeat(257)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"errors": {"application_calendar_id": [{"key": "errors.invalid",
                                                       "description": "must be at most 256 characters"}]}})
    );

    let (status, _) = api
        .post(
            "/v1/application_calendars",
            None,
            json!({"client_id": app.client_id, "client_secret": "wrong", "application_calendar_id": "c"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), before);
}

async fn credentials_the_server_refuses_or_a_server_that_does_not_answer_show_the_form_again_and_store_nothing(
    api: &TestApi,
) {
    let (app, _) = api.application("Planner").await;
    let page = open_page(api, &app, Some("read_events"), "").await;
    let request = request_id(&page.body);
    let before = api.state.store.count_accounts().await.unwrap();
    let radicale = Server::Radicale.endpoint();
    let (apple_id, _) = apple_id();
    let cases = [
        (
            vec![("service", "icloud"), ("email", apple_id.as_str()), ("password", "wrong-password")],
            "Apple did not accept this Apple ID and app-specific password. Create an app-specific password at \
             appleid.apple.com and try again.",
        ),
        (
            vec![
                ("service", "caldav"),
                ("server_url", radicale.url.as_str()),
                ("username", radicale.username.as_str()),
                ("password", "wrong-password"),
            ],
            "The server did not accept this user name and password.",
        ),
        (
            // Port 9 (discard) on loopback: nothing listens there.
            vec![("service", "caldav"), ("server_url", "http://127.0.0.1:9/"), ("username", "ada"), ("password", "pw")],
            "The calendar server could not be reached or did not answer as a CalDAV server. Check the address and \
             try again.",
        ),
    ];
    for (fields, message) in cases {
        let mut fields = fields.clone();
        fields.push(("request", &request));
        let reply = submit(api, &fields).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert_eq!(reply.header("location"), None);
        let escaped = message.replace('\'', "&#39;");
        assert!(reply.body.contains(&format!("<li>{escaped}</li>")), "{}", reply.body);
        assert!(!reply.body.contains("wrong-password"));
        assert_eq!(request_id(&reply.body), request);
    }
    assert_eq!(api.state.store.count_accounts().await.unwrap(), before);
    assert!(api.state.queue.receive(QueueName::Sync, 10, StdDuration::ZERO).await.unwrap().is_empty());
}

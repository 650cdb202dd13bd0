//! The Enterprise Connect page: the service account signs in at Exchange before it is stored, its
//! code buys a 30-minute token whose userinfo says `service_account`, and requests complete only
//! on their own flow's page.

use calsync_core::{
    crypto::{Credentials, token_hash},
    domain::{ProviderName, Scopes},
};
use calsync_tests::api::TestApi;
use calsync_tests::ews::FakeExchange;
use calsync_tests::oauth::{REDIRECT, open_page, query_of, submit};
use chrono::Duration;
use http::{Method, StatusCode};
use serde_json::json;

use super::{
    SERVICE, SERVICE_PASSWORD, SERVICE_SCOPE, account_of, enterprise_uri, exchange, open_enterprise_page, request_id,
    service_account_tokens, submit_enterprise,
};
use crate::api::api_on_both_backends;

api_on_both_backends!(
    the_enterprise_connect_page_creates_a_service_account_whose_token_lives_1800_seconds_and_says_service_account,
    the_page_names_the_application_and_what_each_connected_account_will_allow,
    a_refused_service_account_password_shows_the_form_again_and_stores_nothing,
    enterprise_connect_requests_need_the_service_account_scope_and_a_delegated_scope,
    an_authorize_request_completes_only_on_its_own_flows_page,
    authorizing_the_same_service_account_again_updates_it_in_place,
);

async fn the_enterprise_connect_page_creates_a_service_account_whose_token_lives_1800_seconds_and_says_service_account(
    api: &TestApi,
) {
    let (app, secret) = api.application("Planner").await;
    let fake = FakeExchange::start().await;
    fake.add_service_account(SERVICE, SERVICE_PASSWORD, &[]);

    let tokens = service_account_tokens(api, &app, &secret, &fake, "read_events read_free_busy").await;

    // The token response: 30 minutes, the service account scope, no profile.
    let account = account_of(&tokens);
    assert_eq!(tokens["expires_in"], json!(1800));
    assert_eq!(tokens["scope"], json!(SERVICE_SCOPE));
    assert_eq!(tokens["token_type"], json!("bearer"));
    assert_eq!(tokens["sub"], json!(account));
    assert_eq!(tokens.get("linking_profile"), None);
    let access = tokens["access_token"].as_str().unwrap();
    let store = &api.state.store;
    let live = store.find_authorization_by_access_token(&token_hash(access), api.now()).await.unwrap().unwrap();
    assert_eq!(live.access_token_expires_at, api.now() + Duration::minutes(30));
    assert_eq!(live.scopes, Scopes::parse(SERVICE_SCOPE).unwrap());

    // The stored service account: its own account, sealed credentials, no profile.
    let service_account = store.find_service_account_by_account(&account).await.unwrap().expect("a service account");
    assert_eq!(
        (service_account.provider, service_account.email.as_str(), service_account.server_url.as_deref()),
        (ProviderName::Exchange, SERVICE, Some(fake.ews_url().as_str()))
    );
    assert_eq!(service_account.application_id, app.id);
    assert_eq!(service_account.delegated_scopes, Scopes::parse("read_events read_free_busy").unwrap());
    let sealed = store.get_service_account_credentials(&service_account.id).await.unwrap().unwrap();
    assert!(!sealed.ciphertext.windows(SERVICE_PASSWORD.len()).any(|w| w == SERVICE_PASSWORD.as_bytes()));
    assert_eq!(
        api.state.vault.open_service_account(&service_account.id, &sealed).unwrap(),
        Credentials::ServiceAccount {
            provider: ProviderName::Exchange,
            principal: SERVICE.into(),
            secret: SERVICE_PASSWORD.into(),
            username: None,
            tenant: None,
        }
    );
    assert_eq!(store.list_profiles(&account).await.unwrap(), vec![]);
    assert_eq!(store.count_account_rows("credentials", "account_id", &account).await.unwrap(), 0);

    // Exchange saw the service account sign in and read its own calendar, nothing impersonated.
    let requests = fake.requests();
    assert_eq!(
        requests.iter().map(|r| (r.operation.as_deref(), r.user.as_deref(), r.impersonated)).collect::<Vec<_>>(),
        vec![(Some("GetFolder"), Some(SERVICE), false)]
    );

    // Userinfo says service account, with its domain.
    let (status, userinfo) = api.get("/v1/userinfo", access).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        userinfo,
        json!({
            "sub": account, "email": SERVICE,
            "cronofy.type": "service_account", "cronofy.service_account.domain": "corp.example",
            "cronofy.data": {
                "authorization": {"scope": SERVICE_SCOPE, "status": "active"},
                "service_account": {"service_account_id": service_account.id, "provider_name": "exchange"},
            },
        })
    );

    // A refreshed token lives 30 minutes too.
    api.clock.advance(Duration::minutes(20));
    let body = json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "refresh_token",
                      "refresh_token": tokens["refresh_token"]});
    let (status, refreshed) = api.post("/oauth/token", Some("None"), body).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!((refreshed["expires_in"].clone(), refreshed["scope"].clone()), (json!(1800), json!(SERVICE_SCOPE)));
    assert_eq!(refreshed["refresh_token"], tokens["refresh_token"]);
    let renewed = refreshed["access_token"].as_str().unwrap();
    let live = store.find_authorization_by_access_token(&token_hash(renewed), api.now()).await.unwrap().unwrap();
    assert_eq!(live.access_token_expires_at, api.now() + Duration::minutes(30));
}

async fn the_page_names_the_application_and_what_each_connected_account_will_allow(api: &TestApi) {
    let (app, _) = api.application("Planner <b>").await;

    let page = open_enterprise_page(api, &app, "read_events create_event", "xyz").await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(
        page.header("content-security-policy"),
        Some(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; \
             form-action 'self' https://app.example"
        )
    );
    assert!(page.body.contains("<h1>Connect your organisation's calendars to Planner &lt;b&gt;</h1>"), "{}", page.body);
    assert!(page.body.contains("<li>Read the events in your calendars</li>"));
    assert!(page.body.contains("<li>Add events to your calendars and change the events it added</li>"));
    assert!(!page.body.contains("Delete the events it added"));
    assert!(page.body.contains("<input type=\"hidden\" name=\"service\" value=\"exchange\">"));
    for field in ["email", "password", "username", "server_url"] {
        assert!(page.body.contains(&format!("name=\"{field}\"")), "{field} missing");
    }
    assert!(page.body.contains("ApplicationImpersonation"));
    assert_eq!(request_id(&page.body).len(), 32);
    assert!(!page.body.contains("<script"));
}

async fn a_refused_service_account_password_shows_the_form_again_and_stores_nothing(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let fake = FakeExchange::start().await;
    fake.add_service_account(SERVICE, SERVICE_PASSWORD, &[]);
    let accounts_before = api.state.store.count_accounts().await.unwrap();
    let page = open_enterprise_page(api, &app, "read_events", "").await;
    let request = request_id(&page.body);
    let ews = fake.ews_url();

    let reply = submit_enterprise(
        api,
        &[
            ("request", &request),
            ("service", "exchange"),
            ("email", SERVICE),
            ("password", "wrong"),
            ("server_url", &ews),
        ],
    )
    .await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("The Exchange server refused this email address and password."), "{}", reply.body);
    assert!(reply.body.contains("name=\"password\" autocomplete=\"current-password\" required aria-invalid=\"true\""));
    assert!(reply.body.contains(&format!("value=\"{SERVICE}\"")), "the email is kept");
    assert!(!reply.body.contains("wrong"), "the password is never echoed");
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before);

    // Fixed, the same request goes through.
    let reply = submit_enterprise(
        api,
        &[
            ("request", &request),
            ("service", "exchange"),
            ("email", SERVICE),
            ("password", SERVICE_PASSWORD),
            ("server_url", &ews),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before + 1);
}

async fn enterprise_connect_requests_need_the_service_account_scope_and_a_delegated_scope(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("scope", SERVICE_SCOPE), ("state", "s")], "delegated_scope must name"),
        (&[("scope", "read_events"), ("delegated_scope", "read_events"), ("state", "s")], "scope must include"),
        (
            &[
                ("scope", "service_account/accounts/manage read_events"),
                ("delegated_scope", "read_events"),
                ("state", "s"),
            ],
            "scope may hold only",
        ),
        (&[("scope", SERVICE_SCOPE), ("delegated_scope", SERVICE_SCOPE), ("state", "s")], "delegated_scope must name"),
        (
            &[("scope", SERVICE_SCOPE), ("delegated_scope", "read_everything"), ("state", "s")],
            "unknown delegated_scope",
        ),
    ];
    for (pairs, description) in cases {
        let reply =
            calsync_tests::oauth::send_to(&api.state, Method::GET, &enterprise_uri(&app, pairs), None, String::new())
                .await;
        assert_eq!(reply.status, StatusCode::FOUND, "{pairs:?}: {}", reply.body);
        let query = query_of(reply.header("location").unwrap());
        assert_eq!(query[0], ("error".to_owned(), "invalid_scope".to_owned()), "{pairs:?}");
        assert!(query[1].1.starts_with(description), "{pairs:?}: {query:?}");
        assert_eq!(query[2], ("state".to_owned(), "s".to_owned()));
    }

    // The end-user page never grants the service account scope.
    let reply = open_page(api, &app, Some(SERVICE_SCOPE), "s").await;
    assert_eq!(reply.status, StatusCode::FOUND);
    let query = query_of(reply.header("location").unwrap());
    assert_eq!(
        query,
        vec![
            ("error".to_owned(), "invalid_scope".to_owned()),
            (
                "error_description".to_owned(),
                "service_account/accounts/manage is granted through Enterprise Connect only".to_owned()
            ),
            ("state".to_owned(), "s".to_owned()),
        ]
    );
}

async fn an_authorize_request_completes_only_on_its_own_flows_page(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let accounts_before = api.state.store.count_accounts().await.unwrap();

    // An Enterprise Connect request on the end-user page (which would grant the service scope).
    let enterprise = request_id(&open_enterprise_page(api, &app, "read_events", "").await.body);
    let reply = submit(api, &[("request", &enterprise), ("service", "calsync")]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("This page has expired"), "{}", reply.body);

    // An end-user request on the Enterprise Connect page.
    let end_user = request_id(&open_page(api, &app, Some("read_events"), "").await.body);
    let reply = submit_enterprise(
        api,
        &[("request", &end_user), ("service", "exchange"), ("email", SERVICE), ("password", SERVICE_PASSWORD)],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("This page has expired"), "{}", reply.body);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before);

    // Both are still pending on their own pages.
    assert!(
        calsync_core::authorization::load_enterprise(&api.state.store, &enterprise, api.now()).await.unwrap().is_some()
    );
    assert!(calsync_core::authorization::load(&api.state.store, &end_user, api.now()).await.unwrap().is_some());
    assert_eq!(REDIRECT, "https://app.example/callback");
}

async fn authorizing_the_same_service_account_again_updates_it_in_place(api: &TestApi) {
    let (app, secret) = api.application("Planner").await;
    let fake = FakeExchange::start().await;
    fake.add_service_account(SERVICE, SERVICE_PASSWORD, &[]);
    let first = service_account_tokens(api, &app, &secret, &fake, "read_events").await;
    let store = &api.state.store;
    let before = store.find_service_account_by_account(&account_of(&first)).await.unwrap().unwrap();

    // The organisation changed the password and authorizes again, with a wider delegated scope.
    fake.set_password(SERVICE, "new-Pa55word");
    let page = open_enterprise_page(api, &app, "read_events create_event", "").await;
    let request = request_id(&page.body);
    let ews = fake.ews_url();
    let reply = submit_enterprise(
        api,
        &[
            ("request", &request),
            ("service", "exchange"),
            ("email", "SVC@corp.example"),
            ("password", "new-Pa55word"),
            ("server_url", &ews),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let code = query_of(reply.header("location").unwrap())[0].1.clone();
    let (status, second) = exchange(api, &app, &secret, &code, REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{second}");

    assert_eq!(account_of(&second), before.account_id, "the same service account");
    let after = store.find_service_account_by_account(&before.account_id).await.unwrap().unwrap();
    assert_eq!(after.id, before.id);
    assert_eq!(after.delegated_scopes, Scopes::parse("read_events create_event").unwrap());
    let sealed = store.get_service_account_credentials(&after.id).await.unwrap().unwrap();
    assert_eq!(
        api.state.vault.open_service_account(&after.id, &sealed).unwrap(),
        Credentials::ServiceAccount {
            provider: ProviderName::Exchange,
            principal: SERVICE.into(),
            secret: "new-Pa55word".into(),
            username: None,
            tenant: None,
        }
    );
}

//! Enterprise Connect end to end, on SQLite and PostgreSQL: an Exchange service account
//! authorized on its page (`page`), the mailbox requests of its token checked (`authorizations`),
//! and mailboxes authorized, synced, revoked and disconnected through it on the fake Exchange
//! (`mailboxes`); Cronofy's SDKs ask for mailboxes (`sdk`).

use calsync_core::{
    AppState,
    domain::{AccountId, Application, ProviderName, Scopes, ServiceAccount, ServiceAccountId},
    jobs::{JobOutcome, SyncJob, handle_sync_message},
    tokens,
};
use calsync_tests::api::TestApi;
use calsync_tests::ews::FakeExchange;
use calsync_tests::oauth::{REDIRECT, Reply, form, query_of, send_to};
use http::{Method, StatusCode};
use serde_json::{Value, json};

pub(super) use crate::sync::take_queued;

mod authorizations;
mod google;
mod mailboxes;
mod office365;
mod page;
mod sdk;

/// The service account every test signs in with, and its password at the fake Exchange.
const SERVICE: &str = "svc@corp.example";
const SERVICE_PASSWORD: &str = "svc-Pa55w0rd-canary";
const SERVICE_SCOPE: &str = "service_account/accounts/manage";

/// The Enterprise Connect link, with `pairs` after the client and redirect URI.
fn enterprise_uri(app: &Application, pairs: &[(&str, &str)]) -> String {
    let mut all = vec![("response_type", "code"), ("client_id", app.client_id.as_str()), ("redirect_uri", REDIRECT)];
    all.extend_from_slice(pairs);
    format!("/enterprise_connect/oauth/authorize?{}", form(&all))
}

async fn open_enterprise_page(api: &TestApi, app: &Application, delegated: &str, state: &str) -> Reply {
    let uri = enterprise_uri(app, &[("scope", SERVICE_SCOPE), ("delegated_scope", delegated), ("state", state)]);
    send_to(&api.state, Method::GET, &uri, None, String::new()).await
}

async fn submit_enterprise(api: &TestApi, fields: &[(&str, &str)]) -> Reply {
    let uri = "/enterprise_connect/oauth/authorize";
    send_to(&api.state, Method::POST, uri, Some("application/x-www-form-urlencoded"), form(fields)).await
}

/// The value of the page's hidden `request` field.
fn request_id(page: &str) -> String {
    calsync_tests::oauth::request_id(page)
}

/// Exchanges `code` issued for `redirect_uri`.
async fn exchange(
    api: &TestApi,
    app: &Application,
    secret: &str,
    code: &str,
    redirect_uri: &str,
) -> (StatusCode, Value) {
    let body = json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
                      "code": code, "redirect_uri": redirect_uri});
    api.post("/oauth/token", Some("None"), body).await
}

/// Runs the Enterprise Connect page for the fake's service account (at its EWS endpoint) and
/// exchanges the code; returns the token response.
async fn service_account_tokens(
    api: &TestApi,
    app: &Application,
    secret: &str,
    fake: &FakeExchange,
    delegated: &str,
) -> Value {
    let page = open_enterprise_page(api, app, delegated, "org-1").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let ews = fake.ews_url();
    let fields = [
        ("request", request_id(&page.body)),
        ("service", "exchange".to_owned()),
        ("email", SERVICE.to_owned()),
        ("password", SERVICE_PASSWORD.to_owned()),
        ("server_url", ews),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = submit_enterprise(api, &fields).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.body);
    let query = query_of(reply.header("location").expect("a redirect"));
    let code = query.iter().find(|(k, _)| k == "code").expect("a code").1.clone();
    let (status, tokens) = exchange(api, app, secret, &code, REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

fn account_of(tokens: &Value) -> AccountId {
    AccountId::parse(tokens["account_id"].as_str().expect("an account id")).unwrap()
}

/// A service account stored directly (no Exchange involved) with its token: for the tests of
/// request validation.
async fn seeded_service_account(api: &TestApi, app: &Application, delegated: &str) -> (ServiceAccount, String) {
    let store = &api.state.store;
    let now = api.now();
    let account = calsync_core::domain::Account {
        id: AccountId::generate(),
        email: Some(SERVICE.into()),
        name: None,
        default_tzid: "Etc/UTC".into(),
        created_at: now,
        authorizations_ended_at: None,
    };
    store.create_account(&account).await.unwrap();
    let service_account = ServiceAccount {
        id: ServiceAccountId::generate(),
        application_id: app.id.clone(),
        account_id: account.id.clone(),
        provider: ProviderName::Exchange,
        email: SERVICE.into(),
        server_url: Some("https://mail.corp.example/EWS/Exchange.asmx".into()),
        delegated_scopes: Scopes::parse(delegated).unwrap(),
        created_at: now,
        updated_at: now,
    };
    let credentials = calsync_core::crypto::Credentials::ServiceAccount {
        provider: ProviderName::Exchange,
        principal: SERVICE.into(),
        secret: SERVICE_PASSWORD.into(),
        username: None,
        tenant: None,
    };
    let sealed = api.state.vault.seal_service_account(&service_account.id, &credentials).unwrap();
    store.create_service_account(&service_account, &sealed).await.unwrap();
    let issued = tokens::issue(store, app, &account.id, Scopes::parse(SERVICE_SCOPE).unwrap(), now).await.unwrap();
    (service_account, issued.access_token)
}

/// Runs the sync jobs waiting on the queue, and those they queue, until none is left; returns
/// each job with its outcome.
async fn run_queued_jobs(api: &TestApi) -> Vec<(SyncJob, Result<JobOutcome, String>)> {
    run_queued_jobs_with(api, &api.state).await
}

/// As [`run_queued_jobs`], the jobs run with `state` (a state pointed at a fake provider).
async fn run_queued_jobs_with(api: &TestApi, state: &AppState) -> Vec<(SyncJob, Result<JobOutcome, String>)> {
    let mut ran = Vec::new();
    loop {
        let jobs = take_queued(api).await;
        if jobs.is_empty() {
            return ran;
        }
        for job in jobs {
            let body = serde_json::to_string(&job).unwrap();
            let outcome = handle_sync_message(state, &body).await.map_err(|e| format!("{e:?}"));
            ran.push((job, outcome));
        }
    }
}

/// `(summary, start)` of every event the token reads (its body when the read is not a 200).
fn summaries_and_starts(status: StatusCode, body: &Value) -> Vec<(String, String)> {
    assert_eq!(status, StatusCode::OK, "{body}");
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["summary"].as_str().unwrap().to_owned(), e["start"].as_str().unwrap().to_owned()))
        .collect()
}

/// The events read in May 2026.
const MAY_EVENTS: &str = "/v1/events?tzid=Etc/UTC&from=2026-04-30&to=2026-06-01";

/// `(summary, start)` of every event `tokens` reads in May 2026.
async fn events(api: &TestApi, tokens: &Value) -> Vec<(String, String)> {
    let (status, body) = api.get(MAY_EVENTS, tokens["access_token"].as_str().unwrap()).await;
    summaries_and_starts(status, &body)
}

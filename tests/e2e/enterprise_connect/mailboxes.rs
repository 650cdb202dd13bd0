//! Mailboxes authorized through one Exchange service account on the fake Exchange: the callbacks
//! carry codes that buy each mailbox's tokens, every request to Exchange acts on its mailbox by
//! impersonation, the events read back through `/v1/events`, and no mailbox credentials are ever
//! stored. A mailbox the service account may not impersonate gets `access_denied` and nothing is
//! stored; a busy Exchange retries the job; revoking a mailbox leaves the service account alone;
//! erasing the service account's account disconnects its mailboxes at their next sync.

use calsync_core::{
    crypto::token_hash,
    domain::{AccountId, Application, ProfileId, ProfileStatus, ProviderName},
    gdpr::{self, Subject},
    jobs::{JobError, JobOutcome, SyncJob, handle_sync_message},
    notify,
};
use calsync_tests::api::TestApi;
use calsync_tests::ews::{CalendarItem, FakeExchange};
use calsync_tests::fixtures::at;
use calsync_tests::receiver::Receiver;
use http::StatusCode;
use serde_json::{Value, json};

use super::{
    SERVICE, SERVICE_PASSWORD, account_of, events, exchange, run_queued_jobs, service_account_tokens, take_queued,
};
use crate::api::api_on_both_backends;

api_on_both_backends!(
    two_mailboxes_sync_through_one_service_account_and_no_mailbox_credentials_are_stored,
    a_mailbox_the_service_account_may_not_impersonate_gets_access_denied_and_nothing_is_stored,
    a_busy_exchange_retries_the_mailbox_job_before_anything_is_stored,
    revoking_a_mailbox_profile_leaves_the_service_account_and_the_other_mailboxes_alone,
    erasing_the_service_accounts_account_disconnects_its_mailboxes_at_their_next_sync,
);

const ADA: &str = "ada@corp.example";
const GRACE: &str = "grace@corp.example";
const PATH: &str = "/v1/service_account_authorizations";

/// A fake Exchange with the service account, Ada's and Grace's mailboxes (one event each) it may
/// impersonate, and Eve's, which it may not.
async fn organisation() -> FakeExchange {
    let fake = FakeExchange::start().await;
    for mailbox in [ADA, GRACE, "eve@corp.example"] {
        fake.add_mailbox(mailbox);
    }
    fake.add_service_account(SERVICE, SERVICE_PASSWORD, &[ADA, GRACE]);
    let item = |subject: &str, day: &str| {
        CalendarItem::new(subject, at(&format!("{day}T09:00:00Z")), at(&format!("{day}T10:00:00Z")))
    };
    fake.put_item(ADA, "calendar", item("Ada's review", "2026-05-04"));
    fake.put_item(GRACE, "calendar", item("Grace's standup", "2026-05-05"));
    fake
}

/// A mailbox authorized through the service account: its tokens and profile.
struct Mailbox {
    tokens: Value,
    profile: ProfileId,
    account: AccountId,
}

/// Runs Enterprise Connect, asks for `mailboxes` with `receiver` as callback, runs every queued
/// job (authorizations, then the calendar syncs) and exchanges the codes the callbacks carry.
async fn authorize_mailboxes(
    api: &TestApi,
    fake: &FakeExchange,
    receiver: &Receiver,
    mailboxes: &[&str],
) -> (Application, String, Value, Vec<Mailbox>) {
    let (app, secret) = api.application("Planner").await;
    let service = service_account_tokens(api, &app, &secret, fake, "read_events read_free_busy").await;
    let entries: Vec<Value> = mailboxes
        .iter()
        .map(|m| json!({"email": m, "scope": "read_events", "callback_url": receiver.url, "state": format!("for {m}")}))
        .collect();
    let body = json!({"service_account_authorizations": entries});
    let (status, answer) = api.post(PATH, service["access_token"].as_str(), body).await;
    assert_eq!((status, answer), (StatusCode::ACCEPTED, Value::Null));
    for (job, outcome) in run_queued_jobs(api).await {
        assert!(outcome.is_ok(), "{job:?}: {outcome:?}");
    }

    let callbacks = receiver.bodies();
    assert_eq!(callbacks.len(), mailboxes.len(), "{callbacks:?}");
    let mut authorized = Vec::new();
    for (callback, mailbox) in callbacks.iter().zip(mailboxes) {
        let authorization = callback["authorization"].as_object().expect("an authorization");
        assert_eq!(authorization.keys().collect::<Vec<_>>(), ["code", "state"]);
        assert_eq!(authorization["state"], json!(format!("for {mailbox}")));
        let code = authorization["code"].as_str().unwrap();
        // The code is bound to the callback URL as its redirect URI.
        let (status, _) = exchange(api, &app, &secret, code, "https://app.example/callback").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, tokens) = exchange(api, &app, &secret, code, &receiver.url).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let profile = ProfileId::parse(tokens["linking_profile"]["profile_id"].as_str().unwrap()).unwrap();
        authorized.push(Mailbox { account: account_of(&tokens), tokens, profile });
    }
    (app, secret, service, authorized)
}

async fn two_mailboxes_sync_through_one_service_account_and_no_mailbox_credentials_are_stored(api: &TestApi) {
    let fake = organisation().await;
    let receiver = Receiver::start(&[]).await;

    let (app, secret, service, mailboxes) = authorize_mailboxes(api, &fake, &receiver, &[ADA, GRACE]).await;

    // Each callback is signed with the application's secret, as push notifications are.
    for received in receiver.received() {
        assert_eq!(received.content_type.as_deref(), Some("application/json; charset=utf-8"));
        assert_eq!(received.signature, Some(notify::signature(&[secret.as_str()], received.body.as_bytes())));
    }
    // Each code bought the mailbox's own tokens.
    for (mailbox, email) in mailboxes.iter().zip([ADA, GRACE]) {
        assert_eq!(mailbox.tokens["scope"], json!("read_events"));
        assert_eq!(mailbox.tokens["expires_in"], json!(10_800));
        assert_eq!(
            mailbox.tokens["linking_profile"],
            json!({"provider_name": "exchange", "profile_id": mailbox.profile, "profile_name": email})
        );
    }
    // Each mailbox's events read back through the API.
    assert_eq!(
        events(api, &mailboxes[0].tokens).await,
        [("Ada's review".to_owned(), "2026-05-04T09:00:00Z".to_owned())]
    );
    assert_eq!(
        events(api, &mailboxes[1].tokens).await,
        [("Grace's standup".to_owned(), "2026-05-05T09:00:00Z".to_owned())]
    );

    // Exchange saw the service account act for each mailbox by impersonation, and never anyone
    // sign in as a mailbox's user.
    let requests = fake.requests();
    assert!(requests.iter().all(|r| r.user.as_deref() == Some(SERVICE)), "only the service account signs in");
    for email in [ADA, GRACE] {
        let acting: Vec<_> = requests.iter().filter(|r| r.mailbox.as_deref() == Some(email)).collect();
        assert!(acting.len() >= 3, "a check, a calendar listing and a sync for {email}: {}", acting.len());
        assert!(acting.iter().all(|r| r.impersonated && r.anchor_mailbox.as_deref() == Some(email)), "{email}");
    }
    let own: Vec<_> = requests.iter().filter(|r| !r.impersonated).collect();
    assert_eq!(own.len(), 1, "only the page's check of the service account's own calendar");

    // The store holds no credentials of either mailbox: only the service account's, sealed.
    let store = &api.state.store;
    let service_account = store.find_service_account_by_account(&account_of(&service)).await.unwrap().unwrap();
    for mailbox in &mailboxes {
        assert_eq!(store.get_credentials(&mailbox.profile).await.unwrap(), None);
        assert_eq!(store.count_account_rows("credentials", "account_id", &mailbox.account).await.unwrap(), 0);
        assert_eq!(store.profile_service_account(&mailbox.profile).await.unwrap(), Some(service_account.id.clone()));
        let profile = store.get_profile(&mailbox.profile).await.unwrap().unwrap();
        assert_eq!((profile.provider, profile.status), (ProviderName::Exchange, ProfileStatus::Active));
    }
    assert_eq!(store.count_account_rows("credentials", "account_id", &service_account.account_id).await.unwrap(), 0);
    assert_eq!(credential_rows(api).await, 0, "the credentials table is empty");
    let sealed = store.get_service_account_credentials(&service_account.id).await.unwrap().unwrap();
    assert!(!sealed.ciphertext.windows(SERVICE_PASSWORD.len()).any(|w| w == SERVICE_PASSWORD.as_bytes()));
    assert_eq!(service_account.application_id, app.id);

    // Authorizing a mailbox again finds its account and profile.
    let before = store.count_accounts().await.unwrap();
    let body = json!({"email": ADA, "scope": "read_events", "callback_url": receiver.url});
    let (status, _) = api.post(PATH, service["access_token"].as_str(), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    run_queued_jobs(api).await;
    let code = receiver.bodies()[2]["authorization"]["code"].as_str().unwrap().to_owned();
    let (_, again) = exchange(api, &app, &secret, &code, &receiver.url).await;
    assert_eq!(again["linking_profile"]["profile_id"], json!(mailboxes[0].profile));
    assert_eq!(store.count_accounts().await.unwrap(), before);
}

/// Rows in the credentials table, whoever they belong to.
async fn credential_rows(api: &TestApi) -> i64 {
    let store = &api.state.store;
    let mut total = 0;
    for table in ["credentials"] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        total += match store {
            calsync_core::Store::Postgres(pool) => sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.unwrap(),
            calsync_core::Store::Sqlite(pool) => sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.unwrap(),
        };
    }
    total
}

async fn a_mailbox_the_service_account_may_not_impersonate_gets_access_denied_and_nothing_is_stored(api: &TestApi) {
    let fake = organisation().await;
    let receiver = Receiver::start(&[]).await;
    let (app, secret) = api.application("Planner").await;
    let service = service_account_tokens(api, &app, &secret, &fake, "read_events").await;
    let store = &api.state.store;
    let accounts_before = store.count_accounts().await.unwrap();

    let body = json!({"service_account_authorizations": [
        {"email": "eve@corp.example", "scope": "read_events", "callback_url": receiver.url, "state": "eve"},
        {"email": "nobody@corp.example", "scope": "read_events", "callback_url": receiver.url},
    ]});
    let (status, _) = api.post(PATH, service["access_token"].as_str(), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let ran = run_queued_jobs(api).await;

    assert_eq!(ran.iter().map(|(_, outcome)| outcome.clone()).collect::<Vec<_>>(), vec![Ok(JobOutcome::Done); 2]);
    assert_eq!(
        receiver.bodies(),
        vec![
            json!({"authorization": {
                "error": "access_denied",
                "error_description": "the service account may not act for this mailbox (ErrorImpersonateUserDenied)",
                "state": "eve",
            }}),
            json!({"authorization": {
                "error": "access_denied",
                "error_description": "the service account may not act for this mailbox (ErrorNonExistentMailbox)",
            }}),
        ]
    );
    assert_eq!(store.count_accounts().await.unwrap(), accounts_before, "no account was created");
    for email in ["eve@corp.example", "nobody@corp.example"] {
        assert_eq!(store.accounts_by_email(email).await.unwrap(), vec![], "{email}");
    }
}

async fn a_busy_exchange_retries_the_mailbox_job_before_anything_is_stored(api: &TestApi) {
    let fake = organisation().await;
    let receiver = Receiver::start(&[]).await;
    let (app, secret) = api.application("Planner").await;
    let service = service_account_tokens(api, &app, &secret, &fake, "read_events").await;
    let body = json!({"email": ADA, "scope": "read_events", "callback_url": receiver.url});
    let (status, _) = api.post(PATH, service["access_token"].as_str(), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let jobs = take_queued(api).await;
    assert!(matches!(jobs.as_slice(), [SyncJob::AuthorizeMailbox(_)]), "{jobs:?}");
    let job = serde_json::to_string(&jobs[0]).unwrap();
    let accounts_before = api.state.store.count_accounts().await.unwrap();

    // Exchange is busy: the job fails retryably, nothing is stored and nobody is called back.
    fake.server_busy_next(1, 50);
    let outcome = handle_sync_message(&api.state, &job).await;
    assert!(matches!(outcome, Err(JobError::Retryable(_))), "{outcome:?}");
    assert_eq!(receiver.received(), vec![]);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before);

    // The queue redelivers it: now it goes through.
    assert_eq!(handle_sync_message(&api.state, &job).await.unwrap(), JobOutcome::Done);
    assert_eq!(receiver.bodies().len(), 1);
    assert!(receiver.bodies()[0]["authorization"]["code"].is_string());
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before + 1);

    // A callback endpoint that fails is retried too (the code of the failed attempt is never used).
    let failing = Receiver::start(&[503]).await;
    let body = json!({"email": GRACE, "scope": "read_events", "callback_url": failing.url});
    api.post(PATH, service["access_token"].as_str(), body).await;
    // Ada's first calendar sync waits on the queue too.
    let jobs = take_queued(api).await;
    let authorize = jobs.iter().find(|j| matches!(j, SyncJob::AuthorizeMailbox(_))).expect("the mailbox job");
    let job = serde_json::to_string(authorize).unwrap();
    assert!(matches!(handle_sync_message(&api.state, &job).await, Err(JobError::Retryable(_))));
    assert_eq!(handle_sync_message(&api.state, &job).await.unwrap(), JobOutcome::Done);
    assert_eq!(failing.received().iter().map(|r| r.answered).collect::<Vec<_>>(), [503, 200]);
    assert_eq!(api.state.store.count_accounts().await.unwrap(), accounts_before + 2, "the retry found its account");
}

async fn revoking_a_mailbox_profile_leaves_the_service_account_and_the_other_mailboxes_alone(api: &TestApi) {
    let fake = organisation().await;
    let receiver = Receiver::start(&[]).await;
    let (_, _, service, mailboxes) = authorize_mailboxes(api, &fake, &receiver, &[ADA, GRACE]).await;
    let store = &api.state.store;
    let service_account = store.find_service_account_by_account(&account_of(&service)).await.unwrap().unwrap();
    let sealed_before = store.get_service_account_credentials(&service_account.id).await.unwrap();

    let ada = &mailboxes[0];
    let path = format!("/v1/profiles/{}/revoke", ada.profile);
    let (status, _) = api.post(&path, ada.tokens["access_token"].as_str(), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Ada's profile no longer reaches Exchange; the service account is as it was.
    assert_eq!(store.get_profile(&ada.profile).await.unwrap().unwrap().status, ProfileStatus::Disconnected);
    assert_eq!(store.profile_service_account(&ada.profile).await.unwrap(), None);
    assert_eq!(store.get_service_account(&service_account.id).await.unwrap(), Some(service_account.clone()));
    assert_eq!(store.get_service_account_credentials(&service_account.id).await.unwrap(), sealed_before);
    let service_token = token_hash(service["access_token"].as_str().unwrap());
    let live = store.find_authorization_by_access_token(&service_token, api.now()).await.unwrap();
    assert!(live.is_some(), "the service account's token still works");

    // Grace's mailbox still syncs through it.
    let grace = &mailboxes[1];
    let job = serde_json::to_string(&SyncJob::SyncCalendarList { profile_id: grace.profile.clone() }).unwrap();
    assert_eq!(handle_sync_message(&api.state, &job).await.unwrap(), JobOutcome::Done);
    assert_eq!(store.get_profile(&grace.profile).await.unwrap().unwrap().status, ProfileStatus::Active);
    let job = serde_json::to_string(&SyncJob::SyncCalendarList { profile_id: ada.profile.clone() }).unwrap();
    assert_eq!(
        handle_sync_message(&api.state, &job).await.unwrap(),
        JobOutcome::Skipped("the profile is disconnected")
    );
}

async fn erasing_the_service_accounts_account_disconnects_its_mailboxes_at_their_next_sync(api: &TestApi) {
    let fake = organisation().await;
    let receiver = Receiver::start(&[]).await;
    let (_, _, service, mailboxes) = authorize_mailboxes(api, &fake, &receiver, &[ADA]).await;
    let store = &api.state.store;
    let service_account = store.find_service_account_by_account(&account_of(&service)).await.unwrap().unwrap();

    // The organisation's service account is forgotten.
    gdpr::forget(&api.state, &Subject::Account(service_account.account_id.clone()), "dpo@corp.example").await.unwrap();
    assert_eq!(store.get_service_account(&service_account.id).await.unwrap(), None);
    assert_eq!(store.get_service_account_credentials(&service_account.id).await.unwrap(), None);
    assert_eq!(store.get_account(&service_account.account_id).await.unwrap(), None);

    // The mailbox is untouched until its next sync, which finds no credentials: disconnected.
    let ada = &mailboxes[0];
    assert_eq!(store.get_profile(&ada.profile).await.unwrap().unwrap().status, ProfileStatus::Active);
    let job = serde_json::to_string(&SyncJob::SyncCalendarList { profile_id: ada.profile.clone() }).unwrap();
    assert_eq!(
        handle_sync_message(&api.state, &job).await.unwrap(),
        JobOutcome::Skipped("the provider refused the credentials; the profile is disconnected")
    );
    assert_eq!(store.get_profile(&ada.profile).await.unwrap().unwrap().status, ProfileStatus::Disconnected);
    assert!(store.get_account(&ada.account).await.unwrap().is_some(), "the mailbox's account is its own");
    let requests_before = fake.requests().len();
    handle_sync_message(&api.state, &job).await.unwrap();
    assert_eq!(fake.requests().len(), requests_before, "a disconnected mailbox is not tried again");
}

//! `POST /v1/service_account_authorizations` as pycronofy and the npm SDK call it: only a service
//! account's token, every entry checked with Cronofy's 422 errors before any is queued, and one
//! job per mailbox.

use calsync_core::authorization::service_accounts::MailboxRequest;
use calsync_core::jobs::SyncJob;
use calsync_tests::api::TestApi;
use http::StatusCode;
use serde_json::{Value, json};

use super::{seeded_service_account, take_queued};
use crate::api::api_on_both_backends;

api_on_both_backends!(
    only_a_service_accounts_token_may_ask_for_mailboxes,
    service_account_authorization_requests_are_checked_with_cronofy_errors_and_queue_nothing,
    batches_hold_one_to_fifty_entries_and_name_the_failing_entry,
    a_valid_request_queues_one_job_per_mailbox_and_answers_202,
);

const PATH: &str = "/v1/service_account_authorizations";
const CALLBACK: &str = "https://app.example/mailboxes";

fn entry(email: &str, scope: &str) -> Value {
    json!({"email": email, "scope": scope, "callback_url": CALLBACK})
}

fn error(key: &str, description: &str) -> Value {
    json!([{"key": key, "description": description}])
}

async fn only_a_service_accounts_token_may_ask_for_mailboxes(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let (_, service_token) = seeded_service_account(api, &app, "read_events").await;
    let end_user = api.authorized(&app, "read_account read_events").await;
    let (other_app, _) = api.application("Other").await;
    let foreign = seeded_service_account(api, &other_app, "read_events").await.1;
    let body = entry("ada@corp.example", "read_events");

    let (status, _) = api.request(http::Method::POST, PATH, None, Some(body.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = api.post(PATH, Some(&end_user.access_token), body.clone()).await;
    assert_eq!((status, answer), (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"})));
    let (status, _) = api.post(PATH, Some("not-a-token"), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(take_queued(api).await, vec![]);

    // Each application's service account answers its own token only.
    let (status, _) = api.post(PATH, Some(&foreign), body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = api.post(PATH, Some(&service_token), body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(take_queued(api).await.len(), 2);
}

async fn service_account_authorization_requests_are_checked_with_cronofy_errors_and_queue_nothing(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let (_, token) = seeded_service_account(api, &app, "read_events read_free_busy").await;
    let long = format!("https://app.example/{}", "x".repeat(120));
    let cases = [
        (
            json!({}),
            json!({"email": error("errors.required", "required"), "scope": error("errors.required", "required"),
                   "callback_url": error("errors.required", "required")}),
        ),
        (
            json!({"email": "nope", "scope": "read_events", "callback_url": CALLBACK}),
            json!({"email": error("errors.invalid", "must be a valid email address")}),
        ),
        (
            json!({"email": "ada@other.example", "scope": "read_events", "callback_url": CALLBACK}),
            json!({"email": error("errors.invalid", "must be an address of the service account's domain, corp.example")}),
        ),
        (
            json!({"email": "ada@corp.example", "scope": "read_events create_event", "callback_url": CALLBACK}),
            json!({"scope": error(
                "errors.not_permitted",
                "must be within the service account's delegated scope (read_events read_free_busy)"
            )}),
        ),
        (
            json!({"email": "ada@corp.example", "scope": "service_account/accounts/manage", "callback_url": CALLBACK}),
            json!({"scope": error(
                "errors.not_permitted",
                "must be within the service account's delegated scope (read_events read_free_busy)"
            )}),
        ),
        (
            json!({"email": "ada@corp.example", "scope": "read_everything", "callback_url": CALLBACK}),
            json!({"scope": error("errors.invalid", "unknown scope `read_everything`")}),
        ),
        (
            json!({"email": "ada@corp.example", "scope": "read_events", "callback_url": "ftp://app.example/cb"}),
            json!({"callback_url": error("errors.invalid", "must use https")}),
        ),
        (
            json!({"email": "ada@corp.example", "scope": "read_events", "callback_url": long}),
            json!({"callback_url": error("errors.invalid", "must be at most 128 characters")}),
        ),
        (
            json!({"email": 7, "scope": "read_events", "callback_url": CALLBACK, "state": ["s"]}),
            json!({"email": error("errors.invalid_type", "must be a string"),
                   "state": error("errors.invalid_type", "must be a string")}),
        ),
    ];
    for (body, errors) in cases {
        let (status, answer) = api.post(PATH, Some(&token), body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer, json!({"errors": errors}), "{body}");
    }
    assert_eq!(take_queued(api).await, vec![], "nothing is queued for an invalid request");
}

async fn batches_hold_one_to_fifty_entries_and_name_the_failing_entry(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let (_, token) = seeded_service_account(api, &app, "read_events").await;
    let fifty_one: Vec<Value> = (0..51).map(|i| entry(&format!("u{i}@corp.example"), "read_events")).collect();
    let cases = [
        (json!({"service_account_authorizations": []}), "must hold 1 to 50 authorizations"),
        (json!({"service_account_authorizations": fifty_one}), "must hold 1 to 50 authorizations"),
    ];
    for (body, description) in cases {
        let (status, answer) = api.post(PATH, Some(&token), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(answer, json!({"errors": {"service_account_authorizations": error("errors.invalid", description)}}));
    }

    let body = json!({"service_account_authorizations": [
        entry("ada@corp.example", "read_events"),
        entry("grace@elsewhere.example", "read_events"),
        "not an object",
    ]});
    let (status, answer) = api.post(PATH, Some(&token), body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        answer,
        json!({"errors": {
            "service_account_authorizations[1].email":
                error("errors.invalid", "must be an address of the service account's domain, corp.example"),
            "service_account_authorizations[2]": error("errors.invalid_type", "must be an object"),
        }})
    );
    assert_eq!(take_queued(api).await, vec![], "one bad entry queues none");
}

async fn a_valid_request_queues_one_job_per_mailbox_and_answers_202(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let (service_account, token) = seeded_service_account(api, &app, "read_only").await;
    let job = |email: &str, scope: &str, state: Option<&str>| {
        SyncJob::AuthorizeMailbox(MailboxRequest {
            service_account_id: service_account.id.clone(),
            application_id: app.id.clone(),
            email: email.to_owned(),
            scope: scope.to_owned(),
            callback_url: CALLBACK.to_owned(),
            state: state.map(str::to_owned),
        })
    };

    // One mailbox, as pycronofy's authorize_with_service_account sends it.
    let body = json!({"email": " Ada@Corp.Example ", "scope": "read_free_busy read_events", "callback_url": CALLBACK,
                      "state": "one"});
    let (status, answer) = api.post(PATH, Some(&token), body).await;
    assert_eq!((status, answer), (StatusCode::ACCEPTED, Value::Null));
    assert_eq!(take_queued(api).await, vec![job("ada@corp.example", "read_events read_free_busy", Some("one"))]);

    // A batch: the batch's state unless an entry has its own.
    let mut own = entry("grace@corp.example", "read_events");
    own["state"] = json!("grace's");
    let body = json!({"service_account_authorizations": [entry("ada@corp.example", "read_account"), own],
                      "state": "batch"});
    let (status, answer) = api.post(PATH, Some(&token), body).await;
    assert_eq!((status, answer), (StatusCode::ACCEPTED, Value::Null));
    assert_eq!(
        take_queued(api).await,
        vec![
            job("ada@corp.example", "read_account", Some("batch")),
            job("grace@corp.example", "read_events", Some("grace's")),
        ]
    );

    // The jobs carry no secret and are logged without the address.
    let shown = format!("{:?}", job("ada@corp.example", "read_events", Some("s")));
    assert!(!shown.contains("ada@") && !shown.contains(CALLBACK), "{shown}");
}

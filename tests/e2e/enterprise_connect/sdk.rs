//! Cronofy's SDKs ask for mailboxes through a service account against a served API: pycronofy's
//! `authorize_with_service_account` and `authorize_multiple_accounts_via_service_account`, the npm
//! SDK's `authorizeWithServiceAccount` (one mailbox and a batch). Each script prints a JSON
//! summary of its calls; the jobs they queued are checked exactly. `infra/sdks.sh` installs both
//! SDKs and prints the `CALSYNC_TEST_PYTHON` / `CALSYNC_TEST_NODE_SDK_DIR` exports.

use std::path::{Path, PathBuf};

use calsync_core::authorization::service_accounts::MailboxRequest;
use calsync_core::jobs::SyncJob;
use calsync_tests::{api::TestApi, db::Backend};
use serde_json::{Value, json};

use super::{seeded_service_account, take_queued};

const CALLBACK: &str = "https://app.example/mailboxes";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate is inside the workspace").to_path_buf()
}

/// Serves an API with a service account, runs `program script BASE_URL TOKEN CALLBACK` in `dir`,
/// and returns the script's summary with the mailbox jobs it queued (email, scope, state).
async fn drive(program: PathBuf, script: &str, dir: PathBuf) -> (Value, Vec<(String, String, Option<String>)>) {
    let api = TestApi::served(Backend::Sqlite, calsync_tests::api::test_now()).await;
    let (app, _) = api.application("SDK").await;
    let (service_account, token) = seeded_service_account(&api, &app, "read_events").await;
    let args = [script.to_owned(), api.base_url.clone(), token, CALLBACK.to_owned()];
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program).args(args).current_dir(dir).output().expect("the script starts")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{script} failed.\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let summary: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    let jobs = take_queued(&api)
        .await
        .into_iter()
        .map(|job| match job {
            SyncJob::AuthorizeMailbox(MailboxRequest {
                service_account_id, callback_url, email, scope, state, ..
            }) => {
                assert_eq!((service_account_id, callback_url.as_str()), (service_account.id.clone(), CALLBACK));
                (email, scope, state)
            }
            other => panic!("an unexpected job: {other:?}"),
        })
        .collect();
    api.cleanup().await;
    (summary, jobs)
}

fn expected_jobs(sdk: &str) -> Vec<(String, String, Option<String>)> {
    let job = |email: &str, state: String| (email.to_owned(), "read_events".to_owned(), Some(state));
    vec![
        job("ada@corp.example", format!("{sdk}-one")),
        job("grace@corp.example", format!("{sdk}-batch")),
        job("alan@corp.example", format!("{sdk}-alan")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycronofy_asks_for_mailboxes_through_a_service_account() {
    let python = crate::sdk::python();
    let dir = repo_root().join("tests/sdk/python");
    let script = dir.join("service_account.py").display().to_string();

    let (summary, jobs) = drive(python, &script, dir).await;

    assert_eq!(summary, json!({"single": "ok", "batch": "ok", "outside_domain": 422}));
    assert_eq!(jobs, expected_jobs("py"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npm_sdk_asks_for_mailboxes_through_a_service_account() {
    let dir = crate::sdk::node_sdk_dir();
    let script = "service_account.mjs".to_owned();

    let (summary, jobs) = drive(PathBuf::from("node"), &script, dir).await;

    assert_eq!(summary, json!({"single": "ok", "batch": "ok", "outside_domain": 422}));
    assert_eq!(jobs, expected_jobs("node"));
}

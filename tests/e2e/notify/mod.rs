//! Push notifications end to end: channels through the API, deliveries to a scripted receiver on
//! loopback (signatures checked by pycronofy's `hmac_valid` and the npm SDK's `hmacValid`),
//! retries and give-up, SSRF refusals at registration and delivery, and change notifications
//! after a sync of a real CalDAV server.

use std::path::{Path, PathBuf};
use std::process::Command;

use calsync_core::adapters::QueueName;
use calsync_core::jobs::{JobOutcome, NotifyJob, handle_notify_message};
use calsync_tests::api::{Authorized, TestApi};
use serde_json::{Value, json};

mod change;
mod channels;
mod delivery;
mod ssrf;

/// Runs every visible job on the notify queue (not those delayed for a retry), once; returns
/// each job with its outcome.
pub(super) async fn deliver_queued(api: &TestApi) -> Vec<(String, JobOutcome)> {
    let mut ran = Vec::new();
    loop {
        let messages = api.state.queue.receive(QueueName::Notify, 10, std::time::Duration::ZERO).await.unwrap();
        if messages.is_empty() {
            return ran;
        }
        for message in messages {
            let job: NotifyJob = serde_json::from_str(&message.body).expect("a notify job");
            let NotifyJob::Deliver { notification_id } = job;
            let outcome = handle_notify_message(&api.state, &message.body).await.expect("the delivery job is handled");
            api.state.queue.delete(QueueName::Notify, &message.receipt).await.unwrap();
            ran.push((notification_id, outcome));
        }
    }
}

/// Runs the delivery job of one notification, as a (re)delivered message would.
pub(super) async fn deliver(api: &TestApi, notification_id: &str) -> JobOutcome {
    let body = serde_json::to_string(&NotifyJob::Deliver { notification_id: notification_id.to_owned() }).unwrap();
    handle_notify_message(&api.state, &body).await.expect("the delivery job is handled")
}

/// Opens a channel to `callback_url` for `who`; returns the response body.
pub(super) async fn open_channel(api: &TestApi, who: &Authorized, callback_url: &str, filters: Value) -> Value {
    let (status, body) = api
        .post("/v1/channels", Some(&who.access_token), json!({"callback_url": callback_url, "filters": filters}))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository root").to_path_buf()
}

/// What pycronofy's `hmac_valid` and the npm SDK's `hmacValid` say of `header` for `body`,
/// verified with `secret`.
pub(super) fn sdks_accept(secret: &str, header: &str, body: &str) -> (bool, bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let body_file = dir.path().join("body.json");
    std::fs::write(&body_file, body).unwrap();
    let python = crate::sdk::python();
    let node_dir = crate::sdk::node_sdk_dir();
    let run = |program: &Path, script: PathBuf, dir: &Path| {
        let output = Command::new(program)
            .arg(script)
            .args([secret, header, &body_file.display().to_string()])
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim() == "valid"
    };
    let python_dir = repo_root().join("tests/sdk/python");
    let pycronofy = run(&python, python_dir.join("hmac_check.py"), &python_dir);
    let npm = run(Path::new("node"), node_dir.join("hmac_check.mjs"), &node_dir);
    (pycronofy, npm)
}

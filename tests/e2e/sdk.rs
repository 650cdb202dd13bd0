//! Cronofy's own SDKs drive calsync over HTTP: pycronofy (from the project virtualenv) and the npm
//! `cronofy` package run `tests/sdk/{python/flow.py,node/flow.mjs}` against a served API, and the
//! JSON summary each prints on its last line is checked value by value. `infra/sdks.sh` installs
//! both SDKs and prints the `CALSYNC_TEST_PYTHON` / `CALSYNC_TEST_NODE_SDK_DIR` exports.
//!
//! The scripts take dates from the real clock, so while one runs the API's clock follows real
//! time. 403 is not part of the flow: application calendars are always granted `read_write`, so
//! no token with fewer scopes is available there (the in-process API tests cover 403).

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use calsync_tests::{api::TestApi, db::Backend};
use serde_json::{Value, json};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate is inside the workspace").to_path_buf()
}

/// The project virtualenv's Python, where pycronofy is installed.
pub(crate) fn python() -> PathBuf {
    std::env::var_os("CALSYNC_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        panic!("CALSYNC_TEST_PYTHON is not set: run `eval \"$(infra/sdks.sh)\"` to install pycronofy into .venv")
    })
}

/// The directory whose `node_modules` holds the npm `cronofy` SDK (and the node scripts).
pub(crate) fn node_sdk_dir() -> PathBuf {
    let dir = std::env::var_os("CALSYNC_TEST_NODE_SDK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("tests/sdk/node"));
    assert!(
        dir.join("node_modules/cronofy/package.json").is_file(),
        "the npm cronofy SDK is not installed in {}: run `eval \"$(infra/sdks.sh)\"`",
        dir.display()
    );
    dir
}

/// What a script did: exit code (None = killed after the timeout), stdout and stderr.
struct ScriptRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl ScriptRun {
    fn summary(&self) -> Value {
        let last = self.stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| {
            panic!(
                "the last stdout line is not the JSON summary ({e}).\nstdout:\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `program args` in `dir` with a timeout, its output in files (no pipe can fill up).
fn run_script(program: &Path, args: &[String], dir: &Path) -> ScriptRun {
    let out = tempfile::tempdir().expect("temp dir");
    let (stdout_path, stderr_path) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    ScriptRun {
        code,
        stdout: std::fs::read_to_string(stdout_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(stderr_path).unwrap_or_default(),
    }
}

/// Serves an API on SQLite, creates an application, runs the script with
/// `BASE_URL CLIENT_ID CLIENT_SECRET` appended to `args`, and returns what it did.
async fn drive(program: PathBuf, mut args: Vec<String>, dir: PathBuf) -> ScriptRun {
    let api = TestApi::served(Backend::Sqlite, chrono::Utc::now()).await;
    let (application, secret) = api.application("SDK").await;
    args.extend([api.base_url.clone(), application.client_id.clone(), secret]);

    let clock = api.clock.clone();
    let follow_real_time = tokio::spawn(async move {
        loop {
            clock.set(chrono::Utc::now());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let run = tokio::task::spawn_blocking(move || run_script(&program, &args, &dir)).await.unwrap();
    follow_real_time.abort();
    api.cleanup().await;
    run
}

/// The summary both flows must produce (the application calendar id aside).
fn expected_values(application_calendar_id: &str) -> Value {
    json!({
        "application_calendar_id": application_calendar_id,
        "sub_is_application_calendar": true,
        "account_has_id": true,
        "userinfo_has_sub": true,
        "profiles": 1,
        "calendars": 1,
        // 3 + 230 events at 100 a page.
        "events_pages": 3,
        "events_read": 233,
        "all_day_start": true,
        "tzid_event_start": true,
        // The all-day event is transparent by default (cronofy-api.md §5.3), so it is free time.
        "free_busy_statuses": { "busy": 232, "free": 1 },
        "changed_since_delete": [["sdk-bulk-0", true]],
        "events_after_delete": 232,
        "batch_statuses": [202, 202],
        "events_after_batch": 232,
        "missing_summary": [422, { "errors": { "summary": [{ "key": "errors.required", "description": "required" }] } }],
        "bogus_token_status": 401,
        "unknown_calendar_status": 404,
        "status_after_revoke": 401,
    })
}

fn assert_flow(sdk: &str, run: &ScriptRun, application_calendar_id: &str) {
    assert!(
        run.code.is_some(),
        "{sdk}: the script was killed after {SCRIPT_TIMEOUT:?}.\nstdout:\n{}\nstderr:\n{}",
        run.stdout,
        run.stderr
    );
    let summary = run.summary();
    let failed: Vec<String> = summary["steps"]
        .as_object()
        .expect("steps")
        .iter()
        .filter(|(_, outcome)| *outcome != "ok")
        .map(|(step, outcome)| format!("  {step}: {}", outcome.as_str().unwrap_or_default()))
        .collect();
    assert!(
        failed.is_empty(),
        "{sdk}: {} step(s) failed:\n{}\nvalues: {}\nstderr:\n{}",
        failed.len(),
        failed.join("\n"),
        summary["values"],
        run.stderr
    );
    assert_eq!(summary["steps"].as_object().unwrap().len(), 13, "{sdk}: every step ran: {}", summary["steps"]);
    assert_eq!(summary["values"], expected_values(application_calendar_id), "{sdk}: summary values");
    assert_eq!(run.code, Some(0), "{sdk}: exit status; stderr:\n{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycronofy_drives_the_whole_api_flow() {
    let dir = repo_root().join("tests/sdk/python");
    let run = drive(python(), vec![dir.join("flow.py").display().to_string()], dir).await;
    assert_flow("pycronofy", &run, "sdk-python");
}

/// pycronofy's `upsert_smart_invite`, `get_smart_invite` and `cancel_smart_invite`; each
/// invitation parses with Python's `icalendar` and imports into Radicale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycronofy_drives_smart_invites_and_the_invitation_reads_back_in_icalendar_and_radicale() {
    let dir = repo_root().join("tests/sdk/python");
    let run = drive(python(), vec![dir.join("smart_invite.py").display().to_string()], dir).await;
    let summary = run.summary();
    for (name, outcome) in summary["steps"].as_object().unwrap() {
        assert_eq!(outcome, "ok", "step {name}; stderr:\n{}", run.stderr);
    }
    assert_eq!(summary["steps"].as_object().unwrap().len(), 5, "{summary}");
    assert_eq!(
        summary["values"],
        json!({
            "recipient": { "email": "guest@example.com", "status": "pending" },
            "sequence_after_update": 1,
            "replies": [],
            "summary": "Board meeting (moved)",
            "radicale_summary": "Board meeting",
            "cancel_method": "CANCEL",
            "cancel_status": "CANCELLED",
        })
    );
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
}

/// The npm SDK's `createSmartInvite`, `getSmartInvite` and `cancelSmartInvite`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npm_cronofy_sdk_creates_reads_and_cancels_a_smart_invite() {
    let dir = node_sdk_dir();
    let run = drive(PathBuf::from("node"), vec!["smart_invite.mjs".to_owned()], dir).await;
    let summary = run.summary();
    assert_eq!(
        summary,
        json!({
            "steps": { "createSmartInvite": "ok", "getSmartInvite": "ok", "cancelSmartInvite": "ok" },
            "values": {
                "recipient": { "email": "guest@example.com", "status": "pending" },
                "create_method": "METHOD:REQUEST",
                "summary": "Board meeting",
                "replies": [],
                "cancel_method": "METHOD:CANCEL",
            },
        }),
        "stderr:\n{}",
        run.stderr
    );
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_npm_cronofy_sdk_drives_the_whole_api_flow() {
    let dir = node_sdk_dir();
    let run = drive(PathBuf::from("node"), vec!["flow.mjs".to_owned()], dir).await;
    assert_flow("npm cronofy", &run, "sdk-node");
}

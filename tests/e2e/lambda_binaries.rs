//! The six Lambda binaries, run as Lambda runs them: a child process polling a Runtime API
//! emulator, fed realistic events (API Gateway HTTP API v2, SQS, SNS, Scheduler input).
//!
//! Each test uses local mode (`CALSYNC_MODE=local`: in-process queue, directory blobs, key file)
//! with a fresh SQLite database in a temporary directory, so no AWS is needed. The binaries must
//! be built first: `cargo build --workspace --bins`. The secrets tests point the AWS SDK at moto.

use std::time::Duration;

use anyhow::Context;
use calsync_core::backup;
use calsync_tests::lambda_emulator::{FunctionProcess, InvocationResult, LambdaEmulator};
use serde_json::{Value, json};
use tempfile::TempDir;

/// Generous: the first invocation includes the cold start (migrations on a new database).
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

const HTTP_API_V2_HEALTH: &str = include_str!("../fixtures/lambda/http_api_v2_health.json");
const SQS_SYNC_EVENT: &str = include_str!("../fixtures/lambda/sqs_sync_event.json");
const SQS_NOTIFY_EVENT: &str = include_str!("../fixtures/lambda/sqs_notify_event.json");
const SNS_SES_RECEIVED: &str = include_str!("../fixtures/lambda/sns_ses_received.json");

/// One function binary running in local mode against its own emulator and data directory.
struct Function {
    emulator: LambdaEmulator,
    process: FunctionProcess,
    data_dir: TempDir,
}

impl Function {
    async fn start(binary: &str) -> anyhow::Result<Self> {
        Self::start_with(binary, &[]).await
    }

    /// As `start`, with more environment variables.
    async fn start_with(binary: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let data_path = data_dir.path().to_str().context("a UTF-8 temporary directory")?.to_owned();
        let database_url = format!("sqlite://{data_path}/calsync.db");
        let emulator = LambdaEmulator::start().await?;
        let mut vars = vec![
            ("CALSYNC_MODE", "local"),
            ("CALSYNC_DATA_DIR", data_path.as_str()),
            ("CALSYNC_DATABASE_URL", database_url.as_str()),
        ];
        vars.extend_from_slice(env);
        let process = emulator.spawn_function(binary, &vars)?;
        Ok(Self { emulator, process, data_dir })
    }

    async fn invoke(&self, payload: Value) -> anyhow::Result<InvocationResult> {
        self.emulator.invoke(payload, INVOKE_TIMEOUT).await.with_context(|| self.output())
    }

    /// Invokes and expects a response (not an error), with the process output on failure.
    async fn respond(&self, payload: Value) -> anyhow::Result<Value> {
        match self.invoke(payload).await? {
            InvocationResult::Response(value) => Ok(value),
            other => anyhow::bail!("expected a response, got {other:?}\n{}", self.output()),
        }
    }

    fn output(&self) -> String {
        format!("function stdout:\n{}\nfunction stderr:\n{}", self.process.stdout(), self.process.stderr())
    }
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("fixtures are valid JSON")
}

const POISON_MESSAGE_ID: &str = "7c1f9a52-3b0e-4d8c-9e6a-2f5b8d4c1e07";

/// The fixture's SQS event with one more record, whose body is not a job at all.
fn with_poison_record(event: &str) -> Value {
    let mut event = fixture(event);
    let mut poison = event["Records"][0].clone();
    poison["messageId"] = json!(POISON_MESSAGE_ID);
    poison["body"] = json!("not json");
    poison["md5OfBody"] = json!("83e12cc6068a0f3c5555be0d55fb01bb");
    event["Records"].as_array_mut().expect("a Records array").push(poison);
    event
}

#[tokio::test]
async fn the_api_binary_answers_an_http_api_v2_health_request_with_200() {
    // Arrange
    let api = Function::start("api").await.unwrap();

    // Act
    let response = api.respond(fixture(HTTP_API_V2_HEALTH)).await.unwrap();

    // Assert
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().expect("a string body")).unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn the_api_binary_logs_json_lines_carrying_the_invocation_request_id() {
    // Arrange: at INFO the API logs nothing for a healthy request, so take tower-http's DEBUG
    // request/response lines, which run inside the runtime's invocation span.
    let api = Function::start_with("api", &[("AWS_LAMBDA_LOG_LEVEL", "debug")]).await.unwrap();
    let request_id = "5c2d6ad3-0b3f-4a67-9d0a-3e1c8f6b2a94";

    // Act
    let result = api.emulator.invoke_with_id(request_id, fixture(HTTP_API_V2_HEALTH), INVOKE_TIMEOUT).await.unwrap();

    // Assert
    assert!(matches!(result, InvocationResult::Response(_)), "{result:?}");
    let carries_request_id = |line: &str| {
        serde_json::from_str::<Value>(line).is_ok_and(|entry| {
            entry["spans"].as_array().is_some_and(|spans| spans.iter().any(|span| span["requestId"] == request_id))
        })
    };
    api.process.wait_for_stdout_line(Duration::from_secs(5), carries_request_id).await.unwrap();
    for line in api.process.stdout().lines() {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
    }
}

#[tokio::test]
async fn the_sync_binary_acknowledges_a_batch_of_sync_jobs() {
    // Arrange
    let sync = Function::start("sync").await.unwrap();

    // Act
    let response = sync.respond(fixture(SQS_SYNC_EVENT)).await.unwrap();

    // Assert
    assert_eq!(response, json!({ "batchItemFailures": [] }));
}

#[tokio::test]
async fn the_sync_binary_acknowledges_a_poison_record_instead_of_retrying_it() {
    // Arrange
    let sync = Function::start("sync").await.unwrap();

    // Act
    let response = sync.respond(with_poison_record(SQS_SYNC_EVENT)).await.unwrap();

    // Assert
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    // A warning in the record's span names its message id; the body itself is never logged.
    let warns_about_the_poison_record = |line: &str| {
        serde_json::from_str::<Value>(line).is_ok_and(|entry| {
            entry["level"] == "WARN"
                && entry["spans"]
                    .as_array()
                    .is_some_and(|spans| spans.iter().any(|span| span["message_id"] == POISON_MESSAGE_ID))
        })
    };
    sync.process.wait_for_stdout_line(Duration::from_secs(5), warns_about_the_poison_record).await.unwrap();
    let stdout = sync.process.stdout();
    assert!(!stdout.contains("not json"), "{stdout}");
}

#[tokio::test]
async fn the_notify_binary_acknowledges_a_batch_of_notify_jobs() {
    // Arrange
    let notify = Function::start("notify").await.unwrap();

    // Act
    let response = notify.respond(fixture(SQS_NOTIFY_EVENT)).await.unwrap();

    // Assert
    assert_eq!(response, json!({ "batchItemFailures": [] }));
}

#[tokio::test]
async fn the_notify_binary_acknowledges_a_poison_record_instead_of_retrying_it() {
    // Arrange
    let notify = Function::start("notify").await.unwrap();

    // Act
    let response = notify.respond(with_poison_record(SQS_NOTIFY_EVENT)).await.unwrap();

    // Assert
    assert_eq!(response, json!({ "batchItemFailures": [] }));
}

/// The SES receipt notification of the fixture, carrying `raw` (Base64, as the SNS action sends it).
fn ses_notification(raw: &str) -> Value {
    use base64::Engine;
    let mut event = fixture(SNS_SES_RECEIVED);
    let message = event["Records"][0]["Sns"]["Message"].as_str().unwrap().to_owned();
    let content = base64::engine::general_purpose::STANDARD.encode(raw);
    event["Records"][0]["Sns"]["Message"] = json!(message.replace("CONTENT", &content));
    event
}

#[tokio::test]
async fn the_inbound_binary_takes_a_smart_invite_reply_that_ses_published_to_sns() {
    use calsync_core::store::{NewApplication, SmartInvite, Store};
    use calsync_core::{config::DatabaseConfig, domain::ApplicationId};

    // Arrange: the function's cold start has created the database; an invite awaits a reply.
    let inbound = Function::start("inbound").await.unwrap();
    assert_eq!(inbound.respond(ses_notification("no calendar here")).await.unwrap(), Value::Null);
    let path = inbound.data_dir.path().join("calsync.db");
    let store = Store::connect(&DatabaseConfig::Sqlite { path }, None).await.unwrap();
    let now = chrono::Utc::now();
    let application = NewApplication {
        id: ApplicationId::generate(),
        integrator_id: None,
        name: "Invites".into(),
        client_id: "inbound-test".into(),
        client_secret_hash: "unused".into(),
        client_secret_sealed: Vec::new(),
        redirect_uris: vec!["https://app.example/callback".into()],
        sync_past_days: 30,
        sync_future_days: 365,
        created_at: now,
    };
    store.create_application(&application).await.unwrap();
    let invite = SmartInvite {
        application_id: application.id.clone(),
        smart_invite_id: "board-42".into(),
        recipient_email: "guest@example.com".into(),
        uid: "board-42@calsync".into(),
        reply_token: "tok123".into(),
        method: "request".into(),
        sequence: 0,
        status: "pending".into(),
        reply_comment: None,
        reply_proposal: None,
        callback_url: None,
        organizer: sqlx::types::Json(json!({})),
        event: sqlx::types::Json(json!({ "summary": "Board meeting" })),
        event_end: now + chrono::Duration::days(7),
        created_at: now,
        updated_at: now,
    };
    store.save_smart_invite(&invite).await.unwrap();
    let reply = "From: Guest <guest@example.com>\r\nTo: <invite+tok123@reply.example.com>\r\n\
                 Content-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n\
                 BEGIN:VEVENT\r\nUID:board-42@calsync\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:guest@example.com\r\n\
                 END:VEVENT\r\nEND:VCALENDAR\r\n";

    // Act
    let response = inbound.respond(ses_notification(reply)).await.unwrap();

    // Assert: taken, and the skipped message was logged without its content.
    assert_eq!(response, Value::Null);
    let stored = store.get_smart_invite(&application.id, "board-42", "guest@example.com").await.unwrap().unwrap();
    assert_eq!(stored.status, "accepted");
    // The log lines reach the test through a reader thread, possibly after the response.
    for message in ["inbound message is not a usable reply", "smart invite reply taken"] {
        let logged = |line: &str| line.contains(message);
        inbound.process.wait_for_stdout_line(Duration::from_secs(5), logged).await.unwrap_or_else(|e| {
            panic!("{message} is logged ({e}):\n{}", inbound.process.stdout());
        });
    }
    let stdout = inbound.process.stdout();
    assert!(!stdout.contains("no calendar here"), "{stdout}");
}

#[tokio::test]
async fn the_retention_binary_runs_on_its_scheduler_input() {
    // Arrange
    let retention = Function::start("retention").await.unwrap();

    // Act
    let report = retention.respond(json!({})).await.unwrap();
    let dry_run_report = retention.respond(json!({ "dry_run": true })).await.unwrap();

    // Assert
    assert!(report["slot"].is_string(), "{report}");
    assert!(dry_run_report["slot"].is_string(), "{dry_run_report}");
}

#[tokio::test]
async fn the_backup_binary_runs_on_its_scheduler_input() {
    // Arrange
    let backup = Function::start("backup").await.unwrap();

    // Act
    let report = backup.respond(json!({})).await.unwrap();
    let dry_run_report = backup.respond(json!({ "dry_run": true })).await.unwrap();

    // Assert
    assert!(report["id"].is_string(), "{report}");
    assert_eq!(report["taken"]["tables"].as_array().map(Vec::len), Some(backup::tables::TABLES.len()), "{report}");
    assert_eq!(dry_run_report["dry_run"], true, "{dry_run_report}");
    // Each table's progress is logged as structured fields.
    let stdout = backup.process.stdout();
    let tables: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| entry["fields"]["message"] == "table done")
        .map(|entry| entry["fields"].clone())
        .collect();
    assert_eq!(tables.len(), backup::tables::TABLES.len(), "{stdout}");
    let job_runs = tables.iter().find(|t| t["table"] == "job_runs").expect("the job_runs table is logged");
    assert_eq!((job_runs["phase"].as_str(), job_runs["rows"].as_u64()), (Some("backup"), Some(1)), "{job_runs}");
    assert!(job_runs["bytes"].as_u64().is_some_and(|b| b > 0) && job_runs["duration_ms"].is_u64(), "{job_runs}");
}

#[tokio::test]
async fn the_scheduled_binaries_report_unknown_input_fields_as_invalid_input() {
    for binary in ["retention", "backup"] {
        // Arrange
        let function = Function::start(binary).await.unwrap();

        // Act
        let result = function.invoke(json!({ "bogus": 1 })).await.unwrap();

        // Assert
        let InvocationResult::Error { error_type, error_message } = result else {
            panic!("{binary}: expected an error, got {result:?}");
        };
        assert_eq!(error_type, "InvalidInput", "{binary}: {error_message}");
        assert!(error_message.contains("bogus"), "{binary}: {error_message}");
    }
}

#[tokio::test]
async fn the_api_binary_without_a_database_in_lambda_mode_exits_naming_the_variable() {
    // Arrange: Lambda mode comes from AWS_LAMBDA_RUNTIME_API alone; nothing else is configured.
    let emulator = LambdaEmulator::start().await.unwrap();
    let mut api = emulator.spawn_function("api", &[]).unwrap();

    // Act
    let status = api.wait_for_exit(Duration::from_secs(30)).await.unwrap();

    // Assert
    assert!(!status.success(), "{status}");
    let (stdout, stderr) = (api.stdout(), api.stderr());
    assert!(stderr.contains("CALSYNC_DATABASE_URL"), "stderr:\n{stderr}");
    // The structured log line for CloudWatch, besides `main`'s error on stderr.
    let logged = stdout.lines().filter_map(|line| serde_json::from_str::<Value>(line).ok()).any(|entry| {
        entry["level"] == "ERROR"
            && entry["fields"]["error.message"].as_str().is_some_and(|m| m.contains("CALSYNC_DATABASE_URL"))
    });
    assert!(logged, "stdout:\n{stdout}");
    // `main` fails before the runtime starts, so nothing posts /init/error: Lambda sees the
    // process exit and reports Runtime.ExitError with this output.
    assert_eq!(emulator.init_error(), None);
}

/// An HTTP API v2 request for `GET path` with a bearer token.
fn admin_request(path: &str, token: &str) -> Value {
    let mut event = fixture(HTTP_API_V2_HEALTH);
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    event
}

#[tokio::test]
async fn the_api_binary_reads_its_admin_token_and_provider_clients_from_secrets_manager_at_start() {
    // Arrange: the secrets on moto, named by ARN in the environment as the template does.
    let sdk = calsync_tests::moto::sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let create = |name: String, value: &'static str| {
        let secrets = secrets.clone();
        async move {
            let created = secrets.create_secret().name(name).secret_string(value).send().await.expect("create secret");
            created.arn().expect("an ARN").to_owned()
        }
    };
    let admin = create(calsync_tests::moto::unique_name("calsync/admin"), "token-from-secrets-manager").await;
    let providers = create(
        calsync_tests::moto::unique_name("calsync/providers"),
        r#"{"google": {"client_id": "g", "client_secret": "s"}}"#,
    )
    .await;
    let moto = calsync_tests::moto::moto_url();
    let aws = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("CALSYNC_ADMIN_TOKEN_SECRET_ID", admin.as_str()),
        ("CALSYNC_PROVIDER_SECRET_ID", providers.as_str()),
    ];
    let api = Function::start_with("api", &aws).await.unwrap();

    // Act
    let allowed = api.respond(admin_request("/admin/v1/applications", "token-from-secrets-manager")).await.unwrap();
    let refused = api.respond(admin_request("/admin/v1/applications", "a-guess")).await.unwrap();

    // Assert
    assert_eq!(allowed["statusCode"], 200, "{allowed}");
    assert_eq!(refused["statusCode"], 401, "{refused}");
    assert!(!api.process.stderr().contains("token-from-secrets-manager"));
    assert!(!api.process.stdout().contains("token-from-secrets-manager"));
}

#[tokio::test]
async fn a_malformed_provider_secret_stops_the_function_at_start_without_quoting_it() {
    // Arrange
    let sdk = calsync_tests::moto::sdk_config().await;
    let name = calsync_tests::moto::unique_name("calsync/providers");
    let created = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&name)
        .secret_string(r#"{"gogle": {"client_id": "g", "client_secret": "hunter2"}}"#)
        .send()
        .await
        .expect("create secret");
    let moto = calsync_tests::moto::moto_url();
    let env = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("CALSYNC_PROVIDER_SECRET_ID", created.arn().unwrap()),
    ];
    let mut api = Function::start_with("api", &env).await.unwrap();

    // Act
    let status = api.process.wait_for_exit(Duration::from_secs(30)).await.unwrap();

    // Assert: the process exits saying why, never quoting the secret.
    assert!(!status.success(), "{status}");
    let output = api.output();
    assert!(output.contains("parsing the provider secret"), "{output}");
    assert!(!output.contains("hunter2"), "{output}");
}

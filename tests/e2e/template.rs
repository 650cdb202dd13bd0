//! The SAM template's invariants, read from `template.yaml` through cfn-lint's own parser (which
//! understands the short-form tags): queues and their dead-letter queues, SQS event sources,
//! schedules, the backup bucket's expiry, log retention, the database and its proxy, secrets kept
//! out of function environments, and every function's environment against what the
//! configuration code reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use calsync_core::config::{Config, Mode, VARIABLES};
use serde_json::{Map, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// The template as JSON, intrinsic functions in their long form (`Ref`, `Fn::GetAtt`, …).
fn template() -> Value {
    let python = std::env::var("CALSYNC_TEST_CFN_PYTHON").unwrap_or_else(|_| {
        panic!(
            "CALSYNC_TEST_CFN_PYTHON is not set: run the suite with infra/test.sh, or `eval \"$(infra/cfn-lint.sh)\"` \
             first (it installs cfn-lint into .venv and lints the template)"
        )
    });
    let script = "import json, sys\nfrom cfnlint.decode import decode\ntemplate, errors = decode(sys.argv[1])\n\
                  if errors:\n    sys.exit('\\n'.join(str(e) for e in errors))\nprint(json.dumps(template))";
    let output = std::process::Command::new(&python)
        .args(["-c", script])
        .arg(repo().join("template.yaml"))
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(output.status.success(), "parsing template.yaml: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the parser prints JSON")
}

fn resources(template: &Value) -> &Map<String, Value> {
    template["Resources"].as_object().expect("Resources")
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(template).iter().filter(|(_, r)| r["Type"] == kind).map(|(n, r)| (n.as_str(), r)).collect()
}

/// The resource a `Ref` or `Fn::GetAtt` names.
fn target(value: &Value) -> Option<&str> {
    value["Ref"].as_str().or_else(|| value["Fn::GetAtt"][0].as_str())
}

/// A function's property, falling back to `Globals.Function`.
fn property<'a>(template: &'a Value, function: &'a Value, name: &str) -> &'a Value {
    match &function["Properties"][name] {
        Value::Null => &template["Globals"]["Function"][name],
        value => value,
    }
}

fn timeout(template: &Value, function: &Value) -> i64 {
    property(template, function, "Timeout").as_i64().expect("a timeout")
}

/// Globals' variables overlaid with the function's own.
fn environment<'a>(template: &'a Value, function: &'a Value) -> BTreeMap<&'a str, &'a Value> {
    let mut env = BTreeMap::new();
    for source in [&template["Globals"]["Function"], &function["Properties"]] {
        if let Some(vars) = source["Environment"]["Variables"].as_object() {
            env.extend(vars.iter().map(|(k, v)| (k.as_str(), v)));
        }
    }
    env
}

fn functions(template: &Value) -> Vec<(&str, &Value)> {
    let functions = of_type(template, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 6, "api, sync, notify, retention, backup and inbound");
    functions
}

#[test]
fn every_queue_has_a_dead_letter_queue_that_keeps_messages_longer() {
    let template = template();
    let queues: BTreeMap<&str, &Value> = of_type(&template, "AWS::SQS::Queue").into_iter().collect();
    // Dead-letter queues of queues, of the scheduler and of asynchronously invoked functions.
    let dead_letter: BTreeSet<&str> = queues
        .values()
        .filter_map(|q| target(&q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]))
        .chain(Some("ScheduleDeadLetterQueue"))
        .chain(
            functions(&template).iter().filter_map(|(_, f)| target(&f["Properties"]["DeadLetterQueue"]["TargetArn"])),
        )
        .collect();
    assert!(queues.len() >= 5);
    for (name, queue) in &queues {
        if dead_letter.contains(name) {
            continue;
        }
        let redrive = &queue["Properties"]["RedrivePolicy"];
        let dlq = target(&redrive["deadLetterTargetArn"]).unwrap_or_else(|| panic!("{name} has no dead-letter queue"));
        let keep = |q: &str| queues[q]["Properties"]["MessageRetentionPeriod"].as_i64().unwrap_or(345_600);
        assert!(keep(dlq) > keep(name), "{dlq} keeps messages longer than {name}");
        assert!(redrive["maxReceiveCount"].as_i64().is_some_and(|n| n >= 3), "{name}");
    }
}

#[test]
fn every_sqs_event_source_reports_partial_batches_caps_concurrency_and_fits_the_visibility_timeout() {
    let template = template();
    let mut sources = 0;
    for (name, function) in functions(&template) {
        let Some(events) = function["Properties"]["Events"].as_object() else { continue };
        for event in events.values().filter(|e| e["Type"] == "SQS") {
            sources += 1;
            let properties = &event["Properties"];
            assert_eq!(properties["FunctionResponseTypes"], serde_json::json!(["ReportBatchItemFailures"]), "{name}");
            let concurrency = properties["ScalingConfig"]["MaximumConcurrency"].as_i64();
            assert!(concurrency.is_some_and(|n| (2..=20).contains(&n)), "{name} caps its concurrency: {concurrency:?}");
            let queue = target(&properties["Queue"]).expect("a queue reference");
            let visibility = resources(&template)[queue]["Properties"]["VisibilityTimeout"].as_i64().expect("set");
            assert!(visibility >= 6 * timeout(&template, function), "{queue}: {visibility} s for {name}");
        }
    }
    assert_eq!(sources, 2, "the sync and notify workers");
}

#[test]
fn retention_runs_hourly_and_backup_and_window_advance_daily_with_retries_and_a_dead_letter_queue() {
    let template = template();
    let mut schedules: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for (name, function) in functions(&template) {
        for (event, e) in function["Properties"]["Events"].as_object().into_iter().flatten() {
            if e["Type"] == "ScheduleV2" {
                let p = &e["Properties"];
                let key = format!("{name}.{event}");
                schedules.insert(key, (p["ScheduleExpression"].as_str().unwrap().to_owned(), p.clone()));
            }
        }
    }
    for (name, schedule) in of_type(&template, "AWS::Scheduler::Schedule") {
        let p = &schedule["Properties"];
        let mut merged = p["Target"].clone();
        merged["ScheduleExpression"] = p["ScheduleExpression"].clone();
        schedules.insert(name.to_owned(), (p["ScheduleExpression"].as_str().unwrap().to_owned(), merged));
    }
    let expression = |key: &str| schedules.get(key).map(|(e, _)| e.as_str());
    assert_eq!(expression("RetentionFunction.Hourly"), Some("cron(5 * * * ? *)"));
    assert_eq!(expression("BackupFunction.Daily"), Some("cron(30 3 * * ? *)"));
    assert_eq!(expression("WindowAdvanceSchedule"), Some("cron(15 0 * * ? *)"));
    for (name, (_, p)) in &schedules {
        assert!(p["RetryPolicy"]["MaximumRetryAttempts"].as_i64().is_some(), "{name} retries");
        assert_eq!(target(&p["DeadLetterConfig"]["Arn"]), Some("ScheduleDeadLetterQueue"), "{name}");
    }
}

#[test]
fn backups_expire_within_7_days_and_the_erasure_ledger_never_does() {
    let template = template();
    let bucket = &resources(&template)["BackupBucket"]["Properties"];
    let rules = bucket["LifecycleConfiguration"]["Rules"].as_array().expect("lifecycle rules");
    let expiring: Vec<&Value> = rules.iter().filter(|r| r["ExpirationInDays"].is_number()).collect();
    assert_eq!(expiring.len(), 1);
    let rule = expiring[0];
    assert!(rule["ExpirationInDays"].as_i64().unwrap() <= 7);
    assert_eq!(rule["Prefix"], "backups/", "expiry is scoped to backups, so ledger/ is kept");
    assert_eq!(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"], 1);
    let encryption =
        &bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
    assert_eq!(encryption["SSEAlgorithm"], "aws:kms");
    assert_eq!(target(&encryption["KMSMasterKeyID"]), Some("DataKey"));
    let block = &bucket["PublicAccessBlockConfiguration"];
    for setting in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[setting], true, "{setting}");
    }
    let policy = &resources(&template)["BackupBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"];
    let sids: Vec<&str> = policy.as_array().unwrap().iter().filter_map(|s| s["Sid"].as_str()).collect();
    assert_eq!(sids, ["DenyInsecureTransport", "DenyLedgerDeletes"]);
}

#[test]
fn every_function_logs_to_a_group_kept_90_days() {
    let template = template();
    for (name, function) in functions(&template) {
        let group = target(&function["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{name} names its log group"));
        assert_eq!(resources(&template)[group]["Properties"]["RetentionInDays"], 90, "{group}");
    }
    assert_eq!(template["Globals"]["Function"]["LoggingConfig"]["LogFormat"], "JSON");
}

#[test]
fn the_database_is_encrypted_backed_up_7_days_and_reached_only_through_an_iam_and_tls_proxy() {
    let template = template();
    let db = &resources(&template)["Database"];
    let p = &db["Properties"];
    assert_eq!(p["StorageEncrypted"], true);
    assert_eq!(target(&p["KmsKeyId"]), Some("DataKey"), "a customer-managed key");
    assert_eq!(p["BackupRetentionPeriod"], 7);
    assert_eq!(p["DeleteAutomatedBackups"], true);
    assert_eq!(p["DeletionProtection"], true);
    assert_eq!(p["PubliclyAccessible"], false);
    assert_eq!(db["DeletionPolicy"], "Delete", "no final snapshot outliving the 7 days");

    let proxy = &resources(&template)["DatabaseProxy"]["Properties"];
    assert_eq!(proxy["RequireTLS"], true);
    assert_eq!(proxy["EngineFamily"], "POSTGRESQL");
    for auth in proxy["Auth"].as_array().expect("auth") {
        assert_eq!(auth["IAMAuth"], "REQUIRED");
    }
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(target(&env["CALSYNC_DB_HOST"]), Some("DatabaseProxy"), "functions connect through the proxy");
    assert!(env["CALSYNC_DATABASE_URL"].is_null(), "no password URL");
}

#[test]
fn no_function_environment_holds_a_secret_value() {
    let template = template();
    let secrets: BTreeSet<&str> =
        of_type(&template, "AWS::SecretsManager::Secret").into_iter().map(|(name, _)| name).collect();
    for (name, function) in functions(&template) {
        let env = environment(&template, function);
        let policies = serde_json::to_string(&function["Properties"]["Policies"]).unwrap();
        for (var, value) in &env {
            let text = value.to_string();
            assert!(!text.contains("resolve:secretsmanager"), "{name}: {var} resolves a secret into the environment");
            let sensitive = ["SECRET", "TOKEN", "PASSWORD", "KEY"].iter().any(|w| var.contains(w));
            if sensitive && *var != "CALSYNC_BACKUP_KMS_KEY_ID" {
                assert!(var.ends_with("_SECRET_ID"), "{name}: {var} must name a secret, not hold one");
                let secret = target(value).unwrap_or_else(|| panic!("{name}: {var} refers to a secret resource"));
                assert!(secrets.contains(secret), "{name}: {var} -> {secret}");
                assert!(policies.contains(&format!("{{\"Ref\":\"{secret}\"}}")), "{name} may read {secret}");
            }
        }
    }
}

#[test]
fn every_function_environment_is_a_valid_lambda_configuration_of_known_variables() {
    let template = template();
    for (name, function) in functions(&template) {
        let env = environment(&template, function);
        for var in env.keys() {
            assert!(VARIABLES.contains(var), "{name}: the configuration never reads {var}");
        }
        // Intrinsic values become placeholders of the right shape.
        let lookup = |var: &str| -> Option<String> {
            let value = env.get(var)?;
            Some(match var {
                "CALSYNC_PUBLIC_URL" => "https://api.example.com".to_owned(),
                "CALSYNC_SMART_INVITE_REPLY_DOMAIN" => "reply.example.com".to_owned(),
                _ => value.as_str().map(str::to_owned).unwrap_or_else(|| format!("placeholder-{var}")),
            })
        };
        let config = Config::from_lookup(lookup).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.mode, Mode::Lambda, "{name}");
        assert!(matches!(config.database, calsync_core::config::DatabaseConfig::RdsIam { .. }), "{name}");
        // Each function may read only the secrets it needs.
        let secrets = (config.admin_token_secret_id.is_some(), config.provider_secret_id.is_some());
        let expected = match name {
            "ApiFunction" => (true, true),
            "SyncFunction" => (false, true),
            _ => (false, false),
        };
        assert_eq!(secrets, expected, "{name}: (admin token, provider clients)");
    }
}

#[test]
fn every_function_builds_with_cargo_lambda_from_a_workspace_member() {
    let template = template();
    let workspace = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    for (name, function) in functions(&template) {
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        let code = function["Properties"]["CodeUri"].as_str().expect("CodeUri");
        assert!(workspace.contains(&format!("\"{code}\"")), "{name}: {code} is a workspace member");
        let manifest = std::fs::read_to_string(repo().join(code).join("Cargo.toml")).expect("a Cargo.toml");
        assert!(manifest.contains("[package]"), "{code}");
        assert!(repo().join(code).join("src/main.rs").is_file(), "{code} has a binary");
    }
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], serde_json::json!(["arm64"]));
    assert_eq!(globals["Handler"], "bootstrap");
}

#[test]
fn the_http_api_is_regional_and_sends_every_path_to_the_api_function() {
    let template = template();
    let api = &resources(&template)["HttpApi"]["Properties"];
    assert_eq!(api["ProtocolType"], "HTTP");
    let route = &resources(&template)["HttpApiRoute"]["Properties"];
    assert_eq!(route["RouteKey"], "$default");
    let integration = &resources(&template)["HttpApiIntegration"]["Properties"];
    assert_eq!(target(&integration["IntegrationUri"]), Some("ApiFunction"));
    assert_eq!(integration["PayloadFormatVersion"], "2.0");
    let domain = &resources(&template)["ApiDomain"]["Properties"]["DomainNameConfigurations"][0];
    assert_eq!(domain["EndpointType"], "REGIONAL");
    assert!(of_type(&template, "AWS::CloudFront::Distribution").is_empty());
}

#[test]
fn alarms_watch_dead_letter_queues_errors_throttles_and_the_database() {
    let template = template();
    let alarms = of_type(&template, "AWS::CloudWatch::Alarm");
    let watched: BTreeSet<String> = alarms
        .iter()
        .map(|(_, a)| {
            let p = &a["Properties"];
            let dimension = p["Dimensions"][0]["Value"].clone();
            format!("{}:{}", p["MetricName"].as_str().unwrap(), target(&dimension).unwrap_or("all"))
        })
        .collect();
    for expected in [
        "ApproximateNumberOfMessagesVisible:SyncDeadLetterQueue",
        "ApproximateNumberOfMessagesVisible:NotifyDeadLetterQueue",
        "ApproximateNumberOfMessagesVisible:ScheduleDeadLetterQueue",
        "Errors:ApiFunction",
        "Errors:SyncFunction",
        "Errors:NotifyFunction",
        "Errors:RetentionFunction",
        "Errors:BackupFunction",
        "Errors:InboundFunction",
        "ApproximateNumberOfMessagesVisible:InboundDeadLetterQueue",
        "Throttles:all",
        "CPUUtilization:Database",
        "FreeStorageSpace:Database",
    ] {
        assert!(watched.contains(expected), "{expected} in {watched:?}");
    }
    for (name, alarm) in alarms {
        assert_eq!(target(&alarm["Properties"]["AlarmActions"][0]), Some("AlarmTopic"), "{name}");
    }
}

#[test]
fn with_a_reply_domain_ses_hands_smart_invite_replies_to_the_inbound_function_through_an_encrypted_topic() {
    let template = template();
    let all = resources(&template);
    // Everything of it exists only with a reply domain.
    for name in [
        "InboundMailTopic",
        "InboundMailTopicPolicy",
        "InboundMailRuleSet",
        "InboundMailRule",
        "InboundDeadLetterQueue",
        "InboundFunction",
        "InboundLogGroup",
        "InboundErrorsAlarm",
        "InboundDeadLetterAlarm",
    ] {
        assert_eq!(all[name]["Condition"], "HasReplyDomain", "{name}");
    }
    // SES receives mail for the domain and publishes it whole (Base64) to the topic.
    let rule = &all["InboundMailRule"]["Properties"]["Rule"];
    assert_eq!(rule["Recipients"][0]["Ref"], "SmartInviteReplyDomain");
    assert_eq!(rule["ScanEnabled"], true);
    let action = &rule["Actions"][0]["SNSAction"];
    assert_eq!(target(&action["TopicArn"]), Some("InboundMailTopic"));
    assert_eq!(action["Encoding"], "Base64");
    // The topic is encrypted with the data key, which SES may use; only SES may publish.
    assert_eq!(target(&all["InboundMailTopic"]["Properties"]["KmsMasterKeyId"]), Some("DataKey"));
    let key_policy = serde_json::to_string(&all["DataKey"]["Properties"]["KeyPolicy"]).unwrap();
    assert!(key_policy.contains("ses.amazonaws.com") && key_policy.contains("HasReplyDomain"), "{key_policy}");
    let publish = &all["InboundMailTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(publish["Principal"]["Service"], "ses.amazonaws.com");
    assert!(publish["Condition"]["StringEquals"]["AWS:SourceAccount"].is_object());
    // The function takes the topic, retries twice, then parks the event in its dead-letter queue.
    let function = &all["InboundFunction"]["Properties"];
    assert_eq!(function["CodeUri"], "functions/inbound");
    assert_eq!(function["Events"]["Mail"]["Type"], "SNS");
    assert_eq!(target(&function["Events"]["Mail"]["Properties"]["Topic"]), Some("InboundMailTopic"));
    assert_eq!(function["EventInvokeConfig"]["MaximumRetryAttempts"], 2);
    assert_eq!(target(&function["DeadLetterQueue"]["TargetArn"]), Some("InboundDeadLetterQueue"));
    // Every function writes reply addresses with the domain (the invitation in a callback too).
    let env = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert!(env["CALSYNC_SMART_INVITE_REPLY_DOMAIN"]["Fn::If"][0] == "HasReplyDomain", "{env}");
}

//! The `calsync` operator commands as an operator runs them: the built binary in a fresh data
//! directory (SQLite, key file, blobs), its output read back.

use std::path::Path;
use std::process::Command;

use calsync_tests::lambda_emulator::function_binary;
use serde_json::Value;

/// Runs `calsync --data-dir <dir> <args>`; returns stdout, failing with stderr when it fails.
fn calsync(dir: &Path, args: &[&str]) -> String {
    let binary = function_binary("calsync").expect("the calsync binary (cargo build --workspace --bins)");
    let output = Command::new(binary)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("CALSYNC_DATABASE_URL")
        .env_remove("CALSYNC_BACKUP_BUCKET")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run calsync");
    assert!(
        output.status.success(),
        "calsync {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn backup_run_list_and_restore_work_from_the_command_line_and_say_what_they_did() {
    let dir = tempfile::tempdir().unwrap();
    calsync(dir.path(), &["apps", "create", "--name", "CLI app", "--redirect-uri", "https://app.example/cb"]);

    // Taken, then not again the same day.
    let taken: Value = serde_json::from_str(&calsync(dir.path(), &["backup", "run", "--json"])).unwrap();
    let id = taken["id"].as_str().unwrap().to_owned();
    let manifest = &taken["taken"];
    assert!(manifest["tables"].as_array().is_some_and(|t| t.len() > 10), "{taken}");
    let again = calsync(dir.path(), &["backup", "run"]);
    assert!(again.starts_with(&format!("backup {id} already exists; nothing taken")), "{again}");

    // Listed with its expiry, seven days after the day it was taken.
    let listed = calsync(dir.path(), &["backup", "list"]);
    let day = chrono::NaiveDate::parse_from_str(&id, "%Y-%m-%d").unwrap();
    let expiry = (day + chrono::Duration::days(7)).format("%Y-%m-%d 00:00Z").to_string();
    assert!(listed.starts_with(&id) && listed.contains(&format!("expires {expiry}")), "{listed}");
    assert!(listed.contains("from sqlite"), "{listed}");

    // Restored into a new SQLite file, with a summary.
    let target = dir.path().join("restored.db");
    let url = format!("sqlite://{}", target.display());
    let summary = calsync(dir.path(), &["backup", "restore", &id, "--into", &url]);
    let rows = manifest["tables"].as_array().unwrap().iter().map(|t| t["rows"].as_u64().unwrap()).sum::<u64>();
    assert!(
        summary.contains(&format!(
            "restored into sqlite: {} tables, {rows} rows",
            manifest["tables"].as_array().unwrap().len()
        )),
        "{summary}"
    );
    assert!(summary.contains("erasure ledger replayed: 0 accounts erased again"), "{summary}");
    assert!(summary.trim_end().ends_with("the database is ready to use"), "{summary}");
    assert!(target.is_file());

    // A second restore into the same database is refused: it is no longer empty.
    let binary = function_binary("calsync").unwrap();
    let refused = Command::new(binary)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["backup", "restore", &id, "--into", &url])
        .env_remove("CALSYNC_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("restore into an empty database"));
}

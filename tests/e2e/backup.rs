//! Backups end to end: the restore drill (PostgreSQL with moto S3, SQLite with a directory):
//! seed, back up, change data, forget a user, restore into a fresh database, and every table
//! matches the backup except that the forgotten user is gone and their request is on record.
//! Also: restores across backends give byte-identical backups, damaged or unfinished backups
//! leave the target untouched, pruning keeps 7 days by the injected clock, a second run on the
//! same day takes nothing, and the backup tables match the live schema of both backends.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::Arc;

use calsync_core::adapters::{BlobStore, blobs::S3BlobStore};
use calsync_core::backup::{
    self, BackupInput, LogProgress, Manifest, RestoreError,
    ledger::LEDGER_PREFIX,
    manifest::{ManifestError, manifest_key},
    tables::{Kind, TABLES},
};
use calsync_core::config::BlobConfig;
use calsync_core::domain::AccountId;
use calsync_core::gdpr::{self, ForgetError, Subject};
use calsync_core::store::{CATALOGUE, Holds, Store};
use calsync_tests::api::TestApi;
use calsync_tests::db::{Backend, TestDb};
use calsync_tests::moto;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

fn far() -> DateTime<Utc> {
    DateTime::<Utc>::MAX_UTC
}

/// Two end-users of one application, Ada with data in every table that can hold any; returns them.
async fn seed(api: &TestApi) -> (AccountId, AccountId) {
    let ada = api.end_user_everywhere().await;
    let bob = api.authorized(&ada.application, "read_events create_event").await;
    let event =
        json!({"event_id": "b1", "summary": "Standup", "start": "2026-05-05T09:00:00Z", "end": "2026-05-05T09:15:00Z"});
    let path = format!("/v1/calendars/{}/events", bob.calendar.id);
    assert_eq!(api.post(&path, Some(&bob.access_token), event).await.0, 202);
    (ada.account, bob.account.id)
}

/// Every row of every table of a backup, decoded, by table.
async fn rows_of(blobs: &dyn BlobStore, manifest: &Manifest) -> BTreeMap<String, Vec<Vec<Value>>> {
    let mut all = BTreeMap::new();
    for table in &manifest.tables {
        let body = blobs.get(&table.object).await.unwrap().expect("the object exists");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut text).expect("gzip");
        let rows: Vec<Vec<Value>> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON array")).collect();
        assert_eq!(rows.len() as u64, table.rows, "{}", table.name);
        all.insert(table.name.clone(), rows);
    }
    all
}

/// The index of `column` in `table`'s rows.
fn column(table: &str, column: &str) -> usize {
    let spec = TABLES.iter().find(|t| t.name == table).expect("a known table");
    spec.columns.iter().position(|c| c.name == column).expect("a known column")
}

/// A fresh directory blob store.
fn directory_blobs() -> (tempfile::TempDir, Arc<dyn BlobStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let blobs = calsync_core::state::blob_store(&BlobConfig::Directory { path: dir.path().join("blobs") }, None);
    (dir, blobs.expect("a directory store"))
}

/// S3 on moto, with SSE-KMS requested as in production.
async fn s3_blobs() -> (Arc<dyn BlobStore>, aws_sdk_s3::Client, String) {
    let sdk = moto::sdk_config().await;
    let bucket = moto::create_bucket(&sdk).await;
    let key = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000001".to_owned();
    (Arc::new(S3BlobStore::new(&sdk, bucket.clone(), Some(key))), moto::s3_client(&sdk), bucket)
}

/// Seed, back up, change data, forget a user, restore into a fresh database: every table holds
/// the backup's rows but the forgotten user's, and the request the backup predates is on record.
async fn restore_drill(backend: Backend, blobs: Arc<dyn BlobStore>) {
    let mut api = TestApi::new(backend).await;
    api.state.blobs = blobs.clone();
    let (ada, bob) = seed(&api).await;

    let report = backup::run(&api.state, &BackupInput::default(), &LogProgress::default(), far()).await.unwrap();
    let manifest = report.taken.expect("today's backup was taken");
    assert_eq!(manifest.id, "2026-05-01");
    assert_eq!(manifest.schema_version, api.state.store.schema_version());
    assert_eq!(
        manifest.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        TABLES.iter().map(|t| t.name).collect::<Vec<_>>()
    );
    let backed_up = rows_of(blobs.as_ref(), &manifest).await;
    for table in ["events", "credentials", "channels", "oauth_codes", "request_logs", "applications"] {
        assert!(!backed_up[table].is_empty(), "{table} has rows in the backup");
    }

    // After the backup: Bob's events are gone, a new application appears, Ada is forgotten.
    api.clock.advance(Duration::hours(2));
    execute(&api.state.store, &format!("DELETE FROM events WHERE account_id = '{}'", bob.as_str())).await;
    api.application("Created after the backup").await;
    let forgotten = gdpr::forget(&api.state, &Subject::Account(ada.clone()), "dpo@integrator.example").await.unwrap();
    let request = forgotten[0].id.as_str().to_owned();

    let target = TestDb::empty(backend).await;
    let restored =
        backup::restore(blobs.as_ref(), &manifest.id, &target.url, &LogProgress::default(), api.now()).await.unwrap();
    assert_eq!((restored.erased_accounts, restored.requests_recreated), (1, 1));
    assert_eq!(restored.rows, manifest.rows());

    // The restored database, read back through a second backup.
    let (_scratch_dir, scratch) = directory_blobs();
    let again =
        backup::take(&target.store, scratch.as_ref(), "2026-05-02", &LogProgress::default(), api.now()).await.unwrap();
    let now_rows = rows_of(scratch.as_ref(), &again).await;

    let mut removed = 0u64;
    for table in TABLES {
        let expected: Vec<Vec<Value>> = match CATALOGUE.iter().find(|(name, _)| *name == table.name) {
            Some((_, Holds::AccountData(col))) => {
                let i = column(table.name, col);
                let kept: Vec<Vec<Value>> =
                    backed_up[table.name].iter().filter(|r| r[i] != json!(ada.as_str())).cloned().collect();
                removed += (backed_up[table.name].len() - kept.len()) as u64;
                kept
            }
            _ => backed_up[table.name].clone(),
        };
        let actual = &now_rows[table.name];
        match table.name {
            // The ledger gains the forgotten request's entities; the report its re-created row.
            "erasure_ledger" => {
                let (old, new) = actual.split_at(expected.len());
                assert_eq!(old, &expected[..]);
                let request_col = column("erasure_ledger", "request_id");
                assert!(new.iter().all(|r| r[request_col] == json!(request)), "{new:?}");
                let kinds: Vec<&str> =
                    new.iter().map(|r| r[column("erasure_ledger", "entity_kind")].as_str().unwrap()).collect();
                assert_eq!(kinds, ["account", "profile", "calendar"]);
            }
            "gdpr_requests" => {
                let (re_created, old): (Vec<_>, Vec<_>) =
                    actual.iter().cloned().partition(|r| r[column("gdpr_requests", "id")] == json!(request));
                assert_eq!(old, expected);
                assert_eq!(re_created.len(), 1);
                assert_eq!(re_created[0][column("gdpr_requests", "account_id")], json!(ada.as_str()));
                let notes = re_created[0][column("gdpr_requests", "notes")].as_str().unwrap();
                assert!(
                    notes.contains("re-created from the erasure ledger when backup 2026-05-01 was restored"),
                    "{notes}"
                );
            }
            name => {
                assert_eq!(actual, &expected, "{name}");
                // Untouched tables come back byte for byte.
                if actual == &backed_up[name] {
                    let before = manifest.tables.iter().find(|t| t.name == name).unwrap();
                    let after = again.tables.iter().find(|t| t.name == name).unwrap();
                    assert_eq!((&after.sha256, after.rows), (&before.sha256, before.rows), "{name}");
                }
            }
        }
    }
    assert!(removed > 10, "Ada had rows in many tables: {removed}");
    assert_eq!(restored.rows_erased, removed);
    // Bob's events deleted after the backup are back, as the backup had them.
    let bob_col = column("events", "account_id");
    assert_eq!(now_rows["events"].iter().filter(|r| r[bob_col] == json!(bob.as_str())).count(), 1);
    assert!(target.store.get_account(&ada).await.unwrap().is_none());

    target.cleanup().await;
    api.cleanup().await;
}

#[tokio::test]
async fn the_restore_drill_on_postgres_with_s3_brings_back_everything_but_the_forgotten_user() {
    let (blobs, client, bucket) = s3_blobs().await;
    restore_drill(Backend::Postgres, blobs).await;

    // Every object was written with SSE-KMS, the table objects as multipart-capable streams.
    let listed = client.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert!(listed.contents().len() > TABLES.len());
    for object in listed.contents() {
        let key = object.key().unwrap();
        let head = client.head_object().bucket(&bucket).key(key).send().await.unwrap();
        assert_eq!(head.server_side_encryption(), Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms), "{key}");
    }
}

#[tokio::test]
async fn the_restore_drill_on_sqlite_with_a_directory_brings_back_everything_but_the_forgotten_user() {
    let (_dir, blobs) = directory_blobs();
    restore_drill(Backend::Sqlite, blobs).await;
}

/// Backs up `from`, restores into a fresh `into`, backs that up: the two backups are identical.
async fn across(from: Backend, into: Backend) {
    let api = TestApi::new(from).await;
    seed(&api).await;
    let (_dir, blobs) = directory_blobs();
    let first =
        backup::take(&api.state.store, blobs.as_ref(), "2026-05-01", &LogProgress::default(), api.now()).await.unwrap();

    let target = TestDb::empty(into).await;
    let report =
        backup::restore(blobs.as_ref(), "2026-05-01", &target.url, &LogProgress::default(), api.now()).await.unwrap();
    assert_eq!(
        (report.from.as_str(), report.into.as_str()),
        (api.state.store.backend_name(), target.store.backend_name())
    );
    let second =
        backup::take(&target.store, blobs.as_ref(), "2026-05-02", &LogProgress::default(), api.now()).await.unwrap();

    let digest = |m: &Manifest| m.tables.iter().map(|t| (t.name.clone(), t.rows, t.sha256.clone())).collect::<Vec<_>>();
    assert_eq!(digest(&second), digest(&first));
    assert!(first.rows() > 20);
    target.cleanup().await;
    api.cleanup().await;
}

#[tokio::test]
async fn a_postgres_backup_restores_into_sqlite_and_backs_up_byte_for_byte_the_same() {
    across(Backend::Postgres, Backend::Sqlite).await;
}

#[tokio::test]
async fn a_sqlite_backup_restores_into_postgres_and_backs_up_byte_for_byte_the_same() {
    across(Backend::Sqlite, Backend::Postgres).await;
}

/// Whether the target database has any table at all.
async fn has_tables(store: &Store) -> bool {
    !store.table_names().await.unwrap().is_empty()
}

async fn damaged_backups_leave_the_target_untouched(backend: Backend) {
    let api = TestApi::new(backend).await;
    seed(&api).await;
    let (_dir, blobs) = directory_blobs();
    let manifest =
        backup::take(&api.state.store, blobs.as_ref(), "2026-05-01", &LogProgress::default(), api.now()).await.unwrap();
    let events = manifest.tables.iter().find(|t| t.name == "events").unwrap().object.clone();
    let original = blobs.get(&events).await.unwrap().unwrap();
    let target = TestDb::empty(backend).await;
    let restore = |id: &'static str| {
        let (blobs, url, now) = (blobs.clone(), target.url.clone(), api.now());
        async move { backup::restore(blobs.as_ref(), id, &url, &LogProgress::default(), now).await }
    };

    // One flipped byte.
    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    blobs.put(&events, flipped).await.unwrap();
    let error = restore("2026-05-01").await.unwrap_err();
    assert!(matches!(&error, RestoreError::Damaged { object, .. } if *object == events), "{error:?}");
    assert_eq!(
        error.to_string(),
        "backup object `backups/2026-05-01/events.jsonl.gz` is damaged (its SHA-256 differs from the manifest's); nothing was restored"
    );
    assert!(!has_tables(&target.store).await, "the target was not touched");

    // Cut short.
    blobs.put(&events, original[..original.len() - 10].to_vec()).await.unwrap();
    let error = restore("2026-05-01").await.unwrap_err();
    assert!(error.to_string().contains("bytes, the manifest says"), "{error}");

    // Missing.
    blobs.delete(&events).await.unwrap();
    let error = restore("2026-05-01").await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "backup object `backups/2026-05-01/events.jsonl.gz` is missing; nothing was restored"
    );

    // No manifest: an unfinished backup, or none at all.
    blobs.put(&events, original).await.unwrap();
    blobs.delete(&manifest_key("2026-05-01")).await.unwrap();
    let error = restore("2026-05-01").await.unwrap_err();
    assert!(matches!(error, RestoreError::Manifest(ManifestError::Missing(_))));
    assert_eq!(error.to_string(), "backup 2026-05-01 has no manifest: it does not exist, or it was never finished");
    let error = restore("yesterday").await.unwrap_err();
    assert_eq!(error.to_string(), "backup ids are days such as 2026-05-01, not `yesterday`");
    assert!(!has_tables(&target.store).await, "the target was not touched");

    // A target that already holds data is refused, and keeps its data.
    blobs.put(&manifest_key("2026-05-01"), serde_json::to_vec(&manifest).unwrap()).await.unwrap();
    let busy = api.state.store.clone();
    let error = backup::restore(blobs.as_ref(), "2026-05-01", &api_url(&api), &LogProgress::default(), api.now())
        .await
        .unwrap_err();
    assert!(matches!(error, RestoreError::NotEmpty { .. }), "{error:?}");
    assert!(error.to_string().ends_with("restore into an empty database"), "{error}");
    assert!(!busy.list_gdpr_requests().await.unwrap().iter().any(|_| true));
    target.cleanup().await;
    api.cleanup().await;
}

/// The URL of the API's own database.
fn api_url(api: &TestApi) -> String {
    api.db_url().to_owned()
}

/// Runs a statement the store has no operation for (changing data behind the application's back).
async fn execute(store: &Store, sql: &str) {
    match store {
        Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Store::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .expect(sql);
}

/// A table's columns in order, with PostgreSQL's type name (SQLite's declared type otherwise).
async fn columns(store: &Store, table: &str) -> Vec<(String, String)> {
    match store {
        Store::Postgres(pool) => sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(pool)
        .await
        .unwrap(),
        Store::Sqlite(pool) => sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
            .bind(table)
            .fetch_all(pool)
            .await
            .unwrap(),
    }
}

#[tokio::test]
async fn damaged_or_unfinished_backups_fail_with_a_clear_error_and_leave_a_postgres_target_untouched() {
    damaged_backups_leave_the_target_untouched(Backend::Postgres).await;
}

#[tokio::test]
async fn damaged_or_unfinished_backups_fail_with_a_clear_error_and_leave_a_sqlite_target_untouched() {
    damaged_backups_leave_the_target_untouched(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_restore_into_a_sqlite_file_that_does_not_exist_yet_creates_nothing_when_the_backup_is_damaged() {
    let api = TestApi::new(Backend::Sqlite).await;
    let (dir, blobs) = directory_blobs();
    let manifest =
        backup::take(&api.state.store, blobs.as_ref(), "2026-05-01", &LogProgress::default(), api.now()).await.unwrap();
    blobs.put(&manifest.tables[0].object, b"not gzip".to_vec()).await.unwrap();
    let path = dir.path().join("restored.db");

    let url = format!("sqlite://{}", path.display());
    let error = backup::restore(blobs.as_ref(), "2026-05-01", &url, &LogProgress::default(), api.now()).await;

    assert!(matches!(error, Err(RestoreError::Damaged { .. })), "{error:?}");
    assert!(!path.exists());
    api.cleanup().await;
}

/// The keys under `backups/` by backup id.
async fn backup_ids(blobs: &dyn BlobStore) -> Vec<String> {
    backup::list(blobs).await.unwrap().into_iter().map(|l| l.id).collect()
}

#[tokio::test]
async fn pruning_by_the_injected_clock_deletes_the_8_day_old_backup_and_keeps_the_6_day_old_one() {
    let api = TestApi::new(Backend::Sqlite).await;
    let blobs = api.state.blobs.clone();
    let start = api.now();
    for days_ago in [8, 7, 6] {
        api.clock.set(start - Duration::days(days_ago));
        let report = backup::run(&api.state, &BackupInput::default(), &LogProgress::default(), far()).await.unwrap();
        assert!(report.taken.is_some());
    }
    // Yesterday's run died before its manifest.
    blobs.put("backups/2026-04-30/events.jsonl.gz", b"partial".to_vec()).await.unwrap();
    assert_eq!(backup_ids(blobs.as_ref()).await, ["2026-04-23", "2026-04-24", "2026-04-25", "2026-04-30"]);

    api.clock.set(start);
    let dry = backup::run(&api.state, &BackupInput { dry_run: true }, &LogProgress::default(), far()).await.unwrap();
    assert_eq!(
        (dry.pruned.expired.clone(), dry.taken.is_none()),
        (vec!["2026-04-23".to_owned(), "2026-04-24".to_owned()], true)
    );
    assert_eq!(backup_ids(blobs.as_ref()).await.len(), 4, "a dry run deletes nothing");

    let report = backup::run(&api.state, &BackupInput::default(), &LogProgress::default(), far()).await.unwrap();

    // 8 and 7 days old: gone (a backup of day D goes on day D + 7); 6 days old: kept.
    assert_eq!(report.pruned.expired, ["2026-04-23", "2026-04-24"]);
    assert_eq!(report.pruned.unfinished, ["2026-04-30"]);
    let listings = backup::list(blobs.as_ref()).await.unwrap();
    let summary: Vec<(String, bool, String)> =
        listings.iter().map(|l| (l.id.clone(), l.manifest.is_some(), l.expires_at.to_rfc3339())).collect();
    assert_eq!(
        summary,
        [
            ("2026-04-25".to_owned(), true, "2026-05-02T00:00:00+00:00".to_owned()),
            ("2026-05-01".to_owned(), true, "2026-05-08T00:00:00+00:00".to_owned()),
        ]
    );
    api.cleanup().await;
}

#[tokio::test]
async fn a_second_run_on_the_same_day_takes_no_second_backup() {
    let api = TestApi::new(Backend::Postgres).await;
    seed(&api).await;
    let blobs = api.state.blobs.clone();
    let first = backup::run(&api.state, &BackupInput::default(), &LogProgress::default(), far()).await.unwrap();
    let objects = blobs.list("backups/").await.unwrap();

    api.clock.advance(Duration::hours(13));
    let second = backup::run(&api.state, &BackupInput::default(), &LogProgress::default(), far()).await.unwrap();

    assert!(first.taken.is_some() && !first.already_done);
    assert!(second.taken.is_none() && second.already_done);
    assert_eq!(blobs.list("backups/").await.unwrap(), objects, "not one object rewritten");
    // Nor when the job record is gone (a restored database, a second deployment on the bucket).
    execute(&api.state.store, "DELETE FROM job_runs").await;
    let third = backup::run(&api.state, &BackupInput::default(), &LogProgress::default(), far()).await.unwrap();
    assert!(third.taken.is_none() && third.already_done);
    assert_eq!(blobs.list("backups/").await.unwrap(), objects);
    api.cleanup().await;
}

#[tokio::test]
async fn forgetting_a_user_writes_the_ledger_outside_the_database_first_and_erases_nothing_if_it_cannot() {
    let api = TestApi::new(Backend::Sqlite).await;
    let (ada, bob) = seed(&api).await;
    let BlobConfig::Directory { path } = &api.state.config.blobs else { panic!("tests use a directory") };

    // The ledger cannot be written: a file stands where its folder would be.
    std::fs::create_dir_all(path).unwrap();
    std::fs::write(path.join("ledger"), b"in the way").unwrap();
    let refused = gdpr::forget(&api.state, &Subject::Account(bob.clone()), "dpo").await;
    assert!(matches!(refused, Err(ForgetError::Ledger(_))), "{refused:?}");
    assert!(api.state.store.get_account(&bob).await.unwrap().is_some(), "nothing was erased");
    assert!(api.state.store.list_gdpr_requests().await.unwrap().is_empty());
    std::fs::remove_file(path.join("ledger")).unwrap();

    let report = gdpr::forget(&api.state, &Subject::Account(ada.clone()), "dpo").await.unwrap();
    let records = backup::ledger::read_all(api.state.blobs.as_ref()).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].request_id.as_str(), records[0].account_id.as_str()), (report[0].id.as_str(), ada.as_str()));
    assert_eq!(records[0].entities[0], ("account".to_owned(), ada.as_str().to_owned()));
    let keys = api.state.blobs.list(LEDGER_PREFIX).await.unwrap();
    let text = String::from_utf8(api.state.blobs.get(&keys[0].key).await.unwrap().unwrap()).unwrap();
    for personal in ["Private", "ada@", "Ada", "grace"] {
        assert!(!text.contains(personal), "the ledger holds opaque ids only: {text}");
    }
    api.cleanup().await;
}

/// Column kinds as PostgreSQL names its types.
fn postgres_kind(data_type: &str) -> Option<Kind> {
    Some(match data_type {
        "text" => Kind::Text,
        "integer" | "bigint" => Kind::Integer,
        "boolean" => Kind::Boolean,
        "timestamp with time zone" => Kind::Timestamp,
        "date" => Kind::Date,
        "jsonb" => Kind::Json,
        "bytea" => Kind::Bytes,
        _ => return None,
    })
}

async fn the_backup_tables_match_the_live_schema(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut tables: Vec<String> = db.store.table_names().await.unwrap();
    tables.retain(|t| t != "_sqlx_migrations");
    let mut listed: Vec<String> = TABLES.iter().map(|t| t.name.to_owned()).collect();
    listed.sort();
    assert_eq!(listed, tables, "every table must be in backup::tables::TABLES");

    for table in TABLES {
        let live = columns(&db.store, table.name).await;
        let names: Vec<&str> = live.iter().map(|(n, _)| n.as_str()).collect();
        let spec: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        assert_eq!(names, spec, "columns of {}", table.name);
        if backend == Backend::Postgres {
            for ((name, data_type), column) in live.iter().zip(table.columns) {
                assert_eq!(postgres_kind(data_type), Some(column.kind), "{}.{name} is {data_type}", table.name);
            }
        }
        for key in table.key {
            assert!(spec.contains(key), "{}: key {key}", table.name);
        }
    }
    db.cleanup().await;
}

#[tokio::test]
async fn the_backup_tables_match_the_live_postgres_schema_column_for_column() {
    the_backup_tables_match_the_live_schema(Backend::Postgres).await;
}

#[tokio::test]
async fn the_backup_tables_match_the_live_sqlite_schema_column_for_column() {
    the_backup_tables_match_the_live_schema(Backend::Sqlite).await;
}

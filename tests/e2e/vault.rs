//! The credentials vault end to end: a canary password stored through the vault never appears
//! in the database (raw file bytes for SQLite, every column of every row for PostgreSQL) nor in
//! any captured log line.

use calsync_core::{
    crypto::{Credentials, CryptoError, Keyring, Vault},
    domain::ProfileId,
};
use calsync_tests::{
    db::{Backend, TestDb},
    fixtures::{at, mailbox},
    logs,
};

const CANARY: &str = "canary-Pa55w0rd-7f3a9c";

async fn store_the_canary(db: &TestDb, vault: &Vault) -> (ProfileId, calsync_core::crypto::SealedCredential) {
    let now = at("2026-05-01T10:00:00Z");
    let m = mailbox(&db.store, now).await;
    let secret = Credentials::Password {
        email: "ada@exchange.example".into(),
        password: CANARY.into(),
        username: Some("ADA".into()),
    };
    let sealed = vault.seal(&m.profile.id, &secret).unwrap();
    tracing::info!(?secret, profile_id = %m.profile.id, "stored credentials");
    db.store.put_credentials(&m.profile.id, &m.account.id, &sealed, now).await.unwrap();
    let read = db.store.get_credentials(&m.profile.id).await.unwrap().unwrap();
    assert_eq!(vault.open(&m.profile.id, &read).unwrap(), secret);
    (m.profile.id, read)
}

#[tokio::test]
async fn a_canary_password_appears_neither_in_the_sqlite_file_nor_in_the_logs() {
    logs::capture();
    let db = TestDb::new(Backend::Sqlite).await;
    let vault = Vault::new(Keyring::generate());
    let (profile, sealed) = store_the_canary(&db, &vault).await;

    let path = db.url.trim_start_matches("sqlite://").to_owned();
    db.store.close().await; // checkpoints the WAL into the main file
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()), "canary found in the database file");
    assert!(
        bytes.windows(profile.as_str().len()).any(|w| w == profile.as_str().as_bytes()),
        "the profile row is there"
    );
    assert!(!logs::captured().contains(CANARY), "canary found in the logs");
    assert!(logs::captured().contains("stored credentials"), "logs were captured");

    // The same ciphertext under another profile's AAD does not decrypt.
    assert_eq!(vault.open(&ProfileId::generate(), &sealed), Err(CryptoError::Decrypt));
}

#[tokio::test]
async fn a_canary_password_appears_in_no_postgres_column_nor_in_the_logs() {
    logs::capture();
    let db = TestDb::new(Backend::Postgres).await;
    let vault = Vault::new(Keyring::generate());
    let (profile, sealed) = store_the_canary(&db, &vault).await;

    let calsync_core::Store::Postgres(pool) = &db.store else { unreachable!("postgres backend") };
    // Every row of every table, rendered as text (bytea as hex and as escaped bytes).
    let tables: Vec<(String,)> = sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut dump = String::new();
    for (table,) in tables {
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT row_to_json(t)::text FROM {table} t")).fetch_all(pool).await.unwrap();
        rows.into_iter().for_each(|(r,)| dump.push_str(&r));
    }
    let raw: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT wrapped_key, ciphertext FROM credentials").fetch_all(pool).await.unwrap();
    for (k, c) in &raw {
        for bytes in [k, c] {
            assert!(!bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
        }
    }
    assert!(dump.contains(profile.as_str()));
    assert!(!dump.contains(CANARY) && !dump.contains(&hex_of(CANARY)), "canary found in the database");
    assert!(!logs::captured().contains(CANARY), "canary found in the logs");
    assert_eq!(vault.open(&ProfileId::generate(), &sealed), Err(CryptoError::Decrypt));
    db.cleanup().await;
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

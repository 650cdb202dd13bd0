//! Upgrades of a database holding data: each backend is brought to an earlier schema version with
//! the project's own migration files, filled, then migrated to the latest version as a new
//! release's first cold start would. Migration 0011 rebuilds SQLite's `notifications` table
//! (SQLite cannot drop NOT NULL in place), so nothing may be lost there.

use calsync_core::{
    Store,
    domain::{Channel, ChannelFilters, ChannelId},
    store::Notification,
};
use calsync_tests::db::{Backend, TestDb};
use calsync_tests::fixtures::{application, at, mailbox};
use chrono::Duration;

#[tokio::test]
async fn upgrading_a_sqlite_database_from_version_10_keeps_every_notification() {
    upgrading_from_version_10_keeps_every_notification(Backend::Sqlite).await;
}

#[tokio::test]
async fn upgrading_a_postgres_database_from_version_10_keeps_every_notification() {
    upgrading_from_version_10_keeps_every_notification(Backend::Postgres).await;
}

/// Applies the backend's migrations up to and including `version`.
async fn migrate_to(store: &Store, version: i64) {
    let backend = match store {
        Store::Postgres(_) => "postgres",
        Store::Sqlite(_) => "sqlite",
    };
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src/store/migrations").join(backend);
    let earlier = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(&source).expect("the migrations directory") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("a file name").to_owned();
        let number: i64 = name.split('_').next().and_then(|n| n.parse().ok()).expect("a numbered migration");
        if number <= version {
            std::fs::copy(&path, earlier.path().join(&name)).expect("copy a migration");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(earlier.path()).await.expect("read the migrations");
    match store {
        Store::Postgres(pool) => migrator.run(pool).await.expect("migrate PostgreSQL"),
        Store::Sqlite(pool) => migrator.run(pool).await.expect("migrate SQLite"),
    }
}

async fn upgrading_from_version_10_keeps_every_notification(backend: Backend) {
    let db = TestDb::empty(backend).await;
    let store = &db.store;
    migrate_to(store, 10).await;

    // A channel with one delivered notification and one waiting for its retry, as version 10
    // stored them.
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let app = application(store, "A", "a", t0).await;
    let channel = Channel {
        id: ChannelId::generate(),
        application_id: app.id.clone(),
        account_id: m.account.id.clone(),
        callback_url: "https://app.example/hook".into(),
        filters: ChannelFilters::default(),
        created_at: t0,
        closed_at: None,
    };
    store.create_channel(&channel).await.unwrap();
    let delivered = Notification {
        id: "ntf_delivered".into(),
        channel_id: Some(channel.id.clone()),
        application_id: app.id.clone(),
        account_id: Some(m.account.id.clone()),
        kind: "change".into(),
        changes_since: Some(t0 - Duration::seconds(1)),
        created_at: t0,
        attempts: 2,
        last_attempt_at: Some(t0 + Duration::seconds(30)),
        last_status: Some("200".into()),
        last_latency_ms: Some(87),
        next_attempt_at: None,
        delivered_at: Some(t0 + Duration::seconds(30)),
        abandoned_at: None,
        smart_invite_token: None,
        callback_url: None,
        body: None,
    };
    let waiting = Notification {
        id: "ntf_waiting".into(),
        kind: "verification".into(),
        changes_since: None,
        attempts: 1,
        last_status: Some("503".into()),
        next_attempt_at: Some(t0 + Duration::minutes(1)),
        delivered_at: None,
        ..delivered.clone()
    };
    for n in [&delivered, &waiting] {
        let sql = "INSERT INTO notifications (id, channel_id, application_id, account_id, kind, changes_since, \
                   created_at, attempts, last_attempt_at, last_status, last_latency_ms, next_attempt_at, \
                   delivered_at, abandoned_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
        macro_rules! insert {
            ($pool:expr) => {
                sqlx::query(sql)
                    .bind(&n.id)
                    .bind(&n.channel_id)
                    .bind(&n.application_id)
                    .bind(&n.account_id)
                    .bind(&n.kind)
                    .bind(n.changes_since)
                    .bind(n.created_at)
                    .bind(n.attempts)
                    .bind(n.last_attempt_at)
                    .bind(&n.last_status)
                    .bind(n.last_latency_ms)
                    .bind(n.next_attempt_at)
                    .bind(n.delivered_at)
                    .bind(n.abandoned_at)
                    .execute($pool)
                    .await
                    .expect("a version 10 notification")
                    .rows_affected()
            };
        }
        match store {
            Store::Postgres(pool) => insert!(pool),
            Store::Sqlite(pool) => insert!(pool),
        };
    }

    // The new release's cold start.
    store.migrate().await.unwrap();

    let applied = "SELECT MAX(version) FROM _sqlx_migrations";
    let applied: i64 = match store {
        Store::Postgres(pool) => sqlx::query_scalar(applied).fetch_one(pool).await.unwrap(),
        Store::Sqlite(pool) => sqlx::query_scalar(applied).fetch_one(pool).await.unwrap(),
    };
    assert_eq!(applied, store.schema_version());
    assert_eq!(store.list_channel_notifications(&channel.id).await.unwrap(), vec![delivered, waiting]);
    // The waiting one is still found by the sweep for lost deliveries.
    let stranded = store.stranded_notifications(t0 + Duration::hours(1), 10).await.unwrap();
    assert_eq!(stranded, vec!["ntf_waiting".to_owned()]);
    // A notification without a channel must say where it goes.
    let nowhere = "INSERT INTO notifications (id, application_id, kind, created_at) VALUES ('ntf_x', $1, 'change', $2)";
    let refused = match store {
        Store::Postgres(pool) => sqlx::query(nowhere).bind(&app.id).bind(t0).execute(pool).await.is_err(),
        Store::Sqlite(pool) => sqlx::query(nowhere).bind(&app.id).bind(t0).execute(pool).await.is_err(),
    };
    assert!(refused, "the destination check holds after the upgrade");
    db.cleanup().await;
}

//! Sync state, channels, request logs, job slots, GDPR requests, the erasure ledger, migrations.

use calsync_core::{
    Store,
    domain::{Channel, ChannelFilters, ChannelId, GdprRequestId},
    store::{GdprRequest, JobClaim, RequestLog},
};
use calsync_tests::fixtures::{application, at, mailbox};
use chrono::Duration;
use sqlx::types::Json;

use super::on_both_backends;

on_both_backends!(
    sync_state_records_the_cursor_and_an_error_streak_that_success_clears,
    channels_list_only_open_ones_and_close_only_for_their_application,
    request_logs_are_purged_in_batches_only_when_older_than_the_cutoff,
    a_job_slot_is_claimed_once_and_a_dead_run_can_be_resumed,
    gdpr_requests_and_the_erasure_ledger_keep_opaque_ids_in_order,
    migrating_twice_is_harmless,
    one_worker_at_a_time_holds_a_calendars_sync_lease_until_it_expires_or_is_released,
);

async fn sync_state_records_the_cursor_and_an_error_streak_that_success_clears(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    assert!(store.get_sync_state(&m.calendar.id).await.unwrap().is_none());

    let backoff = t0 + Duration::minutes(2);
    store.record_sync_failure(&m.calendar.id, &m.account.id, "provider_throttled", backoff, t0).await.unwrap();
    store.record_sync_failure(&m.calendar.id, &m.account.id, "provider_throttled", backoff, t0).await.unwrap();
    let state = store.get_sync_state(&m.calendar.id).await.unwrap().unwrap();
    assert_eq!((state.error_count, state.backoff_until, state.cursor.clone()), (2, Some(backoff), None));

    let t1 = t0 + Duration::minutes(3);
    store.record_sync_success(&m.calendar.id, &m.account.id, Some("sync-token-7"), t1).await.unwrap();
    let state = store.get_sync_state(&m.calendar.id).await.unwrap().unwrap();
    assert_eq!(state.cursor.as_deref(), Some("sync-token-7"));
    assert_eq!(
        (state.error_count, state.last_error, state.backoff_until, state.last_success_at),
        (0, None, None, Some(t1))
    );
}

async fn channels_list_only_open_ones_and_close_only_for_their_application(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let app = application(store, "A", "a", t0).await;
    let other = application(store, "B", "b", t0).await;
    let channel = Channel {
        id: ChannelId::generate(),
        application_id: app.id.clone(),
        account_id: m.account.id.clone(),
        callback_url: "https://app.example/hook".into(),
        filters: ChannelFilters { calendar_ids: Some(vec![m.calendar.id.clone()]), only_managed: Some(true) },
        created_at: t0,
        closed_at: None,
    };
    store.create_channel(&channel).await.unwrap();
    assert_eq!(store.list_open_channels(&app.id, &m.account.id).await.unwrap(), vec![channel.clone()]);
    assert!(store.list_open_channels(&other.id, &m.account.id).await.unwrap().is_empty());

    assert!(!store.close_channel(&channel.id, &other.id, t0).await.unwrap(), "another application cannot close it");
    assert!(store.close_channel(&channel.id, &app.id, t0).await.unwrap());
    assert!(store.list_open_channels(&app.id, &m.account.id).await.unwrap().is_empty());
    assert_eq!(store.get_channel(&channel.id).await.unwrap().unwrap().closed_at, Some(t0));
}

async fn request_logs_are_purged_in_batches_only_when_older_than_the_cutoff(store: &Store) {
    let t0 = at("2026-01-01T00:00:00Z");
    let app = application(store, "A", "a", t0).await;
    for day in 0..7 {
        store
            .append_request_log(&RequestLog {
                application_id: Some(app.id.clone()),
                account_id: None,
                request_id: format!("req-{day}"),
                method: "GET".into(),
                path: "/v1/events".into(),
                status: 200,
                duration_ms: 12,
                created_at: t0 + Duration::days(day),
            })
            .await
            .unwrap();
    }
    let cutoff = t0 + Duration::days(5); // days 0..=4 are older
    assert_eq!(store.purge_request_logs_before(cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.purge_request_logs_before(cutoff, 2).await.unwrap(), 2);
    assert_eq!(store.purge_request_logs_before(cutoff, 2).await.unwrap(), 1);
    assert_eq!(store.purge_request_logs_before(cutoff, 2).await.unwrap(), 0);
    let left: Vec<String> =
        store.list_request_logs(&app.id, 10).await.unwrap().into_iter().map(|l| l.request_id).collect();
    assert_eq!(left, vec!["req-6", "req-5"]);
}

async fn a_job_slot_is_claimed_once_and_a_dead_run_can_be_resumed(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let lease = Duration::minutes(15);
    assert_eq!(store.claim_job_slot("retention", "2026-05-01T10", lease, t0).await.unwrap(), JobClaim::Claimed);
    assert_eq!(store.claim_job_slot("retention", "2026-05-01T10", lease, t0).await.unwrap(), JobClaim::Running);
    // The first run died without finishing: after the lease, the slot can be taken over.
    let later = t0 + Duration::minutes(16);
    assert_eq!(store.claim_job_slot("retention", "2026-05-01T10", lease, later).await.unwrap(), JobClaim::Claimed);
    // It stops at its deadline: progress saved, the next run resumes at once.
    store
        .finish_job_slot("retention", "2026-05-01T10", false, &serde_json::json!({"removed": 5}), later)
        .await
        .unwrap();
    assert_eq!(store.claim_job_slot("retention", "2026-05-01T10", lease, later).await.unwrap(), JobClaim::Claimed);
    store.finish_job_slot("retention", "2026-05-01T10", true, &serde_json::json!({"removed": 9}), later).await.unwrap();
    assert_eq!(
        store.claim_job_slot("retention", "2026-05-01T10", lease, later + Duration::days(1)).await.unwrap(),
        JobClaim::Done
    );
    assert_eq!(
        store.claim_job_slot("backup", "2026-05-01T10", lease, later).await.unwrap(),
        JobClaim::Claimed,
        "slots are per job"
    );

    let runs = store.list_job_runs("retention", 10).await.unwrap();
    assert_eq!(runs, vec![("2026-05-01T10".to_owned(), "done".to_owned(), serde_json::json!({"removed": 9}))]);
}

async fn gdpr_requests_and_the_erasure_ledger_keep_opaque_ids_in_order(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let request = GdprRequest {
        id: GdprRequestId::generate(),
        account_id: m.account.id.clone(),
        requested_by: "operator@calsync.example".into(),
        requested_at: t0,
        completed_at: Some(t0 + Duration::minutes(1)),
        rows_removed: Some(12),
        backups_expire_by: Some(t0 + Duration::days(7)),
        external_progress: Json(serde_json::Map::new()),
        notes: None,
    };
    store.create_gdpr_request(&request).await.unwrap();
    assert_eq!(store.list_gdpr_requests().await.unwrap(), vec![request.clone()]);

    let account = m.account.id.to_string();
    let profile = m.profile.id.to_string();
    store
        .append_erasures(&[("account", &account), ("profile", &profile)], Some(request.id.as_str()), t0)
        .await
        .unwrap();
    let all = store.list_erasures_after(0, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| (e.entity_kind.as_str(), e.entity_id.as_str())).collect::<Vec<_>>(),
        vec![("account", account.as_str()), ("profile", profile.as_str())]
    );
    let after_first = store.list_erasures_after(all[0].seq, 10).await.unwrap();
    assert_eq!(after_first, vec![all[1].clone()]);
}

async fn migrating_twice_is_harmless(store: &Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.schema_version(), 11);
    store.ping().await.unwrap();
}

async fn one_worker_at_a_time_holds_a_calendars_sync_lease_until_it_expires_or_is_released(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let (cal, acc) = (&m.calendar.id, &m.account.id);
    let until = t0 + Duration::minutes(5);

    assert!(store.claim_sync_lease(cal, acc, "worker-a", until, t0).await.unwrap());
    assert!(
        !store.claim_sync_lease(cal, acc, "worker-b", until, t0 + Duration::minutes(1)).await.unwrap(),
        "held by a"
    );
    assert!(store.claim_sync_lease(cal, acc, "worker-a", until, t0).await.unwrap(), "the holder may renew");
    // Worker a crashed: once its lease expires, b takes over.
    assert!(store.claim_sync_lease(cal, acc, "worker-b", until + Duration::minutes(5), until).await.unwrap());
    store.release_sync_lease(cal, "worker-a").await.unwrap(); // not the holder: no effect
    assert!(!store.claim_sync_lease(cal, acc, "worker-c", until, until).await.unwrap());
    store.release_sync_lease(cal, "worker-b").await.unwrap();
    assert!(store.claim_sync_lease(cal, acc, "worker-c", until, until).await.unwrap());
    // The lease shares the row with the sync state and leaves it alone.
    store.record_sync_success(cal, acc, Some("token-1"), until).await.unwrap();
    assert_eq!(store.get_sync_state(cal).await.unwrap().unwrap().cursor.as_deref(), Some("token-1"));
}

/// Deploys apply migrations as the new version's first function instances start, several at
/// once; sqlx serialises them with an advisory lock, so racing migrations all succeed and each
/// migration is applied exactly once.
#[tokio::test]
async fn migrations_racing_from_several_cold_starts_all_succeed_and_apply_once_on_postgres() {
    let db = calsync_tests::db::TestDb::empty(calsync_tests::db::Backend::Postgres).await;
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let url = db.url.clone();
        racers.spawn(async move {
            let store = Store::connect_url(&url).await.expect("connect");
            let migrated = store.migrate().await;
            store.close().await;
            migrated
        });
    }
    while let Some(result) = racers.join_next().await {
        result.expect("the task ran").expect("every racing migration succeeds");
    }
    let Store::Postgres(pool) = &db.store else { unreachable!("a PostgreSQL test database") };
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version").fetch_all(pool).await.unwrap();
    assert_eq!(applied, (1..=db.store.schema_version()).map(|v| (v, true)).collect::<Vec<_>>());
    db.cleanup().await;
}

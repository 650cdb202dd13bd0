//! Retention cost follows what is expired, not table size: a retention run removing 10,000
//! expired request logs from a table of 100,000 rows, and from one of 1,000,000, on PostgreSQL.
//! Seeding is not timed; each timed run starts from 10,000 freshly expired rows in a new hourly
//! slot. Besides criterion's timings it prints the ratio of the two medians, measured in the same
//! run (the target is at most 1.5x).
//!
//!     CALSYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!         cargo bench -p calsync-tests --bench retention

use std::time::{Duration, Instant};

use calsync_core::domain::ApplicationId;
use calsync_core::retention::{self, RetentionInput};
use calsync_core::store::Store;
use calsync_tests::{api::TestApi, db::Backend};
use chrono::{DateTime, Duration as Days, Utc};
use criterion::{Criterion, criterion_group, criterion_main};

const EXPIRED: i64 = 10_000;

/// Inserts `count` request logs created at `at` (seeding only, in one statement).
async fn seed_logs(store: &Store, application: &ApplicationId, count: i64, at: DateTime<Utc>) {
    let Store::Postgres(pool) = store else { panic!("the retention benchmark runs on PostgreSQL") };
    // language=PostgreSQL
    const SQL: &str = "INSERT INTO request_logs (application_id, account_id, request_id, method, path, status, \
                       duration_ms, created_at) SELECT $1, NULL, 'seed-' || g, 'GET', '/v1/events', 200, 3, $2 \
                       FROM generate_series(1, $3) g";
    sqlx::query(SQL).bind(application).bind(at).bind(count).execute(pool).await.expect("seed request logs");
    sqlx::query("ANALYZE request_logs").execute(pool).await.expect("analyze");
}

/// One timed retention run over 10,000 freshly expired rows, in a new slot.
async fn timed_run(api: &TestApi, application: &ApplicationId) -> Duration {
    api.clock.advance(Days::hours(1));
    seed_logs(&api.state.store, application, EXPIRED, api.now() - Days::days(91)).await;
    let started = Instant::now();
    let report = retention::run(&api.state, &RetentionInput::default(), api.now() + Days::minutes(10)).await.unwrap();
    let elapsed = started.elapsed();
    let removed: u64 = report.rules.iter().map(|r| r.removed).sum();
    assert_eq!((report.complete, removed), (true, EXPIRED as u64));
    elapsed
}

fn retention_cost(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut medians = Vec::new();
    for total in [100_000i64, 1_000_000] {
        let (api, application) = rt.block_on(async {
            let api = TestApi::new(Backend::Postgres).await;
            let (app, _) = api.application("Bench").await;
            seed_logs(&api.state.store, &app.id, total - EXPIRED, api.now()).await;
            (api, app.id)
        });
        let mut group = c.benchmark_group("retention_10k_expired");
        group.sample_size(10).measurement_time(Duration::from_secs(20)).warm_up_time(Duration::from_secs(1));
        group.bench_function(format!("{total}_rows"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (api, application) = (&api, &application);
                async move {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        spent += timed_run(api, application).await;
                    }
                    spent
                }
            })
        });
        group.finish();
        let mut runs: Vec<Duration> = rt.block_on(async {
            let mut runs = Vec::new();
            for _ in 0..5 {
                runs.push(timed_run(&api, &application).await);
            }
            runs
        });
        runs.sort();
        medians.push((total, runs[2]));
        rt.block_on(api.cleanup());
    }
    let (small, large) = (medians[0].1, medians[1].1);
    println!("\n== retention, 10,000 expired rows, PostgreSQL ==");
    for (total, median) in &medians {
        println!("{total} rows: median {median:.2?}");
    }
    println!("1,000,000 / 100,000 = {:.2}x (target: at most 1.5x)", large.as_secs_f64() / small.as_secs_f64());
}

criterion_group!(benches, retention_cost);
criterion_main!(benches);

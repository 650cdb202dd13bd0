//! Read performance for one account with 10,000 events in the window, on SQLite and PostgreSQL:
//! `GET /v1/events` and `GET /v1/free_busy` walked through every page, through the whole API
//! (authentication, rate limit, request log, query parsing, JSON) against the bare store queries
//! that serve the same pages. Besides criterion's timings it prints, from the same run, the ratio
//! of the API's time to the store's and the process's peak memory while serving the API walks.
//!
//!     CALSYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!         cargo bench -p calsync-tests --bench reads

use std::time::{Duration, Instant};

use calsync_core::{
    domain::{AttendeeStatus, EventSelection, EventTime, ManagedEvents, ReadWindow, Transparency},
    store::EventUpsert,
};
use calsync_tests::{
    api::{Authorized, TestApi},
    db::Backend,
    fixtures::third_party_event,
};
use chrono::{DateTime, Duration as Days, Utc};
use criterion::{Criterion, criterion_group, criterion_main};

const EVENTS: usize = 10_000;
const PAGE_SIZE: u64 = 100;
const FROM: &str = "2026-03-21";
const TO: &str = "2026-11-17";

fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    let day =
        |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
    (day(FROM), day(TO))
}

async fn seed(api: &TestApi) -> Authorized {
    let (app, _) = api.application("Bench").await;
    let who = api.authorized(&app, "read_events read_free_busy read_account").await;
    let (from, _) = window();
    for i in 0..EVENTS {
        // Spread over the 240-day window, a few every day, some all-day, some transparent.
        let start = from + Days::minutes(30 * i64::try_from(i).unwrap() + 60);
        let (start_t, end_t) = if i % 10 == 0 {
            let d = start.date_naive();
            (EventTime::Date(d), EventTime::Date(d.succ_opt().unwrap()))
        } else {
            (
                EventTime::Instant { at: start, tzid: None },
                EventTime::Instant { at: start + Days::minutes(25), tzid: None },
            )
        };
        let event = EventUpsert {
            ical_uid: Some(format!("bench-{i}@calsync.test")),
            description: Some("Agenda: review the numbers, decide on next steps.".into()),
            participation_status: AttendeeStatus::Accepted,
            transparency: if i % 7 == 0 { Transparency::Transparent } else { Transparency::Opaque },
            ..third_party_event(&who.calendar, &format!("bench-{i}"), &format!("Meeting {i}"), start_t, end_t)
        };
        api.state.store.upsert_event(&event, api.now()).await.unwrap();
    }
    who
}

/// Walks every page of `endpoint` through the API; returns how many items it read.
async fn walk_api(api: &TestApi, who: &Authorized, endpoint: &str, key: &str) -> usize {
    let mut path = format!("{endpoint}?tzid=Etc/UTC&from={FROM}&to={TO}");
    let mut items = 0;
    loop {
        let (status, body) = api.get(&path, &who.access_token).await;
        assert_eq!(status, 200, "{path}: {body}");
        items += body[key].as_array().map_or(0, Vec::len);
        match body["pages"]["next_page"].as_str() {
            Some(next) => {
                path = next.trim_start_matches(&api.base_url).trim_start_matches("http://calsync.test").to_owned()
            }
            None => return items,
        }
    }
}

fn selection(who: &Authorized, app: &calsync_core::domain::ApplicationId) -> EventSelection {
    let (from, to) = window();
    EventSelection {
        account_id: who.account.id.clone(),
        application_id: app.clone(),
        calendar_ids: vec![],
        window: ReadWindow { from, to, floating_from: from, floating_to: to },
        managed: ManagedEvents::Exclude,
        managed_ignore_window: false,
        include_deleted: false,
        include_moved: false,
        last_modified: None,
    }
}

/// The store queries behind the same pages: one count, then each page from the last one's cursor.
async fn walk_store(api: &TestApi, selection: &EventSelection, free_busy: bool) -> usize {
    let store = &api.state.store;
    let total =
        if free_busy { store.count_free_busy(selection).await } else { store.count_events(selection).await }.unwrap();
    let mut items = 0;
    let mut after = None;
    for _ in 0..total.div_ceil(PAGE_SIZE) {
        let (n, cursor) = if free_busy {
            let (page, cursor) = store.list_free_busy_page(selection, PAGE_SIZE as u32, after.as_ref()).await.unwrap();
            (page.len(), cursor)
        } else {
            let (page, cursor) = store.list_events_page(selection, PAGE_SIZE as u32, after.as_ref()).await.unwrap();
            (page.len(), cursor)
        };
        items += n;
        after = cursor;
    }
    items
}

/// Peak resident memory of this process since the last reset, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak so the next reading covers only what follows (Linux `clear_refs` value 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn median(runs: usize, mut f: impl AsyncFnMut() -> usize) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(f().await);
        times.push(t.elapsed());
    }
    times.sort();
    times[runs / 2]
}

fn reads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut summary = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (api, who, app_id) = rt.block_on(async {
            let api = TestApi::new(backend).await;
            let who = seed(&api).await;
            let app_id = api.state.store.list_authorizations(&who.account.id).await.unwrap()[0].application_id.clone();
            (api, who, app_id)
        });
        let sel = selection(&who, &app_id);
        let events = rt.block_on(walk_api(&api, &who, "/v1/events", "events"));
        assert_eq!(events, rt.block_on(walk_store(&api, &sel, false)), "API and store read the same events");
        assert!(events > 9_000, "the window holds the seeded events: {events}");

        let name = format!("{backend:?}").to_lowercase();
        let mut group = c.benchmark_group(format!("reads_10k/{name}"));
        group.sample_size(10).measurement_time(Duration::from_secs(15)).warm_up_time(Duration::from_secs(2));
        group.bench_function("read_events/api", |b| {
            b.to_async(&rt).iter(|| walk_api(&api, &who, "/v1/events", "events"))
        });
        group.bench_function("read_events/store", |b| b.to_async(&rt).iter(|| walk_store(&api, &sel, false)));
        group.bench_function("free_busy/api", |b| {
            b.to_async(&rt).iter(|| walk_api(&api, &who, "/v1/free_busy", "free_busy"))
        });
        group.bench_function("free_busy/store", |b| b.to_async(&rt).iter(|| walk_store(&api, &sel, true)));
        group.finish();

        // Ratios and peak memory measured in this same run.
        rt.block_on(async {
            reset_peak_rss();
            let api_events = median(5, async || walk_api(&api, &who, "/v1/events", "events").await).await;
            let api_free_busy = median(5, async || walk_api(&api, &who, "/v1/free_busy", "free_busy").await).await;
            let peak = peak_rss_kib();
            let store_events = median(5, async || walk_store(&api, &sel, false).await).await;
            let store_free_busy = median(5, async || walk_store(&api, &sel, true).await).await;
            summary.push(format!(
                "{name}: read_events {events} events, api {api_events:.2?} / store {store_events:.2?} = {:.2}x; \
                 free_busy api {api_free_busy:.2?} / store {store_free_busy:.2?} = {:.2}x; \
                 peak RSS while serving the API walks: {} MiB",
                api_events.as_secs_f64() / store_events.as_secs_f64(),
                api_free_busy.as_secs_f64() / store_free_busy.as_secs_f64(),
                peak.map_or("unknown".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
            ));
            api.cleanup().await;
        });
    }
    println!("\n== reads, 10,000 events, all pages (page size {PAGE_SIZE}) ==");
    for line in summary {
        println!("{line}");
    }
}

criterion_group!(benches, reads);
criterion_main!(benches);

//! The retention rules the run carries out, each at its boundary with the injected clock: the
//! data is still there one day before its limit and gone one day after, on SQLite and
//! PostgreSQL; a re-authorization cancels the third-party events' clock; the dry run and the plan
//! count without removing; and a run that meets its deadline leaves the rest for the next one.

use calsync_core::domain::{EventKind, EventTime, EventUid};
use calsync_core::retention::{self, RetentionInput};
use calsync_core::store::{EventUpsert, SmartInvite};
use calsync_tests::api::{Authorized, TestApi};
use calsync_tests::fixtures::third_party_event;
use chrono::{DateTime, Duration};

use crate::api::api_on_both_backends;

api_on_both_backends!(
    events_outside_the_window_go_31_days_after_leaving_it,
    third_party_events_go_30_days_after_the_last_authorization_ends_unless_reauthorized,
    partner_events_go_90_days_after_their_applications_authorization_ends,
    credentials_go_30_days_after_the_last_authorization_ends,
    a_service_accounts_credentials_go_30_days_after_its_authorizations_end,
    account_structure_goes_90_days_after_the_last_authorization_ends,
    request_logs_go_after_90_days,
    smart_invites_go_30_days_after_the_event_ends,
    a_dry_run_and_the_plan_count_without_removing,
    twenty_five_thousand_expired_rows_go_across_several_deadline_bound_runs_each_once,
);

fn at(text: &str) -> EventTime {
    EventTime::Instant { at: DateTime::parse_from_rfc3339(text).unwrap().to_utc(), tzid: None }
}

async fn third_party(api: &TestApi, who: &Authorized, provider_id: &str) -> EventUid {
    let event =
        third_party_event(&who.calendar, provider_id, "Kept?", at("2026-05-04T09:00:00Z"), at("2026-05-04T10:00:00Z"));
    api.state.store.upsert_event(&event, api.now()).await.unwrap().uid().clone()
}

async fn exists(api: &TestApi, uid: &EventUid) -> bool {
    api.state.store.get_event(uid).await.unwrap().is_some()
}

/// A retention run now, in a slot of its own.
async fn run(api: &TestApi) -> retention::RetentionReport {
    let deadline = api.now() + Duration::minutes(5);
    let report = retention::run(&api.state, &RetentionInput::default(), deadline).await.unwrap();
    assert!(report.complete && !report.already_done, "{report:?}");
    report
}

fn removed(report: &retention::RetentionReport, rule: &str) -> u64 {
    report.rules.iter().find(|r| r.rule == rule).map_or(0, |r| r.removed)
}

async fn events_outside_the_window_go_31_days_after_leaving_it(api: &TestApi) {
    let (app, _) = api.application("Kept").await;
    let who = api.authorized(&app, "read_events").await;
    let left = third_party(api, &who, "left").await;
    let later =
        third_party_event(&who.calendar, "inside", "Later", at("2026-05-20T09:00:00Z"), at("2026-05-20T10:00:00Z"));
    let inside = api.state.store.upsert_event(&later, api.now()).await.unwrap().uid().clone();
    // The window now starts on 5 May: the 4 May event has left it, the 20 May one has not.
    let window_start = DateTime::parse_from_rfc3339("2026-05-05T00:00:00Z").unwrap().to_utc();
    assert_eq!(api.state.store.mark_events_left_window(&who.calendar.id, window_start, api.now()).await.unwrap(), 1);

    api.clock.advance(Duration::days(30));
    assert_eq!(removed(&run(api).await, "events_outside_window"), 0);
    assert!(exists(api, &left).await);
    api.clock.advance(Duration::days(2));
    assert_eq!(removed(&run(api).await, "events_outside_window"), 1);
    assert!(!exists(api, &left).await);
    assert!(exists(api, &inside).await);
}

async fn third_party_events_go_30_days_after_the_last_authorization_ends_unless_reauthorized(api: &TestApi) {
    let (app, _) = api.application("Kept").await;
    let ended = api.authorized(&app, "read_events").await;
    let reauthorized = api.authorized(&app, "read_events").await;
    let ended_event = third_party(api, &ended, "ended").await;
    let reauthorized_event = third_party(api, &reauthorized, "reauthorized").await;
    for who in [&ended, &reauthorized] {
        for authorization in api.state.store.list_authorizations(&who.account.id).await.unwrap() {
            api.state.store.terminate_authorization(&authorization.id, api.now()).await.unwrap();
        }
    }

    // Ten days later one account authorizes again: its clock stops.
    api.clock.advance(Duration::days(10));
    let scopes = calsync_core::domain::Scopes::parse("read_events").unwrap();
    calsync_core::tokens::issue(&api.state.store, &app, &reauthorized.account.id, scopes, api.now()).await.unwrap();

    api.clock.advance(Duration::days(19));
    assert_eq!(removed(&run(api).await, "third_party_events"), 0);
    assert!(exists(api, &ended_event).await);
    api.clock.advance(Duration::days(2));
    assert_eq!(removed(&run(api).await, "third_party_events"), 1);
    assert!(!exists(api, &ended_event).await);
    assert!(exists(api, &reauthorized_event).await);
}

fn partner(who: &Authorized, application: &calsync_core::domain::ApplicationId, event_id: &str) -> EventUpsert {
    EventUpsert {
        kind: EventKind::Partner,
        application_id: Some(application.clone()),
        event_id: Some(event_id.to_owned()),
        provider_id: None,
        ..third_party_event(&who.calendar, event_id, "Partner", at("2026-05-04T09:00:00Z"), at("2026-05-04T10:00:00Z"))
    }
}

async fn partner_events_go_90_days_after_their_applications_authorization_ends(api: &TestApi) {
    let (leaving, _) = api.application("Leaving").await;
    let (staying, _) = api.application("Staying").await;
    let who = api.authorized(&leaving, "read_events").await;
    let scopes = calsync_core::domain::Scopes::parse("read_events").unwrap();
    calsync_core::tokens::issue(&api.state.store, &staying, &who.account.id, scopes, api.now()).await.unwrap();
    let gone =
        api.state.store.upsert_event(&partner(&who, &leaving.id, "gone"), api.now()).await.unwrap().uid().clone();
    let kept =
        api.state.store.upsert_event(&partner(&who, &staying.id, "kept"), api.now()).await.unwrap().uid().clone();
    for authorization in api.state.store.list_authorizations(&who.account.id).await.unwrap() {
        if authorization.application_id == leaving.id {
            api.state.store.terminate_authorization(&authorization.id, api.now()).await.unwrap();
        }
    }

    api.clock.advance(Duration::days(89));
    assert_eq!(removed(&run(api).await, "partner_events"), 0);
    assert!(exists(api, &gone).await);
    api.clock.advance(Duration::days(2));
    assert_eq!(removed(&run(api).await, "partner_events"), 1);
    assert!(!exists(api, &gone).await);
    assert!(exists(api, &kept).await);
}

async fn credentials_go_30_days_after_the_last_authorization_ends(api: &TestApi) {
    let (app, _) = api.application("Kept").await;
    let who = api.authorized(&app, "read_events").await;
    let credentials = calsync_core::crypto::Credentials::AppSpecificPassword {
        email: "ada@icloud.example".into(),
        password: "abcd-efgh".into(),
    };
    let sealed = api.state.vault.seal(&who.profile.id, &credentials).unwrap();
    api.state.store.put_credentials(&who.profile.id, &who.account.id, &sealed, api.now()).await.unwrap();
    for authorization in api.state.store.list_authorizations(&who.account.id).await.unwrap() {
        api.state.store.terminate_authorization(&authorization.id, api.now()).await.unwrap();
    }

    api.clock.advance(Duration::days(29));
    assert_eq!(removed(&run(api).await, "credentials"), 0);
    assert!(api.state.store.get_credentials(&who.profile.id).await.unwrap().is_some());
    api.clock.advance(Duration::days(2));
    assert_eq!(removed(&run(api).await, "credentials"), 1);
    assert!(api.state.store.get_credentials(&who.profile.id).await.unwrap().is_none());
}

/// Enterprise Connect: the service account's row holds its sealed credentials, so it goes by the
/// credentials rule, counted from the end of the service account's own authorizations.
async fn a_service_accounts_credentials_go_30_days_after_its_authorizations_end(api: &TestApi) {
    use calsync_core::domain::{ProviderName, Scopes, ServiceAccount, ServiceAccountId};
    let (app, _) = api.application("Kept").await;
    let staying = api.authorized(&app, "read_events").await;
    let mut service_accounts = Vec::new();
    for who in [api.authorized(&app, "read_events").await, staying.clone()] {
        let service_account = ServiceAccount {
            id: ServiceAccountId::generate(),
            application_id: app.id.clone(),
            account_id: who.account.id.clone(),
            provider: ProviderName::Exchange,
            email: format!("svc-{}@corp.example", service_accounts.len()),
            server_url: None,
            delegated_scopes: Scopes::parse("read_events").unwrap(),
            created_at: api.now(),
            updated_at: api.now(),
        };
        let credentials = calsync_core::crypto::Credentials::ServiceAccount {
            provider: ProviderName::Exchange,
            principal: service_account.email.clone(),
            secret: "svc-password".into(),
            username: None,
            tenant: None,
        };
        let sealed = api.state.vault.seal_service_account(&service_account.id, &credentials).unwrap();
        api.state.store.create_service_account(&service_account, &sealed).await.unwrap();
        service_accounts.push((who, service_account.id));
    }
    let (ended, gone) = &service_accounts[0];
    for authorization in api.state.store.list_authorizations(&ended.account.id).await.unwrap() {
        api.state.store.terminate_authorization(&authorization.id, api.now()).await.unwrap();
    }

    api.clock.advance(Duration::days(29));
    assert_eq!(removed(&run(api).await, "credentials"), 0);
    assert!(api.state.store.get_service_account(gone).await.unwrap().is_some());
    api.clock.advance(Duration::days(2));
    assert_eq!(removed(&run(api).await, "credentials"), 1);
    assert_eq!(api.state.store.get_service_account_credentials(gone).await.unwrap(), None);
    let kept = &service_accounts[1].1;
    assert!(api.state.store.get_service_account_credentials(kept).await.unwrap().is_some());
    assert!(api.state.store.get_account(&ended.account.id).await.unwrap().is_some(), "the account waits 90 days");
}

async fn account_structure_goes_90_days_after_the_last_authorization_ends(api: &TestApi) {
    let (app, _) = api.application("Kept").await;
    let who = api.authorized(&app, "read_events").await;
    let staying = api.authorized(&app, "read_events").await;
    let event = third_party(api, &who, "structure").await;
    let owner = "retention-test".to_owned();
    let until = api.now() + Duration::minutes(5);
    let store = &api.state.store;
    store.claim_sync_lease(&who.calendar.id, &who.account.id, &owner, until, api.now()).await.unwrap();
    store.record_sync_success(&who.calendar.id, &who.account.id, Some("cursor"), api.now()).await.unwrap();
    for authorization in store.list_authorizations(&who.account.id).await.unwrap() {
        store.terminate_authorization(&authorization.id, api.now()).await.unwrap();
    }

    api.clock.advance(Duration::days(89));
    assert_eq!(retention::plan(&api.state, api.now()).await.unwrap().iter().map(|r| r.removed).sum::<u64>(), 1);
    let report = run(api).await;
    assert_eq!((removed(&report, "third_party_events"), removed(&report, "account_structure")), (1, 0));
    assert!(!exists(api, &event).await);
    assert_eq!(store.list_profiles(&who.account.id).await.unwrap().len(), 1);

    api.clock.advance(Duration::days(2));
    let plan = retention::plan(&api.state, api.now()).await.unwrap();
    // The account, its profile and its calendar.
    assert_eq!(plan.iter().find(|r| r.rule == "account_structure").map(|r| r.removed), Some(3));
    let report = run(api).await;
    // The sync state, the calendar, the profile, the authorization and the account.
    assert_eq!(removed(&report, "account_structure"), 5);
    assert!(store.list_profiles(&who.account.id).await.unwrap().is_empty());
    assert!(store.list_calendars(&who.account.id).await.unwrap().is_empty());
    assert!(store.get_sync_state(&who.calendar.id).await.unwrap().is_none());
    assert!(store.list_authorizations(&who.account.id).await.unwrap().is_empty());
    assert!(store.get_account(&who.account.id).await.unwrap().is_none());
    // Another account is untouched.
    assert!(store.get_account(&staying.account.id).await.unwrap().is_some());
    assert_eq!(store.list_calendars(&staying.account.id).await.unwrap().len(), 1);
}

async fn request_logs_go_after_90_days(api: &TestApi) {
    let (app, _) = api.application("Kept").await;
    let who = api.authorized(&app, "read_events").await;
    assert_eq!(api.get("/v1/calendars", &who.access_token).await.0, 200);
    let logged = api.state.store.list_request_logs(&app.id, 10).await.unwrap().len();
    assert_eq!(logged, 1);

    api.clock.advance(Duration::days(89));
    assert_eq!(removed(&run(api).await, "request_logs"), 0);
    api.clock.advance(Duration::days(2));
    assert_eq!(removed(&run(api).await, "request_logs"), 1);
    assert!(api.state.store.list_request_logs(&app.id, 10).await.unwrap().is_empty());
}

async fn a_dry_run_and_the_plan_count_without_removing(api: &TestApi) {
    let (app, _) = api.application("Kept").await;
    let who = api.authorized(&app, "read_events").await;
    let event = third_party(api, &who, "ended").await;
    for authorization in api.state.store.list_authorizations(&who.account.id).await.unwrap() {
        api.state.store.terminate_authorization(&authorization.id, api.now()).await.unwrap();
    }
    let now = api.now();
    let due = |rules: &[retention::RuleReport]| -> Vec<(&'static str, u64)> {
        rules.iter().map(|r| (r.rule, r.removed)).collect()
    };
    let nothing_yet: Vec<(&str, u64)> =
        retention::plan(&api.state, now).await.unwrap().iter().map(|r| (r.rule, r.removed)).collect();
    assert!(nothing_yet.iter().all(|(_, n)| *n == 0), "{nothing_yet:?}");
    let later = retention::plan(&api.state, now + Duration::days(31)).await.unwrap();
    assert_eq!(
        due(&later),
        vec![
            ("events_outside_window", 0),
            ("third_party_events", 1),
            ("partner_events", 0),
            ("credentials", 0),
            ("account_structure", 0),
            ("request_logs", 0),
            ("smart_invites", 0),
        ]
    );
    api.clock.advance(Duration::days(31));
    let dry = retention::run(&api.state, &RetentionInput { dry_run: true }, api.now() + Duration::minutes(5)).await;
    let dry = dry.unwrap();
    assert!(dry.dry_run);
    assert_eq!(due(&dry.rules), due(&later));
    assert!(exists(api, &event).await);
}

/// The README's policy table is the rules table: change a rule and this fails until the README
/// says the same.
#[test]
fn the_readme_policy_table_is_derived_from_the_rules() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
    let table = calsync_core::policy::retention::markdown_table();
    assert!(readme.contains(&table), "README.md must hold this table under its policy section:\n{table}");
}

/// A clock that moves one second each time it is read, so a run meets its deadline after a
/// known number of steps.
#[derive(Debug)]
struct SteppingClock(std::sync::Mutex<DateTime<chrono::Utc>>);

impl calsync_core::Clock for SteppingClock {
    fn now(&self) -> DateTime<chrono::Utc> {
        let mut now = self.0.lock().unwrap();
        *now += Duration::seconds(1);
        *now
    }
}

async fn twenty_five_thousand_expired_rows_go_across_several_deadline_bound_runs_each_once(api: &TestApi) {
    let (app, _) = api.application("Busy").await;
    let old = api.now() - Duration::days(91);
    for i in 0..25_000 {
        let log = calsync_core::store::RequestLog {
            application_id: Some(app.id.clone()),
            account_id: None,
            request_id: format!("req-{i}"),
            method: "GET".into(),
            path: "/v1/events".into(),
            status: 200,
            duration_ms: 3,
            created_at: old,
        };
        api.state.store.append_request_log(&log).await.unwrap();
    }

    // Each run may read the clock about a dozen times before its deadline: a few batches.
    let clock = std::sync::Arc::new(SteppingClock(std::sync::Mutex::new(api.now())));
    let state = calsync_core::AppState { clock: clock.clone(), ..api.state.clone() };
    let mut runs = 0;
    let mut total = 0;
    loop {
        let deadline = calsync_core::Clock::now(clock.as_ref()) + Duration::seconds(12);
        let report = retention::run(&state, &RetentionInput::default(), deadline).await.unwrap();
        assert!(!report.already_done, "{report:?}");
        runs += 1;
        total += removed(&report, "request_logs");
        if report.complete {
            break;
        }
        assert!(runs < 100, "the runs make no progress");
    }
    assert!(runs > 2, "{runs} runs");
    assert_eq!(total, 25_000);
    assert_eq!(
        api.state.store.count_due(calsync_core::policy::retention::Purgeable::RequestLogs, api.now()).await.unwrap(),
        0
    );
    // The slot is done: a duplicate invocation does nothing.
    let deadline = calsync_core::Clock::now(clock.as_ref()) + Duration::minutes(1);
    let again = retention::run(&state, &RetentionInput::default(), deadline).await.unwrap();
    assert!(again.already_done);
    // Operators see the run recorded: its slot, done, and each rule's removals and duration.
    let runs = retention::history(&state, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].1, "done");
    let rules: Vec<&str> = runs[0].2["rules"].as_array().unwrap().iter().filter_map(|r| r["rule"].as_str()).collect();
    assert_eq!(rules.len(), 7);
    assert!(runs[0].2["rules"].as_array().unwrap().iter().all(|r| r["duration_ms"].is_u64()));
}

fn smart_invite(
    application: &calsync_core::domain::ApplicationId,
    id: &str,
    event_end: DateTime<chrono::Utc>,
) -> SmartInvite {
    SmartInvite {
        application_id: application.clone(),
        smart_invite_id: id.to_owned(),
        recipient_email: "guest@example.com".to_owned(),
        uid: format!("{id}@calsync"),
        reply_token: format!("token-{id}"),
        method: "request".to_owned(),
        sequence: 0,
        status: "pending".to_owned(),
        reply_comment: None,
        reply_proposal: None,
        callback_url: None,
        organizer: sqlx::types::Json(serde_json::json!({})),
        event: sqlx::types::Json(serde_json::json!({ "summary": id })),
        event_end,
        created_at: event_end - Duration::days(60),
        updated_at: event_end - Duration::days(60),
    }
}

async fn smart_invites_go_30_days_after_the_event_ends(api: &TestApi) {
    let (app, _) = api.application("Inviting").await;
    let store = &api.state.store;
    let ended = smart_invite(&app.id, "ended", api.now());
    store.save_smart_invite(&ended).await.unwrap();
    store.save_smart_invite(&smart_invite(&app.id, "later", api.now() + Duration::days(10))).await.unwrap();
    // The ended invite was answered, with a comment, and its callback stored.
    let answered = SmartInvite { status: "accepted".to_owned(), reply_comment: Some("Yes".to_owned()), ..ended };
    let callback = calsync_core::notify::smart_invite_callback(
        &api.state,
        &app.id,
        &answered.reply_token,
        "https://hooks.example/invites",
        "{}".to_owned(),
    );
    assert!(store.record_smart_invite_reply(&answered, api.now(), Some(&callback)).await.unwrap());
    let callbacks = |token: &'static str| async move {
        api.state.store.list_smart_invite_notifications(token).await.unwrap().len()
    };
    assert_eq!(callbacks("token-ended").await, 1);
    let application = &app.id;
    let kept = |id: &'static str| async move {
        api.state.store.get_smart_invite(application, id, "guest@example.com").await.unwrap().is_some()
    };

    api.clock.advance(Duration::days(29));
    assert_eq!(removed(&run(api).await, "smart_invites"), 0);
    assert!(kept("ended").await);
    assert_eq!(callbacks("token-ended").await, 1);
    api.clock.advance(Duration::days(2));
    // The invite with its reply, and the callback about it.
    assert_eq!(removed(&run(api).await, "smart_invites"), 2);
    assert!(!kept("ended").await);
    assert_eq!(callbacks("token-ended").await, 0);
    assert!(kept("later").await);
}

/// The boundary test of each rule the run carries out.
const RULE_TESTS: &[(&str, &str)] = &[
    ("events_outside_window", "events_outside_the_window_go_31_days_after_leaving_it"),
    ("third_party_events", "third_party_events_go_30_days_after_the_last_authorization_ends_unless_reauthorized"),
    ("partner_events", "partner_events_go_90_days_after_their_applications_authorization_ends"),
    ("credentials", "credentials_go_30_days_after_the_last_authorization_ends"),
    ("account_structure", "account_structure_goes_90_days_after_the_last_authorization_ends"),
    ("request_logs", "request_logs_go_after_90_days"),
    ("smart_invites", "smart_invites_go_30_days_after_the_event_ends"),
];

/// A rule added to the run without a boundary test here fails this.
#[test]
fn every_rule_the_run_carries_out_has_a_boundary_test() {
    let source = include_str!("retention.rs");
    for (rule, _, _) in calsync_core::policy::retention::batched() {
        let test = RULE_TESTS.iter().find(|(name, _)| *name == rule.name).map(|(_, test)| *test);
        let test = test.unwrap_or_else(|| panic!("the rule `{}` has no boundary test in RULE_TESTS", rule.name));
        assert!(source.contains(&format!("async fn {test}(")), "`{test}` is not a test in this file");
        assert!(source.contains(&format!("    {test},")), "`{test}` does not run on both backends");
    }
}

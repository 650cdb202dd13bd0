//! Tenant isolation: application B, authorized on its own account, aims every id-taking route at
//! application A's account. Each attempt is a 404 (page tokens, which are not credentials, at
//! most read B's own data), and A's data reads back unchanged.
//!
//! To cover a new route, add a row to `cases`.

use calsync_core::{api::pages::encode_token, domain::EventKind};
use calsync_tests::api::{Authorized, TestApi};
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::{
    api_on_both_backends,
    reads::{google_calendar, partner, seed, third_party, utc},
};

api_on_both_backends!(another_tenants_ids_are_not_found_on_every_route_and_change_nothing);

const ALL_SCOPES: &str = "read_account list_calendars read_events create_event delete_event create_calendar \
                          read_free_busy change_participation_status";

/// A marker planted in A's event content; B must never see it.
const A_MARKER: &str = "TENANT-A-ONLY-3e9d";

/// What B must get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    NotFound,
    /// A 200 carrying none of A's ids or content (page tokens are read as B's own query).
    NothingOfA,
}

#[derive(Debug)]
struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    expect: Expect,
}

fn case(method: Method, path: String, body: Option<Value>, expect: Expect) -> Case {
    Case { method, path, body, expect }
}

/// A page token of `feature` for the given calendars, crafted as a client could.
fn page_token(feature: &str, calendar_ids: Vec<String>) -> String {
    encode_token(&json!({
        "feature": feature, "tzid": "Etc/UTC", "from": "2026-04-01T00:00:00Z", "to": "2026-06-01T00:00:00Z",
        "window_given": true, "calendar_ids": calendar_ids, "include_deleted": true, "include_moved": true,
        "include_managed": true, "only_managed": false, "localized_times": false, "include_geo": true,
        "last_modified": null, "page": 1,
    }))
}

/// Everything A can see of its own account.
async fn snapshot(api: &TestApi, a: &Authorized) -> Vec<Value> {
    let mut views = Vec::new();
    for path in [
        "/v1/events?tzid=Etc/UTC&include_managed=true&include_deleted=true",
        "/v1/free_busy?tzid=Etc/UTC&include_managed=true",
        "/v1/calendars",
        "/v1/profiles",
        "/v1/userinfo",
    ] {
        let (status, body) = api.get(path, &a.access_token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        views.push(body);
    }
    views
}

async fn another_tenants_ids_are_not_found_on_every_route_and_change_nothing(api: &TestApi) {
    let (app_a, _) = api.application("Tenant A").await;
    let (app_b, _) = api.application("Tenant B").await;
    let a = api.authorized(&app_a, ALL_SCOPES).await;
    let b = api.authorized(&app_b, ALL_SCOPES).await;
    let (a_google, a_work) = google_calendar(api, &a, "Work").await;
    let mut external = third_party(&a, &a.calendar, "a-ext", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z"));
    external.summary = Some(format!("{A_MARKER} external"));
    let a_uid = seed(api, &external).await;
    let mut managed = partner(&a, &app_a, "a-managed", utc("2026-05-05T09:00:00Z"), utc("2026-05-05T10:00:00Z"));
    managed.summary = Some(format!("{A_MARKER} managed"));
    seed(api, &managed).await;
    assert_eq!(managed.kind, EventKind::Partner);
    let mut work = third_party(&a, &a_work, "a-work", utc("2026-05-06T09:00:00Z"), utc("2026-05-06T10:00:00Z"));
    work.description = Some(A_MARKER.into());
    seed(api, &work).await;
    seed(api, &third_party(&b, &b.calendar, "b-own", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z"))).await;
    let before = snapshot(api, &a).await;

    let (a_cal, b_cal) = (a.calendar.id.to_string(), b.calendar.id.to_string());
    let upsert = json!({
        "event_id": "intruder", "summary": "Intruder", "start": "2026-05-07T09:00:00Z", "end": "2026-05-07T10:00:00Z",
    });
    let cases = vec![
        case(Method::GET, format!("/v1/events?tzid=Etc/UTC&calendar_ids[]={a_cal}"), None, Expect::NotFound),
        case(
            Method::GET,
            format!("/v1/events?tzid=Etc/UTC&include_managed=true&calendar_ids[]={b_cal}&calendar_ids[]={}", a_work.id),
            None,
            Expect::NotFound,
        ),
        case(Method::GET, format!("/v1/free_busy?tzid=Etc/UTC&calendar_ids[]={a_cal}"), None, Expect::NotFound),
        case(
            Method::GET,
            format!("/v1/events/pages/{}", page_token("events", vec![a_cal.clone()])),
            None,
            Expect::NotFound,
        ),
        case(
            Method::GET,
            format!("/v1/free_busy/pages/{}", page_token("free_busy", vec![b_cal.clone(), a_work.id.to_string()])),
            None,
            Expect::NotFound,
        ),
        case(Method::GET, format!("/v1/events/pages/{}", page_token("events", vec![])), None, Expect::NothingOfA),
        case(Method::GET, format!("/v1/free_busy/pages/{}", page_token("free_busy", vec![])), None, Expect::NothingOfA),
        case(
            Method::POST,
            "/v1/calendars".into(),
            Some(json!({"profile_id": a.profile.id, "name": "Intruder"})),
            Expect::NotFound,
        ),
        case(
            Method::POST,
            "/v1/calendars".into(),
            Some(json!({"profile_id": a_google.id, "name": "Intruder"})),
            Expect::NotFound,
        ),
        case(Method::POST, format!("/v1/profiles/{}/revoke", a.profile.id), Some(json!({})), Expect::NotFound),
        case(Method::POST, format!("/v1/profiles/{}/revoke", a_google.id), Some(json!({})), Expect::NotFound),
        case(Method::POST, format!("/v1/calendars/{a_cal}/events"), Some(upsert.clone()), Expect::NotFound),
        case(Method::POST, format!("/v1/calendars/{}/events", a_work.id), Some(upsert), Expect::NotFound),
        case(
            Method::DELETE,
            format!("/v1/calendars/{a_cal}/events"),
            Some(json!({"event_id": "a-managed"})),
            Expect::NotFound,
        ),
        case(
            Method::DELETE,
            format!("/v1/calendars/{a_cal}/events"),
            Some(json!({"event_uid": a_uid})),
            Expect::NotFound,
        ),
        case(
            Method::POST,
            format!("/v1/calendars/{a_cal}/events/{a_uid}/participation_status"),
            Some(json!({"status": "accepted"})),
            Expect::NotFound,
        ),
    ];

    let a_ids =
        [a.account.id.to_string(), a.profile.id.to_string(), a_cal.clone(), a_work.id.to_string(), a_uid.to_string()];
    for c in &cases {
        let (status, body) = api.request(c.method.clone(), &c.path, Some(&b.access_token), c.body.clone()).await;
        match c.expect {
            Expect::NotFound => assert_eq!(status, StatusCode::NOT_FOUND, "{} {}: {body}", c.method, c.path),
            Expect::NothingOfA => {
                assert_eq!(status, StatusCode::OK, "{} {}: {body}", c.method, c.path);
                let items = body.get("events").or(body.get("free_busy")).and_then(Value::as_array).unwrap();
                assert_eq!(items.len(), 1, "only B's own event: {body}");
            }
        }
        let text = body.to_string();
        assert!(!text.contains(A_MARKER), "{} {} shows A's content: {text}", c.method, c.path);
        // An id B itself sent may be echoed back; any other id of A's must not appear.
        let sent = format!("{} {}", c.path, c.body.as_ref().map(Value::to_string).unwrap_or_default());
        for id in a_ids.iter().filter(|id| !sent.contains(id.as_str())) {
            assert!(!text.contains(id.as_str()), "{} {} shows A's id {id}: {text}", c.method, c.path);
        }
    }

    assert_eq!(snapshot(api, &a).await, before, "A's data changed");
    let (_, b_calendars) = api.get("/v1/calendars", &b.access_token).await;
    assert_eq!(b_calendars["calendars"].as_array().unwrap().len(), 1, "B gained no calendar: {b_calendars}");
}

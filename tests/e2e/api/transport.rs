//! What happens around every handler: per-application rate limits (429 with `Retry-After`),
//! the integrator request log, and the 413 for bodies over the size limit.

use std::sync::Arc;

use axum::body::Body;
use calsync_core::{
    AppState,
    api::{MAX_BODY_BYTES, error::ApiError, rate_limit},
    config::RateLimits,
};
use calsync_tests::api::TestApi;
use chrono::Duration;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::api_on_both_backends;

/// The API's state with a budget of 3 requests a second and 5 a minute per application.
fn low_limits(api: &TestApi) -> AppState {
    let mut config = (*api.state.config).clone();
    config.rate_limits = RateLimits { per_second: 3, per_minute: 5 };
    AppState { config: Arc::new(config), ..api.state.clone() }
}

async fn send(state: &AppState, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let response = calsync_core::api::app(state.clone()).oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn get(path: &str, bearer: &str) -> Request<Body> {
    Request::get(path).header(header::AUTHORIZATION, format!("Bearer {bearer}")).body(Body::empty()).unwrap()
}

fn retry_after(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok())
}

fn limited_for(result: Result<(), ApiError>) -> Option<u64> {
    match result {
        Ok(()) => None,
        Err(ApiError::RateLimited { retry_after_secs }) => Some(retry_after_secs),
        Err(other) => panic!("expected Ok or RateLimited, got {other:?}"),
    }
}

api_on_both_backends!(
    budgets_are_counted_per_application_per_second_and_per_minute,
    over_budget_a_request_is_429_with_retry_after_and_a_401_does_not_count,
    a_request_with_a_grant_writes_one_request_log_without_the_query_string,
    a_body_over_the_limit_is_413_and_creates_nothing,
);

async fn budgets_are_counted_per_application_per_second_and_per_minute(api: &TestApi) {
    let state = low_limits(api);
    let (busy, _) = api.application("Busy").await;
    let (quiet, _) = api.application("Quiet").await;

    // The clock stands at 10:00:00: three requests fit in this second, the fourth waits 1 s.
    let mut first_second = Vec::new();
    for _ in 0..4 {
        first_second.push(limited_for(rate_limit::check(&state, &busy.id).await));
    }
    assert_eq!(first_second, [None, None, None, Some(1)]);
    assert_eq!(limited_for(rate_limit::check(&state, &quiet.id).await), None, "another application is unaffected");

    // A new second: the refused request still counted, so the 5th of the minute passes and the
    // 6th waits for the next minute.
    api.clock.advance(Duration::seconds(1));
    assert_eq!(limited_for(rate_limit::check(&state, &busy.id).await), None);
    assert_eq!(limited_for(rate_limit::check(&state, &busy.id).await), Some(59));

    api.clock.advance(Duration::seconds(59));
    assert_eq!(limited_for(rate_limit::check(&state, &busy.id).await), None, "a new minute");
}

async fn over_budget_a_request_is_429_with_retry_after_and_a_401_does_not_count(api: &TestApi) {
    let state = low_limits(api);
    let (busy, _) = api.application("Busy").await;
    let (quiet, _) = api.application("Quiet").await;
    let busy_token = api.authorized(&busy, "read_account").await.access_token;
    let quiet_token = api.authorized(&quiet, "read_account").await.access_token;

    // Unknown credentials are refused before the budget is consulted.
    for _ in 0..6 {
        let (status, _, _) = send(&state, get("/v1/account", "not-a-token")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    for n in 1..=3 {
        let (status, _, body) = send(&state, get("/v1/account", &busy_token)).await;
        assert_eq!(status, StatusCode::OK, "request {n}: {body}");
    }
    let (status, headers, body) = send(&state, get("/v1/account", &busy_token)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&headers), Some("1"));
    assert_eq!(body, json!({ "error": "rate_limited" }));

    let (status, _, _) = send(&state, get("/v1/account", &quiet_token)).await;
    assert_eq!(status, StatusCode::OK, "another application is unaffected");

    api.clock.advance(Duration::seconds(1));
    let (status, _, _) = send(&state, get("/v1/account", &busy_token)).await;
    assert_eq!(status, StatusCode::OK, "a new second, the 5th request of the minute");
    let (status, headers, body) = send(&state, get("/v1/account", &busy_token)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&headers), Some("59"));
    assert_eq!(body, json!({ "error": "rate_limited" }));
}

async fn a_request_with_a_grant_writes_one_request_log_without_the_query_string(api: &TestApi) {
    let (app, _) = api.application("Logged").await;
    let reader = api.authorized(&app, "read_account").await;
    let writer = api.authorized(&app, "create_event").await;

    let (status, _) = api.get("/v1/account?include_userinfo=true&token=secret", &reader.access_token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.get("/v1/free_busy?tzid=Etc/UTC", &writer.access_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.get("/v1/account", "not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let logs = api.state.store.list_request_logs(&app.id, 10).await.unwrap();
    let rows: Vec<_> = logs
        .iter()
        .map(|l| {
            (l.method.as_str(), l.path.as_str(), l.status, l.application_id.clone(), l.account_id.clone(), l.created_at)
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("GET", "/v1/free_busy", 403, Some(app.id.clone()), Some(writer.account.id.clone()), api.now()),
            ("GET", "/v1/account", 200, Some(app.id.clone()), Some(reader.account.id.clone()), api.now()),
        ],
        "newest first; the unauthenticated request is nobody's"
    );
    assert!(logs.iter().all(|l| !l.request_id.is_empty()));
}

async fn a_body_over_the_limit_is_413_and_creates_nothing(api: &TestApi) {
    let oversized = || {
        let name = "x".repeat(MAX_BODY_BYTES);
        json!({ "name": name, "redirect_uris": ["https://app.example/cb"] }).to_string()
    };
    let admin_post = || {
        Request::post("/admin/v1/applications")
            .header(header::AUTHORIZATION, "Bearer admin-test-token")
            .header(header::CONTENT_TYPE, "application/json")
    };

    // A declared length over the limit is refused before any handler runs.
    let body = oversized();
    let request = admin_post().header(header::CONTENT_LENGTH, body.len()).body(Body::from(body)).unwrap();
    let (status, _, _) = send(&api.state, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Without a declared length the body is cut off at the limit while the handler reads it.
    let request = admin_post().body(Body::from(oversized())).unwrap();
    let (status, _, body) = send(&api.state, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body, json!({ "code": "payload_too_large", "message": "the request body is too large" }));

    let (status, _, body) = send(
        &api.state,
        Request::post("/oauth/token")
            .header(header::CONTENT_LENGTH, MAX_BODY_BYTES + 1)
            .body(Body::from(vec![b' '; MAX_BODY_BYTES + 1]))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    assert!(api.state.store.list_applications().await.unwrap().is_empty());
}

//! The API router called in-process (`app(state).oneshot`), as Lambda and `calsync serve` call it.

use axum::body::Body;
use calsync_core::{AppState, Config, api::app};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use lambda_http::{aws_lambda_events::apigw::ApiGatewayV2httpRequestContext, request::RequestContext};
use tower::ServiceExt;

async fn local_state(dir: &tempfile::TempDir) -> AppState {
    let data_dir = dir.path().display().to_string();
    let config = Config::from_lookup(|name| match name {
        "CALSYNC_MODE" => Some("local".to_owned()),
        "CALSYNC_DATA_DIR" => Some(data_dir.clone()),
        _ => None,
    })
    .unwrap();
    AppState::build(config).await.unwrap()
}

#[tokio::test]
async fn health_answers_200_with_the_backend_and_a_fresh_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let response =
        app(local_state(&dir).await).oneshot(Request::get("/health").body(Body::empty()).unwrap()).await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"status": "ok", "database": "sqlite"})
    );
}

#[tokio::test]
async fn behind_api_gateway_the_request_id_is_the_gateway_one() {
    let dir = tempfile::tempdir().unwrap();
    let context: ApiGatewayV2httpRequestContext =
        serde_json::from_value(serde_json::json!({ "requestId": "gw-req-123", "http": { "method": "GET" } })).unwrap();
    let mut request = Request::get("/health").body(Body::empty()).unwrap();
    request.extensions_mut().insert(RequestContext::ApiGatewayV2(context));

    let response = app(local_state(&dir).await).oneshot(request).await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "gw-req-123");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_before_any_handler() {
    let dir = tempfile::tempdir().unwrap();
    let body = vec![b'x'; calsync_core::api::MAX_BODY_BYTES + 1];
    let request =
        Request::post("/health").header("content-length", body.len().to_string()).body(Body::from(body)).unwrap();
    let response = app(local_state(&dir).await).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn an_unknown_path_is_404() {
    let dir = tempfile::tempdir().unwrap();
    let response =
        app(local_state(&dir).await).oneshot(Request::get("/nope").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

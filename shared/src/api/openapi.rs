//! `GET /openapi.json`: the OpenAPI 3.1 description of every route, compiled into the binary.
//! The end-to-end test `openapi` keeps it and the router in step in both directions.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

const DOCUMENT: &str = include_str!("openapi.json");

pub(super) async fn get() -> Response {
    let mut response = DOCUMENT.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

//! The HTTP API: one axum `Router`, served by `lambda_http` in Lambda, by `axum::serve` in
//! `calsync serve`, and called directly with `oneshot` in tests.

use axum::{Router, routing::get};
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::state::AppState;

mod health;

/// Request bodies above this size are answered with 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the whole API.
pub fn app(state: AppState) -> Router {
    let request_id = http::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/health", get(health::get))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
            // The path only: query strings can carry tokens.
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

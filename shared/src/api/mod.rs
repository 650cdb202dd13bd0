//! The HTTP API: one axum `Router`, served by `lambda_http` in Lambda, by `axum::serve` in
//! `calsync serve`, and called directly with `oneshot` in tests.
//!
//! Features live in their own folders, each contributing a router: `oauth` (authorization page,
//! tokens, application calendars), `identity` (userinfo, account, profiles, calendars), `reads`
//! (events, free/busy), `writes` (upserts, deletes, batch), `service_accounts` (Enterprise
//! Connect's mailbox authorizations) and `admin` (integrator applications).

use axum::{Router, middleware, routing::get};
use lambda_http::request::RequestContext;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestId, MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::state::AppState;

mod admin;
mod channels;
pub mod error;
pub mod extract;
mod health;
mod identity;
mod oauth;
mod openapi;
pub mod pages;
mod push;
pub mod rate_limit;
mod reads;
mod request_log;
mod service_accounts;
pub mod smart_invites;
mod writes;

/// Request bodies above this size are answered with 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the whole API.
pub fn app(state: AppState) -> Router {
    let request_id = http::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/health", get(health::get))
        .route("/openapi.json", get(openapi::get))
        .merge(oauth::router())
        .merge(identity::router())
        .merge(reads::router())
        .merge(writes::router())
        .merge(channels::router())
        .merge(smart_invites::router())
        .merge(service_accounts::router())
        .merge(push::router())
        .merge(admin::router())
        .layer(middleware::from_fn_with_state(state.clone(), request_log::record))
        .layer(middleware::from_fn(error::log_errors))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &http::Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    // The path only: query strings can carry tokens.
                    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, GatewayRequestId))
}

/// Uses API Gateway's request id when running behind it (so API responses, our logs and API
/// Gateway's access logs agree), a fresh UUID otherwise.
#[derive(Debug, Clone, Copy)]
struct GatewayRequestId;

impl MakeRequestId for GatewayRequestId {
    fn make_request_id<B>(&mut self, req: &http::Request<B>) -> Option<RequestId> {
        let gateway = match req.extensions().get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.as_deref(),
            _ => None,
        };
        match gateway.and_then(|id| http::HeaderValue::from_str(id).ok()) {
            Some(value) => Some(RequestId::new(value)),
            None => MakeRequestUuid.make_request_id(req),
        }
    }
}

//! Integrator-facing request logs: one row per request an application made (method, path,
//! status, duration; never bodies, query strings or tokens). They are the policy's
//! "application logs", kept up to 90 days.

use std::time::Instant;

use axum::{extract::Request, middleware::Next, response::Response};

use super::extract::RequestPrincipal;
use crate::{state::AppState, store::RequestLog};

/// Records the request once the handler has said whose it was.
pub(super) async fn record(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = RequestPrincipal::default();
    request.extensions_mut().insert(principal.clone());
    let method = request.method().to_string();
    let path = request.uri().path().chars().take(512).collect::<String>();
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let started = Instant::now();

    let response = next.run(request).await;

    if let Some((application_id, account_id)) = principal.get() {
        let log = RequestLog {
            application_id: Some(application_id),
            account_id,
            request_id,
            method,
            path,
            status: i32::from(response.status().as_u16()),
            duration_ms: i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX),
            created_at: state.clock.now(),
        };
        // A failed log write must not fail the integrator's request.
        if let Err(e) = state.store.append_request_log(&log).await {
            tracing::error!(error.message = %e, error.cause_chain = ?e, "writing the request log");
        }
    }
    response
}

//! `POST /push/google`: Google's push notifications for the calendars calsync watches. Google
//! sends no body, only `X-Goog-Channel-ID`, `X-Goog-Channel-Token` (the token calsync gave the
//! channel, compared in constant time) and `X-Goog-Resource-State` (`sync` when the channel
//! opens, `exists` on a change). A change queues a sync of the calendar; the answer is empty.
//! A channel calsync no longer holds is acknowledged, so Google stops retrying it.

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};

use crate::{
    state::AppState,
    sync::watch::{GOOGLE_PUSH_PATH, Pushed, notified},
};

pub(super) fn router() -> Router<AppState> {
    Router::new().route(GOOGLE_PUSH_PATH, post(google))
}

async fn google(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(channel), Some(resource_state)) = (header("x-goog-channel-id"), header("x-goog-resource-state")) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    match notified(&state, channel, header("x-goog-channel-token"), resource_state).await {
        Ok(Pushed::Queued | Pushed::Ignored) => StatusCode::OK.into_response(),
        Ok(Pushed::Refused) => StatusCode::UNAUTHORIZED.into_response(),
        Err(e) => {
            tracing::error!(error.message = %e, error.cause_chain = ?e, "a Google push notification could not be handled");
            // Google retries notifications answered with a server error.
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

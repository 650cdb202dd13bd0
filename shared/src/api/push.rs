//! The providers' push notifications for the calendars calsync watches.
//!
//! `POST /push/google`: Google sends no body, only `X-Goog-Channel-ID`, `X-Goog-Channel-Token`
//! (the token calsync gave the channel, compared in constant time) and `X-Goog-Resource-State`
//! (`sync` when the channel opens, `exists` on a change). A change queues a sync of the
//! calendar; the answer is empty. A channel calsync no longer holds is acknowledged, so Google
//! stops retrying it.
//!
//! `POST /push/microsoft/{channel}` and `…/{channel}/lifecycle`: Graph first validates each URL
//! by posting `?validationToken=…`, which must be echoed as `text/plain` within 10 seconds (it
//! is, at once, before any lookup: the subscription is still being created). Notifications are
//! `{"value": [{subscriptionId, clientState, …}]}`; each item's `clientState` must be the
//! channel's token. The answer is 202 as soon as the syncs are queued (Graph wants one within
//! 3 seconds), 401 when no item carried the right token.

use std::collections::HashMap;

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::Value;

use crate::{
    state::AppState,
    sync::watch::{GOOGLE_PUSH_PATH, Lifecycle, MICROSOFT_PUSH_PATH, Pushed, graph_notified, notified},
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(GOOGLE_PUSH_PATH, post(google))
        .route(&format!("{MICROSOFT_PUSH_PATH}/{{channel}}"), post(microsoft))
        .route(&format!("{MICROSOFT_PUSH_PATH}/{{channel}}/lifecycle"), post(microsoft_lifecycle))
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

async fn microsoft(
    state: State<AppState>,
    Path(channel): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    graph(state, channel, query, body, false).await
}

async fn microsoft_lifecycle(
    state: State<AppState>,
    Path(channel): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    graph(state, channel, query, body, true).await
}

async fn graph(
    State(state): State<AppState>,
    channel: String,
    query: HashMap<String, String>,
    body: Bytes,
    lifecycle: bool,
) -> Response {
    if let Some(token) = query.get("validationToken") {
        return ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], token.clone()).into_response();
    }
    let Ok(parsed) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(items) = parsed["value"].as_array() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut accepted = false;
    for item in items {
        let Some(subscription) = item["subscriptionId"].as_str() else { continue };
        let event = match lifecycle {
            false => None,
            true => match item["lifecycleEvent"].as_str().and_then(Lifecycle::parse) {
                Some(event) => Some(event),
                // A lifecycle event this version does not know: nothing to do, nothing to retry.
                None => {
                    accepted = true;
                    continue;
                }
            },
        };
        match graph_notified(&state, &channel, subscription, item["clientState"].as_str(), event).await {
            Ok(Pushed::Queued | Pushed::Ignored) => accepted = true,
            Ok(Pushed::Refused) => tracing::warn!("a Microsoft notification carried the wrong client state"),
            Err(e) => {
                tracing::error!(error.message = %e, error.cause_chain = ?e, "a Microsoft notification could not be handled");
                // Graph redelivers notifications answered with a server error.
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
    }
    if accepted || items.is_empty() {
        StatusCode::ACCEPTED.into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

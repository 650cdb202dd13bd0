//! `POST /v1/batch`: up to 50 upserts and deletes of `/v1/calendars/{calendar_id}/events` in one
//! request, run in order with the request's grant as plain function calls. Answers 207 with one
//! `{status, data?}` per entry, in request order.
//!
//! Every success is reported as exactly 202: pycronofy and the Ruby gem flag an entry as failed
//! when `status % 100 != 2`, so 200 or 204 would read as errors. A failed entry carries the same
//! body the endpoint would have answered with; the other entries still run.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::{
    delete::delete_event,
    fields::{self, Errors},
    upsert::upsert,
};
use crate::{
    api::{
        error::{ApiError, ApiResult, keys},
        extract::{ApiJson, Grant},
    },
    state::AppState,
};

const MAX_ENTRIES: usize = 50;

pub(super) async fn post(
    State(state): State<AppState>,
    grant: Grant,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    // Validate the envelope; each entry is validated when it runs.
    let body = fields::object(&body)?;
    let mut errors = Errors::default();
    let entries = match fields::get(body, "batch") {
        None => {
            errors.required("batch");
            None
        }
        Some(v) => fields::array(v, "batch", MAX_ENTRIES, &mut errors),
    };
    if entries.is_some_and(Vec::is_empty) {
        errors.add("batch", keys::REQUIRED, "must hold at least one request");
    }
    errors.finish()?;
    let entries = entries.map(Vec::as_slice).unwrap_or_default();

    let mut results = Vec::with_capacity(entries.len());
    for entry in entries {
        results.push(run(&state, &grant, entry).await);
    }
    Ok((StatusCode::MULTI_STATUS, Json(json!({ "batch": results }))))
}

/// One entry's `{status, data?}`.
async fn run(state: &AppState, grant: &Grant, entry: &Value) -> Value {
    let entry = match fields::object(entry) {
        Ok(entry) => entry,
        Err(e) => return failure(e).await,
    };
    let method = fields::get(entry, "method").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase();
    let url = fields::get(entry, "relative_url").and_then(Value::as_str).unwrap_or_default();
    let empty = Value::Object(Map::new());
    let data = fields::get(entry, "data").unwrap_or(&empty);
    let Some(calendar_id) = calendar_events_path(url) else {
        return rejected(404, "relative_url", keys::NOT_FOUND, "only /v1/calendars/{calendar_id}/events is supported");
    };
    let outcome = match method.as_str() {
        "POST" => upsert(state, grant, calendar_id, data).await,
        "DELETE" => delete_event(state, grant, calendar_id, data).await,
        _ => return rejected(405, "method", keys::INVALID, "must be POST or DELETE"),
    };
    match outcome {
        Ok(()) => json!({ "status": StatusCode::ACCEPTED.as_u16() }),
        Err(e) => failure(e).await,
    }
}

/// The calendar id of `/v1/calendars/{calendar_id}/events`, also when written as a full URL.
fn calendar_events_path(url: &str) -> Option<&str> {
    let path = match url.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let id = path.strip_prefix("/v1/calendars/")?.strip_suffix("/events")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

fn rejected(status: u16, field: &str, key: &str, description: &str) -> Value {
    json!({ "status": status, "data": { "errors": { field: [{ "key": key, "description": description }] } } })
}

/// The status and body the endpoint itself would answer `error` with.
async fn failure(error: ApiError) -> Value {
    if let ApiError::Internal(e) = &error {
        tracing::error!(error.message = %e, error.cause_chain = ?e, "batch entry failed");
    }
    let response: Response = error.into_response();
    let status = response.status().as_u16();
    let data = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    json!({ "status": status, "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_events_path_of_a_calendar_is_routed() {
        assert_eq!(calendar_events_path("/v1/calendars/cal_abc/events"), Some("cal_abc"));
        assert_eq!(calendar_events_path("https://api.example/v1/calendars/cal_abc/events?x=1"), Some("cal_abc"));
        assert_eq!(calendar_events_path("/v1/calendars/cal_abc/events/evt_x/participation_status"), None);
        assert_eq!(calendar_events_path("/v1/events"), None);
        assert_eq!(calendar_events_path("/v1/calendars//events"), None);
    }
}

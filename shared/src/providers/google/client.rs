//! A Google Calendar API v3 client for one account: JSON over HTTPS with the account's bearer
//! token, every answer classified once (providers.md §2.5): 401 means the token is no longer
//! good, 403/429 rate limits and 5xx are transient (with the service's `Retry-After` when it
//! sent one), 410 `fullSyncRequired` kills the sync token, 409 and 412 are conflicts, 404 and
//! 410 `deleted` mean the event is gone. Error messages carry Google's reason code, never a body.
//!
//! A mailbox reached through domain-wide delegation sends `quotaUser` (an opaque id of the
//! mailbox) on every request: calsync's service account makes all of those requests, and
//! `quotaUser` lets Google count its per-user quotas per mailbox instead (providers.md §2.5).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

pub use crate::providers::http::ApiError;

/// Google's API.
pub const API_URL: &str = "https://www.googleapis.com/calendar/v3";
/// Event listings are at most 2,500 items a page; anything near this is not an API answer.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A client for one account; clones share the request counter.
#[derive(Debug, Clone)]
pub struct GoogleClient {
    http: reqwest::Client,
    api: Url,
    access_token: String,
    quota_user: Option<String>,
    requests: Arc<AtomicU64>,
}

impl GoogleClient {
    pub fn new(api_url: &str, access_token: &str) -> Result<Self, ApiError> {
        let mut api = Url::parse(api_url).map_err(|_| ApiError::Refused("the API URL is invalid".into()))?;
        if !api.path().ends_with('/') {
            api.set_path(&format!("{}/", api.path()));
        }
        let http = crate::providers::http::service_client()
            .ok_or_else(|| ApiError::Refused("the HTTP client could not be built".into()))?;
        Ok(Self {
            http,
            api,
            access_token: access_token.to_owned(),
            quota_user: None,
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Sends `quotaUser=<quota_user>` with every request (at most 40 characters, Google's limit).
    pub fn with_quota_user(mut self, quota_user: &str) -> Self {
        self.quota_user = Some(quota_user.chars().take(40).collect());
        self
    }

    /// The same client with a renewed access token, still counting into the same total.
    pub fn with_token(&self, access_token: &str) -> Self {
        Self { access_token: access_token.to_owned(), ..self.clone() }
    }

    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The URL of `segments` under the API (each segment percent-encoded: calendar ids are
    /// email addresses) with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.api.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends a request; returns the JSON answer (`Null` for an empty one) and the ETag header.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Value, ApiError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut url = url;
        if let Some(quota_user) = &self.quota_user {
            url.query_pairs_mut().append_pair("quotaUser", quota_user);
        }
        let request = self.http.request(method, url).bearer_auth(&self.access_token);
        crate::providers::http::send_json(request, body, if_match, MAX_BODY_BYTES, classify).await
    }
}

/// Google's error body: `{"error": {"code", "message", "errors": [{"reason", …}]}}`.
fn reason(body: &[u8]) -> String {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let reason = parsed["error"]["errors"][0]["reason"].as_str().or_else(|| parsed["error"]["status"].as_str());
    reason.unwrap_or("").chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(60).collect()
}

fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> ApiError {
    let reason = reason(body);
    match status.as_u16() {
        401 => ApiError::Unauthorized,
        403 if matches!(reason.as_str(), "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded") => {
            ApiError::Transient { retry_after, reason: format!("HTTP 403 {reason}") }
        }
        429 | 500..=599 => ApiError::Transient { retry_after, reason: format!("HTTP {} {reason}", status.as_u16()) },
        410 if reason == "deleted" => ApiError::NotFound,
        410 => ApiError::SyncTokenInvalid,
        404 => ApiError::NotFound,
        409 | 412 => ApiError::Conflict,
        code => ApiError::Refused(format!("HTTP {code} {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: u16, reason: &str) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"error": {"code": code, "message": "m", "errors": [{"reason": reason}]}}),
        )
        .unwrap()
    }

    #[test]
    fn google_errors_are_classified_by_status_and_reason() {
        let wait = Some(Duration::from_secs(3));
        assert_eq!(classify(StatusCode::UNAUTHORIZED, None, &body(401, "authError")), ApiError::Unauthorized);
        assert_eq!(
            classify(StatusCode::FORBIDDEN, wait, &body(403, "rateLimitExceeded")),
            ApiError::Transient { retry_after: wait, reason: "HTTP 403 rateLimitExceeded".into() }
        );
        assert!(matches!(classify(StatusCode::TOO_MANY_REQUESTS, None, b""), ApiError::Transient { .. }));
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, None, &body(403, "forbiddenForNonOrganizer")),
            ApiError::Refused(_)
        ));
        assert_eq!(classify(StatusCode::GONE, None, &body(410, "fullSyncRequired")), ApiError::SyncTokenInvalid);
        assert_eq!(classify(StatusCode::GONE, None, &body(410, "deleted")), ApiError::NotFound);
        assert_eq!(classify(StatusCode::PRECONDITION_FAILED, None, &body(412, "conditionNotMet")), ApiError::Conflict);
        assert_eq!(classify(StatusCode::CONFLICT, None, &body(409, "duplicate")), ApiError::Conflict);
    }

    #[test]
    fn calendar_ids_are_percent_encoded_as_path_segments() {
        let client = GoogleClient::new("https://www.googleapis.com/calendar/v3", "t").unwrap();
        let url = client.url(&["calendars", "ada@gmail.example", "events"], &[("syncToken", "a+b")]);
        assert_eq!(
            url.as_str(),
            "https://www.googleapis.com/calendar/v3/calendars/ada@gmail.example/events?syncToken=a%2Bb"
        );
    }
}

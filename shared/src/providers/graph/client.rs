//! A Microsoft Graph v1.0 client for one account: JSON with the account's bearer token, and on
//! every request `Prefer: IdType="ImmutableId"` (ids that survive moves between folders) and
//! `Prefer: outlook.timezone="UTC"`. Answers are classified once (providers.md §3): 401 means the
//! token is no longer good, 429 and 5xx are transient with the service's `Retry-After`, 410
//! (`SyncStateNotFound`, `resyncRequired`) kills the delta link, 412 is a conflict, 404 a missing
//! item. Error messages carry Graph's error code, never a body.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

pub use crate::providers::http::ApiError;

/// Graph's v1.0 endpoint.
pub const GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Items per delta page.
pub const PAGE_SIZE: u32 = 200;

/// A client for one account; clones share the request counter.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    access_token: String,
    requests: Arc<AtomicU64>,
}

impl GraphClient {
    pub fn new(graph_url: &str, access_token: &str) -> Result<Self, ApiError> {
        let mut base = Url::parse(graph_url).map_err(|_| ApiError::Refused("the Graph URL is invalid".into()))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = crate::providers::http::service_client()
            .ok_or_else(|| ApiError::Refused("the HTTP client could not be built".into()))?;
        Ok(Self { http, base, access_token: access_token.to_owned(), requests: Arc::new(AtomicU64::new(0)) })
    }

    /// The same client with a renewed access token, still counting into the same total.
    pub fn with_token(&self, access_token: &str) -> Self {
        Self { access_token: access_token.to_owned(), ..self.clone() }
    }

    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The URL of `segments` under Graph (each percent-encoded) with `query`.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Whether `link` (a `@odata.nextLink` or `@odata.deltaLink`) points into this Graph: the
    /// token goes only where it came from.
    pub fn owns(&self, link: &Url) -> bool {
        link.origin() == self.base.origin() && link.path().starts_with(self.base.path())
    }

    /// Sends a request; returns the JSON answer (`Null` for an empty one).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Value, ApiError> {
        if !self.owns(&url) {
            return Err(ApiError::Refused("a link outside Graph".into()));
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let request = self
            .http
            .request(method, url)
            .bearer_auth(&self.access_token)
            .header("Prefer", "IdType=\"ImmutableId\"")
            .header("Prefer", "outlook.timezone=\"UTC\"")
            .header("Prefer", format!("odata.maxpagesize={PAGE_SIZE}"));
        crate::providers::http::send_json(request, body, if_match, MAX_BODY_BYTES, classify).await
    }
}

/// Graph's error body: `{"error": {"code", "message"}}`.
fn code(body: &[u8]) -> String {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    parsed["error"]["code"]
        .as_str()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(60)
        .collect()
}

fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> ApiError {
    let code = code(body);
    match status.as_u16() {
        401 => ApiError::Unauthorized,
        429 | 500..=599 => ApiError::Transient { retry_after, reason: format!("HTTP {} {code}", status.as_u16()) },
        410 => ApiError::SyncTokenInvalid,
        404 => ApiError::NotFound,
        409 | 412 => ApiError::Conflict,
        other => ApiError::Refused(format!("HTTP {other} {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"error": {"code": code, "message": "hunter2 was here"}})).unwrap()
    }

    #[test]
    fn graph_errors_are_classified_by_status_and_never_quote_the_message() {
        let wait = Some(Duration::from_secs(11));
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, None, &body("InvalidAuthenticationToken")),
            ApiError::Unauthorized
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, wait, &body("ApplicationThrottled")),
            ApiError::Transient { retry_after: wait, reason: "HTTP 429 ApplicationThrottled".into() }
        );
        assert_eq!(classify(StatusCode::GONE, None, &body("SyncStateNotFound")), ApiError::SyncTokenInvalid);
        assert_eq!(
            classify(StatusCode::PRECONDITION_FAILED, None, &body("ErrorIrresolvableConflict")),
            ApiError::Conflict
        );
        assert_eq!(classify(StatusCode::NOT_FOUND, None, &body("ErrorItemNotFound")), ApiError::NotFound);
        let refused = classify(StatusCode::BAD_REQUEST, None, &body("ErrorInvalidRequest"));
        assert_eq!(refused, ApiError::Refused("HTTP 400 ErrorInvalidRequest".into()));
        assert!(!refused.to_string().contains("hunter2"));
    }

    #[test]
    fn the_token_is_sent_only_to_links_inside_graph() {
        let client = GraphClient::new("https://graph.microsoft.com/v1.0", "t").unwrap();
        let own =
            Url::parse("https://graph.microsoft.com/v1.0/me/calendars/AQ%3D/calendarView/delta?$deltatoken=x").unwrap();
        assert!(client.owns(&own));
        for foreign in [
            "https://evil.example/v1.0/me",
            "http://graph.microsoft.com/v1.0/me",
            "https://graph.microsoft.com/beta/me",
        ] {
            assert!(!client.owns(&Url::parse(foreign).unwrap()), "{foreign}");
        }
        let url = client.url(&["me", "calendars", "AAMk/x=", "events"], &[]);
        assert_eq!(url.as_str(), "https://graph.microsoft.com/v1.0/me/calendars/AAMk%2Fx=/events");
    }
}

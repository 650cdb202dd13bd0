//! What every provider client shares: the HTTP clients themselves, built once per process (so a
//! warm Lambda reuses connections and TLS setup), and what is done with an answer before it is
//! interpreted: read the body without letting a huge or endless one grow past a limit, and take
//! the `Retry-After` the service asked for (delta-seconds, at most an hour). CalDAV, EWS, Google,
//! Graph and the identity platforms classify the result each in their own terms.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::{StatusCode, header::HeaderMap};

const USER_AGENT: &str = concat!("calsync/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Google's and Microsoft's APIs and identity platforms answer quickly or not at all.
const SERVICE_TIMEOUT: Duration = Duration::from_secs(30);
/// End-users' own servers (CalDAV, Exchange) can be slow with large calendars.
const SERVER_TIMEOUT: Duration = Duration::from_secs(60);

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
}

/// The client for Google's and Microsoft's APIs and identity platforms: redirects are not
/// followed, a request may take 30 seconds. `None` only when no client can be built at all (the
/// TLS backend failed), which callers report as their service being unavailable. Clones share
/// one connection pool.
pub(crate) fn service_client() -> Option<reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT.get_or_init(|| builder(SERVICE_TIMEOUT).build().ok()).clone()
}

/// The client for end-users' own servers (CalDAV, EWS): redirects are not followed, a request may
/// take a minute, and unless `allow_private` (local mode) names resolve to public addresses only,
/// checked at connect time (net.rs), so a server URL cannot reach into the deployment's network.
pub(crate) fn server_client(allow_private: bool) -> Option<reqwest::Client> {
    static PUBLIC: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    static ANY: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    if allow_private {
        ANY.get_or_init(|| builder(SERVER_TIMEOUT).build().ok()).clone()
    } else {
        PUBLIC
            .get_or_init(|| builder(SERVER_TIMEOUT).dns_resolver(crate::net::PublicResolver::shared()).build().ok())
            .clone()
    }
}

/// The longest wait a service may ask for that is honoured as asked.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Why an answer could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFailure {
    /// Timed out, refused, or cut short: worth retrying.
    Unreachable { timed_out: bool },
    /// The body passed the limit.
    TooLarge,
}

impl ReadFailure {
    fn from_reqwest(error: &reqwest::Error) -> Self {
        ReadFailure::Unreachable { timed_out: error.is_timeout() }
    }

    /// Words for a transient failure's reason.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            ReadFailure::Unreachable { timed_out: true } => "timed out",
            ReadFailure::Unreachable { timed_out: false } => "could not reach the service",
            ReadFailure::TooLarge => "the answer is too large",
        }
    }
}

/// A whole answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Sends `request` and reads its answer, the body capped at `limit` bytes.
pub(crate) async fn send(request: reqwest::RequestBuilder, limit: usize) -> Result<Answer, ReadFailure> {
    let mut response = request.send().await.map_err(|e| ReadFailure::from_reqwest(&e))?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = read_capped(&mut response, limit).await?;
    Ok(Answer { status, retry_after, body })
}

/// Why a request to a JSON API (Google Calendar, Microsoft Graph) failed. Each client decides
/// which statuses and error bodies mean what; no message quotes the service's own text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("the access token was refused")]
    Unauthorized,
    #[error("the service is throttling or unavailable ({reason})")]
    Transient { retry_after: Option<Duration>, reason: String },
    #[error("the sync token or delta link is no longer valid")]
    SyncTokenInvalid,
    #[error("the resource changed or already exists")]
    Conflict,
    #[error("the resource does not exist")]
    NotFound,
    #[error("the service refused the request ({0})")]
    Refused(String),
}

impl ApiError {
    /// The error as the sync engine takes it; `service` names who said a resource is missing.
    pub(crate) fn for_sync(self, service: &str) -> crate::sync::ProviderError {
        use crate::sync::ProviderError;
        match self {
            ApiError::Unauthorized => ProviderError::CredentialsDead,
            ApiError::Transient { retry_after, reason } => ProviderError::Transient { retry_after, reason },
            ApiError::SyncTokenInvalid => ProviderError::SyncTokenInvalid,
            ApiError::Conflict => ProviderError::Conflict,
            ApiError::NotFound => {
                ProviderError::Permanent(format!("the calendar or event does not exist at {service}"))
            }
            ApiError::Refused(reason) => ProviderError::Permanent(reason),
        }
    }
}

/// Sends a JSON API request with an optional JSON `body` and `If-Match`, the answer capped at
/// `limit` bytes: the JSON answer (`Null` when empty), or the error `classify` makes of an error
/// status and its body.
pub(crate) async fn send_json(
    mut request: reqwest::RequestBuilder,
    body: Option<&serde_json::Value>,
    if_match: Option<&str>,
    limit: usize,
    classify: fn(StatusCode, Option<Duration>, &[u8]) -> ApiError,
) -> Result<serde_json::Value, ApiError> {
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(etag) = if_match {
        request = request.header(reqwest::header::IF_MATCH, etag);
    }
    match send(request, limit).await {
        Err(ReadFailure::TooLarge) => Err(ApiError::Refused("the answer is too large".into())),
        Err(unreachable) => Err(ApiError::Transient { retry_after: None, reason: unreachable.reason().into() }),
        Ok(answer) if !answer.status.is_success() => Err(classify(answer.status, answer.retry_after, &answer.body)),
        Ok(answer) if answer.body.is_empty() => Ok(serde_json::Value::Null),
        Ok(answer) => {
            serde_json::from_slice(&answer.body).map_err(|_| ApiError::Refused("the answer is not JSON".into()))
        }
    }
}

/// Reads a body chunk by chunk and gives up as soon as it passes `limit`, so an endless or huge
/// response costs at most `limit` bytes of memory.
pub(crate) async fn read_capped(response: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, ReadFailure> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(ReadFailure::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| ReadFailure::from_reqwest(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(ReadFailure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `Retry-After` as delta-seconds, capped at an hour.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_and_capped_at_an_hour() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(reqwest::header::RETRY_AFTER, "86400".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2026 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}

//! The one error type every CalDAV call returns, classified for the sync engine: retry later
//! (`Transient`), stop and ask the user (`AuthFailed`), re-baseline (`SyncTokenInvalid`), refetch
//! and retry a write (`PreconditionFailed`), or give up on this request (`Permanent`,
//! `Malformed`, `Refused`). Messages never contain credentials, URLs' userinfo or resource bodies.

use std::time::Duration;

use http::{HeaderMap, StatusCode};

use super::multistatus::error_conditions;
use super::xml::{Ns, XmlError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalDavError {
    /// Worth retrying: 5xx, 429, timeouts and connection failures. `retry_after` is the server's
    /// `Retry-After` in seconds when it sent one (HTTP-date values are ignored: the caller's
    /// backoff applies).
    #[error("transient failure ({reason}); retry later")]
    Transient { retry_after: Option<Duration>, reason: String },
    /// 401 anywhere, or 403 during discovery: the credentials are wrong or revoked.
    #[error("the server refused the credentials")]
    AuthFailed,
    #[error("the resource does not exist")]
    NotFound,
    /// The sync token is no longer valid: list the collection again from no token.
    #[error("the server no longer accepts the sync token")]
    SyncTokenInvalid,
    /// `If-Match`/`If-None-Match` failed: the resource changed (or exists) on the server.
    #[error("the resource changed on the server (precondition failed)")]
    PreconditionFailed,
    /// The response could not be read safely or did not say what the protocol requires.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// Any other unsuccessful status; retrying the same request will not help.
    #[error("the server answered {0}: {1}")]
    Permanent(u16, String),
    /// The request was not sent because policy forbids it (plain HTTP, a bad or foreign URL).
    #[error("request refused: {0}")]
    Refused(String),
}

impl From<XmlError> for CalDavError {
    fn from(e: XmlError) -> Self {
        CalDavError::Malformed(e.to_string())
    }
}

impl From<reqwest::Error> for CalDavError {
    /// reqwest's own messages include the URL; only the kind of failure is kept here.
    fn from(e: reqwest::Error) -> Self {
        if crate::net::resolved_not_public(&e) {
            return CalDavError::Refused("the server's address is not on the public internet".into());
        }
        let reason = crate::net::failure_reason(&e);
        CalDavError::Transient { retry_after: None, reason: reason.to_owned() }
    }
}

/// What a request was for, which changes how some statuses read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Finding the principal and home set: a 403 there means the account is not usable.
    Discovery,
    /// A sync-collection REPORT: 403/409/410/412, or a `DAV:valid-sync-token` body, mean the token
    /// died (Radicale answers 403, Xandikos 412, others 409/410; providers.md §4.2).
    SyncCollection,
    /// A conditional PUT or DELETE: 412 is a precondition failure.
    Write,
    Other,
}

/// Classifies an unsuccessful response.
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8], purpose: Purpose) -> CalDavError {
    let code = status.as_u16();
    let conditions = error_conditions(body);
    let has_condition = |name: &str| conditions.iter().any(|(ns, n)| *ns == Ns::Dav && n == name);
    if purpose == Purpose::SyncCollection
        && (has_condition("valid-sync-token") || matches!(code, 403 | 409 | 410 | 412))
    {
        return CalDavError::SyncTokenInvalid;
    }
    match code {
        401 => CalDavError::AuthFailed,
        403 if purpose == Purpose::Discovery => CalDavError::AuthFailed,
        404 => CalDavError::NotFound,
        412 => CalDavError::PreconditionFailed,
        429 | 500..=599 => CalDavError::Transient {
            retry_after: crate::providers::http::retry_after(headers),
            reason: format!("HTTP {code}"),
        },
        _ => CalDavError::Permanent(code, status.canonical_reason().unwrap_or("unexpected status").to_owned()),
    }
}

//! The one error type every EWS call returns, classified once (providers.md §5, §7 items 11-12):
//! retry later (`Transient`, with the `BackOffMilliseconds` a busy server asked for), stop and
//! ask the user (`Unauthorized`, `AccessGone`), re-baseline (`SyncStateInvalid`), refetch and
//! retry a write (`Conflict`), or give up on this request. Messages carry EWS response codes,
//! never a response body, a `MessageText` or credentials.

use std::time::Duration;

use reqwest::StatusCode;

use crate::providers::caldav::xml::{Element, Ns, XmlError};

/// The longest wait a busy server may ask for that is honoured as asked.
const MAX_BACK_OFF: Duration = Duration::from_secs(3600);
/// Longest response code kept in a message.
const MAX_CODE_LEN: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EwsError {
    /// HTTP 401: the user name or password is wrong, or was changed.
    #[error("the server refused the credentials")]
    Unauthorized,
    /// The account authenticated but may no longer act on the mailbox (impersonation revoked, the
    /// mailbox removed, access denied): as dead as a wrong password. Holds the response code.
    #[error("the account may no longer use the mailbox ({0})")]
    AccessGone(String),
    /// Worth retrying: a busy server (with the wait it asked for), 5xx, timeouts, network.
    #[error("transient failure ({reason}); retry later")]
    Transient { retry_after: Option<Duration>, reason: String },
    /// `ErrorInvalidSyncStateData`: sync the folder again from no state.
    #[error("the server no longer accepts the sync state")]
    SyncStateInvalid,
    /// `ErrorIrresolvableConflict`: the item changed since its ChangeKey was read.
    #[error("the item changed at the server")]
    Conflict,
    /// `ErrorItemNotFound`.
    #[error("the item does not exist")]
    NotFound,
    /// `ErrorCalendarViewRangeTooBig`: the calendar view asked for spans more than two years.
    #[error("the calendar view range is too big")]
    RangeTooBig,
    /// Any other unsuccessful answer; retrying the same request will not help.
    #[error("the server answered {0}")]
    Failed(String),
    /// The answer could not be read safely or did not say what the protocol requires.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The answer passed the size or element cap (a smaller request may pass).
    #[error("the answer is too large: {0}")]
    TooLarge(String),
    /// The request was not sent because policy forbids it (plain HTTP, a private address).
    #[error("request refused: {0}")]
    Refused(String),
}

impl From<XmlError> for EwsError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::TooLarge { .. } | XmlError::TooManyElements { .. } => EwsError::TooLarge(e.to_string()),
            e => EwsError::Malformed(e.to_string()),
        }
    }
}

/// A response code as it may appear in a message: letters and digits only, bounded.
pub(crate) fn clean_code(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).take(MAX_CODE_LEN).collect()
}

/// Classifies an EWS response code (from a response message or a SOAP fault); `back_off` is the
/// `BackOffMilliseconds` value that came with it.
pub(crate) fn from_code(code: &str, back_off: Option<Duration>) -> EwsError {
    let code = clean_code(code);
    match code.as_str() {
        "ErrorInvalidSyncStateData" => EwsError::SyncStateInvalid,
        "ErrorIrresolvableConflict" => EwsError::Conflict,
        "ErrorItemNotFound" => EwsError::NotFound,
        "ErrorCalendarViewRangeTooBig" => EwsError::RangeTooBig,
        "ErrorImpersonateUserDenied"
        | "ErrorImpersonationDenied"
        | "ErrorImpersonationFailed"
        | "ErrorNonExistentMailbox"
        | "ErrorAccessDenied"
        | "ErrorAccountDisabled" => EwsError::AccessGone(code),
        "ErrorServerBusy"
        | "ErrorTimeoutExpired"
        | "ErrorInternalServerTransientError"
        | "ErrorInternalServerError"
        | "ErrorMailboxMoveInProgress"
        | "ErrorMailboxStoreUnavailable"
        | "ErrorExceededConnectionCount"
        | "ErrorConnectionFailed"
        | "ErrorBatchProcessingStopped"
        | "ErrorTooManyObjectsOpened" => EwsError::Transient { retry_after: back_off, reason: code },
        _ => EwsError::Failed(code),
    }
}

/// Fault codes that say the request itself is wrong: a 500 carrying one is not retried.
fn request_is_wrong(code: &str) -> bool {
    matches!(
        code,
        "ErrorSchemaValidation"
            | "ErrorInvalidRequest"
            | "ErrorInvalidServerVersion"
            | "ErrorIncorrectSchemaVersion"
            | "ErrorInvalidSchemaVersionForMailboxVersion"
    )
}

/// The `BackOffMilliseconds` value inside an element's `MessageXml`, capped at an hour.
pub(crate) fn back_off(holder: &Element) -> Option<Duration> {
    let xml = holder.children.iter().find(|c| c.name == "MessageXml")?;
    let value =
        xml.children.iter().find(|v| v.name == "Value" && v.attribute("Name") == Some("BackOffMilliseconds"))?;
    let millis: u64 = value.trimmed_text().parse().ok()?;
    Some(Duration::from_millis(millis).min(MAX_BACK_OFF))
}

/// Classifies a SOAP fault: `detail/e:ResponseCode` when present, else the local part of
/// `faultcode`. A fault is sent with HTTP 500, so codes that are not known to be the request's
/// fault count as transient.
pub(crate) fn from_fault(fault: &Element) -> EwsError {
    // faultcode, faultstring and detail are unqualified in SOAP 1.1.
    let detail = fault.children.iter().find(|c| c.name == "detail");
    let code = detail
        .and_then(|d| d.child(Ns::EwsErrors, "ResponseCode"))
        .map(|c| c.trimmed_text().to_owned())
        .or_else(|| {
            let faultcode = fault.children.iter().find(|c| c.name == "faultcode")?;
            let text = faultcode.trimmed_text();
            Some(text.rsplit(':').next().unwrap_or(text).to_owned())
        })
        .unwrap_or_default();
    let wait = detail.and_then(back_off);
    match from_code(&code, wait) {
        EwsError::Failed(code) if !request_is_wrong(&code) => {
            EwsError::Transient { retry_after: wait, reason: format!("SOAP fault {code}") }
        }
        classified => classified,
    }
}

/// Classifies an HTTP answer that is not a 200, `fault` being the SOAP fault it carried, if any.
pub(crate) fn from_status(status: StatusCode, retry_after: Option<Duration>, fault: Option<&Element>) -> EwsError {
    let code = status.as_u16();
    match (code, fault) {
        (401, _) => EwsError::Unauthorized,
        (500..=599, Some(fault)) => from_fault(fault),
        (429 | 500..=599, None) => EwsError::Transient { retry_after, reason: format!("HTTP {code}") },
        (300..=399, _) => EwsError::Failed(format!("HTTP {code} (a redirect, which is not followed)")),
        _ => EwsError::Failed(format!("HTTP {code}")),
    }
}

impl From<reqwest::Error> for EwsError {
    /// reqwest's own messages include the URL; only the kind of failure is kept here.
    fn from(e: reqwest::Error) -> Self {
        if crate::net::resolved_not_public(&e) {
            return EwsError::Refused("the server's address is not on the public internet".into());
        }
        let reason = crate::net::failure_reason(&e);
        EwsError::Transient { retry_after: None, reason: reason.to_owned() }
    }
}

//! The HTTP side of the CalDAV client: one reqwest client per account with pre-emptive Basic
//! auth (iCloud's challenge names a scheme generic clients reject, providers.md §4.3), fixed
//! timeouts, a body size cap enforced while downloading, and no automatic redirects.
//!
//! Redirects are never followed by reqwest: a redirect to another origin would carry the
//! password there. Discovery follows the `/.well-known/caldav` redirect itself (same origin
//! only); everywhere else a 3xx is a `Permanent` error. Plain `http://` is refused unless the
//! policy allows it (the local single-process mode and tests), and so is an href pointing at a
//! different origin over plain HTTP. Outside local mode only public addresses are contacted: IP
//! literals are checked on every URL and names are resolved by a resolver that drops non-public
//! addresses, so a server URL typed by an end-user cannot reach into the deployment's network.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::errors::CalDavError;
use super::xml::XmlError;
use crate::net::check_host;

/// Largest response body read; a bigger one is abandoned mid-download.
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;
pub(crate) const XML: &str = "application/xml; charset=utf-8";

/// What the client may talk to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Allow plain `http://` URLs (local mode and tests only; credentials travel in clear).
    pub allow_http: bool,
    /// Allow servers on private, loopback and other non-public addresses (local mode, where the
    /// server is often on the same network). In production an end-user's server URL must not
    /// reach into the deployment's own network.
    pub allow_private: bool,
}

impl Policy {
    /// The local single-process mode and tests: plain HTTP and private addresses allowed.
    pub fn local() -> Self {
        Policy { allow_http: true, allow_private: true }
    }

    /// Production: HTTPS to public addresses only.
    pub fn production() -> Self {
        Policy { allow_http: false, allow_private: false }
    }

    /// The policy of a process running in `mode`.
    pub fn for_mode(mode: crate::config::Mode) -> Self {
        if mode == crate::config::Mode::Local { Self::local() } else { Self::production() }
    }
}

/// A CalDAV client for one account on one server.
#[derive(Debug, Clone)]
pub struct CalDavClient {
    http: reqwest::Client,
    base: Url,
    username: String,
    password: SecretString,
    policy: Policy,
    requests: Arc<AtomicU64>,
}

/// A response whose status the caller interprets; the body is at most [`MAX_BODY_BYTES`].
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl CalDavClient {
    pub fn new(base_url: &str, username: &str, password: &str, policy: Policy) -> Result<Self, CalDavError> {
        let base =
            Url::parse(base_url).map_err(|_| CalDavError::Refused("the server URL is not a valid URL".into()))?;
        if !base.username().is_empty() || base.password().is_some() {
            return Err(CalDavError::Refused("the server URL must not embed credentials".into()));
        }
        check_scheme(&base, policy)?;
        let http = crate::providers::http::server_client(policy.allow_private)
            .ok_or_else(|| CalDavError::Refused("the HTTP client could not be built".into()))?;
        Ok(Self {
            http,
            base,
            username: username.to_owned(),
            password: SecretString::from(password.to_owned()),
            policy,
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many HTTP requests this client (and its clones) sent, for tests and metrics.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Resolves an href (absolute path or URL, as servers send them) against the server URL and
    /// applies the transport policy to the result.
    pub(crate) fn resolve(&self, href: &str) -> Result<Url, CalDavError> {
        let url = self.base.join(href).map_err(|_| CalDavError::Malformed("an href is not a valid URL".into()))?;
        check_scheme(&url, self.policy)?;
        if url.scheme() == "http" && url.origin() != self.base.origin() {
            return Err(CalDavError::Refused("an href points at another origin over plain HTTP".into()));
        }
        Ok(url)
    }

    /// Resolves a collection href, making sure it ends with `/` so members join beneath it.
    pub(crate) fn resolve_collection(&self, href: &str) -> Result<Url, CalDavError> {
        let mut url = self.resolve(href)?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(url)
    }

    /// Sends one request and reads the body up to the cap. Any status comes back as a `Reply`;
    /// only transport failures and oversize bodies are errors here.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(HeaderName, &str)],
        body: Option<(&'static str, String)>,
    ) -> Result<Reply, CalDavError> {
        let mut request =
            self.http.request(method, url.clone()).basic_auth(&self.username, Some(self.password.expose_secret()));
        for (name, value) in headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| CalDavError::Refused(format!("the {name} header value is not valid")))?;
            request = request.header(name, value);
        }
        if let Some((content_type, body)) = body {
            request = request.header(http::header::CONTENT_TYPE, content_type).body(body);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_capped(&mut response, MAX_BODY_BYTES).await?;
        Ok(Reply { status, headers, body })
    }
}

/// The body, at most `limit` bytes (`providers::http::read_capped`), in CalDAV's error terms.
pub(crate) async fn read_capped(response: &mut reqwest::Response, limit: usize) -> Result<Vec<u8>, CalDavError> {
    use crate::providers::http::{self, ReadFailure};
    http::read_capped(response, limit).await.map_err(|failure| match failure {
        ReadFailure::TooLarge => CalDavError::from(XmlError::TooLarge { limit }),
        unreachable => CalDavError::Transient { retry_after: None, reason: unreachable.reason().to_owned() },
    })
}

fn check_scheme(url: &Url, policy: Policy) -> Result<(), CalDavError> {
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err(CalDavError::Refused("plain HTTP is not allowed; use https".into())),
        _ => return Err(CalDavError::Refused("only http and https URLs are supported".into())),
    }
    if !policy.allow_private && check_host(url).is_err() {
        return Err(CalDavError::Refused("the server's address is not on the public internet".into()));
    }
    Ok(())
}

/// The comparable form of a URL: its path with percent-escapes decoded, because servers spell
/// the same href with different escaping (`%40` vs `@`) and with or without the origin.
pub(crate) fn href_key(url: &Url) -> String {
    let path = url.path();
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%').then(|| path.get(i + 1..i + 3)).flatten();
        if let Some(byte) = escaped.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes one path segment (a resource name such as `uid.ics`).
pub(crate) fn encode_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

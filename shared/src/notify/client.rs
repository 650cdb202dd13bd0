//! The HTTP client that delivers notifications to applications' callback URLs, safe against
//! server-side request forgery (reliability-security.md R37).
//!
//! A callback URL must be HTTPS (plain HTTP only where local mode allows it) and must lead to the
//! public internet: IP literals are checked as written, and names are resolved by a resolver that
//! drops every non-public address, at registration and again when each delivery connects, so a
//! name that later re-resolves to a private address is refused then. Redirects are not followed,
//! timeouts are short, and no more than a few kilobytes of any response are read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::Resolve;
use url::{Host, Url};

use crate::config::{Config, Mode};
use crate::net::{PublicResolver, is_public};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Most of a response read (and then dropped): endpoints only need to answer 2xx.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;
/// Longest callback URL accepted (Cronofy's documented limit).
pub const MAX_CALLBACK_URL_LEN: usize = 128;
const USER_AGENT: &str = concat!("calsync/", env!("CARGO_PKG_VERSION"));

/// Why a callback URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("must be a valid URL")]
    Invalid,
    #[error("must be at most 128 characters")]
    TooLong,
    #[error("must use https")]
    NotHttps,
    #[error("must not contain credentials")]
    Credentials,
    #[error("must lead to a public internet address")]
    NotPublic,
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The HTTP status, or what happened instead (`timeout`, `connect_failed`, `refused`, …).
    pub status: String,
    pub delivered: bool,
    /// The destination is not allowed (not public, not https): retrying cannot help.
    pub refused: bool,
    pub latency: Duration,
}

/// Where callbacks may go, and the client that takes them there.
#[derive(Debug, Clone)]
pub struct CallbackClient {
    http: reqwest::Client,
    resolver: PublicResolver,
    allow_http: bool,
    allow_private: bool,
}

impl CallbackClient {
    /// The client for this configuration: plain HTTP where `CALSYNC_ALLOW_HTTP_CALLBACKS` says so,
    /// private addresses in local mode only.
    pub fn from_config(config: &Config) -> Result<Self, reqwest::Error> {
        Self::build(config.allow_http_callbacks, config.mode == Mode::Local, PublicResolver::default())
    }

    /// A production-strict client (HTTPS, public addresses only) whose names are resolved by
    /// `resolver`: how tests stand in for DNS.
    pub fn strict_with_resolver(resolver: Arc<dyn Resolve>) -> Result<Self, reqwest::Error> {
        Self::build(false, false, PublicResolver::over(resolver))
    }

    fn build(allow_http: bool, allow_private: bool, resolver: PublicResolver) -> Result<Self, reqwest::Error> {
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT);
        let builder = if allow_private { builder } else { builder.dns_resolver(Arc::new(resolver.clone())) };
        let http = builder.build()?;
        Ok(Self { http, resolver, allow_http, allow_private })
    }

    /// Checks a callback URL as an application registers it: shape, scheme, and (outside local
    /// mode) that its host is or resolves to a public address now.
    pub async fn check(&self, raw: &str) -> Result<Url, CallbackError> {
        if raw.len() > MAX_CALLBACK_URL_LEN {
            return Err(CallbackError::TooLong);
        }
        let url = Url::parse(raw).map_err(|_| CallbackError::Invalid)?;
        self.check_shape(&url)?;
        if !self.allow_private {
            match url.host() {
                Some(Host::Domain(name)) => {
                    self.resolver.public(name).await.map_err(|_| CallbackError::NotPublic)?;
                }
                Some(Host::Ipv4(ip)) if !is_public(ip.into()) => return Err(CallbackError::NotPublic),
                Some(Host::Ipv6(ip)) if !is_public(ip.into()) => return Err(CallbackError::NotPublic),
                _ => {}
            }
        }
        Ok(url)
    }

    fn check_shape(&self, url: &Url) -> Result<(), CallbackError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            _ => return Err(CallbackError::NotHttps),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CallbackError::Credentials);
        }
        if url.host().is_none() {
            return Err(CallbackError::Invalid);
        }
        Ok(())
    }

    /// POSTs `body` to `url` with the signature header (left out when `signature` is empty);
    /// never follows a redirect.
    pub async fn deliver(&self, url: &str, body: Vec<u8>, signature: &str) -> Attempt {
        let started = Instant::now();
        let refused = |status: &str| Attempt {
            status: status.to_owned(),
            delivered: false,
            refused: true,
            latency: started.elapsed(),
        };
        let Ok(parsed) = Url::parse(url) else { return refused("invalid_url") };
        if self.check_shape(&parsed).is_err() {
            return refused("refused");
        }
        if !self.allow_private && crate::net::check_host(&parsed).is_err() {
            return refused("refused");
        }
        let mut request =
            self.http.post(parsed).header(http::header::CONTENT_TYPE, "application/json; charset=utf-8").body(body);
        if !signature.is_empty() {
            request = request.header(super::sign::HEADER, signature);
        }
        let status = match request.send().await {
            Ok(mut response) => {
                let status = response.status();
                // Read a little of the body so the connection can be reused, then stop.
                let mut read = 0;
                while read < MAX_RESPONSE_BYTES {
                    match response.chunk().await {
                        Ok(Some(chunk)) => read += chunk.len(),
                        _ => break,
                    }
                }
                return Attempt {
                    status: status.as_u16().to_string(),
                    delivered: status.is_success(),
                    refused: false,
                    latency: started.elapsed(),
                };
            }
            Err(e) if crate::net::resolved_not_public(&e) => return refused("refused"),
            Err(e) if e.is_timeout() => "timeout",
            Err(e) if e.is_connect() => "connect_failed",
            Err(_) => "failed",
        };
        Attempt { status: status.to_owned(), delivered: false, refused: false, latency: started.elapsed() }
    }
}

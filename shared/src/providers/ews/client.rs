//! The HTTP side of the EWS client: one reqwest client per account with pre-emptive Basic auth,
//! fixed timeouts, a body size cap enforced while downloading, no redirects (one to another
//! origin would carry the password there), and the outbound policy CalDAV uses: plain HTTP and
//! private addresses only in the local mode, names resolved to public addresses only otherwise.
//!
//! [`EwsAccount`] is who calsync acts as (a login, and the mailbox it impersonates when a service
//! account acts for a user); [`EwsClient`] is that account bound to one EWS URL. Clients of one
//! account share its request counter, autodiscover requests included.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::errors::{EwsError, from_status};
use super::soap::{self, Answer};
use crate::crypto::Credentials;
use crate::net::check_host;
use crate::providers::caldav::Policy;
use crate::providers::caldav::xml::Element;
use crate::providers::http::{self, ReadFailure};

/// Largest answer read; a bigger one is abandoned mid-download.
pub const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;
pub(crate) const SOAP_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// The user name and password calsync signs in with.
#[derive(Clone)]
pub struct Login {
    pub username: String,
    pub password: SecretString,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("username", &self.username).finish_non_exhaustive()
    }
}

impl Login {
    /// The login a profile's credentials hold: the username when one was given, else the email.
    /// An Exchange service account (Enterprise Connect) signs in the same way.
    pub fn from_credentials(credentials: &Credentials) -> Option<Self> {
        let (username, password) = match credentials {
            Credentials::Password { email, password, username } => (username.as_deref().unwrap_or(email), password),
            Credentials::ServiceAccount { principal, secret, username, .. } => {
                (username.as_deref().unwrap_or(principal), secret)
            }
            Credentials::AppSpecificPassword { .. } | Credentials::OauthTokenSet { .. } => return None,
        };
        Some(Login { username: username.to_owned(), password: SecretString::from(password.clone()) })
    }
}

/// Who calsync acts as at an Exchange organisation.
#[derive(Debug, Clone)]
pub struct EwsAccount {
    http: reqwest::Client,
    login: Login,
    impersonate: Option<String>,
    policy: Policy,
    requests: Arc<AtomicU64>,
}

/// An account bound to one EWS endpoint (`…/EWS/Exchange.asmx`).
#[derive(Debug, Clone)]
pub struct EwsClient {
    account: EwsAccount,
    endpoint: Url,
}

impl EwsAccount {
    /// `impersonate` is the mailbox a service account acts for (`ExchangeImpersonation` and
    /// `X-AnchorMailbox`); `None` acts on the signed-in account's own mailbox.
    pub fn new(login: Login, impersonate: Option<&str>, policy: Policy) -> Result<Self, EwsError> {
        let http = crate::providers::http::server_client(policy.allow_private)
            .ok_or_else(|| EwsError::Refused("the HTTP client could not be built".into()))?;
        Ok(Self {
            http,
            login,
            impersonate: impersonate.map(str::to_owned),
            policy,
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// This account at the EWS endpoint `url`.
    pub fn client(&self, url: &str) -> Result<EwsClient, EwsError> {
        let endpoint = self.check_url(url)?;
        Ok(EwsClient { account: self.clone(), endpoint })
    }

    /// How many HTTP requests this account's clients sent, for tests and sync reports.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn impersonated(&self) -> Option<&str> {
        self.impersonate.as_deref()
    }

    /// Parses `url` and applies the transport policy to it.
    pub(crate) fn check_url(&self, url: &str) -> Result<Url, EwsError> {
        let url = Url::parse(url).map_err(|_| EwsError::Refused("the server URL is not a valid URL".into()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(EwsError::Refused("the server URL must not embed credentials".into()));
        }
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allow_http => {}
            "http" => return Err(EwsError::Refused("plain HTTP is not allowed; use https".into())),
            _ => return Err(EwsError::Refused("only http and https URLs are supported".into())),
        }
        if !self.policy.allow_private && check_host(&url).is_err() {
            return Err(EwsError::Refused("the server's address is not on the public internet".into()));
        }
        Ok(url)
    }

    /// POSTs `body` to `url` with the account's credentials; returns the status, the
    /// `Retry-After` asked for, and the body read up to [`MAX_BODY_BYTES`].
    pub(crate) async fn post(
        &self,
        url: &Url,
        content_type: &'static str,
        body: String,
    ) -> Result<(StatusCode, Option<Duration>, Vec<u8>), EwsError> {
        let mut request = self
            .http
            .post(url.clone())
            .basic_auth(&self.login.username, Some(self.login.password.expose_secret()))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(mailbox) = &self.impersonate {
            // Routes the request to the mailbox's server (required with impersonation).
            request = request.header("X-AnchorMailbox", mailbox.as_str());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = request.send().await?;
        let status = response.status();
        let retry_after = http::retry_after(response.headers());
        let body = http::read_capped(&mut response, MAX_BODY_BYTES).await.map_err(|failure| match failure {
            ReadFailure::TooLarge => EwsError::TooLarge(format!("more than {MAX_BODY_BYTES} bytes")),
            unreachable => EwsError::Transient { retry_after: None, reason: unreachable.reason().to_owned() },
        })?;
        Ok((status, retry_after, body))
    }
}

impl EwsClient {
    /// A client for the EWS endpoint `url`, signing in with `login` and acting for `impersonate`
    /// when given.
    pub fn new(url: &str, login: Login, impersonate: Option<&str>, policy: Policy) -> Result<Self, EwsError> {
        EwsAccount::new(login, impersonate, policy)?.client(url)
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    pub fn account(&self) -> &EwsAccount {
        &self.account
    }

    pub fn requests_sent(&self) -> u64 {
        self.account.requests_sent()
    }

    /// Sends one operation (`body` is its element, e.g. `<m:GetItem>…</m:GetItem>`) and returns
    /// the `m:{operation}Response` element; HTTP failures and SOAP faults come back classified.
    pub(crate) async fn call(&self, operation: &str, body: &str) -> Result<Element, EwsError> {
        let envelope = soap::envelope(self.account.impersonate.as_deref(), body);
        let (status, retry_after, answer) = self.account.post(&self.endpoint, SOAP_CONTENT_TYPE, envelope).await?;
        if status == StatusCode::OK {
            return soap::read_response(&answer, operation);
        }
        // A 500 carries a SOAP fault; anything unreadable is classified by its status alone.
        let fault = match soap::read_envelope(&answer) {
            Ok(Answer::Fault(fault)) => Some(fault),
            _ => None,
        };
        Err(from_status(status, retry_after, fault.as_ref()))
    }
}

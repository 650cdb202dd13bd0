//! The OAuth side of an adapter whose service takes a short-lived bearer token (Google, Graph):
//! the account's token set, renewed when less than the refresh margin of the access token's
//! life is left. The identity platform may rotate the refresh token on renewal (Microsoft always
//! does); the renewed set is handed back whole so the engine stores it and drops the old one.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::provider::ProviderError;
use crate::crypto::Credentials;
use crate::providers::{
    OAuthClient,
    oauth::{IdentityPlatform, needs_refresh},
};

/// One account's tokens at one identity platform.
#[derive(Debug)]
pub(super) struct OAuthSession {
    platform: IdentityPlatform,
    client: Option<OAuthClient>,
    credentials: Mutex<Credentials>,
    now: DateTime<Utc>,
}

impl OAuthSession {
    /// Refuses credentials that are not a token set (a password profile given the wrong adapter).
    pub(super) fn new(
        platform: IdentityPlatform,
        client: Option<OAuthClient>,
        credentials: Credentials,
        now: DateTime<Utc>,
    ) -> Result<Self, ProviderError> {
        if !matches!(credentials, Credentials::OauthTokenSet { .. }) {
            return Err(ProviderError::Permanent("the profile's credentials are not an OAuth token set".into()));
        }
        Ok(Self { platform, client, credentials: Mutex::new(credentials), now })
    }

    /// The time the job started at.
    pub(super) fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The current access token.
    pub(super) fn access_token(&self) -> String {
        let credentials = self.credentials.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*credentials {
            Credentials::OauthTokenSet { access_token, .. } => access_token.clone(),
            _ => String::new(),
        }
    }

    /// Renews the token set when it is near expiry; `None` when it is not.
    pub(super) async fn renew(&self) -> Result<Option<Credentials>, ProviderError> {
        let current = self.credentials.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if !needs_refresh(&current, self.now) {
            return Ok(None);
        }
        let Some(client) = &self.client else {
            return Err(ProviderError::Permanent("no OAuth client is configured for this provider".into()));
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ProviderError::Permanent("the HTTP client could not be built".into()))?;
        let renewed = self.platform.refresh(&http, client, &current, self.now).await?;
        if !matches!(renewed, Credentials::OauthTokenSet { .. }) {
            return Err(ProviderError::Permanent("the refresh did not give a token set".into()));
        }
        *self.credentials.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = renewed.clone();
        Ok(Some(renewed))
    }
}

//! The OAuth clients calsync is registered as with Google and Microsoft: read at cold start
//! from a Secrets Manager secret in Lambda, so client secrets never sit in the environment.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// One registered OAuth client.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: SecretString,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// The providers' OAuth clients; a provider without one cannot be connected.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderClients {
    pub google: Option<OAuthClient>,
    pub microsoft: Option<OAuthClient>,
    /// calsync's Google service account (Google's JSON key file), for Enterprise Connect with
    /// Google Workspace domain-wide delegation; without it that choice is not offered.
    #[serde(default)]
    pub google_service_account: Option<super::google::delegation::ServiceAccountKey>,
}

/// Why the provider secret was refused; never quotes the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProviderClientsError {
    #[error(
        "the provider secret must be JSON such as {{\"google\": {{\"client_id\": \"…\", \"client_secret\": \"…\"}}, \
         \"microsoft\": {{…}}}} ({0})"
    )]
    Malformed(String),
    #[error("the {0} client has an empty client_id or client_secret")]
    Empty(&'static str),
    #[error("google_service_account: {0}")]
    ServiceAccountKey(super::google::delegation::KeyError),
}

impl ProviderClients {
    pub fn from_json(raw: &SecretString) -> Result<Self, ProviderClientsError> {
        // serde's message names the field and position, never the value.
        let clients: Self = serde_json::from_str(raw.expose_secret())
            .map_err(|e| ProviderClientsError::Malformed(format!("line {} column {}", e.line(), e.column())))?;
        for (name, client) in [("google", &clients.google), ("microsoft", &clients.microsoft)] {
            if let Some(c) = client {
                if c.client_id.trim().is_empty() || c.client_secret.expose_secret().trim().is_empty() {
                    return Err(ProviderClientsError::Empty(name));
                }
            }
        }
        if let Some(key) = &clients.google_service_account {
            key.check().map_err(ProviderClientsError::ServiceAccountKey)?;
        }
        Ok(clients)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_secret_parses_with_either_provider_or_none() {
        let both = r#"{"google": {"client_id": "g.apps", "client_secret": "gs"}, "microsoft": {"client_id": "m", "client_secret": "ms"}}"#;
        let clients = ProviderClients::from_json(&SecretString::from(both)).expect("valid");
        assert_eq!(clients.google.as_ref().map(|c| c.client_id.as_str()), Some("g.apps"));
        assert_eq!(clients.microsoft.as_ref().map(|c| c.client_secret.expose_secret()), Some("ms"));
        let none = ProviderClients::from_json(&SecretString::from("{}")).expect("valid");
        assert!(none.google.is_none() && none.microsoft.is_none());
    }

    #[test]
    fn a_malformed_provider_secret_is_refused_without_quoting_it() {
        let typo = r#"{"gogle": {"client_id": "x", "client_secret": "hunter2"}}"#;
        let error = ProviderClients::from_json(&SecretString::from(typo)).unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(matches!(error, ProviderClientsError::Malformed(_)));
        let empty = r#"{"google": {"client_id": "x", "client_secret": " "}}"#;
        let refused = ProviderClients::from_json(&SecretString::from(empty));
        assert!(matches!(refused, Err(ProviderClientsError::Empty("google"))), "{refused:?}");
    }

    #[test]
    fn the_provider_secret_may_hold_googles_service_account_key_and_a_bad_one_is_refused_unquoted() {
        let key: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/google/TEST-ONLY-service-account.json"))
                .unwrap();
        let raw = serde_json::json!({"google_service_account": key}).to_string();
        let clients = ProviderClients::from_json(&SecretString::from(raw)).expect("valid");
        let account = clients.google_service_account.expect("the service account");
        assert_eq!(account.client_id, "104857600000000000001");
        let bad = r#"{"google_service_account": {"client_email": "a@b", "client_id": "1", "private_key": "hunter2"}}"#;
        let error = ProviderClients::from_json(&SecretString::from(bad)).unwrap_err();
        assert!(matches!(error, ProviderClientsError::ServiceAccountKey(_)), "{error:?}");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}

//! The plaintext forms of provider credentials, which exist only in memory.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::domain::{CredentialKind, ProviderName};

/// What calsync needs to reach a profile's calendar service.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Credentials {
    /// Google, Office 365, Outlook.com: an OAuth token set.
    OauthTokenSet {
        access_token: String,
        refresh_token: Option<String>,
        expires_at: Option<DateTime<Utc>>,
        scope: Option<String>,
    },
    /// Apple iCloud: email address and app-specific password.
    AppSpecificPassword { email: String, password: String },
    /// Exchange (and generic CalDAV): email and password, plus a username where the server needs one.
    Password { email: String, password: String, username: Option<String> },
    /// Enterprise Connect: the service account's own credentials, never an end-user's.
    ServiceAccount {
        provider: ProviderName,
        /// Google client email, Microsoft client id, or Exchange account email.
        principal: String,
        /// Google private key, Microsoft client secret, or Exchange password.
        secret: String,
        username: Option<String>,
        /// Microsoft tenant id.
        tenant: Option<String>,
    },
}

impl Credentials {
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credentials::OauthTokenSet { .. } => CredentialKind::OauthTokenSet,
            Credentials::AppSpecificPassword { .. } => CredentialKind::AppSpecificPassword,
            Credentials::Password { .. } => CredentialKind::Password,
            Credentials::ServiceAccount { .. } => CredentialKind::ServiceAccount,
        }
    }
}

// Never print secrets, even in debug logs or panic messages.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials::{}(<redacted>)", self.kind())
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        match self {
            Credentials::OauthTokenSet { access_token, refresh_token, scope, .. } => {
                access_token.zeroize();
                refresh_token.zeroize();
                scope.zeroize();
            }
            Credentials::AppSpecificPassword { email, password } => {
                email.zeroize();
                password.zeroize();
            }
            Credentials::Password { email, password, username } => {
                email.zeroize();
                password.zeroize();
                username.zeroize();
            }
            Credentials::ServiceAccount { principal, secret, username, tenant, .. } => {
                principal.zeroize();
                secret.zeroize();
                username.zeroize();
                tenant.zeroize();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret() {
        let c = Credentials::Password { email: "a@example.com".into(), password: "hunter2".into(), username: None };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("a@example.com"), "{shown}");
    }
}

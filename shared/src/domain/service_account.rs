//! A service account (Enterprise Connect): an organisation's account with the right to act for
//! its users' mailboxes (Exchange's ApplicationImpersonation role today; Google domain-wide
//! delegation and Office 365 application permissions later), authorized once for one integrator
//! application. It is itself a calsync account with an authorization holding
//! `service_account/accounts/manage`; its credentials are the only ones the mailboxes it
//! authorizes use (policy.md "Enterprise Connect").

use chrono::{DateTime, Utc};

use super::{AccountId, ApplicationId, ProviderName, Scopes, ServiceAccountId};

/// A stored service account, without its sealed credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub id: ServiceAccountId,
    /// The application it was authorized for; only that application may use it.
    pub application_id: ApplicationId,
    /// The service account's own calsync account: its authorization lives there, and erasing
    /// that account erases this row.
    pub account_id: AccountId,
    /// `exchange` for now.
    pub provider: ProviderName,
    /// The service account's address, lower case.
    pub email: String,
    /// The Exchange server (an EWS endpoint or a base URL); `None` to use Autodiscover.
    pub server_url: Option<String>,
    /// The scopes the mailboxes it authorizes may be granted (`delegated_scope`).
    pub delegated_scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ServiceAccount {
    /// The organisation's domain: the part of the email after `@`, lower case.
    pub fn domain(&self) -> &str {
        domain_of(&self.email).unwrap_or_default()
    }

    /// Whether `email` belongs to the service account's organisation (the same domain).
    pub fn covers(&self, email: &str) -> bool {
        domain_of(email).is_some_and(|d| d.eq_ignore_ascii_case(self.domain()))
    }
}

/// The domain of an address; `None` without an `@` or with nothing after it.
pub fn domain_of(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, domain)| domain).filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(email: &str) -> ServiceAccount {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        ServiceAccount {
            id: ServiceAccountId::generate(),
            application_id: ApplicationId::generate(),
            account_id: AccountId::generate(),
            provider: ProviderName::Exchange,
            email: email.to_owned(),
            server_url: None,
            delegated_scopes: Scopes::default(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_service_account_covers_addresses_of_its_own_domain_only() {
        let svc = account("svc@corp.example");
        assert_eq!(svc.domain(), "corp.example");
        assert!(svc.covers("ada@corp.example") && svc.covers("Grace@CORP.example"));
        assert!(!svc.covers("ada@sub.corp.example") && !svc.covers("ada@corp.example.evil") && !svc.covers("ada"));
    }
}

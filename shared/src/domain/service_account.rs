//! A service account (Enterprise Connect): an organisation's account with the right to act for
//! its users' mailboxes (Exchange's ApplicationImpersonation role, a Google Workspace domain's
//! domain-wide delegation to calsync's service account, Office 365 application permissions),
//! authorized once for one integrator application. It is itself a calsync account with an authorization holding
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
    /// `exchange`, `google` or `office365`.
    pub provider: ProviderName,
    /// The service account's address, lower case. Google: the address of the domain's user
    /// through which the delegation was proven (its domain bounds the mailboxes). Office 365: the
    /// tenant id (lower case), which is what the administrator's consent was given for.
    pub email: String,
    /// The Exchange server (an EWS endpoint or a base URL); `None` to use Autodiscover. Office
    /// 365: the tenant's verified domains, space-separated, its default domain first, as Graph
    /// listed them when the administrator consented.
    pub server_url: Option<String>,
    /// The scopes the mailboxes it authorizes may be granted (`delegated_scope`).
    pub delegated_scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ServiceAccount {
    /// The organisation's domain: the part of the email after `@`, lower case; an Office 365
    /// tenant's default domain.
    pub fn domain(&self) -> &str {
        match self.provider {
            ProviderName::Office365 => self.domains().next().unwrap_or_default(),
            _ => domain_of(&self.email).unwrap_or_default(),
        }
    }

    /// The Office 365 tenant the administrator consented for.
    pub fn tenant(&self) -> Option<&str> {
        (self.provider == ProviderName::Office365).then_some(self.email.as_str())
    }

    /// The domains whose addresses belong to the organisation: the email's, or an Office 365
    /// tenant's verified domains.
    pub fn domains(&self) -> impl Iterator<Item = &str> {
        let listed = match self.provider {
            ProviderName::Office365 => self.server_url.as_deref().unwrap_or_default(),
            _ => domain_of(&self.email).unwrap_or_default(),
        };
        listed.split_whitespace()
    }

    /// Whether `email` belongs to the service account's organisation (one of its domains).
    pub fn covers(&self, email: &str) -> bool {
        domain_of(email).is_some_and(|d| self.domains().any(|own| d.eq_ignore_ascii_case(own)))
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

    #[test]
    fn an_office365_tenant_covers_its_verified_domains_and_names_its_default_one() {
        let tenant = ServiceAccount {
            provider: ProviderName::Office365,
            server_url: Some("contoso.example contoso.onmicrosoft.example".into()),
            ..account("5b1c0e7a-2f4d-4c8e-9a6b-3d2e1f0a9b8c")
        };
        assert_eq!(tenant.domain(), "contoso.example");
        assert_eq!(tenant.tenant(), Some("5b1c0e7a-2f4d-4c8e-9a6b-3d2e1f0a9b8c"));
        assert!(tenant.covers("ada@contoso.example") && tenant.covers("Grace@Contoso.OnMicrosoft.example"));
        assert!(!tenant.covers("eve@fabrikam.example") && !tenant.covers("5b1c0e7a-2f4d-4c8e-9a6b-3d2e1f0a9b8c"));
        assert_eq!(account("svc@corp.example").tenant(), None);
    }
}

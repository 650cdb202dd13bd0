//! Integrator applications: creation with a fresh client id and secret, listing, updates and
//! secret rotation. The secret is returned once; it is stored as its SHA-256 (what requests are
//! checked against) and sealed under the keyring (what push notifications are signed with).

use chrono::{DateTime, Duration, Utc};

use crate::{
    crypto::{CryptoError, Vault, token_hash},
    domain::{Application, ApplicationId, random_token},
    store::{ApplicationUpdate, NewApplication, Store, StoreError},
};

/// Default sync window, days into the past.
pub const DEFAULT_SYNC_PAST_DAYS: i32 = 42;
/// Default sync window, days into the future.
pub const DEFAULT_SYNC_FUTURE_DAYS: i32 = 201;
/// Longest window either way an application may ask for.
pub const MAX_SYNC_DAYS: i32 = 3650;
/// How long a rotated-out client secret keeps working.
pub const SECRET_ROTATION_GRACE: Duration = Duration::hours(24);

/// What an integrator asks for when creating an application.
#[derive(Debug, Clone)]
pub struct ApplicationRequest {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub sync_past_days: Option<i32>,
    pub sync_future_days: Option<i32>,
}

/// A new application and its client secret, which is shown this once.
#[derive(Debug, Clone)]
pub struct CreatedApplication {
    pub application: Application,
    pub client_secret: String,
}

/// Why an application request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    #[error("{field}: {problem}")]
    Invalid { field: &'static str, problem: String },
    #[error("application not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the client secret could not be sealed")]
    Sealing(#[source] CryptoError),
}

fn invalid(field: &'static str, problem: impl Into<String>) -> AppsError {
    AppsError::Invalid { field, problem: problem.into() }
}

fn validate_name(name: &str) -> Result<String, AppsError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(invalid("name", "must be 1 to 200 characters"));
    }
    Ok(name.to_owned())
}

/// Redirect URIs must be absolute https URLs (http only for loopback hosts, as RFC 8252 allows
/// for native apps), without a fragment.
pub fn validate_redirect_uri(uri: &str) -> Result<(), AppsError> {
    let rest = if let Some(rest) = uri.strip_prefix("https://") {
        rest
    } else if let Some(rest) = uri.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host = host
            .rsplit_once(':')
            .map_or(host, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err(invalid("redirect_uri", "must use https (http is allowed only for localhost)"));
        }
        rest
    } else {
        return Err(invalid("redirect_uri", "must be an absolute https URL"));
    };
    if rest.is_empty()
        || rest.starts_with('/')
        || uri.contains('#')
        || uri.chars().any(|c| c.is_whitespace() || c.is_control())
        || uri.len() > 2000
    {
        return Err(invalid("redirect_uri", "must be a valid absolute URL without a fragment"));
    }
    Ok(())
}

fn validate_days(field: &'static str, days: i32) -> Result<i32, AppsError> {
    if (0..=MAX_SYNC_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(invalid(field, format!("must be between 0 and {MAX_SYNC_DAYS}")))
    }
}

/// A fresh client secret: 192 random bits with a recognisable prefix for secret scanners.
pub fn new_client_secret() -> String {
    format!("csk_{}", random_token(40))
}

/// Creates an application.
pub async fn create(
    store: &Store,
    vault: &Vault,
    request: ApplicationRequest,
    now: DateTime<Utc>,
) -> Result<CreatedApplication, AppsError> {
    let name = validate_name(&request.name)?;
    if request.redirect_uris.is_empty() {
        return Err(invalid("redirect_uri", "at least one is required"));
    }
    request.redirect_uris.iter().try_for_each(|u| validate_redirect_uri(u))?;
    let client_secret = new_client_secret();
    let id = ApplicationId::generate();
    let client_secret_sealed = vault.seal_secret(&id, &client_secret).map_err(AppsError::Sealing)?;
    let application = store
        .create_application(&NewApplication {
            id,
            integrator_id: None,
            name,
            client_id: random_token(32),
            client_secret_hash: token_hash(&client_secret),
            client_secret_sealed,
            redirect_uris: request.redirect_uris,
            sync_past_days: validate_days("sync_past_days", request.sync_past_days.unwrap_or(DEFAULT_SYNC_PAST_DAYS))?,
            sync_future_days: validate_days(
                "sync_future_days",
                request.sync_future_days.unwrap_or(DEFAULT_SYNC_FUTURE_DAYS),
            )?,
            created_at: now,
        })
        .await?;
    Ok(CreatedApplication { application, client_secret })
}

/// Finds an application by its `app_` id or its client id.
pub async fn find(store: &Store, id_or_client_id: &str) -> Result<Application, AppsError> {
    let found = match ApplicationId::parse(id_or_client_id) {
        Ok(id) => store.get_application(&id).await?,
        Err(_) => store.get_application_by_client_id(id_or_client_id).await?,
    };
    found.ok_or(AppsError::NotFound)
}

/// Validates and applies an update.
pub async fn update(
    store: &Store,
    id: &ApplicationId,
    update: ApplicationUpdate,
    now: DateTime<Utc>,
) -> Result<Application, AppsError> {
    let update = ApplicationUpdate {
        name: update.name.as_deref().map(validate_name).transpose()?,
        redirect_uris: match update.redirect_uris {
            Some(uris) if uris.is_empty() => return Err(invalid("redirect_uri", "at least one is required")),
            Some(uris) => {
                uris.iter().try_for_each(|u| validate_redirect_uri(u))?;
                Some(uris)
            }
            None => None,
        },
        sync_past_days: update.sync_past_days.map(|d| validate_days("sync_past_days", d)).transpose()?,
        sync_future_days: update.sync_future_days.map(|d| validate_days("sync_future_days", d)).transpose()?,
    };
    store.update_application(id, &update, now).await?.ok_or(AppsError::NotFound)
}

/// Issues a new client secret; the previous one keeps working for `SECRET_ROTATION_GRACE`.
pub async fn rotate_secret(
    store: &Store,
    vault: &Vault,
    id: &ApplicationId,
    now: DateTime<Utc>,
) -> Result<String, AppsError> {
    let secret = new_client_secret();
    let sealed = vault.seal_secret(id, &secret).map_err(AppsError::Sealing)?;
    if !store.rotate_client_secret(id, &token_hash(&secret), &sealed, now + SECRET_ROTATION_GRACE, now).await? {
        return Err(AppsError::NotFound);
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http() {
        for ok in
            ["https://app.example/cb", "http://localhost:3000/cb", "http://127.0.0.1/cb", "https://app.example/cb?x=1"]
        {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "ftp://x",
            "https://",
            "https:///path",
            "https://a.example/#frag",
            "https://a b",
            "/cb",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_secrets_are_long_random_and_prefixed() {
        let (a, b) = (new_client_secret(), new_client_secret());
        assert!(a.starts_with("csk_") && a.len() == 44);
        assert_ne!(a, b);
    }
}

//! Issuing, refreshing and revoking the tokens of an authorization (application x account).
//!
//! Tokens are random, returned once and stored as SHA-256. Access tokens live three hours, a
//! service account's 30 minutes (Cronofy's `expires_in: 1800`: they can authorize a whole
//! organisation's mailboxes, so a leaked one should die soon); refresh tokens live until the
//! authorization ends and are not rotated (Cronofy echoes the same refresh token, and pycronofy
//! relies on getting one back).

use chrono::{DateTime, Duration, Utc};

use crate::{
    crypto::token_hash,
    domain::{AccountId, Application, Authorization, AuthorizationId, Scope, Scopes, random_token},
    store::{NewAuthorization, Store, StoreResult},
};

/// How long an access token is valid.
pub const ACCESS_TOKEN_TTL: Duration = Duration::hours(3);

/// How long a service account's access token (one holding `service_account/accounts/manage`)
/// is valid.
pub const SERVICE_ACCOUNT_TOKEN_TTL: Duration = Duration::minutes(30);

/// How long an access token granting `scopes` is valid.
pub fn access_token_ttl(scopes: &Scopes) -> Duration {
    if scopes.contains(Scope::ServiceAccountsManage) { SERVICE_ACCOUNT_TOKEN_TTL } else { ACCESS_TOKEN_TTL }
}

/// Tokens just issued: the only time their plaintext exists.
#[derive(Clone)]
pub struct IssuedTokens {
    pub authorization: Authorization,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens").field("authorization", &self.authorization.id).finish_non_exhaustive()
    }
}

/// A 32-character access token (Cronofy's length) and a longer refresh token.
fn new_access_token() -> String {
    random_token(32)
}

fn new_refresh_token() -> String {
    random_token(40)
}

/// Creates an authorization of `application` over `account` and returns its first tokens.
pub async fn issue(
    store: &Store,
    application: &Application,
    account: &AccountId,
    scopes: Scopes,
    now: DateTime<Utc>,
) -> StoreResult<IssuedTokens> {
    let access_token = new_access_token();
    let refresh_token = new_refresh_token();
    let ttl = access_token_ttl(&scopes);
    let authorization = store
        .create_authorization(&NewAuthorization {
            id: AuthorizationId::generate(),
            application_id: application.id.clone(),
            account_id: account.clone(),
            scopes,
            access_token_hash: token_hash(&access_token),
            refresh_token_hash: token_hash(&refresh_token),
            access_token_expires_at: now + ttl,
            created_at: now,
        })
        .await?;
    Ok(IssuedTokens { authorization, access_token, refresh_token, expires_in: ttl.num_seconds() })
}

/// A new access token for the live authorization `refresh_token` belongs to, if `application`
/// owns it. The refresh token stays the same.
pub async fn refresh(
    store: &Store,
    application: &Application,
    refresh_token: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<IssuedTokens>> {
    let Some(authorization) = store.find_authorization_by_refresh_token(&token_hash(refresh_token)).await? else {
        return Ok(None);
    };
    if authorization.application_id != application.id {
        return Ok(None);
    }
    let access_token = new_access_token();
    let ttl = access_token_ttl(&authorization.scopes);
    let expires_at = now + ttl;
    if !store.replace_access_token(&authorization.id, &token_hash(&access_token), expires_at).await? {
        return Ok(None);
    }
    let authorization = Authorization { access_token_expires_at: expires_at, ..authorization };
    Ok(Some(IssuedTokens {
        authorization,
        access_token,
        refresh_token: refresh_token.to_owned(),
        expires_in: ttl.num_seconds(),
    }))
}

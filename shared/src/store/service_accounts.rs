//! Service accounts (Enterprise Connect) with their sealed credentials, and the link from a
//! mailbox's profile to the service account that reaches it. Plaintext credentials never reach
//! this module.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, StoreResult, with_pool};
use crate::{
    crypto::SealedCredential,
    domain::{
        AccountId, ApplicationId, CredentialKind, Profile, ProfileId, ProviderName, Scopes, ServiceAccount,
        ServiceAccountId,
    },
};

#[derive(sqlx::FromRow)]
struct ServiceAccountRow {
    id: ServiceAccountId,
    application_id: ApplicationId,
    account_id: AccountId,
    provider: ProviderName,
    email: String,
    server_url: Option<String>,
    delegated_scope: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ServiceAccountRow> for ServiceAccount {
    type Error = StoreError;
    fn try_from(r: ServiceAccountRow) -> Result<Self, StoreError> {
        Ok(ServiceAccount {
            delegated_scopes: Scopes::parse(&r.delegated_scope).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            id: r.id,
            application_id: r.application_id,
            account_id: r.account_id,
            provider: r.provider,
            email: r.email,
            server_url: r.server_url,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SealedRow {
    credential_kind: CredentialKind,
    key_id: String,
    wrapped_key: Vec<u8>,
    ciphertext: Vec<u8>,
}

const COLUMNS: &str =
    "id, application_id, account_id, provider, email, server_url, delegated_scope, created_at, updated_at";

impl Store {
    /// Stores a new service account with its sealed credentials. A second service account of
    /// the same application, provider and email is a conflict (the caller updates that one).
    #[tracing::instrument(skip_all)]
    pub async fn create_service_account(
        &self,
        service_account: &ServiceAccount,
        sealed: &SealedCredential,
    ) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO service_accounts (id, application_id, account_id, provider, email, server_url, \
                           delegated_scope, credential_kind, key_id, wrapped_key, ciphertext, created_at, updated_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        let result = with_pool!(self, pool => sqlx::query(SQL)
            .bind(&service_account.id)
            .bind(&service_account.application_id)
            .bind(&service_account.account_id)
            .bind(service_account.provider)
            .bind(&service_account.email)
            .bind(&service_account.server_url)
            .bind(service_account.delegated_scopes.to_string())
            .bind(sealed.kind)
            .bind(&sealed.key_id)
            .bind(&sealed.wrapped_key)
            .bind(&sealed.ciphertext)
            .bind(service_account.created_at)
            .bind(service_account.updated_at)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()));
        result.map(|_| ()).map_err(|e| conflict_if_duplicate(e, "the application already has this service account"))
    }

    /// Replaces a service account's server, delegated scope and sealed credentials (the
    /// organisation authorized it again, perhaps with a new password).
    #[tracing::instrument(skip_all)]
    pub async fn update_service_account(
        &self,
        id: &ServiceAccountId,
        server_url: Option<&str>,
        delegated_scopes: &Scopes,
        sealed: &SealedCredential,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE service_accounts SET server_url = $2, delegated_scope = $3, credential_kind = $4, \
                           key_id = $5, wrapped_key = $6, ciphertext = $7, updated_at = $8 WHERE id = $1";
        let n = with_pool!(self, pool => sqlx::query(SQL)
            .bind(id)
            .bind(server_url)
            .bind(delegated_scopes.to_string())
            .bind(sealed.kind)
            .bind(&sealed.key_id)
            .bind(&sealed.wrapped_key)
            .bind(&sealed.ciphertext)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_service_account(&self, id: &ServiceAccountId) -> StoreResult<Option<ServiceAccount>> {
        let sql = format!("SELECT {COLUMNS} FROM service_accounts WHERE id = $1");
        let row: Option<ServiceAccountRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(TryInto::try_into).transpose()
    }

    /// The service account whose own calsync account `account` is, if it is one.
    #[tracing::instrument(skip_all)]
    pub async fn find_service_account_by_account(&self, account: &AccountId) -> StoreResult<Option<ServiceAccount>> {
        let sql = format!("SELECT {COLUMNS} FROM service_accounts WHERE account_id = $1");
        let row: Option<ServiceAccountRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(account).fetch_optional(pool).await?);
        row.map(TryInto::try_into).transpose()
    }

    /// The application's service account at `provider` for `email` (lower case), if any.
    #[tracing::instrument(skip_all)]
    pub async fn find_service_account(
        &self,
        application: &ApplicationId,
        provider: ProviderName,
        email: &str,
    ) -> StoreResult<Option<ServiceAccount>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM service_accounts WHERE application_id = $1 AND provider = $2 AND email = $3"
        );
        let row: Option<ServiceAccountRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(application)
            .bind(provider)
            .bind(email)
            .fetch_optional(pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    /// A service account's sealed credentials.
    #[tracing::instrument(skip_all)]
    pub async fn get_service_account_credentials(
        &self,
        id: &ServiceAccountId,
    ) -> StoreResult<Option<SealedCredential>> {
        // language=SQL
        const SQL: &str = "SELECT credential_kind, key_id, wrapped_key, ciphertext FROM service_accounts WHERE id = $1";
        let row: Option<SealedRow> = with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?);
        Ok(row.map(|r| SealedCredential {
            kind: r.credential_kind,
            key_id: r.key_id,
            wrapped_key: r.wrapped_key,
            ciphertext: r.ciphertext,
        }))
    }

    /// Stores a mailbox's profile reached through `service_account` (its email lower case). A
    /// second profile for the same service account and mailbox is a conflict.
    #[tracing::instrument(skip_all)]
    pub async fn create_service_account_profile(
        &self,
        profile: &Profile,
        service_account: &ServiceAccountId,
    ) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO profiles (id, account_id, provider, provider_service, email, name, tzid, status, \
                           server_url, created_at, updated_at, service_account_id) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
        let result = with_pool!(self, pool => sqlx::query(SQL)
            .bind(&profile.id)
            .bind(&profile.account_id)
            .bind(profile.provider)
            .bind(profile.provider_service)
            .bind(&profile.email)
            .bind(&profile.name)
            .bind(&profile.tzid)
            .bind(profile.status)
            .bind(&profile.server_url)
            .bind(profile.created_at)
            .bind(profile.updated_at)
            .bind(service_account)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()));
        result.map(|_| ()).map_err(|e| conflict_if_duplicate(e, "the service account already reaches this mailbox"))
    }

    /// The id of the mailbox profile `service_account` reaches for `email` (lower case).
    #[tracing::instrument(skip_all)]
    pub async fn find_service_account_profile(
        &self,
        service_account: &ServiceAccountId,
        email: &str,
    ) -> StoreResult<Option<ProfileId>> {
        // language=SQL
        const SQL: &str = "SELECT id FROM profiles WHERE service_account_id = $1 AND email = $2";
        let id = with_pool!(self, pool => sqlx::query_scalar(SQL).bind(service_account).bind(email).fetch_optional(pool).await?);
        Ok(id)
    }

    /// The service account that reaches a profile's mailbox; `None` for a profile with its own
    /// credentials.
    #[tracing::instrument(skip_all)]
    pub async fn profile_service_account(&self, profile: &ProfileId) -> StoreResult<Option<ServiceAccountId>> {
        // language=SQL
        const SQL: &str = "SELECT service_account_id FROM profiles WHERE id = $1";
        let id: Option<Option<ServiceAccountId>> =
            with_pool!(self, pool => sqlx::query_scalar(SQL).bind(profile).fetch_optional(pool).await?);
        Ok(id.flatten())
    }

    /// Ends a profile's link to its service account (the end-user revoked the profile); the
    /// service account itself is untouched.
    #[tracing::instrument(skip_all)]
    pub async fn detach_service_account(&self, profile: &ProfileId) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str =
            "UPDATE profiles SET service_account_id = NULL WHERE id = $1 AND service_account_id IS NOT NULL";
        let n = with_pool!(self, pool => sqlx::query(SQL).bind(profile).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }
}

/// A unique-key violation as the conflict it means (`what`); any other error as it is.
fn conflict_if_duplicate(error: sqlx::Error, what: &'static str) -> StoreError {
    match error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StoreError::Conflict(what),
        e => e.into(),
    }
}

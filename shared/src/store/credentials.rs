//! Sealed provider credentials, one row per profile. Plaintext never reaches this module.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::{
    crypto::SealedCredential,
    domain::{AccountId, CredentialKind, ProfileId},
};

#[derive(sqlx::FromRow)]
struct CredentialRow {
    kind: CredentialKind,
    key_id: String,
    wrapped_key: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Store {
    /// Stores (or replaces) a profile's sealed credentials.
    #[tracing::instrument(skip_all)]
    pub async fn put_credentials(
        &self,
        profile: &ProfileId,
        account: &AccountId,
        sealed: &SealedCredential,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO credentials (profile_id, account_id, kind, key_id, wrapped_key, ciphertext, updated_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7) \
                           ON CONFLICT (profile_id) DO UPDATE SET kind = excluded.kind, key_id = excluded.key_id, \
                           wrapped_key = excluded.wrapped_key, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(profile)
            .bind(account)
            .bind(sealed.kind)
            .bind(&sealed.key_id)
            .bind(&sealed.wrapped_key)
            .bind(&sealed.ciphertext)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_credentials(&self, profile: &ProfileId) -> StoreResult<Option<SealedCredential>> {
        // language=SQL
        const SQL: &str = "SELECT kind, key_id, wrapped_key, ciphertext FROM credentials WHERE profile_id = $1";
        let row: Option<CredentialRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(profile).fetch_optional(pool).await?);
        Ok(row.map(|r| SealedCredential {
            kind: r.kind,
            key_id: r.key_id,
            wrapped_key: r.wrapped_key,
            ciphertext: r.ciphertext,
        }))
    }

    #[tracing::instrument(skip_all)]
    pub async fn delete_credentials(&self, profile: &ProfileId) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "DELETE FROM credentials WHERE profile_id = $1";
        let n = with_pool!(self, pool => sqlx::query(SQL).bind(profile).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }
}

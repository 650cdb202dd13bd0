//! Authorizations: an application's grant over an account. Tokens are stored as SHA-256 only.
//!
//! Creating or ending an authorization also maintains `accounts.authorizations_ended_at`, the
//! moment the last active authorization ended, in the same transaction: the retention rules for
//! an account's data count from it, and a new authorization cancels them.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, StoreResult, with_pool};
use crate::domain::{AccountId, ApplicationId, Authorization, AuthorizationId, Scopes};

/// A new authorization, its tokens already hashed.
#[derive(Debug, Clone)]
pub struct NewAuthorization {
    pub id: AuthorizationId,
    pub application_id: ApplicationId,
    pub account_id: AccountId,
    pub scopes: Scopes,
    pub access_token_hash: String,
    pub refresh_token_hash: String,
    pub access_token_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AuthorizationRow {
    id: AuthorizationId,
    application_id: ApplicationId,
    account_id: AccountId,
    scopes: String,
    access_token_expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    terminated_at: Option<DateTime<Utc>>,
}

impl TryFrom<AuthorizationRow> for Authorization {
    type Error = StoreError;
    fn try_from(r: AuthorizationRow) -> Result<Self, StoreError> {
        Ok(Authorization {
            scopes: Scopes::parse(&r.scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            id: r.id,
            application_id: r.application_id,
            account_id: r.account_id,
            access_token_expires_at: r.access_token_expires_at,
            created_at: r.created_at,
            terminated_at: r.terminated_at,
        })
    }
}

const COLUMNS: &str = "id, application_id, account_id, scopes, access_token_expires_at, created_at, terminated_at";

impl Store {
    /// Records a new authorization and cancels any running retention clock of the account.
    #[tracing::instrument(skip_all)]
    pub async fn create_authorization(&self, new: &NewAuthorization) -> StoreResult<Authorization> {
        // language=SQL
        const INSERT: &str = "INSERT INTO authorizations (id, application_id, account_id, scopes, access_token_hash, \
                              refresh_token_hash, access_token_expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        // language=SQL
        const REVIVE: &str = "UPDATE accounts SET authorizations_ended_at = NULL WHERE id = $1";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT)
                .bind(&new.id)
                .bind(&new.application_id)
                .bind(&new.account_id)
                .bind(new.scopes.to_string())
                .bind(&new.access_token_hash)
                .bind(&new.refresh_token_hash)
                .bind(new.access_token_expires_at)
                .bind(new.created_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(REVIVE).bind(&new.account_id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(Authorization {
            id: new.id.clone(),
            application_id: new.application_id.clone(),
            account_id: new.account_id.clone(),
            scopes: new.scopes.clone(),
            access_token_expires_at: new.access_token_expires_at,
            created_at: new.created_at,
            terminated_at: None,
        })
    }

    /// The live authorization an access token belongs to (not terminated, not expired).
    #[tracing::instrument(skip_all)]
    pub async fn find_authorization_by_access_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Authorization>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM authorizations WHERE access_token_hash = $1 AND terminated_at IS NULL AND access_token_expires_at > $2"
        );
        let row: Option<AuthorizationRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(token_hash).bind(now).fetch_optional(pool).await?);
        row.map(TryInto::try_into).transpose()
    }

    /// The live authorization a refresh token belongs to.
    #[tracing::instrument(skip_all)]
    pub async fn find_authorization_by_refresh_token(&self, token_hash: &str) -> StoreResult<Option<Authorization>> {
        let sql =
            format!("SELECT {COLUMNS} FROM authorizations WHERE refresh_token_hash = $1 AND terminated_at IS NULL");
        let row: Option<AuthorizationRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(token_hash).fetch_optional(pool).await?);
        row.map(TryInto::try_into).transpose()
    }

    /// Issues a new access token for a live authorization.
    #[tracing::instrument(skip_all)]
    pub async fn replace_access_token(
        &self,
        id: &AuthorizationId,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE authorizations SET access_token_hash = $2, access_token_expires_at = $3 \
                           WHERE id = $1 AND terminated_at IS NULL";
        let n = with_pool!(self, pool => sqlx::query(SQL).bind(id).bind(token_hash).bind(expires_at).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Every authorization on the account, live and ended, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_authorizations(&self, account: &AccountId) -> StoreResult<Vec<Authorization>> {
        let sql = format!("SELECT {COLUMNS} FROM authorizations WHERE account_id = $1 ORDER BY created_at, id");
        let rows: Vec<AuthorizationRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(account).fetch_all(pool).await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Ends an authorization. When it was the account's last live one, the account's retention
    /// clock starts now. Ending an already ended authorization changes nothing.
    #[tracing::instrument(skip_all)]
    pub async fn terminate_authorization(&self, id: &AuthorizationId, now: DateTime<Utc>) -> StoreResult<bool> {
        // language=SQL
        const END: &str =
            "UPDATE authorizations SET terminated_at = $2 WHERE id = $1 AND terminated_at IS NULL RETURNING account_id";
        // language=SQL
        const CLOCK: &str = "UPDATE accounts SET authorizations_ended_at = $2 WHERE id = $1 AND NOT EXISTS \
                             (SELECT 1 FROM authorizations WHERE account_id = $1 AND terminated_at IS NULL)";
        let ended = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let account: Option<(AccountId,)> = sqlx::query_as(END).bind(id).bind(now).fetch_optional(&mut *tx).await?;
            if let Some((account,)) = &account {
                sqlx::query(CLOCK).bind(account).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            account.is_some()
        });
        Ok(ended)
    }
}

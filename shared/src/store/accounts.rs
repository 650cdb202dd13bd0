//! End-user accounts: the person behind one or more connected calendar services.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{Account, AccountId};

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: AccountId,
    email: Option<String>,
    name: Option<String>,
    default_tzid: String,
    created_at: DateTime<Utc>,
    authorizations_ended_at: Option<DateTime<Utc>>,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_account(&self, account: &Account) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO accounts (id, email, name, default_tzid, created_at, authorizations_ended_at) \
                           VALUES ($1, $2, $3, $4, $5, $6)";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(&account.id)
            .bind(&account.email)
            .bind(&account.name)
            .bind(&account.default_tzid)
            .bind(account.created_at)
            .bind(account.authorizations_ended_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_account(&self, id: &AccountId) -> StoreResult<Option<Account>> {
        // language=SQL
        const SQL: &str =
            "SELECT id, email, name, default_tzid, created_at, authorizations_ended_at FROM accounts WHERE id = $1";
        let row: Option<AccountRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?);
        Ok(row.map(|r| Account {
            id: r.id,
            email: r.email,
            name: r.name,
            default_tzid: r.default_tzid,
            created_at: r.created_at,
            authorizations_ended_at: r.authorizations_ended_at,
        }))
    }
}

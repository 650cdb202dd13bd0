//! Profiles: one connected calendar service of an account.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{AccountId, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService};

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: ProfileId,
    account_id: AccountId,
    provider: ProviderName,
    provider_service: ProviderService,
    email: String,
    name: Option<String>,
    tzid: Option<String>,
    status: ProfileStatus,
    server_url: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Profile {
            id: r.id,
            account_id: r.account_id,
            provider: r.provider,
            provider_service: r.provider_service,
            email: r.email,
            name: r.name,
            tzid: r.tzid,
            status: r.status,
            server_url: r.server_url,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str =
    "id, account_id, provider, provider_service, email, name, tzid, status, server_url, created_at, updated_at";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_profile(&self, profile: &Profile) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO profiles (id, account_id, provider, provider_service, email, name, tzid, status, \
                           server_url, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        with_pool!(self, pool => sqlx::query(SQL)
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
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_profile(&self, id: &ProfileId) -> StoreResult<Option<Profile>> {
        let sql = format!("SELECT {COLUMNS} FROM profiles WHERE id = $1");
        let row: Option<ProfileRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    #[tracing::instrument(skip_all)]
    pub async fn list_profiles(&self, account: &AccountId) -> StoreResult<Vec<Profile>> {
        let sql = format!("SELECT {COLUMNS} FROM profiles WHERE account_id = $1 ORDER BY created_at, id");
        let rows: Vec<ProfileRow> = with_pool!(self, pool => sqlx::query_as(&sql).bind(account).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Marks a profile active or disconnected (token revoked, password changed).
    #[tracing::instrument(skip_all)]
    pub async fn set_profile_status(
        &self,
        id: &ProfileId,
        status: ProfileStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE profiles SET status = $2, updated_at = $3 WHERE id = $1";
        let n = with_pool!(self, pool => sqlx::query(SQL).bind(id).bind(status).bind(now).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Up to `limit` ids of connected profiles on a remote service (hosted ones have nothing to
    /// poll) after `after` in id order: the pages the periodic poll walks.
    #[tracing::instrument(skip_all)]
    pub async fn polled_profile_ids(&self, after: Option<&ProfileId>, limit: i64) -> StoreResult<Vec<ProfileId>> {
        // language=SQL
        const SQL: &str = "SELECT id FROM profiles WHERE status <> $1 AND provider <> $2 \
                           AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4";
        let after = after.map(ProfileId::as_str);
        let ids = with_pool!(self, pool => sqlx::query_scalar(SQL)
            .bind(ProfileStatus::Disconnected)
            .bind(ProviderName::Hosted)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(ids)
    }

    /// Where the profile's calendars were last found, if anywhere yet.
    #[tracing::instrument(skip_all)]
    pub async fn profile_calendar_home(&self, id: &ProfileId) -> StoreResult<Option<String>> {
        // language=SQL
        const SQL: &str = "SELECT calendar_home FROM profiles WHERE id = $1";
        let home: Option<Option<String>> =
            with_pool!(self, pool => sqlx::query_scalar(SQL).bind(id).fetch_optional(pool).await?);
        Ok(home.flatten())
    }

    /// Records where the profile's calendars were found.
    #[tracing::instrument(skip_all)]
    pub async fn set_profile_calendar_home(&self, id: &ProfileId, home: Option<&str>) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "UPDATE profiles SET calendar_home = $2 WHERE id = $1";
        with_pool!(self, pool => sqlx::query(SQL).bind(id).bind(home).execute(pool).await?.rows_affected());
        Ok(())
    }
}

//! Push notification channels.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{Store, StoreResult, with_pool};
use crate::domain::{AccountId, ApplicationId, Channel, ChannelFilters, ChannelId};

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: ChannelId,
    application_id: ApplicationId,
    account_id: AccountId,
    callback_url: String,
    filters: Json<ChannelFilters>,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

impl From<ChannelRow> for Channel {
    fn from(r: ChannelRow) -> Self {
        Channel {
            id: r.id,
            application_id: r.application_id,
            account_id: r.account_id,
            callback_url: r.callback_url,
            filters: r.filters.0,
            created_at: r.created_at,
            closed_at: r.closed_at,
        }
    }
}

const COLUMNS: &str = "id, application_id, account_id, callback_url, filters, created_at, closed_at";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_channel(&self, channel: &Channel) -> StoreResult<()> {
        let sql = format!("INSERT INTO channels ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&channel.id)
            .bind(&channel.application_id)
            .bind(&channel.account_id)
            .bind(&channel.callback_url)
            .bind(Json(&channel.filters))
            .bind(channel.created_at)
            .bind(channel.closed_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_channel(&self, id: &ChannelId) -> StoreResult<Option<Channel>> {
        let sql = format!("SELECT {COLUMNS} FROM channels WHERE id = $1");
        let row: Option<ChannelRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// The open channels of one application over one account.
    #[tracing::instrument(skip_all)]
    pub async fn list_open_channels(
        &self,
        application: &ApplicationId,
        account: &AccountId,
    ) -> StoreResult<Vec<Channel>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM channels WHERE application_id = $1 AND account_id = $2 AND closed_at IS NULL ORDER BY created_at, id"
        );
        let rows: Vec<ChannelRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(application).bind(account).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The open channels over one account, of every application.
    #[tracing::instrument(skip_all)]
    pub async fn list_account_channels(&self, account: &AccountId) -> StoreResult<Vec<Channel>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM channels WHERE account_id = $1 AND closed_at IS NULL ORDER BY created_at, id"
        );
        let rows: Vec<ChannelRow> = with_pool!(self, pool => sqlx::query_as(&sql).bind(account).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// How many open channels an account has, over all applications.
    #[tracing::instrument(skip_all)]
    pub async fn count_account_channels(&self, account: &AccountId) -> StoreResult<i64> {
        // language=SQL
        const SQL: &str = "SELECT COUNT(*) FROM channels WHERE account_id = $1 AND closed_at IS NULL";
        let n = with_pool!(self, pool => sqlx::query_scalar(SQL).bind(account).fetch_one(pool).await?);
        Ok(n)
    }

    /// Closes a channel whatever its application, recording why (an endpoint that kept failing).
    #[tracing::instrument(skip_all)]
    pub async fn close_channel_for(&self, id: &ChannelId, reason: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE channels SET closed_at = $2, close_reason = $3 WHERE id = $1 AND closed_at IS NULL";
        let n = with_pool!(self, pool => sqlx::query(SQL).bind(id).bind(now).bind(reason).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Why a channel was closed, if it was.
    #[tracing::instrument(skip_all)]
    pub async fn channel_close_reason(&self, id: &ChannelId) -> StoreResult<Option<String>> {
        // language=SQL
        const SQL: &str = "SELECT close_reason FROM channels WHERE id = $1";
        let reason: Option<Option<String>> =
            with_pool!(self, pool => sqlx::query_scalar(SQL).bind(id).fetch_optional(pool).await?);
        Ok(reason.flatten())
    }

    /// Closes a channel of `application`; a foreign or already closed channel is left alone.
    #[tracing::instrument(skip_all)]
    pub async fn close_channel(
        &self,
        id: &ChannelId,
        application: &ApplicationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE channels SET closed_at = $3, close_reason = 'closed by the application' \
                           WHERE id = $1 AND application_id = $2 AND closed_at IS NULL";
        let n = with_pool!(self, pool => sqlx::query(SQL).bind(id).bind(application).bind(now).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }
}

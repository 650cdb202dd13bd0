//! Push channels held at providers (`provider_watches`): one per calendar at a time, two while
//! a renewal overlaps the old one.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{AccountId, CalendarId};

/// One channel.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ProviderWatch {
    pub channel_id: String,
    pub calendar_id: CalendarId,
    pub account_id: AccountId,
    /// The provider's id for the watched resource (needed to stop the channel).
    pub resource_id: String,
    /// SHA-256 of the token the provider sends back with each notification.
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_notified_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "channel_id, calendar_id, account_id, resource_id, token_hash, expires_at, created_at, last_notified_at";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn put_watch(&self, watch: &ProviderWatch) -> StoreResult<()> {
        let sql = format!("INSERT INTO provider_watches ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&watch.channel_id)
            .bind(&watch.calendar_id)
            .bind(&watch.account_id)
            .bind(&watch.resource_id)
            .bind(&watch.token_hash)
            .bind(watch.expires_at)
            .bind(watch.created_at)
            .bind(watch.last_notified_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn watch_by_channel(&self, channel_id: &str) -> StoreResult<Option<ProviderWatch>> {
        let sql = format!("SELECT {COLUMNS} FROM provider_watches WHERE channel_id = $1");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).bind(channel_id).fetch_optional(pool).await?))
    }

    /// A calendar's channels, the one expiring last first.
    #[tracing::instrument(skip_all)]
    pub async fn watches_of_calendar(&self, calendar: &CalendarId) -> StoreResult<Vec<ProviderWatch>> {
        let sql = format!("SELECT {COLUMNS} FROM provider_watches WHERE calendar_id = $1 ORDER BY expires_at DESC");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).bind(calendar).fetch_all(pool).await?))
    }

    #[tracing::instrument(skip_all)]
    pub async fn delete_watch(&self, channel_id: &str) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "DELETE FROM provider_watches WHERE channel_id = $1";
        with_pool!(self, pool => sqlx::query(SQL).bind(channel_id).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Marks a channel expired at `at`, so the next sync replaces it and the poll stops
    /// trusting it meanwhile (the provider asked for it to be renewed, or dropped it).
    #[tracing::instrument(skip_all)]
    pub async fn expire_watch(&self, channel_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "UPDATE provider_watches SET expires_at = $2 WHERE channel_id = $1";
        with_pool!(self, pool => sqlx::query(SQL).bind(channel_id).bind(at).execute(pool).await?.rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn touch_watch(&self, channel_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "UPDATE provider_watches SET last_notified_at = $2 WHERE channel_id = $1";
        with_pool!(self, pool => sqlx::query(SQL).bind(channel_id).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }
}

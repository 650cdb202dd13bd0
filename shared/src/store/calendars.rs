//! Calendars of a profile, keyed by the provider's calendar id.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{AccountId, Calendar, CalendarId, ProfileId, ProfileStatus};

#[derive(sqlx::FromRow)]
struct CalendarRow {
    id: CalendarId,
    profile_id: ProfileId,
    account_id: AccountId,
    provider_calendar_id: String,
    name: String,
    is_primary: bool,
    read_only: bool,
    deleted: bool,
    color: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<CalendarRow> for Calendar {
    fn from(r: CalendarRow) -> Self {
        Calendar {
            id: r.id,
            profile_id: r.profile_id,
            account_id: r.account_id,
            provider_calendar_id: r.provider_calendar_id,
            name: r.name,
            is_primary: r.is_primary,
            read_only: r.read_only,
            deleted: r.deleted,
            color: r.color,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, profile_id, account_id, provider_calendar_id, name, is_primary, read_only, deleted, color, created_at, updated_at";

/// Binds a calendar's fields in `COLUMNS` order onto a query of either backend.
macro_rules! bind_calendar {
    ($query:expr, $c:expr) => {
        $query
            .bind(&$c.id)
            .bind(&$c.profile_id)
            .bind(&$c.account_id)
            .bind(&$c.provider_calendar_id)
            .bind(&$c.name)
            .bind($c.is_primary)
            .bind($c.read_only)
            .bind($c.deleted)
            .bind(&$c.color)
            .bind($c.created_at)
            .bind($c.updated_at)
    };
}

impl Store {
    /// Inserts the calendar, or updates the one with the same (profile, provider calendar id);
    /// returns the stored calendar, whose id is the existing one on update.
    #[tracing::instrument(skip_all)]
    pub async fn upsert_calendar(&self, calendar: &Calendar) -> StoreResult<Calendar> {
        // language=SQL
        let sql = format!(
            "INSERT INTO calendars ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (profile_id, provider_calendar_id) DO UPDATE SET name = excluded.name, \
             is_primary = excluded.is_primary, read_only = excluded.read_only, deleted = excluded.deleted, \
             color = excluded.color, updated_at = excluded.updated_at RETURNING {COLUMNS}"
        );
        let row: CalendarRow =
            with_pool!(self, pool => bind_calendar!(sqlx::query_as(&sql), calendar).fetch_one(pool).await?);
        Ok(row.into())
    }

    /// Inserts `calendar` unless its profile already has a live calendar of the same name; returns
    /// whether it was inserted. One statement, so the check and the insert see the same rows.
    #[tracing::instrument(skip_all)]
    pub async fn insert_calendar_if_name_free(&self, calendar: &Calendar) -> StoreResult<bool> {
        let sql = format!(
            "INSERT INTO calendars ({COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 \
             WHERE NOT EXISTS (SELECT 1 FROM calendars WHERE profile_id = $2 AND name = $5 AND deleted = FALSE)"
        );
        let n =
            with_pool!(self, pool => bind_calendar!(sqlx::query(&sql), calendar).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_calendar(&self, id: &CalendarId) -> StoreResult<Option<Calendar>> {
        let sql = format!("SELECT {COLUMNS} FROM calendars WHERE id = $1");
        let row: Option<CalendarRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// The account's calendars, primary first, then by name.
    #[tracing::instrument(skip_all)]
    pub async fn list_calendars(&self, account: &AccountId) -> StoreResult<Vec<Calendar>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM calendars WHERE account_id = $1 ORDER BY profile_id, is_primary DESC, name, id"
        );
        let rows: Vec<CalendarRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(account).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Up to `limit` ids of live calendars (not deleted, on a connected profile) after `after`
    /// in id order: the pages the daily window advance walks.
    #[tracing::instrument(skip_all)]
    pub async fn live_calendar_ids(&self, after: Option<&CalendarId>, limit: i64) -> StoreResult<Vec<CalendarId>> {
        // language=SQL
        const SQL: &str = "SELECT c.id FROM calendars c JOIN profiles p ON p.id = c.profile_id \
                           WHERE c.deleted = $1 AND p.status <> $2 AND ($3 IS NULL OR c.id > $3) ORDER BY c.id LIMIT $4";
        let after = after.map(CalendarId::as_str);
        let ids = with_pool!(self, pool => sqlx::query_scalar(SQL)
            .bind(false)
            .bind(ProfileStatus::Disconnected)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(ids)
    }
}

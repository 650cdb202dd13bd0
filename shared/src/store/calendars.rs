//! Calendars of a profile, keyed by the provider's calendar id.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{AccountId, Calendar, CalendarId, ProfileId};

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
        let row: CalendarRow = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&calendar.id)
            .bind(&calendar.profile_id)
            .bind(&calendar.account_id)
            .bind(&calendar.provider_calendar_id)
            .bind(&calendar.name)
            .bind(calendar.is_primary)
            .bind(calendar.read_only)
            .bind(calendar.deleted)
            .bind(&calendar.color)
            .bind(calendar.created_at)
            .bind(calendar.updated_at)
            .fetch_one(pool)
            .await?);
        Ok(row.into())
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
}

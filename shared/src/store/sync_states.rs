//! Per-calendar sync progress: cursor, last success, last error and backoff.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{AccountId, CalendarId, SyncState};

/// Records a successful sync: `$1` calendar, `$2` account, `$3` cursor, `$4` now.
// language=SQL
pub(super) const RECORD_SUCCESS: &str = "INSERT INTO sync_states (calendar_id, account_id, cursor, last_success_at, error_count, updated_at) \
    VALUES ($1, $2, $3, $4, 0, $4) ON CONFLICT (calendar_id) DO UPDATE SET cursor = excluded.cursor, \
    last_success_at = excluded.last_success_at, last_error = NULL, error_count = 0, backoff_until = NULL, \
    updated_at = excluded.updated_at";

#[derive(sqlx::FromRow)]
struct SyncStateRow {
    calendar_id: CalendarId,
    cursor: Option<String>,
    last_success_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    error_count: i32,
    backoff_until: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn get_sync_state(&self, calendar: &CalendarId) -> StoreResult<Option<SyncState>> {
        // language=SQL
        const SQL: &str = "SELECT calendar_id, cursor, last_success_at, last_error, error_count, backoff_until, updated_at \
                           FROM sync_states WHERE calendar_id = $1";
        let row: Option<SyncStateRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(calendar).fetch_optional(pool).await?);
        Ok(row.map(|r| SyncState {
            calendar_id: r.calendar_id,
            cursor: r.cursor,
            last_success_at: r.last_success_at,
            last_error: r.last_error,
            error_count: r.error_count,
            backoff_until: r.backoff_until,
            updated_at: r.updated_at,
        }))
    }

    /// Records a successful sync: the new cursor, and the error streak cleared.
    #[tracing::instrument(skip_all)]
    pub async fn record_sync_success(
        &self,
        calendar: &CalendarId,
        account: &AccountId,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        with_pool!(self, pool => sqlx::query(RECORD_SUCCESS).bind(calendar).bind(account).bind(cursor).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Records a failed sync and when to try again. `error` must be a classification (such as
    /// `provider_throttled`), never provider response text, which can hold event content.
    #[tracing::instrument(skip_all)]
    pub async fn record_sync_failure(
        &self,
        calendar: &CalendarId,
        account: &AccountId,
        error: &str,
        backoff_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO sync_states (calendar_id, account_id, last_error, error_count, backoff_until, updated_at) \
                           VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (calendar_id) DO UPDATE SET last_error = excluded.last_error, \
                           error_count = sync_states.error_count + 1, backoff_until = excluded.backoff_until, \
                           updated_at = excluded.updated_at";
        with_pool!(self, pool => sqlx::query(SQL).bind(calendar).bind(account).bind(error).bind(backoff_until).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Takes the calendar's sync lease for `owner` until `until`, unless another owner holds an
    /// unexpired one: one sync per calendar at a time, and a crashed worker's lease simply
    /// expires. Returns whether `owner` now holds it.
    #[tracing::instrument(skip_all)]
    pub async fn claim_sync_lease(
        &self,
        calendar: &CalendarId,
        account: &AccountId,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "INSERT INTO sync_states (calendar_id, account_id, error_count, lease_owner, lease_until, updated_at) \
                           VALUES ($1, $2, 0, $3, $4, $5) ON CONFLICT (calendar_id) DO UPDATE \
                           SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until \
                           WHERE sync_states.lease_until IS NULL OR sync_states.lease_until <= $5 \
                           OR sync_states.lease_owner = excluded.lease_owner";
        let n = with_pool!(self, pool => sqlx::query(SQL)
            .bind(calendar)
            .bind(account)
            .bind(owner)
            .bind(until)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Gives the lease back early (a finished sync), if `owner` still holds it.
    #[tracing::instrument(skip_all)]
    pub async fn release_sync_lease(&self, calendar: &CalendarId, owner: &str) -> StoreResult<()> {
        // language=SQL
        const SQL: &str =
            "UPDATE sync_states SET lease_owner = NULL, lease_until = NULL WHERE calendar_id = $1 AND lease_owner = $2";
        with_pool!(self, pool => sqlx::query(SQL).bind(calendar).bind(owner).execute(pool).await?.rows_affected());
        Ok(())
    }
}

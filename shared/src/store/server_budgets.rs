//! Slots and request counters per self-hosted calendar server (`server_slots`,
//! `server_request_windows`), shared by every worker: Lambda environments share no memory, so
//! the fairness limits live in the database.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};

impl Store {
    /// Takes the first of the server's `slots` that is free (never taken, or expired) for
    /// `holder` until `expires_at`; returns its number, `None` when all are held.
    #[tracing::instrument(skip_all)]
    pub async fn take_server_slot(
        &self,
        server: &str,
        slots: u32,
        holder: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<u32>> {
        // The primary key makes this atomic: of two workers racing for one slot, one inserts (or
        // takes over the expired row) and the other's conditional update touches nothing.
        // language=SQL
        const TAKE: &str = "INSERT INTO server_slots (server, slot, holder, expires_at) VALUES ($1, $2, $3, $4) \
                            ON CONFLICT (server, slot) DO UPDATE SET holder = $3, expires_at = $4 \
                            WHERE server_slots.expires_at <= $5 RETURNING holder";
        for slot in 0..slots {
            let number = i64::from(slot);
            let taken: Option<(String,)> = with_pool!(self, pool => sqlx::query_as(TAKE)
                .bind(server)
                .bind(number)
                .bind(holder)
                .bind(expires_at)
                .bind(now)
                .fetch_optional(pool)
                .await?);
            if taken.is_some_and(|(h,)| h == holder) {
                return Ok(Some(slot));
            }
        }
        Ok(None)
    }

    /// Gives a slot back (only if `holder` still has it).
    #[tracing::instrument(skip_all)]
    pub async fn release_server_slot(&self, server: &str, slot: u32, holder: &str) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "DELETE FROM server_slots WHERE server = $1 AND slot = $2 AND holder = $3";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(server)
            .bind(i64::from(slot))
            .bind(holder)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Requests counted against the server in the window starting at `window_start`.
    #[tracing::instrument(skip_all)]
    pub async fn server_requests(&self, server: &str, window_start: DateTime<Utc>) -> StoreResult<u64> {
        // language=SQL
        const SQL: &str = "SELECT count FROM server_request_windows WHERE server = $1 AND window_start = $2";
        let found: Option<(i64,)> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(server).bind(window_start).fetch_optional(pool).await?);
        Ok(found.map_or(0, |(n,)| u64::try_from(n).unwrap_or(0)))
    }

    /// Adds `requests` to the server's window starting at `window_start`; windows that ended
    /// before `now` are swept on the way.
    #[tracing::instrument(skip_all)]
    pub async fn count_server_requests(
        &self,
        server: &str,
        window_start: DateTime<Utc>,
        requests: u64,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<()> {
        // language=SQL
        const ADD: &str = "INSERT INTO server_request_windows (server, window_start, count) VALUES ($1, $2, $3) \
                           ON CONFLICT (server, window_start) DO UPDATE SET count = server_request_windows.count + $3";
        // language=SQL
        const SWEEP: &str = "DELETE FROM server_request_windows WHERE server = $1 AND window_start < $2";
        let requests = i64::try_from(requests).unwrap_or(i64::MAX);
        with_pool!(self, pool => {
            sqlx::query(ADD).bind(server).bind(window_start).bind(requests).execute(pool).await?;
            sqlx::query(SWEEP).bind(server).bind(stale_before).execute(pool).await?.rows_affected()
        });
        Ok(())
    }
}

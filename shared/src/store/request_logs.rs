//! Integrator-facing request logs (method, path, status, timing; never bodies or query
//! strings), kept up to 90 days.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, dialect, with_pool};
use crate::domain::{AccountId, ApplicationId};

/// One API request as an integrator may later see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RequestLog {
    pub application_id: Option<ApplicationId>,
    pub account_id: Option<AccountId>,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_ms: i32,
    pub created_at: DateTime<Utc>,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn append_request_log(&self, log: &RequestLog) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO request_logs (application_id, account_id, request_id, method, path, status, duration_ms, created_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(&log.application_id)
            .bind(&log.account_id)
            .bind(&log.request_id)
            .bind(&log.method)
            .bind(&log.path)
            .bind(log.status)
            .bind(log.duration_ms)
            .bind(log.created_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// An application's request logs, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_request_logs(&self, application: &ApplicationId, limit: i64) -> StoreResult<Vec<RequestLog>> {
        // language=SQL
        const SQL: &str = "SELECT application_id, account_id, request_id, method, path, status, duration_ms, created_at \
                           FROM request_logs WHERE application_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2";
        Ok(with_pool!(self, pool => sqlx::query_as(SQL).bind(application).bind(limit).fetch_all(pool).await?))
    }

    /// Deletes up to `batch` logs created before `cutoff`, oldest first, in one short
    /// transaction; returns how many went. Callers loop until it returns less than `batch`.
    #[tracing::instrument(skip_all)]
    pub async fn purge_request_logs_before(&self, cutoff: DateTime<Utc>, batch: i64) -> StoreResult<u64> {
        let sql = dialect!(self,
            // language=PostgreSQL
            pg: "DELETE FROM request_logs WHERE id IN (SELECT id FROM request_logs WHERE created_at < $1 \
                 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            // language=SQLite
            sqlite: "DELETE FROM request_logs WHERE id IN (SELECT id FROM request_logs WHERE created_at < $1 \
                     ORDER BY created_at LIMIT $2)",
        );
        Ok(with_pool!(self, pool => sqlx::query(sql).bind(cutoff).bind(batch).execute(pool).await?.rows_affected()))
    }

    /// How many logs were created before `cutoff` (what a purge would remove).
    #[tracing::instrument(skip_all)]
    pub async fn count_request_logs_before(&self, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        // language=SQL
        const SQL: &str = "SELECT COUNT(*) FROM request_logs WHERE created_at < $1";
        let (n,): (i64,) = with_pool!(self, pool => sqlx::query_as(SQL).bind(cutoff).fetch_one(pool).await?);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

//! Right-to-be-forgotten requests (the GDPR report) and the erasure ledger.
//!
//! Both hold opaque ids only. The ledger is append-only: a restore of an older backup replays it
//! so an erased account cannot come back.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{Store, StoreResult, with_pool};
use crate::domain::{AccountId, GdprRequestId};

/// One right-to-be-forgotten request as the GDPR report shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct GdprRequest {
    pub id: GdprRequestId,
    pub account_id: AccountId,
    /// The operator who filed it (an operator name, not end-user data).
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub rows_removed: Option<i64>,
    /// Until when backups taken before the erasure may still hold the data.
    pub backups_expire_by: Option<DateTime<Utc>>,
    /// Progress of removal from external systems, by system name.
    pub external_progress: Json<serde_json::Map<String, serde_json::Value>>,
    pub notes: Option<String>,
}

/// One erased entity.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ErasureEntry {
    pub seq: i64,
    pub entity_kind: String,
    pub entity_id: String,
    pub request_id: Option<String>,
    pub erased_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, account_id, requested_by, requested_at, completed_at, rows_removed, backups_expire_by, external_progress, notes";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_gdpr_request(&self, request: &GdprRequest) -> StoreResult<()> {
        let sql = format!("INSERT INTO gdpr_requests ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&request.id)
            .bind(&request.account_id)
            .bind(&request.requested_by)
            .bind(request.requested_at)
            .bind(request.completed_at)
            .bind(request.rows_removed)
            .bind(request.backups_expire_by)
            .bind(&request.external_progress)
            .bind(&request.notes)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn list_gdpr_requests(&self) -> StoreResult<Vec<GdprRequest>> {
        let sql = format!("SELECT {COLUMNS} FROM gdpr_requests ORDER BY requested_at, id");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?))
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_gdpr_request(&self, id: &GdprRequestId) -> StoreResult<Option<GdprRequest>> {
        let sql = format!("SELECT {COLUMNS} FROM gdpr_requests WHERE id = $1");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?))
    }

    /// Sets one external system's status and note in a request's checklist (operators update it
    /// by hand as they clear the user from systems calsync does not control).
    #[tracing::instrument(skip_all)]
    pub async fn update_gdpr_progress(
        &self,
        id: &GdprRequestId,
        system: &str,
        status: &str,
        note: &str,
    ) -> StoreResult<Option<GdprRequest>> {
        let Some(mut request) = self.get_gdpr_request(id).await? else { return Ok(None) };
        request.external_progress.0.insert(system.to_owned(), serde_json::json!({"status": status, "note": note}));
        // language=SQL
        const SQL: &str = "UPDATE gdpr_requests SET external_progress = $2 WHERE id = $1";
        with_pool!(self, pool => sqlx::query(SQL).bind(id).bind(&request.external_progress).execute(pool).await?.rows_affected());
        Ok(Some(request))
    }

    /// Appends erased entities to the ledger.
    #[tracing::instrument(skip_all)]
    pub async fn append_erasures(
        &self,
        entries: &[(&str, &str)],
        request: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // language=SQL
        const SQL: &str =
            "INSERT INTO erasure_ledger (entity_kind, entity_id, request_id, erased_at) VALUES ($1, $2, $3, $4)";
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (kind, id) in entries {
                sqlx::query(SQL).bind(kind).bind(id).bind(request).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Ledger entries after `after_seq`, in order.
    #[tracing::instrument(skip_all)]
    pub async fn list_erasures_after(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<ErasureEntry>> {
        // language=SQL
        const SQL: &str = "SELECT seq, entity_kind, entity_id, request_id, erased_at FROM erasure_ledger WHERE seq > $1 ORDER BY seq LIMIT $2";
        Ok(with_pool!(self, pool => sqlx::query_as(SQL).bind(after_seq).bind(limit).fetch_all(pool).await?))
    }
}

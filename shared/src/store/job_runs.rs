//! Scheduled job runs keyed by (job, slot): the first invocation for a slot claims it, a
//! duplicate delivery of the same schedule finds it claimed or done and does nothing twice.

use chrono::{DateTime, Duration, Utc};
use sqlx::types::Json;

use super::{Store, StoreResult, with_pool};

/// The result of trying to claim a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobClaim {
    /// This caller owns the slot now.
    Claimed,
    /// Another run holds it and started less than the lease ago.
    Running,
    /// The slot's work is finished.
    Done,
}

impl Store {
    /// Claims `slot` of `job`. A run that started more than `lease` ago without finishing is
    /// presumed dead (its Lambda timed out) and may be claimed again to resume.
    #[tracing::instrument(skip_all, fields(job, slot))]
    pub async fn claim_job_slot(
        &self,
        job: &str,
        slot: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<JobClaim> {
        // language=SQL
        const INSERT: &str = "INSERT INTO job_runs (job, slot, status, started_at, details) VALUES ($1, $2, 'running', $3, $4) \
                              ON CONFLICT (job, slot) DO NOTHING";
        // language=SQL
        const TAKE_OVER: &str = "UPDATE job_runs SET started_at = $3 WHERE job = $1 AND slot = $2 AND status = 'running' AND started_at < $4";
        // language=SQL
        const STATUS: &str = "SELECT status FROM job_runs WHERE job = $1 AND slot = $2";
        let claim = with_pool!(self, pool => {
            let inserted = sqlx::query(INSERT).bind(job).bind(slot).bind(now).bind(Json(serde_json::json!({})))
                .execute(pool).await?.rows_affected();
            if inserted == 1 {
                JobClaim::Claimed
            } else {
                let taken = sqlx::query(TAKE_OVER).bind(job).bind(slot).bind(now).bind(now - lease)
                    .execute(pool).await?.rows_affected();
                if taken == 1 {
                    JobClaim::Claimed
                } else {
                    let (status,): (String,) = sqlx::query_as(STATUS).bind(job).bind(slot).fetch_one(pool).await?;
                    if status == "done" { JobClaim::Done } else { JobClaim::Running }
                }
            }
        });
        Ok(claim)
    }

    /// Records progress (`done = false`: stopped at the deadline, resumable) or completion.
    #[tracing::instrument(skip_all, fields(job, slot))]
    pub async fn finish_job_slot(
        &self,
        job: &str,
        slot: &str,
        done: bool,
        details: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // language=SQL
        const SQL: &str =
            "UPDATE job_runs SET status = $3, finished_at = $4, details = $5 WHERE job = $1 AND slot = $2";
        // An unfinished run releases its lease (started_at far in the past) so the next run resumes at once.
        let status = if done { "done" } else { "running" };
        with_pool!(self, pool => {
            sqlx::query(SQL).bind(job).bind(slot).bind(status).bind(now).bind(Json(details)).execute(pool).await?;
            if !done {
                sqlx::query("UPDATE job_runs SET started_at = $3 WHERE job = $1 AND slot = $2")
                    .bind(job).bind(slot).bind(DateTime::<Utc>::UNIX_EPOCH).execute(pool).await?;
            }
        });
        Ok(())
    }

    /// The recorded runs of `job`, newest first (for operators).
    pub async fn list_job_runs(&self, job: &str, limit: i64) -> StoreResult<Vec<(String, String, serde_json::Value)>> {
        // language=SQL
        const SQL: &str = "SELECT slot, status, details FROM job_runs WHERE job = $1 ORDER BY slot DESC LIMIT $2";
        let rows: Vec<(String, String, Json<serde_json::Value>)> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(job).bind(limit).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(s, st, d)| (s, st, d.0)).collect())
    }
}

//! The daily backup run. Backups live under `backups/<YYYY-MM-DD>/` in the blob store (S3 in
//! production) and are kept 7 days: this run deletes every backup older than that, so the
//! policy holds even where the bucket's lifecycle rule (the backstop) is missing. The run is
//! keyed by its day, so a second invocation on the same day does nothing.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{state::AppState, store::JobClaim};

/// Backups are kept 7 days (policy.md, "Protection").
pub const BACKUP_RETENTION: Duration = Duration::days(7);
/// Where backups live in the blob store.
pub const PREFIX: &str = "backups/";
const JOB: &str = "backup";
const LEASE: Duration = Duration::minutes(20);

/// The Scheduler's input for a backup run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupInput {
    /// List what would be pruned without deleting it.
    #[serde(default)]
    pub dry_run: bool,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    pub slot: String,
    pub already_done: bool,
    pub dry_run: bool,
    /// Objects of backups older than 7 days that were (or would be) deleted.
    pub pruned: Vec<String>,
}

/// The day a backup object belongs to, from its key `backups/<YYYY-MM-DD>/…`.
pub fn backup_day(key: &str) -> Option<NaiveDate> {
    let day = key.strip_prefix(PREFIX)?.split('/').next()?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// Prunes backups past their 7 days, once per day.
#[tracing::instrument(name = "backup run", skip_all, fields(dry_run = input.dry_run))]
pub async fn run(state: &AppState, input: &BackupInput, deadline: DateTime<Utc>) -> anyhow::Result<BackupReport> {
    let now = state.clock.now();
    let slot = now.format("%Y-%m-%d").to_string();
    if !input.dry_run {
        match state.store.claim_job_slot(JOB, &slot, LEASE, now).await? {
            JobClaim::Claimed => {}
            JobClaim::Running | JobClaim::Done => {
                return Ok(BackupReport { slot, already_done: true, dry_run: false, pruned: vec![] });
            }
        }
    }

    // A backup taken on day D holds data as of D; it must be gone once D + 7 days have passed.
    let oldest_kept = (now - BACKUP_RETENTION).date_naive();
    let mut pruned = Vec::new();
    let mut complete = true;
    for object in state.blobs.list(PREFIX).await? {
        if backup_day(&object.key).is_some_and(|day| day < oldest_kept) {
            if state.clock.now() >= deadline {
                complete = false;
                break;
            }
            if !input.dry_run {
                state.blobs.delete(&object.key).await?;
            }
            pruned.push(object.key);
        }
    }
    if !input.dry_run {
        let details = serde_json::json!({ "pruned": pruned.len(), "complete": complete });
        state.store.finish_job_slot(JOB, &slot, complete, &details, state.clock.now()).await?;
    }
    tracing::info!(slot, pruned = pruned.len(), "backup run finished");
    Ok(BackupReport { slot, already_done: false, dry_run: input.dry_run, pruned })
}

#[cfg(test)]
mod tests {
    use super::backup_day;

    #[test]
    fn the_backup_day_comes_from_the_key() {
        assert_eq!(
            backup_day("backups/2026-05-01/manifest.json").map(|d| d.to_string()).as_deref(),
            Some("2026-05-01")
        );
        assert_eq!(backup_day("backups/latest/manifest.json"), None);
        assert_eq!(backup_day("ledger/2026-05-01/x"), None);
    }
}

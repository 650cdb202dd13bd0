//! Backups (policy.md, "Protection" and "Deletion"): a logical backup of the database every day,
//! kept 7 days in the blob store (S3 in the database's region in production, a directory
//! locally), and a restore that cannot bring back what was erased.
//!
//! A backup is `backups/<YYYY-MM-DD>/`: one gzip-compressed JSON-lines object per table, read
//! from one snapshot and streamed (multipart on S3, encrypted with the configured KMS key), then
//! `manifest.json` with the schema version, row counts, sizes and SHA-256 of every object,
//! written last so an unfinished backup is never taken for a whole one. The format is the same
//! for both backends, so a backup restores into either (`restore`). The daily run takes today's
//! backup unless it exists and deletes those past their 7 days (`prune`); right-to-be-forgotten
//! requests are copied to `ledger/`, which outlives every backup and is replayed by a restore.

use chrono::{DateTime, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{adapters::BlobStore, state::AppState, store::JobClaim};

pub mod ledger;
pub mod manifest;
pub mod progress;
pub mod prune;
pub mod restore;
mod rows;
pub mod tables;
mod take;

pub use manifest::Manifest;
pub use progress::{LogProgress, Phase, Progress};
pub use prune::{Listing, Pruned, list};
pub use restore::{RestoreError, RestoreReport, restore};
pub use take::take;

/// Backups are kept 7 days (policy.md, "Protection").
pub const BACKUP_RETENTION: Duration = Duration::days(7);
/// Where backups live in the blob store.
pub const PREFIX: &str = "backups/";
const JOB: &str = "backup";
/// Longer than the function's 15-minute timeout, so a live run is never taken over.
const LEASE: Duration = Duration::minutes(20);

/// The Scheduler's input for a backup run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupInput {
    /// Report what would be pruned, taking and deleting nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    /// Today's backup id.
    pub id: String,
    /// True when today's backup already existed (or another run is taking it): nothing was taken.
    pub already_done: bool,
    pub dry_run: bool,
    /// The backup this run took.
    pub taken: Option<Manifest>,
    pub pruned: prune::Pruned,
}

/// The day a backup object belongs to, from its key `backups/<YYYY-MM-DD>/…`.
pub fn backup_day(key: &str) -> Option<NaiveDate> {
    manifest::parse_id(key.strip_prefix(PREFIX)?.split('/').next()?)
}

/// Takes today's backup unless it exists, then prunes; at most once per day.
#[tracing::instrument(name = "backup run", skip_all, fields(dry_run = input.dry_run))]
pub async fn run(
    state: &AppState,
    input: &BackupInput,
    progress: &dyn Progress,
    deadline: DateTime<chrono::Utc>,
) -> anyhow::Result<BackupReport> {
    let now = state.clock.now();
    let id = now.format("%Y-%m-%d").to_string();
    let blobs: &dyn BlobStore = state.blobs.as_ref();
    if input.dry_run {
        let pruned = prune::prune(blobs, state.clock.as_ref(), deadline, true).await?;
        return Ok(BackupReport { id, already_done: false, dry_run: true, taken: None, pruned });
    }
    match state.store.claim_job_slot(JOB, &id, LEASE, now).await? {
        JobClaim::Claimed => {}
        JobClaim::Running | JobClaim::Done => {
            return Ok(BackupReport {
                id,
                already_done: true,
                dry_run: false,
                taken: None,
                pruned: prune::Pruned::nothing(),
            });
        }
    }

    let outcome = async {
        // The slot is per database; the manifest check also covers a second database writing to
        // the same bucket, or job history lost with a restore.
        let exists = blobs.get(&manifest::manifest_key(&id)).await?.is_some();
        let taken = if exists { None } else { Some(take(&state.store, blobs, &id, progress, now).await?) };
        let pruned = prune::prune(blobs, state.clock.as_ref(), deadline, false).await?;
        anyhow::Ok((exists, taken, pruned))
    }
    .await;
    let (exists, taken, pruned) = match outcome {
        Ok(done) => done,
        Err(e) => {
            // Released at once, so Scheduler's retry runs again instead of finding the slot taken.
            let details = serde_json::json!({ "error": "the run failed; see the function's log" });
            state.store.finish_job_slot(JOB, &id, false, &details, state.clock.now()).await?;
            return Err(e);
        }
    };
    let details = serde_json::json!({
        "tables": taken.as_ref().map(|m| m.tables.len()),
        "rows": taken.as_ref().map(Manifest::rows),
        "bytes": taken.as_ref().map(Manifest::bytes),
        "pruned": &pruned,
    });
    state.store.finish_job_slot(JOB, &id, pruned.complete, &details, state.clock.now()).await?;
    tracing::info!(
        id,
        taken = taken.is_some(),
        rows = taken.as_ref().map(Manifest::rows),
        bytes = taken.as_ref().map(Manifest::bytes),
        expired = pruned.expired.len(),
        unfinished = pruned.unfinished.len(),
        "backup run finished"
    );
    Ok(BackupReport { id, already_done: exists, dry_run: false, taken, pruned })
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

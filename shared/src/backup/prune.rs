//! Backups are kept 7 days: the backup taken on day D is deleted by the run on day D + 7, so at
//! most seven exist after each run (D + 1 … D + 7) and none outlives its 7 days by more than the
//! run's own lateness. A backup left without a manifest by a failed run is deleted by the next
//! day's run, since it can never be restored. The bucket's lifecycle rule is the backstop.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use super::{
    BACKUP_RETENTION, PREFIX, backup_day,
    manifest::{self, Manifest},
};
use crate::{
    adapters::{BlobError, BlobStore},
    clock::Clock,
};

/// The moment from which the run deletes the backup of `day`.
pub fn expires_at(day: NaiveDate) -> DateTime<Utc> {
    (day + BACKUP_RETENTION).and_time(NaiveTime::MIN).and_utc()
}

/// What pruning removed (or, in a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Backups past their 7 days, by id.
    pub expired: Vec<String>,
    /// Unfinished backups of earlier days, by id.
    pub unfinished: Vec<String>,
    /// Objects deleted.
    pub objects: usize,
    /// False when the deadline stopped the run early; the next run continues.
    pub complete: bool,
}

impl Pruned {
    /// A run that had nothing to do.
    pub fn nothing() -> Self {
        Self { expired: Vec::new(), unfinished: Vec::new(), objects: 0, complete: true }
    }
}

/// Deletes backups past their 7 days and unfinished ones of earlier days.
pub async fn prune(
    blobs: &dyn BlobStore,
    clock: &dyn Clock,
    deadline: DateTime<Utc>,
    dry_run: bool,
) -> Result<Pruned, BlobError> {
    let now = clock.now();
    let today = now.date_naive();
    let objects = blobs.list(PREFIX).await?;
    let finished: Vec<NaiveDate> =
        objects.iter().filter(|o| o.key.ends_with("/manifest.json")).filter_map(|o| backup_day(&o.key)).collect();

    let mut pruned = Pruned::nothing();
    for object in objects {
        let Some(day) = backup_day(&object.key) else { continue };
        let id = day.format("%Y-%m-%d").to_string();
        let expired = expires_at(day) <= now;
        let unfinished = day < today && !finished.contains(&day);
        if !expired && !unfinished {
            continue;
        }
        if clock.now() >= deadline {
            pruned.complete = false;
            break;
        }
        if !dry_run {
            blobs.delete(&object.key).await?;
        }
        pruned.objects += 1;
        let list = if expired { &mut pruned.expired } else { &mut pruned.unfinished };
        if list.last() != Some(&id) {
            list.push(id);
        }
    }
    Ok(pruned)
}

/// One backup as `calsync backup list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub id: String,
    /// None for a backup without a manifest (in progress, or failed).
    pub manifest: Option<Manifest>,
    /// Objects and bytes in the store, manifest included.
    pub objects: usize,
    pub bytes: u64,
    pub expires_at: DateTime<Utc>,
}

/// Every backup in the store, oldest first.
pub async fn list(blobs: &dyn BlobStore) -> Result<Vec<Listing>, manifest::ManifestError> {
    let mut listings: Vec<Listing> = Vec::new();
    for object in blobs.list(PREFIX).await? {
        let Some(day) = backup_day(&object.key) else { continue };
        let id = day.format("%Y-%m-%d").to_string();
        match listings.last_mut() {
            Some(last) if last.id == id => {
                last.objects += 1;
                last.bytes += object.size;
            }
            _ => listings.push(Listing {
                id,
                manifest: None,
                objects: 1,
                bytes: object.size,
                expires_at: expires_at(day),
            }),
        }
    }
    for listing in &mut listings {
        match manifest::read(blobs, &listing.id).await {
            Ok(found) => listing.manifest = Some(found),
            Err(manifest::ManifestError::Missing(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(listings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_expires_at_the_start_of_its_seventh_day_after() {
        let day = NaiveDate::from_ymd_opt(2026, 5, 1).expect("valid");
        assert_eq!(expires_at(day).to_rfc3339(), "2026-05-08T00:00:00+00:00");
    }
}

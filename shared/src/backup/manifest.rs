//! A backup's manifest: what it holds (tables, their columns, row counts, sizes and SHA-256 of
//! each object) and the schema it was taken at. It is written after every table object, so a
//! backup without one was never finished and is never restored.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{PREFIX, tables::Kind};
use crate::adapters::{BlobError, BlobStore};

/// The format this build writes and reads.
pub const FORMAT: &str = "calsync-backup/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// The day the backup belongs to, `YYYY-MM-DD`: one backup per day.
    pub id: String,
    /// The moment of the snapshot every table was read from.
    pub taken_at: DateTime<Utc>,
    /// `postgres` or `sqlite`.
    pub backend: String,
    pub schema_version: i64,
    /// In restore order.
    pub tables: Vec<TableEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableEntry {
    pub name: String,
    /// The object's key in the blob store.
    pub object: String,
    pub columns: Vec<ColumnEntry>,
    pub rows: u64,
    /// The object's size (compressed).
    pub bytes: u64,
    /// SHA-256 of the object's bytes, hex.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnEntry {
    pub name: String,
    pub kind: Kind,
}

impl Manifest {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum()
    }
}

/// Where a backup's manifest lives.
pub fn manifest_key(id: &str) -> String {
    format!("{PREFIX}{id}/manifest.json")
}

/// Where a backup's table lives: gzip-compressed JSON lines.
pub fn object_key(id: &str, table: &str) -> String {
    format!("{PREFIX}{id}/{table}.jsonl.gz")
}

/// A backup id is the day it was taken.
pub fn parse_id(id: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(id, "%Y-%m-%d").ok().filter(|day| day.format("%Y-%m-%d").to_string() == id)
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("backup ids are days such as 2026-05-01, not `{0}`")]
    BadId(String),
    #[error("backup {0} has no manifest: it does not exist, or it was never finished")]
    Missing(String),
    #[error("the manifest of backup {id} is unreadable: {reason}")]
    Invalid { id: String, reason: String },
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Reads and checks a backup's manifest.
pub async fn read(blobs: &dyn BlobStore, id: &str) -> Result<Manifest, ManifestError> {
    if parse_id(id).is_none() {
        return Err(ManifestError::BadId(id.chars().take(40).collect()));
    }
    let body = blobs.get(&manifest_key(id)).await?.ok_or_else(|| ManifestError::Missing(id.to_owned()))?;
    let invalid = |reason: String| ManifestError::Invalid { id: id.to_owned(), reason };
    let manifest: Manifest = serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!("format `{}`, this calsync reads `{FORMAT}`", manifest.format)));
    }
    if manifest.id != id {
        return Err(invalid(format!("it names backup {}", manifest.id)));
    }
    for table in &manifest.tables {
        if table.object != object_key(id, &table.name) {
            return Err(invalid(format!("table {} points at `{}`", table.name, table.object)));
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_ids_are_exact_days() {
        assert!(parse_id("2026-05-01").is_some());
        for bad in ["2026-5-1", "2026-02-30", "latest", "../2026-05-01", "2026-05-01/x"] {
            assert!(parse_id(bad).is_none(), "{bad}");
        }
    }
}

//! The erasure ledger's copy outside the database: one object per right-to-be-forgotten request
//! under `ledger/` in the backup bucket, written before anything is erased. It holds opaque ids
//! only (the request, the account and the profiles and calendars it had, and the operator who
//! filed it), is never pruned (the 7-day rule covers `backups/` only), and is what a restore
//! replays, so a backup taken before an erasure cannot bring the user back even when the
//! database that recorded the erasure is the one being replaced.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::adapters::{BlobError, BlobStore};

/// Where ledger objects live; outside `backups/`, so neither pruning nor the bucket's expiry rule
/// reaches them.
pub const LEDGER_PREFIX: &str = "ledger/";

/// One request's erasure, as recorded outside the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerRecord {
    pub request_id: String,
    pub account_id: String,
    /// The operator who filed the request (not end-user data).
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    /// `(kind, id)` of every entity erased: the account, its profiles and calendars.
    pub entities: Vec<(String, String)>,
}

impl LedgerRecord {
    /// Its key: time first, so a listing is in the order requests were made.
    pub fn key(&self) -> String {
        format!("{LEDGER_PREFIX}{}-{}.json", self.requested_at.format("%Y%m%dT%H%M%S%.6fZ"), self.request_id)
    }
}

/// Writes a record; the erasure must not start unless this succeeded.
pub async fn record(blobs: &dyn BlobStore, record: &LedgerRecord) -> Result<(), BlobError> {
    let body = serde_json::to_vec(record).map_err(|e| BlobError::Service(format!("encoding a ledger record: {e}")))?;
    blobs.put(&record.key(), body).await
}

/// Why the ledger could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger object `{key}` is unreadable: {reason}")]
    Invalid { key: String, reason: String },
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Every record, oldest first.
pub async fn read_all(blobs: &dyn BlobStore) -> Result<Vec<LedgerRecord>, LedgerError> {
    let mut records = Vec::new();
    for object in blobs.list(LEDGER_PREFIX).await? {
        // Listed a moment ago; an object deleted since is an error too, since the ledger only grows.
        let body = blobs
            .get(&object.key)
            .await?
            .ok_or_else(|| LedgerError::Invalid { key: object.key.clone(), reason: "it disappeared".into() })?;
        let record: LedgerRecord = serde_json::from_slice(&body)
            .map_err(|e| LedgerError::Invalid { key: object.key.clone(), reason: e.to_string() })?;
        records.push(record);
    }
    Ok(records)
}

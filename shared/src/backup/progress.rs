//! Progress of a backup or a restore, reported table by table: the CLI draws bars from it, and
//! the Lambda function logs each table as structured fields.

use std::time::Duration;

/// What a backup or restore is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading the database into the blob store.
    Backup,
    /// Checking every object of a backup against its manifest.
    Verify,
    /// Loading a backup into the target database.
    Restore,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Backup => "backup",
            Phase::Verify => "verify",
            Phase::Restore => "restore",
        }
    }
}

/// Receives progress. Counts in `advanced` are increments, not totals.
pub trait Progress: Send + Sync {
    /// A phase begins with its totals (rows or bytes may be 0 where not known ahead).
    fn started(&self, phase: Phase, tables: usize, rows: u64, bytes: u64);
    /// A table begins, with its expected rows and bytes.
    fn table_started(&self, table: &str, rows: u64, bytes: u64);
    fn advanced(&self, rows: u64, bytes: u64);
    fn table_finished(&self, table: &str, rows: u64, bytes: u64, elapsed: Duration);
    fn finished(&self, phase: Phase);
}

/// Progress as log lines: one per table and one per phase, with counts as fields.
#[derive(Debug, Default)]
pub struct LogProgress {
    phase: std::sync::Mutex<Option<Phase>>,
}

impl LogProgress {
    fn phase(&self) -> &'static str {
        self.phase.lock().map(|p| p.map_or("", Phase::as_str)).unwrap_or("")
    }
}

impl Progress for LogProgress {
    fn started(&self, phase: Phase, tables: usize, rows: u64, bytes: u64) {
        if let Ok(mut current) = self.phase.lock() {
            *current = Some(phase);
        }
        tracing::info!(phase = phase.as_str(), tables, rows, bytes, "started");
    }

    fn table_started(&self, _table: &str, _rows: u64, _bytes: u64) {}

    fn advanced(&self, _rows: u64, _bytes: u64) {}

    fn table_finished(&self, table: &str, rows: u64, bytes: u64, elapsed: Duration) {
        let duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        tracing::info!(phase = self.phase(), table, rows, bytes, duration_ms, "table done");
    }

    fn finished(&self, phase: Phase) {
        tracing::info!(phase = phase.as_str(), "finished");
    }
}

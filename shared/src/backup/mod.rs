//! The daily backup run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// The Scheduler's input for a backup run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupInput {
    #[serde(default)]
    pub dry_run: bool,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupReport {
    pub slot: String,
    pub already_done: bool,
}

/// Takes today's backup unless it exists, then prunes old ones.
pub async fn run(state: &AppState, input: &BackupInput, deadline: DateTime<Utc>) -> anyhow::Result<BackupReport> {
    let _ = (state, input, deadline);
    anyhow::bail!("placeholder")
}

//! The retention run: applies the policy's retention rules in small batches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// The Scheduler's input for a retention run (the schedule's `Input` JSON, not an EventBridge envelope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionInput {
    /// Report what would be removed without removing it.
    #[serde(default)]
    pub dry_run: bool,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub slot: String,
    pub already_done: bool,
    pub complete: bool,
    pub rules: Vec<RuleReport>,
}

/// What one rule removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    pub rule: &'static str,
    pub removed: u64,
}

/// Runs every rule until done or until `deadline` is near.
pub async fn run(state: &AppState, input: &RetentionInput, deadline: DateTime<Utc>) -> anyhow::Result<RetentionReport> {
    let _ = (state, input, deadline);
    anyhow::bail!("placeholder")
}

//! The retention run: applies the policy's retention rules in small batches, each batch its own
//! short transaction, until the work is done or the deadline is near. A run is keyed by its
//! hourly slot, so a duplicate invocation of the same schedule does nothing twice, and a run that
//! stopped at its deadline is resumed by the next invocation.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{state::AppState, store::JobClaim};

/// Application request logs are kept up to 90 days (policy.md, "Retention").
pub const REQUEST_LOG_RETENTION: Duration = Duration::days(90);
/// Rows deleted per transaction: small enough to hold locks only briefly.
pub const BATCH_SIZE: i64 = 1000;
/// A run holding a slot for longer than this without finishing is presumed dead.
const LEASE: Duration = Duration::minutes(20);
const JOB: &str = "retention";

/// The Scheduler's input for a retention run (the schedule's `Input` JSON, not an EventBridge envelope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionInput {
    /// Report what is due without removing it.
    #[serde(default)]
    pub dry_run: bool,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub slot: String,
    /// The slot was already done (or running elsewhere): this invocation did nothing.
    pub already_done: bool,
    /// Every rule ran to the end (false: stopped at the deadline; the next run resumes).
    pub complete: bool,
    pub dry_run: bool,
    pub rules: Vec<RuleReport>,
}

/// What one rule removed (or, in a dry run, found due).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    pub rule: &'static str,
    pub removed: u64,
}

/// Runs every rule until done or until `deadline`.
#[tracing::instrument(name = "retention run", skip_all, fields(dry_run = input.dry_run))]
pub async fn run(state: &AppState, input: &RetentionInput, deadline: DateTime<Utc>) -> anyhow::Result<RetentionReport> {
    let now = state.clock.now();
    let slot = now.format("%Y-%m-%dT%H").to_string();
    let cutoff = now - REQUEST_LOG_RETENTION;

    if input.dry_run {
        let due = state.store.count_request_logs_before(cutoff).await?;
        let rules = vec![RuleReport { rule: "request_logs", removed: due }];
        return Ok(RetentionReport { slot, already_done: false, complete: true, dry_run: true, rules });
    }

    match state.store.claim_job_slot(JOB, &slot, LEASE, now).await? {
        JobClaim::Claimed => {}
        JobClaim::Running | JobClaim::Done => {
            tracing::info!(slot, "retention slot already handled");
            return Ok(RetentionReport { slot, already_done: true, complete: true, dry_run: false, rules: vec![] });
        }
    }

    let mut removed = 0u64;
    let mut complete = false;
    while state.clock.now() < deadline {
        let n = state.store.purge_request_logs_before(cutoff, BATCH_SIZE).await?;
        removed += n;
        if n < BATCH_SIZE as u64 {
            complete = true;
            break;
        }
    }
    let rules = vec![RuleReport { rule: "request_logs", removed }];
    let details = serde_json::json!({ "rules": rules, "complete": complete });
    state.store.finish_job_slot(JOB, &slot, complete, &details, state.clock.now()).await?;
    tracing::info!(slot, removed, complete, "retention run finished");
    Ok(RetentionReport { slot, already_done: false, complete, dry_run: false, rules })
}

//! The retention run: applies the policy's retention rules (`policy::retention::RULES`) in small
//! batches, each batch its own short transaction, children before parents, until the work is
//! done or the deadline is near; each rule's removals and duration are recorded with the run. A run is keyed by its
//! hourly slot, so a duplicate invocation of the same schedule does nothing twice, and a run that
//! stopped at its deadline is resumed by the next invocation.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::{policy::retention, state::AppState, store::JobClaim};

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

/// What one rule removed (or, in a dry run or a plan, found due), and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    pub rule: &'static str,
    pub removed: u64,
    pub duration_ms: u64,
}

/// What each rule the run carries out would remove at `at`, without removing anything.
pub async fn plan(state: &AppState, at: DateTime<Utc>) -> anyhow::Result<Vec<RuleReport>> {
    let mut rules = Vec::new();
    for (rule, purgeable, keep) in retention::batched() {
        let started = std::time::Instant::now();
        let removed = state.store.count_due(purgeable, at - keep).await?;
        rules.push(RuleReport { rule: rule.name, removed, duration_ms: elapsed_ms(started) });
    }
    Ok(rules)
}

/// The recorded runs, newest first: slot, whether it finished, and per rule what it removed.
pub async fn history(state: &AppState, limit: i64) -> anyhow::Result<Vec<(String, String, serde_json::Value)>> {
    Ok(state.store.list_job_runs(JOB, limit).await?)
}

fn elapsed_ms(started: std::time::Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Runs every rule until done or until `deadline`.
#[tracing::instrument(name = "retention run", skip_all, fields(dry_run = input.dry_run))]
pub async fn run(state: &AppState, input: &RetentionInput, deadline: DateTime<Utc>) -> anyhow::Result<RetentionReport> {
    let now = state.clock.now();
    let slot = now.format("%Y-%m-%dT%H").to_string();

    if input.dry_run {
        let rules = plan(state, now).await?;
        return Ok(RetentionReport { slot, already_done: false, complete: true, dry_run: true, rules });
    }

    match state.store.claim_job_slot(JOB, &slot, LEASE, now).await? {
        JobClaim::Claimed => {}
        JobClaim::Running | JobClaim::Done => {
            tracing::info!(slot, "retention slot already handled");
            return Ok(RetentionReport { slot, already_done: true, complete: true, dry_run: false, rules: vec![] });
        }
    }

    // Each rule in turn, children before parents, a batch per transaction, until the deadline.
    let mut rules = Vec::new();
    let mut complete = true;
    for (rule, purgeable, keep) in retention::batched() {
        let started = std::time::Instant::now();
        let cutoff = now - keep;
        let mut removed = 0u64;
        let mut done = false;
        while state.clock.now() < deadline {
            // A rule can span several tables (children first), so only an empty batch ends it.
            let n = state.store.purge_due(purgeable, cutoff, BATCH_SIZE).await?;
            removed += n;
            if n == 0 {
                done = true;
                break;
            }
        }
        rules.push(RuleReport { rule: rule.name, removed, duration_ms: elapsed_ms(started) });
        if !done {
            complete = false;
            break;
        }
    }
    let details = serde_json::json!({ "rules": rules, "complete": complete });
    state.store.finish_job_slot(JOB, &slot, complete, &details, state.clock.now()).await?;
    let removed: u64 = rules.iter().map(|r| r.removed).sum();
    tracing::info!(slot, removed, complete, rules = %details["rules"], "retention run finished");
    Ok(RetentionReport { slot, already_done: false, complete, dry_run: false, rules })
}

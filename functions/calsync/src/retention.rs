//! `calsync retention plan [--at TIME] [--json]` (what a retention run at that time would remove,
//! per rule, removing nothing), `calsync retention run` (a run now, as the hourly function does,
//! stopping after `--minutes`) and `calsync retention history` (the recorded runs).

use anyhow::Context;
use calsync_core::retention::{self, RetentionInput, RuleReport};
use calsync_core::{AppState, Config};
use chrono::{DateTime, Duration};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum RetentionCommand {
    /// Show what a retention run would remove, per rule, without removing anything.
    Plan {
        /// The time to plan for (RFC 3339), default now.
        #[arg(long)]
        at: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the recorded retention runs, newest first.
    History {
        /// How many runs to show.
        #[arg(long, default_value_t = 24)]
        limit: i64,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Run retention now.
    Run {
        /// Stop after this many minutes; the next run resumes.
        #[arg(long, default_value_t = 10)]
        minutes: i64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(config: Config, command: RetentionCommand) -> anyhow::Result<()> {
    let state = AppState::build(config).await?;
    match command {
        RetentionCommand::Plan { at, json } => {
            let at = match at {
                Some(text) => DateTime::parse_from_rfc3339(&text)
                    .with_context(|| {
                        format!("--at must be an RFC 3339 time such as 2026-06-01T00:00:00Z, not `{text}`")
                    })?
                    .to_utc(),
                None => state.clock.now(),
            };
            let rules = retention::plan(&state, at).await?;
            print(&rules, json, &format!("due at {}", at.to_rfc3339()))
        }
        RetentionCommand::History { limit, json } => {
            let runs = retention::history(&state, limit.clamp(1, 1000)).await?;
            if json {
                let all: Vec<_> = runs
                    .iter()
                    .map(|(slot, status, details)| serde_json::json!({"slot": slot, "status": status, "details": details}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
                return Ok(());
            }
            for (slot, status, details) in runs {
                let removed: Vec<String> = details["rules"]
                    .as_array()
                    .map(|rules| {
                        rules
                            .iter()
                            .map(|r| {
                                format!(
                                    "{} {} ({} ms)",
                                    r["rule"].as_str().unwrap_or("?"),
                                    r["removed"],
                                    r["duration_ms"]
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                println!("{slot}  {status}  {}", removed.join(", "));
            }
            Ok(())
        }
        RetentionCommand::Run { minutes, json } => {
            let deadline = state.clock.now() + Duration::minutes(minutes.max(1));
            let report = retention::run(&state, &RetentionInput::default(), deadline).await?;
            if report.already_done {
                println!("this hour's retention run already happened ({})", report.slot);
                return Ok(());
            }
            print(
                &report.rules,
                json,
                if report.complete { "removed" } else { "removed (stopped at the deadline; run again)" },
            )
        }
    }
}

fn print(rules: &[RuleReport], json: bool, heading: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rules)?);
        return Ok(());
    }
    println!("{:<24} {:>10}  ({heading})", "rule", "rows");
    for rule in rules {
        println!("{:<24} {:>10}", rule.rule, rule.removed);
    }
    Ok(())
}

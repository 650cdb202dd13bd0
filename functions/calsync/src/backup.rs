//! `calsync backup run` (today's backup, as the daily function takes it, then pruning),
//! `calsync backup list` (what exists and when each expires) and
//! `calsync backup restore <ID> --into <DATABASE URL>` (into an empty database, either backend).
//! Backup and restore draw progress bars (tables, rows, bytes) on a terminal and end with a summary.

use std::{sync::Mutex, time::Duration};

use anyhow::Context;
use calsync_core::backup::{self, BackupInput, Phase, Progress};
use calsync_core::{AppState, Config, adapters, config::BlobConfig};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressStyle};

#[derive(Debug, Subcommand)]
pub(crate) enum BackupCommand {
    /// Take today's backup (unless it exists) and delete backups past their 7 days.
    Run {
        /// Show what would be pruned; take and delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// List the backups in the store and when each expires.
    List {
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into an empty database, replaying the erasure ledger.
    Restore {
        /// The backup's id: the day it was taken, such as 2026-05-01.
        id: String,
        /// The database to restore into (postgres://… or sqlite://…); it must be empty.
        #[arg(long, hide_env_values = true)]
        into: String,
        /// Print JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(config: Config, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Run { dry_run, json } => {
            let state = AppState::build(config).await?;
            let bars = Bars::new(json);
            let report = backup::run(&state, &BackupInput { dry_run }, &bars, DateTime::<Utc>::MAX_UTC).await?;
            bars.clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            match (&report.taken, report.already_done, dry_run) {
                (Some(m), _, _) => println!(
                    "backup {} taken: {} tables, {} rows, {} from the {} database",
                    m.id,
                    m.tables.len(),
                    m.rows(),
                    HumanBytes(m.bytes()),
                    m.backend
                ),
                (None, true, _) => println!("backup {} already exists; nothing taken", report.id),
                (None, _, true) => println!("dry run: nothing taken"),
                (None, false, false) => {}
            }
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!(
                "{verb} {} expired and {} unfinished backups ({} objects){}",
                report.pruned.expired.len(),
                report.pruned.unfinished.len(),
                report.pruned.objects,
                if report.pruned.complete { "" } else { "; stopped early, the next run continues" }
            );
            Ok(())
        }
        BackupCommand::List { json } => {
            let blobs = blobs(&config).await?;
            let listings = backup::list(blobs.as_ref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&listings)?);
                return Ok(());
            }
            if listings.is_empty() {
                println!("no backups");
            }
            for listing in listings {
                let what = match &listing.manifest {
                    Some(m) => format!(
                        "taken {} from {}, {} tables, {} rows",
                        m.taken_at.format("%Y-%m-%d %H:%M:%SZ"),
                        m.backend,
                        m.tables.len(),
                        m.rows()
                    ),
                    None => "unfinished (no manifest): cannot be restored".to_owned(),
                };
                println!(
                    "{}  {:>10}  expires {}  {what}",
                    listing.id,
                    HumanBytes(listing.bytes).to_string(),
                    listing.expires_at.format("%Y-%m-%d %H:%MZ")
                );
            }
            Ok(())
        }
        BackupCommand::Restore { id, into, json } => {
            let blobs = blobs(&config).await?;
            let bars = Bars::new(json);
            let report = backup::restore(blobs.as_ref(), &id, &into, &bars, Utc::now()).await;
            bars.clear();
            let report = report?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            println!(
                "backup {} (taken {} on {}) restored into {}: {} tables, {} rows, {}",
                report.id,
                report.taken_at.format("%Y-%m-%d %H:%M:%SZ"),
                report.from,
                report.into,
                report.tables,
                report.rows,
                HumanBytes(report.bytes)
            );
            println!(
                "erasure ledger replayed: {} accounts erased again ({} rows removed), {} GDPR report rows re-created",
                report.erased_accounts, report.rows_erased, report.requests_recreated
            );
            println!("the database is ready to use");
            Ok(())
        }
    }
}

/// The configured blob store, without connecting to the database (a restore may run where the
/// source database no longer exists).
async fn blobs(config: &Config) -> anyhow::Result<std::sync::Arc<dyn adapters::BlobStore>> {
    let aws = match config.blobs {
        BlobConfig::S3 { .. } => Some(adapters::aws_config().await),
        BlobConfig::Directory { .. } => None,
    };
    calsync_core::state::blob_store(&config.blobs, aws.as_ref()).context("opening the backup store")
}

/// Two bars: the whole phase (rows; bytes while verifying) and the current table; the phase's
/// bar also shows the bytes moved so far.
struct Bars {
    multi: MultiProgress,
    current: Mutex<Option<Current>>,
}

struct Current {
    phase: Phase,
    tables: usize,
    bytes: u64,
    overall: ProgressBar,
    table: ProgressBar,
}

impl Bars {
    /// Hidden when printing JSON; indicatif also hides them when stderr is not a terminal.
    fn new(hidden: bool) -> Self {
        let multi = MultiProgress::new();
        if hidden {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        Self { multi, current: Mutex::new(None) }
    }

    fn clear(&self) {
        let _ = self.multi.clear();
    }

    fn style(unit: &str) -> ProgressStyle {
        ProgressStyle::with_template(&format!(
            "{{prefix:>12}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} {{msg}} ({{elapsed}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
    }

    fn with_current(&self, f: impl FnOnce(&mut Current)) {
        if let Ok(mut current) = self.current.lock() {
            if let Some(current) = current.as_mut() {
                f(current);
            }
        }
    }
}

impl Progress for Bars {
    fn started(&self, phase: Phase, tables: usize, rows: u64, bytes: u64) {
        let (total, unit) = if phase == Phase::Verify { (bytes, "bytes") } else { (rows, "rows") };
        let overall = self.multi.add(ProgressBar::new(total).with_style(Self::style(unit)));
        overall.set_prefix(phase.as_str());
        overall.set_message(format!("{tables} tables"));
        let table = self.multi.add(ProgressBar::new(0).with_style(Self::style(unit)));
        if let Ok(mut current) = self.current.lock() {
            *current = Some(Current { phase, tables, bytes: 0, overall, table });
        }
    }

    fn table_started(&self, name: &str, rows: u64, bytes: u64) {
        self.with_current(|c| {
            c.table.reset();
            c.table.set_length(if c.phase == Phase::Verify { bytes } else { rows });
            c.table.set_prefix(name.chars().take(12).collect::<String>());
        });
    }

    fn advanced(&self, rows: u64, bytes: u64) {
        self.with_current(|c| {
            let step = if c.phase == Phase::Verify { bytes } else { rows };
            c.overall.inc(step);
            c.table.inc(step);
            if bytes > 0 {
                c.bytes += bytes;
                c.overall.set_message(format!("{} tables, {}", c.tables, HumanBytes(c.bytes)));
            }
        });
    }

    fn table_finished(&self, name: &str, rows: u64, bytes: u64, elapsed: Duration) {
        let _ = self.multi.println(format!(
            "{name:>24}  {rows:>10} rows  {:>10}  {:.1}s",
            HumanBytes(bytes).to_string(),
            elapsed.as_secs_f64()
        ));
    }

    fn finished(&self, _phase: Phase) {
        if let Ok(mut current) = self.current.lock() {
            if let Some(c) = current.take() {
                c.overall.finish_and_clear();
                c.table.finish_and_clear();
            }
        }
    }
}

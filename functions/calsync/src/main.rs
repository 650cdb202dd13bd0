//! The `calsync` command: `serve` runs the whole system in one process (API, sync and notify
//! workers on an in-process queue, retention and backup schedules) on SQLite by default, and the
//! operator commands (migrate, apps, retention, gdpr, backup, keyring) act on the same database.
//!
//! Every flag can also be set by its environment variable, and flags win over the environment.

use std::collections::HashMap;

use anyhow::Context;
use calsync_core::Config;
use clap::{Args, Parser, Subcommand};

mod apps;
mod backup;
mod gdpr;
mod keyring;
mod retention;
mod serve;

#[derive(Debug, Parser)]
#[command(name = "calsync", version, about = "Open calendar sync platform with a Cronofy-compatible API")]
struct Cli {
    #[command(flatten)]
    storage: StorageArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives; shared by every command.
#[derive(Debug, Args)]
struct StorageArgs {
    /// Directory for local state: the SQLite database, the key file, blobs.
    #[arg(long, global = true, env = "CALSYNC_DATA_DIR")]
    data_dir: Option<String>,
    /// Database URL; a postgres:// URL switches to PostgreSQL (default: SQLite in the data dir).
    #[arg(long, global = true, env = "CALSYNC_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API, workers and schedules in one process.
    Serve(serve::ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage integrator applications.
    #[command(subcommand)]
    Apps(apps::AppsCommand),
    /// Plan or run the retention rules.
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Right to be forgotten: forget an end-user, or show the GDPR report.
    #[command(subcommand)]
    Gdpr(gdpr::GdprCommand),
    /// Take, list and restore backups.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Create or rotate the credentials keyring for the Secrets Manager secret.
    #[command(subcommand)]
    Keyring(keyring::KeyringCommand),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    calsync_core::telemetry::init_local();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(config(&cli.storage, &args.overrides())?, args).await,
        Command::Migrate => {
            let config = config(&cli.storage, &[])?;
            let state = calsync_core::AppState::build(config).await?;
            println!("database schema is at version {}", state.store.schema_version());
            Ok(())
        }
        Command::Apps(command) => apps::run(config(&cli.storage, &[])?, command).await,
        Command::Retention(command) => retention::run(config(&cli.storage, &[])?, command).await,
        Command::Gdpr(command) => gdpr::run(config(&cli.storage, &[])?, command).await,
        Command::Backup(command) => backup::run(config(&cli.storage, &[])?, command).await,
        Command::Keyring(command) => keyring::run(command),
    }
}

/// The configuration of a local process: the environment, overridden by flags, in local mode.
fn config(storage: &StorageArgs, extra: &[(&'static str, Option<String>)]) -> anyhow::Result<Config> {
    let mut overrides: HashMap<&str, String> = HashMap::new();
    let pairs =
        [("CALSYNC_DATA_DIR", storage.data_dir.clone()), ("CALSYNC_DATABASE_URL", storage.database_url.clone())];
    for (name, value) in pairs.into_iter().chain(extra.iter().cloned()) {
        if let Some(value) = value {
            overrides.insert(name, value);
        }
    }
    Config::from_lookup(|name| {
        if name == "CALSYNC_MODE" {
            // The command always runs locally, even under a shell that has Lambda variables set.
            return Some("local".to_owned());
        }
        overrides.get(name).cloned().or_else(|| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    })
    .context("invalid configuration")
}

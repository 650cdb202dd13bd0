//! `calsync gdpr forget (--account ID | --email EMAIL) --operator NAME` removes every record of an
//! end-user and records the request; `calsync gdpr progress ID --system S --status done` records
//! progress on an external system; `calsync gdpr report` lists the requests (the GDPR report).

use calsync_core::domain::{AccountId, GdprRequestId};
use calsync_core::gdpr::{self, Subject};
use calsync_core::store::GdprRequest;
use calsync_core::{AppState, Config};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum GdprCommand {
    /// Forget an end-user: delete every record of them and record the request.
    Forget {
        /// The end-user's account id (acc_…).
        #[arg(long, conflicts_with = "email", required_unless_present = "email")]
        account: Option<String>,
        /// An email address of the end-user (the account's or a calendar profile's).
        #[arg(long)]
        email: Option<String>,
        /// Who files the request (recorded in the report).
        #[arg(long)]
        operator: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record progress on removing the end-user from an external system.
    Progress {
        /// The request id (gdpr_…).
        id: String,
        /// The external system (letters, digits, dashes, underscores).
        #[arg(long)]
        system: String,
        /// pending, in_progress, done or not_applicable.
        #[arg(long)]
        status: String,
        /// A note for other operators.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// List the right-to-be-forgotten requests.
    Report {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) async fn run(config: Config, command: GdprCommand) -> anyhow::Result<()> {
    let state = AppState::build(config).await?;
    match command {
        GdprCommand::Forget { account, email, operator, json } => {
            let subject = match (account, email) {
                (Some(id), _) => Subject::Account(
                    AccountId::parse(id.trim()).map_err(|_| anyhow::anyhow!("--account must be an acc_ id"))?,
                ),
                (None, Some(email)) => Subject::Email(email),
                (None, None) => anyhow::bail!("name the end-user with --account or --email"),
            };
            let requests = gdpr::forget(&state, &subject, &operator).await?;
            print(&requests, json)
        }
        GdprCommand::Progress { id, system, status, note } => {
            let id = GdprRequestId::parse(id.trim()).map_err(|_| anyhow::anyhow!("the id must be a gdpr_ id"))?;
            let updated = gdpr::record_progress(&state, &id, &system, &status, &note).await?;
            print(&[updated], true)
        }
        GdprCommand::Report { json } => print(&state.store.list_gdpr_requests().await?, json),
    }
}

fn print(requests: &[GdprRequest], json: bool) -> anyhow::Result<()> {
    if json {
        let all: Vec<_> = requests.iter().map(gdpr::report_json).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    for r in requests {
        let completed = r.completed_at.map_or("pending".to_owned(), |t| t.to_rfc3339());
        println!(
            "{}  account {}  by {}  completed {}  rows removed {}  backups clear by {}",
            r.id,
            r.account_id,
            r.requested_by,
            completed,
            r.rows_removed.unwrap_or(0),
            r.backups_expire_by.map_or("-".to_owned(), |t| t.to_rfc3339()),
        );
    }
    Ok(())
}

//! `calsync apps create|list|show`: integrator applications from the command line.

use calsync_core::{
    AppState, Config,
    apps::{self, ApplicationRequest},
    domain::Application,
};
use clap::Subcommand;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// Create an application and print its client id and secret (the secret is shown once).
    Create {
        #[arg(long)]
        name: String,
        /// An allowed OAuth redirect URI; repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Days of the past kept in sync (default 42).
        #[arg(long)]
        sync_past_days: Option<i32>,
        /// Days of the future kept in sync (default 201).
        #[arg(long)]
        sync_future_days: Option<i32>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List applications.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one application by its app_ id or client id.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn to_json(app: &Application) -> serde_json::Value {
    json!({
        "application_id": app.id,
        "name": app.name,
        "client_id": app.client_id,
        "redirect_uris": app.redirect_uris,
        "sync_window": { "past_days": app.sync_past_days, "future_days": app.sync_future_days },
        "created_at": app.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

fn print_text(app: &Application) {
    println!("{}  {}", app.id, app.name);
    println!("  client_id:     {}", app.client_id);
    println!("  redirect_uris: {}", app.redirect_uris.join(" "));
    println!("  sync window:   {} days past, {} days future", app.sync_past_days, app.sync_future_days);
}

pub(crate) async fn run(config: Config, command: AppsCommand) -> anyhow::Result<()> {
    let state = AppState::build(config).await?;
    let now = state.clock.now();
    match command {
        AppsCommand::Create { name, redirect_uris, sync_past_days, sync_future_days, json } => {
            let request = ApplicationRequest { name, redirect_uris, sync_past_days, sync_future_days };
            let created = apps::create(&state.store, &state.vault, request, now).await?;
            if json {
                let mut value = to_json(&created.application);
                value["client_secret"] = created.client_secret.into();
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print_text(&created.application);
                println!("  client_secret: {}  (shown once: store it now)", created.client_secret);
            }
        }
        AppsCommand::List { json } => {
            let all = state.store.list_applications().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all.iter().map(to_json).collect::<Vec<_>>())?);
            } else if all.is_empty() {
                println!("no applications");
            } else {
                all.iter().for_each(print_text);
            }
        }
        AppsCommand::Show { id, json } => {
            let app = apps::find(&state.store, &id).await?;
            if json { println!("{}", serde_json::to_string_pretty(&to_json(&app))?) } else { print_text(&app) }
        }
    }
    state.store.close().await;
    Ok(())
}

//! `calsync serve`: the API on a TCP listener plus every background task, until Ctrl-C/SIGTERM.

use anyhow::Context;
use calsync_core::{AppState, Config, api, local};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CALSYNC_LISTEN")]
    listen: Option<String>,
    /// Base URL put into links such as `next_page` (default: http://<listen address>).
    #[arg(long, env = "CALSYNC_PUBLIC_URL")]
    public_url: Option<String>,
}

impl ServeArgs {
    pub(crate) fn overrides(&self) -> [(&'static str, Option<String>); 2] {
        [("CALSYNC_LISTEN", self.listen.clone()), ("CALSYNC_PUBLIC_URL", self.public_url.clone())]
    }
}

pub(crate) async fn run(config: Config, _args: ServeArgs) -> anyhow::Result<()> {
    let listen = config.listen;
    let state = AppState::build(config).await?;
    let demo = calsync_core::demo::ensure_demo_application(&state).await.context("creating the demo application")?;

    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    println!("calsync is listening on http://{address} (public URL {})", state.config.public_url);
    println!("database: {}", state.store.backend_name());
    println!("demo application: client_id={} client_secret={}", demo.client_id, demo.client_secret);
    println!("point an SDK at base URL {}", state.config.public_url);

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut background = local::spawn_background(&state, stopped);
    axum::serve(listener, api::app(state.clone()))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        })
        .await
        .context("serving the API")?;
    while background.join_next().await.is_some() {}
    state.store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}

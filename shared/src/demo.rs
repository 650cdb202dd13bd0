//! The demo application `calsync serve` creates on first start, so a new user can point an SDK
//! at a fresh install straight away. Its secret is kept in a 0600 file in the local data
//! directory (local mode only) so that later starts can print it again.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::{
    apps::{self, ApplicationRequest},
    state::AppState,
};

const FILE: &str = "demo-application.json";

/// The demo application's credentials.
#[derive(Clone, Serialize, Deserialize)]
pub struct DemoCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for DemoCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoCredentials").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// Returns the demo application's credentials, creating the application if it does not exist.
pub async fn ensure_demo_application(state: &AppState) -> anyhow::Result<DemoCredentials> {
    let path = state.config.data_dir.join(FILE);
    if let Ok(raw) = std::fs::read_to_string(&path) {
        if let Ok(saved) = serde_json::from_str::<DemoCredentials>(&raw) {
            let now = state.clock.now();
            if state.store.authenticate_client(&saved.client_id, &saved.client_secret, now).await?.is_some() {
                return Ok(saved);
            }
        }
    }

    let mut redirect = format!("{}/demo/callback", state.config.public_url);
    if apps::validate_redirect_uri(&redirect).is_err() {
        redirect = "http://localhost/demo/callback".to_owned();
    }
    let request = ApplicationRequest {
        name: "Demo application".to_owned(),
        redirect_uris: vec![redirect],
        sync_past_days: None,
        sync_future_days: None,
    };
    let created = apps::create(&state.store, &state.vault, request, state.clock.now()).await?;
    let credentials =
        DemoCredentials { client_id: created.application.client_id, client_secret: created.client_secret };
    write_private(&path, &serde_json::to_vec_pretty(&credentials)?)
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(client_id = %credentials.client_id, "created the demo application");
    Ok(credentials)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

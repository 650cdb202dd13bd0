//! Everything a handler needs, built once per process (cold start) and cloned cheaply.

use std::sync::Arc;

use anyhow::Context;

use crate::{
    adapters::{
        self, BlobStore, Queue, SecretSource,
        blobs::{DirectoryBlobStore, S3BlobStore},
        queue::{InProcessQueue, SqsQueue},
        secrets::SecretsManagerSource,
    },
    clock::{Clock, SystemClock},
    config::{BlobConfig, Config, DatabaseConfig, KeyringSource, QueueConfig},
    crypto::{Keyring, Vault},
    notify::CallbackClient,
    providers::ProviderClients,
    store::Store,
};

/// Shared state handed to the router and to every job handler.
#[derive(Clone, Debug)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub queue: Arc<dyn Queue>,
    pub blobs: Arc<dyn BlobStore>,
    pub vault: Arc<Vault>,
    /// Delivers push notifications to applications' callback URLs.
    pub callbacks: CallbackClient,
    /// calsync's OAuth clients at Google and Microsoft.
    pub providers: Arc<ProviderClients>,
}

impl AppState {
    /// Builds the adapters the configuration asks for, connects to the database and brings its
    /// schema up to date.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As `build`, with an injected clock (tests).
    pub async fn build_with_clock(mut config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let needs_aws = matches!(config.queue, QueueConfig::Sqs { .. })
            || config.admin_token_secret_id.is_some()
            || config.provider_secret_id.is_some()
            || matches!(config.blobs, BlobConfig::S3 { .. })
            || matches!(config.keyring, KeyringSource::SecretsManager { .. })
            || matches!(config.database, DatabaseConfig::RdsIam { .. });
        let aws = if needs_aws { Some(adapters::aws_config().await) } else { None };

        let store = Store::connect(&config.database, aws.as_ref()).await.context("connecting to the database")?;
        store.migrate().await.context("applying database migrations")?;

        let secrets = aws.as_ref().map(SecretsManagerSource::new);
        let secret = |what: &'static str, id: String| {
            let secrets = secrets.as_ref();
            async move {
                let source = secrets.context("AWS configuration")?;
                source.get(&id).await.with_context(|| format!("reading the {what} secret"))
            }
        };
        let keyring = match &config.keyring {
            KeyringSource::File { path } => {
                Keyring::load_or_create_file(path).context("loading the local keyring file")?
            }
            KeyringSource::SecretsManager { secret_id } => {
                let raw = secret("keyring", secret_id.clone()).await?;
                Keyring::from_json(&raw).context("parsing the keyring secret")?
            }
        };
        if let Some(id) = config.admin_token_secret_id.clone() {
            config.admin_token = Some(secret("admin token", id).await?);
        }
        let providers = match config.provider_secret_id.clone() {
            Some(id) => {
                let raw = secret("provider", id).await?;
                ProviderClients::from_json(&raw).context("parsing the provider secret")?
            }
            None => {
                // A local install's Google service account key is a file, as Google gives it.
                let google_service_account = match &config.google_service_account_file {
                    Some(path) => {
                        let raw = tokio::fs::read_to_string(path)
                            .await
                            .context("reading CALSYNC_GOOGLE_SERVICE_ACCOUNT_FILE")?;
                        let key = crate::providers::google::delegation::ServiceAccountKey::from_json(&raw)
                            .context("parsing CALSYNC_GOOGLE_SERVICE_ACCOUNT_FILE")?;
                        Some(key)
                    }
                    None => None,
                };
                ProviderClients {
                    google: config.google_client.clone(),
                    microsoft: config.microsoft_client.clone(),
                    google_service_account,
                }
            }
        };

        let queue: Arc<dyn Queue> = match &config.queue {
            QueueConfig::InProcess => Arc::new(InProcessQueue::new()),
            QueueConfig::Sqs { sync_queue_url, notify_queue_url } => Arc::new(SqsQueue::new(
                aws.as_ref().context("AWS configuration")?,
                sync_queue_url.clone(),
                notify_queue_url.clone(),
            )),
        };

        let blobs = blob_store(&config.blobs, aws.as_ref())?;

        let callbacks = CallbackClient::from_config(&config).context("building the callback client")?;
        let vault = Arc::new(Vault::new(keyring));
        let providers = Arc::new(providers);
        Ok(Self { config: Arc::new(config), store, clock, queue, blobs, vault, callbacks, providers })
    }
}

/// The blob store the configuration names; `aws` is needed for S3.
pub fn blob_store(config: &BlobConfig, aws: Option<&aws_config::SdkConfig>) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match config {
        BlobConfig::Directory { path } => Arc::new(DirectoryBlobStore::new(path.clone())),
        BlobConfig::S3 { bucket, kms_key_id } => {
            Arc::new(S3BlobStore::new(aws.context("AWS configuration")?, bucket.clone(), kms_key_id.clone()))
        }
    })
}

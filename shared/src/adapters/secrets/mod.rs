//! Platform secrets (the credentials keyring, provider OAuth client secrets, database
//! credentials): Secrets Manager in Lambda, files in a local directory.

use async_trait::async_trait;
use secrecy::SecretString;

pub mod aws;
pub mod file;

pub use aws::SecretsManagerSource;
pub use file::FileSecretSource;

/// A secret that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{0}` not found")]
    NotFound(String),
    #[error("secret `{0}` could not be read: {1}")]
    Unavailable(String, String),
}

#[async_trait]
pub trait SecretSource: Send + Sync + std::fmt::Debug {
    /// The current value of the secret named `id` (an ARN or name for Secrets Manager, a file
    /// name for the local source).
    async fn get(&self, id: &str) -> Result<SecretString, SecretError>;
}

//! Secrets Manager as the secret source in Lambda. Only string secrets are supported: every
//! secret calsync stores (keyring JSON, OAuth client secrets, database credentials) is text.
//!
//! The value goes straight into a `SecretString`; errors and spans carry the secret id only.

use async_trait::async_trait;
use aws_sdk_secretsmanager::{Client, error::DisplayErrorContext};
use secrecy::SecretString;

use super::{SecretError, SecretSource};

#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: Client,
}

impl SecretsManagerSource {
    pub fn new(sdk_config: &aws_config::SdkConfig) -> Self {
        Self { client: Client::new(sdk_config) }
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    #[tracing::instrument(skip_all, fields(secret_id = %id))]
    async fn get(&self, id: &str) -> Result<SecretString, SecretError> {
        let mut output = match self.client.get_secret_value().secret_id(id).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()) => {
                return Err(SecretError::NotFound(id.to_owned()));
            }
            Err(e) => {
                return Err(SecretError::Unavailable(id.to_owned(), DisplayErrorContext(&e).to_string()));
            }
        };
        match output.secret_string.take() {
            Some(value) => Ok(SecretString::from(value)),
            None if output.secret_binary.is_some() => Err(SecretError::Unavailable(
                id.to_owned(),
                "secret is binary; calsync reads string secrets only".into(),
            )),
            None => Err(SecretError::Unavailable(id.to_owned(), "secret has no value".into())),
        }
    }
}

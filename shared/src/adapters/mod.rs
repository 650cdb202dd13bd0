//! Ports with two implementations each: the AWS service used in Lambda and the local stand-in
//! used by `calsync serve`. The AWS variants are built from the standard AWS configuration, so
//! `AWS_ENDPOINT_URL` points them at moto server in tests.

pub mod blobs;
pub mod queue;
pub mod rds_auth;
pub mod secrets;

pub use blobs::{BlobError, BlobMeta, BlobReader, BlobStore, BlobUpload};
pub use queue::{Queue, QueueError, QueueName, ReceivedMessage};
pub use secrets::{SecretError, SecretSource};

/// Loads the shared AWS SDK configuration once per process (region, credentials, endpoint).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

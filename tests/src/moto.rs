//! moto server as the AWS account of the adapter tests: an SDK configuration pointed at
//! `CALSYNC_TEST_MOTO_URL` with fixed test credentials, and unique resource names so tests can
//! share one server and run in parallel.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};

/// The moto server tests use; a clear failure (never a silent skip) when unset.
pub fn moto_url() -> String {
    match std::env::var("CALSYNC_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "CALSYNC_TEST_MOTO_URL is not set: run the suite with infra/test.sh, which starts moto server \
             (or run `eval \"$(infra/moto.sh)\"` first)"
        ),
    }
}

/// An SDK configuration that talks to moto only. Region and credentials are explicit so the
/// loader never consults instance metadata or a developer's real AWS profile.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "moto",
        )))
        .load()
        .await
}

/// A name no other test uses, valid for buckets, queues and secrets alike (lowercase, digits
/// and dashes, well under every length limit).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Creates a fresh bucket and returns its name.
pub async fn create_bucket(sdk: &SdkConfig) -> String {
    let name = unique_name("calsync-test");
    s3_client(sdk).create_bucket().bucket(&name).send().await.expect("create bucket on moto");
    name
}

/// An S3 client in path-style mode, as `S3BlobStore` builds it, for setting up and inspecting.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// Creates a fresh SQS queue with the given visibility timeout and returns its URL.
pub async fn create_queue(sdk: &SdkConfig, visibility_timeout_secs: u32) -> String {
    aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(unique_name("calsync-test"))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, visibility_timeout_secs.to_string())
        .send()
        .await
        .expect("create queue on moto")
        .queue_url
        .expect("moto returns the queue URL")
}

//! S3 as the blob store in Lambda, optionally encrypting each object with a customer-managed KMS
//! key (SSE-KMS) instead of the bucket default.
//!
//! The client always uses path-style addressing: virtual-hosted style would put the bucket in
//! the host name, which an endpoint override such as moto server on 127.0.0.1 cannot resolve,
//! and path style works against S3 itself as well.

use async_trait::async_trait;
use aws_sdk_s3::{Client, error::DisplayErrorContext, primitives::ByteStream, types::ServerSideEncryption};
use chrono::{DateTime, Utc};

use super::{BlobError, BlobMeta, BlobStore, validate_key};

#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    kms_key_id: Option<String>,
}

impl S3BlobStore {
    pub fn new(sdk_config: &aws_config::SdkConfig, bucket: String, kms_key_id: Option<String>) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk_config).force_path_style(true).build();
        Self { client: Client::from_conf(config), bucket, kms_key_id }
    }
}

fn service_error(action: &str, key: &str, error: impl std::error::Error) -> BlobError {
    BlobError::Service(format!("{action} `{key}`: {}", DisplayErrorContext(error)))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    #[tracing::instrument(skip_all, fields(key = %key, bytes = body.len()))]
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), BlobError> {
        validate_key(key)?;
        let mut request = self.client.put_object().bucket(&self.bucket).key(key).body(ByteStream::from(body));
        if let Some(kms_key_id) = &self.kms_key_id {
            request = request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms_key_id);
        }
        request.send().await.map_err(|e| service_error("writing", key, e))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        validate_key(key)?;
        let output = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(service_error("reading", key, e)),
        };
        let body = output.body.collect().await.map_err(|e| service_error("reading the body of", key, e))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        // S3 answers a delete of a missing key with success, which is the trait's contract.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| service_error("deleting", key, e))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(prefix = %prefix))]
    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        let mut found = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(|e| service_error("listing", prefix, e))?;

            for object in output.contents() {
                let Some(key) = object.key() else { continue };
                let last_modified = object
                    .last_modified()
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
                    .unwrap_or_default();
                found.push(BlobMeta {
                    key: key.to_owned(),
                    size: object.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    last_modified,
                });
            }

            match output.next_continuation_token() {
                Some(token) if output.is_truncated() == Some(true) => continuation = Some(token.to_owned()),
                _ => break,
            }
        }
        // S3 lists in UTF-8 byte order already; sorting keeps the contract explicit and cheap.
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }
}

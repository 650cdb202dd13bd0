//! S3 as the blob store in Lambda, optionally encrypting each object with a customer-managed KMS
//! key (SSE-KMS) instead of the bucket default.
//!
//! Streamed uploads buffer one part (8 MiB) at a time: an object that fits in one part is a
//! single PutObject, a larger one a multipart upload completed at the end, so memory stays at
//! one part whatever the object's size. An upload that is never finished is aborted; one whose
//! process died is removed by the bucket's `AbortIncompleteMultipartUpload` rule.
//!
//! The client always uses path-style addressing: virtual-hosted style would put the bucket in
//! the host name, which an endpoint override such as moto server on 127.0.0.1 cannot resolve,
//! and path style works against S3 itself as well.

use async_trait::async_trait;
use aws_sdk_s3::{
    Client,
    error::DisplayErrorContext,
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption},
};
use chrono::{DateTime, Utc};

use super::{BlobError, BlobMeta, BlobReader, BlobStore, BlobUpload, validate_key};

/// The size of each part of a multipart upload (S3's minimum is 5 MiB, except for the last).
const PART_SIZE: usize = 8 << 20;

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
    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn upload(&self, key: &str) -> Result<Box<dyn BlobUpload>, BlobError> {
        validate_key(key)?;
        Ok(Box::new(S3Upload {
            store: self.clone(),
            key: key.to_owned(),
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
            size: 0,
        }))
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn open(&self, key: &str) -> Result<Option<Box<dyn BlobReader>>, BlobError> {
        validate_key(key)?;
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(output) => Ok(Some(Box::new(S3Reader { key: key.to_owned(), body: output.body }))),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => Ok(None),
            Err(e) => Err(service_error("reading", key, e)),
        }
    }

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

/// A streamed write to S3: one part buffered at a time.
#[derive(Debug)]
struct S3Upload {
    store: S3BlobStore,
    key: String,
    buffer: Vec<u8>,
    /// Set once the object outgrew one part and became a multipart upload.
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    size: u64,
}

impl S3Upload {
    async fn send_part(&mut self) -> Result<(), BlobError> {
        let (client, bucket, key) = (&self.store.client, &self.store.bucket, &self.key);
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let mut request = client.create_multipart_upload().bucket(bucket).key(key);
                if let Some(kms_key_id) = &self.store.kms_key_id {
                    request = request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms_key_id);
                }
                let created = request.send().await.map_err(|e| service_error("starting the upload of", key, e))?;
                let id = created
                    .upload_id()
                    .ok_or_else(|| BlobError::Service(format!("starting the upload of `{key}`: no upload id")))?
                    .to_owned();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let body = std::mem::take(&mut self.buffer);
        let sent = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| service_error("uploading a part of", key, e))?;
        self.parts
            .push(CompletedPart::builder().part_number(number).set_e_tag(sent.e_tag().map(str::to_owned)).build());
        Ok(())
    }
}

#[async_trait]
impl BlobUpload for S3Upload {
    async fn write(&mut self, mut chunk: &[u8]) -> Result<(), BlobError> {
        self.size += chunk.len() as u64;
        while !chunk.is_empty() {
            let room = PART_SIZE - self.buffer.len();
            let (now, rest) = chunk.split_at(room.min(chunk.len()));
            self.buffer.extend_from_slice(now);
            chunk = rest;
            if self.buffer.len() == PART_SIZE {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, BlobError> {
        if self.upload_id.is_none() {
            let body = std::mem::take(&mut self.buffer);
            self.store.put(&self.key, body).await?;
            return Ok(self.size);
        }
        if !self.buffer.is_empty() {
            if let Err(e) = self.send_part().await {
                self.abort().await;
                return Err(e);
            }
        }
        let upload_id = self.upload_id.clone().unwrap_or_default();
        let completed = self
            .store
            .client
            .complete_multipart_upload()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(self.parts.clone())).build())
            .send()
            .await;
        if let Err(e) = completed {
            let error = service_error("completing the upload of", &self.key, e);
            self.abort().await;
            return Err(error);
        }
        Ok(self.size)
    }

    async fn abort(self: Box<Self>) {
        let Some(upload_id) = &self.upload_id else { return };
        let aborted = self
            .store
            .client
            .abort_multipart_upload()
            .bucket(&self.store.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            // The bucket's AbortIncompleteMultipartUpload rule removes the parts later.
            tracing::warn!(key = %self.key, error.message = %DisplayErrorContext(e), "aborting a multipart upload");
        }
    }
}

#[derive(Debug)]
struct S3Reader {
    key: String,
    body: ByteStream,
}

#[async_trait]
impl BlobReader for S3Reader {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        match self.body.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes.to_vec())),
            Some(Err(e)) => Err(service_error("reading the body of", &self.key, e)),
        }
    }
}

//! Blob storage for backups and other files: S3 in Lambda, a directory locally.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub mod dir;
pub mod s3;

pub use dir::DirectoryBlobStore;
pub use s3::S3BlobStore;

/// What a listing says of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// A blob operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key `{0}`")]
    InvalidKey(String),
    #[error("blob store error: {0}")]
    Service(String),
    #[error("blob store I/O error")]
    Io(#[from] std::io::Error),
}

/// Keys are relative paths of `[A-Za-z0-9._=-]` segments; no `..`, no empty segment, no leading `/`.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._=-".contains(&b))
        });
    if ok { Ok(()) } else { Err(BlobError::InvalidKey(key.chars().take(80).collect())) }
}

#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Writes (or replaces) an object.
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), BlobError>;
    /// Reads an object; `None` when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError>;
    /// Deletes an object; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// Lists objects whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError>;
    /// Starts a streamed write of `key`. The object appears, whole, only when `finish` succeeds;
    /// until then readers see the previous object or none.
    async fn upload(&self, key: &str) -> Result<Box<dyn BlobUpload>, BlobError>;
    /// Opens an object for streamed reading; `None` when it does not exist.
    async fn open(&self, key: &str) -> Result<Option<Box<dyn BlobReader>>, BlobError>;
}

/// An object being written piece by piece, so an object larger than memory can be written.
#[async_trait]
pub trait BlobUpload: Send + std::fmt::Debug {
    /// Appends bytes to the object.
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError>;
    /// Makes the object visible; returns its size in bytes.
    async fn finish(self: Box<Self>) -> Result<u64, BlobError>;
    /// Discards what was written (best effort: the store's own cleanup covers a failure here).
    async fn abort(self: Box<Self>);
}

/// An object being read piece by piece.
#[async_trait]
pub trait BlobReader: Send + std::fmt::Debug {
    /// The next piece of the object, or `None` at its end.
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError>;
}

#[cfg(test)]
mod tests {
    use super::validate_key;

    #[test]
    fn keys_that_could_escape_the_store_are_refused() {
        assert!(validate_key("backups/2026-01-01/events.jsonl.gz").is_ok());
        for bad in ["", "/abs", "a//b", "../etc/passwd", "a/./b", "a b", "a\\b"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}

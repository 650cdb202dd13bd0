//! A directory as the blob store for `calsync serve`: each object is a file under the root, its
//! key the relative path. Writes go to a temporary file beside the target and are renamed into
//! place, so a reader never sees half an object; files are private to the owner (0600/0700),
//! since backups hold calendar data.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::{
    fs,
    io::{AsyncReadExt, AsyncWriteExt},
};

use super::{BlobError, BlobMeta, BlobReader, BlobStore, BlobUpload, validate_key};
use crate::domain::ids::random_token;

/// Pieces read from a file at a time.
const READ_CHUNK: usize = 1 << 20;

/// Temporary files end in `~tmp`: `~` is outside the key alphabet, so a listing can never
/// mistake one for an object, whatever name it has.
const TEMP_SUFFIX: &str = "~tmp";

#[derive(Debug, Clone)]
pub struct DirectoryBlobStore {
    root: PathBuf,
}

impl DirectoryBlobStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl BlobStore for DirectoryBlobStore {
    #[tracing::instrument(skip_all, fields(key = %key, bytes = body.len()))]
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        let Some(dir) = path.parent() else {
            return Err(BlobError::InvalidKey(key.to_owned()));
        };
        create_private_dirs(dir).await?;

        // Not derived from the object's name, which may already be as long as a name can be.
        let temp = dir.join(format!(".put-{}{TEMP_SUFFIX}", random_token(16)));
        let written = write_private_file(&temp, &body).await;
        let renamed = match written {
            Ok(()) => fs::rename(&temp, &path).await,
            Err(e) => Err(e),
        };
        if let Err(e) = renamed {
            // Best effort: a leftover temp file is invisible to `list` anyway.
            let _ = fs::remove_file(&temp).await;
            return Err(e.into());
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn upload(&self, key: &str) -> Result<Box<dyn BlobUpload>, BlobError> {
        let path = self.path_of(key)?;
        let Some(dir) = path.parent() else {
            return Err(BlobError::InvalidKey(key.to_owned()));
        };
        create_private_dirs(dir).await?;
        let temp = dir.join(format!(".upload-{}{TEMP_SUFFIX}", random_token(16)));
        let file = open_private_file(&temp).await?;
        Ok(Box::new(FileUpload { file, temp, path, size: 0 }))
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn open(&self, key: &str) -> Result<Option<Box<dyn BlobReader>>, BlobError> {
        match fs::File::open(self.path_of(key)?).await {
            Ok(file) => Ok(Some(Box::new(FileReader { file }))),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        match fs::read(self.path_of(key)?).await {
            Ok(body) => Ok(Some(body)),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match fs::remove_file(self.path_of(key)?).await {
            Err(e) if !is_absent(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    #[tracing::instrument(skip_all, fields(prefix = %prefix))]
    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        // Start at the deepest directory the prefix names instead of walking the whole tree. If
        // that directory part is not itself a valid key, no valid key can start with the prefix.
        let (start_dir, start_key) = match prefix.rfind('/') {
            Some(i) if validate_key(&prefix[..i]).is_ok() => {
                (self.root.join(&prefix[..i]), format!("{}/", &prefix[..i]))
            }
            Some(_) => return Ok(Vec::new()),
            None => (self.root.clone(), String::new()),
        };

        let mut found = Vec::new();
        let mut pending = vec![(start_dir, start_key)];
        while let Some((dir, dir_key)) = pending.pop() {
            let mut entries = match fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if is_absent(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                // Names outside the key alphabet (temp files, editor droppings) are not objects.
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                let key = format!("{dir_key}{name}");
                if validate_key(&key).is_err() {
                    continue;
                }
                // Symlinks are skipped so the store never reaches outside its root.
                let file_type = entry.file_type().await?;
                if file_type.is_dir() {
                    let key = format!("{key}/");
                    if prefix.starts_with(&key) || key.starts_with(prefix) {
                        pending.push((entry.path(), key));
                    }
                } else if file_type.is_file() && key.starts_with(prefix) {
                    let meta = entry.metadata().await?;
                    found.push(BlobMeta {
                        key,
                        size: meta.len(),
                        last_modified: DateTime::<Utc>::from(meta.modified()?),
                    });
                }
            }
        }
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }
}

/// A streamed write: a temporary file beside the target, renamed into place when finished.
#[derive(Debug)]
struct FileUpload {
    file: fs::File,
    temp: PathBuf,
    path: PathBuf,
    size: u64,
}

#[async_trait]
impl BlobUpload for FileUpload {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.file.write_all(chunk).await?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<u64, BlobError> {
        let FileUpload { file, temp, path, size } = *self;
        let done = match file.sync_all().await {
            Ok(()) => fs::rename(&temp, &path).await,
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            let _ = fs::remove_file(&temp).await;
            return Err(e.into());
        }
        Ok(size)
    }

    async fn abort(self: Box<Self>) {
        drop(self.file);
        let _ = fs::remove_file(&self.temp).await;
    }
}

#[derive(Debug)]
struct FileReader {
    file: fs::File,
}

#[async_trait]
impl BlobReader for FileReader {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, BlobError> {
        let mut chunk = Vec::with_capacity(READ_CHUNK);
        let n = (&mut self.file).take(READ_CHUNK as u64).read_to_end(&mut chunk).await?;
        Ok((n > 0).then_some(chunk))
    }
}

/// Whether an I/O error means "no such object". A path naming a directory is a prefix of other
/// objects, and a file where a directory was expected ends a prefix: neither is an object.
fn is_absent(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory)
}

async fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await
}

async fn open_private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path).await
}

async fn write_private_file(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let mut file = open_private_file(path).await?;
    file.write_all(body).await?;
    // Flushed to disk before the rename, so a crash leaves the old object or the new one.
    file.sync_all().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, DirectoryBlobStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = DirectoryBlobStore::new(dir.path().join("blobs"));
        (dir, store)
    }

    #[tokio::test]
    async fn an_object_can_be_put_read_replaced_and_deleted() {
        let (_dir, store) = store();

        store.put("backups/2026-01-01/events.jsonl", b"one".to_vec()).await.expect("put");
        assert_eq!(store.get("backups/2026-01-01/events.jsonl").await.expect("get").as_deref(), Some(&b"one"[..]));
        store.put("backups/2026-01-01/events.jsonl", b"two".to_vec()).await.expect("replace");
        assert_eq!(store.get("backups/2026-01-01/events.jsonl").await.expect("get").as_deref(), Some(&b"two"[..]));

        store.delete("backups/2026-01-01/events.jsonl").await.expect("delete");
        assert_eq!(store.get("backups/2026-01-01/events.jsonl").await.expect("get"), None);
    }

    #[tokio::test]
    async fn missing_objects_read_as_none_and_delete_without_error() {
        let (_dir, store) = store();
        store.put("a/b", b"x".to_vec()).await.expect("put");

        assert_eq!(store.get("nothing").await.expect("get"), None);
        assert_eq!(store.get("a").await.expect("a directory is not an object"), None);
        store.delete("nothing/here").await.expect("delete missing");
        assert!(store.list("").await.expect("list").iter().any(|m| m.key == "a/b"));
    }

    #[tokio::test]
    async fn invalid_keys_are_refused_before_touching_the_disk() {
        let (dir, store) = store();

        for key in ["../escape", "/abs", "a//b"] {
            assert!(matches!(store.put(key, b"x".to_vec()).await, Err(BlobError::InvalidKey(_))), "{key}");
            assert!(matches!(store.get(key).await, Err(BlobError::InvalidKey(_))), "{key}");
            assert!(matches!(store.delete(key).await, Err(BlobError::InvalidKey(_))), "{key}");
        }
        assert!(!dir.path().join("escape").exists());
    }

    #[tokio::test]
    async fn list_returns_matching_keys_sorted_with_sizes_and_skips_temp_files() {
        let (dir, store) = store();
        for (key, body) in [("b/2", "22"), ("a/1", "1"), ("b/10", "1010"), ("bz", "z"), ("b/c/3", "333")] {
            store.put(key, body.as_bytes().to_vec()).await.expect("put");
        }
        std::fs::write(dir.path().join("blobs/b/.put-abc~tmp"), "partial").expect("stray temp file");
        let before = Utc::now() - chrono::Duration::minutes(1);

        let all = store.list("").await.expect("list");
        let under_b = store.list("b/").await.expect("list");
        let starting_b = store.list("b").await.expect("list");
        let nested = store.list("b/c/").await.expect("list");

        let keys = |metas: &[BlobMeta]| metas.iter().map(|m| m.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&all), ["a/1", "b/10", "b/2", "b/c/3", "bz"]);
        assert_eq!(keys(&under_b), ["b/10", "b/2", "b/c/3"]);
        assert_eq!(keys(&starting_b), ["b/10", "b/2", "b/c/3", "bz"]);
        assert_eq!(keys(&nested), ["b/c/3"]);
        assert_eq!(under_b[0].size, 4);
        assert!(under_b.iter().all(|m| m.last_modified > before));
        assert!(store.list("missing/").await.expect("list").is_empty());
        assert!(store.list("../").await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn a_streamed_object_appears_whole_only_when_finished_and_reads_back_in_pieces() {
        let (dir, store) = store();
        let big: Vec<u8> = (0..(READ_CHUNK * 2 + 10)).map(|i| (i % 251) as u8).collect();

        let mut upload = store.upload("backups/d/events.jsonl.gz").await.expect("upload");
        upload.write(&big[..READ_CHUNK]).await.expect("write");
        assert_eq!(store.list("backups/").await.expect("list"), vec![], "nothing is visible before finish");
        upload.write(&big[READ_CHUNK..]).await.expect("write");
        assert_eq!(upload.finish().await.expect("finish"), big.len() as u64);

        let mut reader = store.open("backups/d/events.jsonl.gz").await.expect("open").expect("exists");
        let mut pieces = Vec::new();
        while let Some(chunk) = reader.next_chunk().await.expect("read") {
            pieces.push(chunk);
        }
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.concat(), big);
        assert!(store.open("backups/d/missing").await.expect("open").is_none());

        let aborted = store.upload("backups/d/aborted").await.expect("upload");
        aborted.abort().await;
        let keys: Vec<String> = store.list("").await.expect("list").into_iter().map(|m| m.key).collect();
        assert_eq!(keys, ["backups/d/events.jsonl.gz"]);
        let leftovers = std::fs::read_dir(dir.path().join("blobs/backups/d")).expect("dir").count();
        assert_eq!(leftovers, 1, "the aborted upload left no temporary file");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn objects_and_their_directories_are_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store();

        store.put("private/secret.bin", b"x".to_vec()).await.expect("put");

        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("blobs/private/secret.bin")), 0o600);
        assert_eq!(mode(&dir.path().join("blobs/private")), 0o700);
        assert_eq!(mode(&dir.path().join("blobs")), 0o700);
    }
}

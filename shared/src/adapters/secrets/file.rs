//! Secrets as files in a local directory for `calsync serve`: the secret `id` is a file name in
//! that directory and the file's content, less one trailing newline, is the value. Editors and
//! `echo` add that newline, and no secret calsync reads ends in one.

use std::path::PathBuf;

use async_trait::async_trait;
use secrecy::SecretString;

use super::{SecretError, SecretSource};

#[derive(Debug, Clone)]
pub struct FileSecretSource {
    dir: PathBuf,
}

impl FileSecretSource {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

/// Only a plain file name keeps a lookup inside the directory.
fn is_plain_file_name(id: &str) -> bool {
    !id.is_empty() && id != "." && id != ".." && !id.contains(['/', '\\', '\0'])
}

#[async_trait]
impl SecretSource for FileSecretSource {
    #[tracing::instrument(skip_all, fields(secret_id = %id))]
    async fn get(&self, id: &str) -> Result<SecretString, SecretError> {
        let shown_id: String = id.chars().take(80).collect();
        if !is_plain_file_name(id) {
            return Err(SecretError::Unavailable(
                shown_id,
                "a local secret id must be a plain file name in the secrets directory".into(),
            ));
        }
        let mut value = match tokio::fs::read_to_string(self.dir.join(id)).await {
            Ok(value) => value,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SecretError::NotFound(shown_id));
            }
            // The I/O error names the failure (permissions, not UTF-8), never the content.
            Err(e) => return Err(SecretError::Unavailable(shown_id, e.to_string())),
        };
        // Trimmed in place so no second copy of the secret is left in memory.
        if value.ends_with('\n') {
            value.pop();
            if value.ends_with('\r') {
                value.pop();
            }
        }
        Ok(SecretString::from(value))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn source_with(files: &[(&str, &str)]) -> (tempfile::TempDir, FileSecretSource) {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).expect("write secret");
        }
        let source = FileSecretSource::new(dir.path().to_path_buf());
        (dir, source)
    }

    #[tokio::test]
    async fn a_secret_file_is_read_without_its_trailing_newline() {
        let (_dir, source) = source_with(&[("keyring", "s3cr3t\n"), ("crlf", "value\r\n"), ("plain", " spaced \n\n")]);

        assert_eq!(source.get("keyring").await.expect("keyring").expose_secret(), "s3cr3t");
        assert_eq!(source.get("crlf").await.expect("crlf").expose_secret(), "value");
        assert_eq!(source.get("plain").await.expect("plain").expose_secret(), " spaced \n");
    }

    #[tokio::test]
    async fn a_missing_secret_file_is_reported_as_not_found() {
        let (_dir, source) = source_with(&[]);

        assert!(matches!(source.get("absent").await, Err(SecretError::NotFound(id)) if id == "absent"));
    }

    #[tokio::test]
    async fn ids_that_are_not_plain_file_names_are_refused() {
        let (dir, source) = source_with(&[("inside", "x")]);
        let nested = dir.path().join("sub");
        std::fs::create_dir(&nested).expect("sub dir");
        std::fs::write(nested.join("file"), "x").expect("nested secret");

        for id in ["", ".", "..", "../inside", "sub/file", "/etc/passwd", "a\\b"] {
            assert!(matches!(source.get(id).await, Err(SecretError::Unavailable(..))), "{id:?}");
        }
    }

    #[tokio::test]
    async fn errors_never_contain_the_secret_value() {
        let (dir, source) = source_with(&[]);
        std::fs::write(dir.path().join("binary"), [0xff, 0xfe, b'h', b'u', b'n', b't', b'e', b'r', b'2'])
            .expect("write");

        let error = source.get("binary").await.expect_err("not UTF-8");

        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }
}

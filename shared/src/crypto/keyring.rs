//! The keyring: the key-encryption keys, one active (new seals) plus older ones (opening rows
//! sealed before a rotation). Stored as JSON in Secrets Manager, or in a 0600 file locally.

use std::{collections::BTreeMap, fs, io::Write, path::Path};

use base64::{Engine, engine::general_purpose::STANDARD};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// AES-256 key length in bytes.
pub const KEY_LEN: usize = 32;

/// A keyring that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("keyring is not valid JSON of the form {{\"active\": ID, \"keys\": {{ID: base64}}}}")]
    Malformed,
    #[error("keyring key `{0}` is not 32 bytes of base64")]
    BadKey(String),
    #[error("keyring's active key `{0}` is not among its keys")]
    MissingActive(String),
    #[error("keyring file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`")]
    Permissions { path: String, mode: u32 },
    #[error("keyring file {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    active: String,
    keys: BTreeMap<String, String>,
}

/// Key-encryption keys by id.
pub struct Keyring {
    active: String,
    keys: BTreeMap<String, Zeroizing<[u8; KEY_LEN]>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// A keyring with one fresh random key.
    pub fn generate() -> Self {
        let mut keyring = Self { active: String::new(), keys: BTreeMap::new() };
        keyring.rotate();
        keyring
    }

    /// Adds a fresh key and makes it active; returns its id. Older keys remain for decryption.
    pub fn rotate(&mut self) -> String {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        let id = format!("k{}", chrono::Utc::now().format("%Y%m%d%H%M%S%f"));
        self.keys.insert(id.clone(), key);
        self.active = id.clone();
        id
    }

    /// Parses the keyring JSON.
    pub fn from_json(raw: &SecretString) -> Result<Self, KeyringError> {
        let file: KeyringFile = serde_json::from_str(raw.expose_secret()).map_err(|_| KeyringError::Malformed)?;
        let mut keys = BTreeMap::new();
        for (id, encoded) in &file.keys {
            let bytes = Zeroizing::new(STANDARD.decode(encoded).map_err(|_| KeyringError::BadKey(id.clone()))?);
            let key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| KeyringError::BadKey(id.clone()))?;
            keys.insert(id.clone(), Zeroizing::new(key));
        }
        if !keys.contains_key(&file.active) {
            return Err(KeyringError::MissingActive(file.active));
        }
        Ok(Self { active: file.active, keys })
    }

    /// The keyring JSON (to store in Secrets Manager or the key file).
    pub fn to_json(&self) -> SecretString {
        let file = KeyringFile {
            active: self.active.clone(),
            keys: self.keys.iter().map(|(id, key)| (id.clone(), STANDARD.encode(key.as_ref()))).collect(),
        };
        SecretString::from(serde_json::to_string_pretty(&file).unwrap_or_default())
    }

    /// Loads the local key file, creating it (mode 0600, in a 0700 directory) on first run.
    pub fn load_or_create_file(path: &Path) -> Result<Self, KeyringError> {
        let io = |source| KeyringError::Io { path: path.display().to_string(), source };
        match fs::read_to_string(path) {
            Ok(raw) => {
                check_private(path)?;
                Self::from_json(&SecretString::from(raw))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    create_private_dir(dir).map_err(io)?;
                }
                let keyring = Self::generate();
                // create_new: two processes starting at once must not overwrite each other's key.
                match write_private_new(path, keyring.to_json().expose_secret().as_bytes()) {
                    Ok(()) => Ok(keyring),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create_file(path),
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub(crate) fn active_key(&self) -> (&str, &[u8; KEY_LEN]) {
        // `from_json` and `rotate` guarantee the active id is present.
        (&self.active, self.keys.get(&self.active).map(|k| &**k).unwrap_or(&[0u8; KEY_LEN]))
    }

    pub(crate) fn key(&self, id: &str) -> Option<&[u8; KEY_LEN]> {
        self.keys.get(id).map(|k| &**k)
    }
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), KeyringError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)
        .map_err(|source| KeyringError::Io { path: path.display().to_string(), source })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(KeyringError::Permissions { path: path.display().to_string(), mode: mode & 0o777 });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), KeyringError> {
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

fn write_private_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_file_is_private_and_loads_back_the_same_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/keyring.json");
        let created = Keyring::load_or_create_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let loaded = Keyring::load_or_create_file(&path).unwrap();
        assert_eq!(loaded.active_id(), created.active_id());
        assert_eq!(loaded.active_key().1, created.active_key().1);
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        Keyring::load_or_create_file(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(Keyring::load_or_create_file(&path), Err(KeyringError::Permissions { .. })));
    }

    #[test]
    fn a_keyring_whose_active_key_is_missing_is_refused() {
        let raw = SecretString::from(
            r#"{"active":"k2","keys":{"k1":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}"#.to_owned(),
        );
        assert!(matches!(Keyring::from_json(&raw), Err(KeyringError::MissingActive(id)) if id == "k2"));
    }
}

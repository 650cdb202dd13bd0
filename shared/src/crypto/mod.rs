//! Envelope encryption of end-users' calendar credentials and of service accounts' credentials.
//!
//! Each credential is encrypted with its own random data key (AES-256-GCM); the data key is
//! wrapped with the keyring's active key. Both encryptions bind the ciphertext to its profile (or
//! service account) and kind through the AAD, so a ciphertext copied to another row fails to
//! decrypt. Rotating the keyring adds a new active key; old keys stay to open older rows.

mod credentials;
mod keyring;
mod vault;

pub use credentials::Credentials;
pub use keyring::{KEY_LEN, Keyring, KeyringError};
pub use vault::{CryptoError, SealedCredential, Vault};

use sha2::{Digest, Sha256};

/// SHA-256 of a high-entropy token (access token, refresh token, client secret), hex-encoded.
/// A fast hash is right here: the input is 120+ random bits, not a password.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

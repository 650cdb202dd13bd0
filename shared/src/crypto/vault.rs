//! Sealing and opening credentials with per-credential data keys wrapped by the keyring.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use zeroize::Zeroizing;

use super::{Credentials, Keyring, keyring::KEY_LEN};
use crate::domain::{ApplicationId, CredentialKind, ProfileId, ServiceAccountId};

const NONCE_LEN: usize = 12;

/// A credential as stored: nothing here is usable without the keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCredential {
    pub kind: CredentialKind,
    /// The keyring key that wrapped the data key.
    pub key_id: String,
    /// Nonce + AES-GCM ciphertext of the data key.
    pub wrapped_key: Vec<u8>,
    /// Nonce + AES-GCM ciphertext of the credential JSON.
    pub ciphertext: Vec<u8>,
}

/// Why a credential could not be sealed or opened. Deliberately vague: the reason a decryption
/// failed (wrong key, wrong profile, tampering) is not something to tell a caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("credential was sealed with key `{0}`, which is not in the keyring")]
    UnknownKey(String),
    #[error("credential could not be decrypted")]
    Decrypt,
    #[error("credential could not be encrypted")]
    Encrypt,
}

/// Seals and opens credentials with the keyring.
#[derive(Debug)]
pub struct Vault {
    keyring: Keyring,
}

impl Vault {
    pub fn new(keyring: Keyring) -> Self {
        Self { keyring }
    }

    /// Encrypts `credentials` for `profile`.
    pub fn seal(&self, profile: &ProfileId, credentials: &Credentials) -> Result<SealedCredential, CryptoError> {
        self.seal_bound(credentials, |kind, key_id| aad(profile, kind, key_id))
    }

    /// Decrypts a credential sealed for `profile`; fails if it was sealed for another profile or kind.
    pub fn open(&self, profile: &ProfileId, sealed: &SealedCredential) -> Result<Credentials, CryptoError> {
        self.open_bound(sealed, |kind, key_id| aad(profile, kind, key_id))
    }

    /// Encrypts a service account's credentials, bound to the service account (Enterprise
    /// Connect): they open for it alone, never as some profile's.
    pub fn seal_service_account(
        &self,
        service_account: &ServiceAccountId,
        credentials: &Credentials,
    ) -> Result<SealedCredential, CryptoError> {
        self.seal_bound(credentials, |kind, key_id| service_account_aad(service_account, kind, key_id))
    }

    /// Decrypts credentials sealed for `service_account`.
    pub fn open_service_account(
        &self,
        service_account: &ServiceAccountId,
        sealed: &SealedCredential,
    ) -> Result<Credentials, CryptoError> {
        self.open_bound(sealed, |kind, key_id| service_account_aad(service_account, kind, key_id))
    }

    fn seal_bound(
        &self,
        credentials: &Credentials,
        aad_for: impl Fn(CredentialKind, &str) -> Vec<u8>,
    ) -> Result<SealedCredential, CryptoError> {
        let kind = credentials.kind();
        let (key_id, kek) = self.keyring.active_key();
        let aad = aad_for(kind, key_id);

        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(data_key.as_mut());
        let plaintext = Zeroizing::new(serde_json::to_vec(credentials).map_err(|_| CryptoError::Encrypt)?);

        Ok(SealedCredential {
            kind,
            key_id: key_id.to_owned(),
            wrapped_key: encrypt(kek, data_key.as_ref(), &aad)?,
            ciphertext: encrypt(&data_key, &plaintext, &aad)?,
        })
    }

    fn open_bound(
        &self,
        sealed: &SealedCredential,
        aad_for: impl Fn(CredentialKind, &str) -> Vec<u8>,
    ) -> Result<Credentials, CryptoError> {
        let kek = self.keyring.key(&sealed.key_id).ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let aad = aad_for(sealed.kind, &sealed.key_id);
        let data_key = Zeroizing::new(decrypt(kek, &sealed.wrapped_key, &aad)?);
        let data_key: &[u8; KEY_LEN] = data_key.as_slice().try_into().map_err(|_| CryptoError::Decrypt)?;
        let plaintext = Zeroizing::new(decrypt(data_key, &sealed.ciphertext, &aad)?);
        let credentials: Credentials = serde_json::from_slice(&plaintext).map_err(|_| CryptoError::Decrypt)?;
        if credentials.kind() != sealed.kind {
            return Err(CryptoError::Decrypt);
        }
        Ok(credentials)
    }

    /// Encrypts an application's client secret, bound to the application, as one blob (key id,
    /// wrapped data key and ciphertext): what push notifications are signed with.
    pub fn seal_secret(&self, application: &ApplicationId, secret: &str) -> Result<Vec<u8>, CryptoError> {
        let (key_id, kek) = self.keyring.active_key();
        let aad = secret_aad(application, key_id);
        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(data_key.as_mut());
        let blob = SealedSecret {
            key_id: key_id.to_owned(),
            wrapped_key: encrypt(kek, data_key.as_ref(), &aad)?,
            ciphertext: encrypt(&data_key, secret.as_bytes(), &aad)?,
        };
        serde_json::to_vec(&blob).map_err(|_| CryptoError::Encrypt)
    }

    /// Decrypts a client secret sealed for `application`.
    pub fn open_secret(&self, application: &ApplicationId, sealed: &[u8]) -> Result<Zeroizing<String>, CryptoError> {
        let blob: SealedSecret = serde_json::from_slice(sealed).map_err(|_| CryptoError::Decrypt)?;
        let kek = self.keyring.key(&blob.key_id).ok_or_else(|| CryptoError::UnknownKey(blob.key_id.clone()))?;
        let aad = secret_aad(application, &blob.key_id);
        let data_key = Zeroizing::new(decrypt(kek, &blob.wrapped_key, &aad)?);
        let data_key: &[u8; KEY_LEN] = data_key.as_slice().try_into().map_err(|_| CryptoError::Decrypt)?;
        let plaintext = decrypt(data_key, &blob.ciphertext, &aad)?;
        String::from_utf8(plaintext).map(Zeroizing::new).map_err(|_| CryptoError::Decrypt)
    }

    /// Whether a sealed credential uses an older key and should be re-sealed.
    pub fn needs_reseal(&self, sealed: &SealedCredential) -> bool {
        sealed.key_id != self.keyring.active_id()
    }
}

/// A client secret as stored: key id, nonce + wrapped data key, nonce + ciphertext.
#[derive(serde::Serialize, serde::Deserialize)]
struct SealedSecret {
    key_id: String,
    wrapped_key: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Binds a sealed client secret to its application and wrapping key.
fn secret_aad(application: &ApplicationId, key_id: &str) -> Vec<u8> {
    format!("calsync:client-secret:v1|{application}|{key_id}").into_bytes()
}

/// Binds a service account's ciphertext to its row: service account, kind and wrapping key. The
/// prefix differs from profiles' so neither kind of row can be passed off as the other.
fn service_account_aad(service_account: &ServiceAccountId, kind: CredentialKind, key_id: &str) -> Vec<u8> {
    format!("calsync:service-account-credentials:v1|{service_account}|{kind}|{key_id}").into_bytes()
}

/// Binds a ciphertext to its row: profile, credential kind and wrapping key.
fn aad(profile: &ProfileId, kind: CredentialKind, key_id: &str) -> Vec<u8> {
    format!("calsync:credentials:v1|{profile}|{kind}|{key_id}").into_bytes()
}

fn encrypt(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(key.into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct =
        cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }).map_err(|_| CryptoError::Encrypt)?;
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn decrypt(key: &[u8; KEY_LEN], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(key.into())
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password() -> Credentials {
        Credentials::Password {
            email: "ada@example.com".into(),
            password: "canary-hunter2".into(),
            username: Some("ada".into()),
        }
    }

    #[test]
    fn a_sealed_credential_opens_for_its_own_profile() {
        let vault = Vault::new(Keyring::generate());
        let profile = ProfileId::generate();
        let sealed = vault.seal(&profile, &password()).unwrap();
        assert_eq!(vault.open(&profile, &sealed).unwrap(), password());
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"canary"));
    }

    #[test]
    fn a_ciphertext_copied_to_another_profile_does_not_decrypt() {
        let vault = Vault::new(Keyring::generate());
        let sealed = vault.seal(&ProfileId::generate(), &password()).unwrap();
        assert_eq!(vault.open(&ProfileId::generate(), &sealed), Err(CryptoError::Decrypt));
    }

    #[test]
    fn relabelling_the_kind_or_flipping_a_bit_does_not_decrypt() {
        let vault = Vault::new(Keyring::generate());
        let profile = ProfileId::generate();
        let sealed = vault.seal(&profile, &password()).unwrap();
        let relabelled = SealedCredential { kind: CredentialKind::AppSpecificPassword, ..sealed.clone() };
        assert_eq!(vault.open(&profile, &relabelled), Err(CryptoError::Decrypt));
        let mut tampered = sealed;
        let last = tampered.ciphertext.len() - 1;
        tampered.ciphertext[last] ^= 1;
        assert_eq!(vault.open(&profile, &tampered), Err(CryptoError::Decrypt));
    }

    #[test]
    fn after_rotation_old_credentials_still_open_and_new_ones_use_the_new_key() {
        let mut keyring = Keyring::generate();
        let old = Vault::new(Keyring::from_json(&keyring.to_json()).unwrap());
        let profile = ProfileId::generate();
        let sealed_before = old.seal(&profile, &password()).unwrap();
        let new_id = keyring.rotate();
        let vault = Vault::new(keyring);
        assert_eq!(vault.open(&profile, &sealed_before).unwrap(), password());
        assert!(vault.needs_reseal(&sealed_before));
        assert_eq!(vault.seal(&profile, &password()).unwrap().key_id, new_id);
    }

    #[test]
    fn a_credential_sealed_with_a_key_no_longer_in_the_keyring_reports_which_key() {
        let vault = Vault::new(Keyring::generate());
        let profile = ProfileId::generate();
        let sealed = Vault::new(Keyring::generate()).seal(&profile, &password()).unwrap();
        // Two keyrings generated in the same microsecond would share an id; then the key differs.
        assert!(matches!(vault.open(&profile, &sealed), Err(CryptoError::UnknownKey(_) | CryptoError::Decrypt)));
    }

    #[test]
    fn service_account_credentials_open_only_for_their_service_account_and_never_as_a_profiles() {
        let vault = Vault::new(Keyring::generate());
        let svc = ServiceAccountId::generate();
        let credentials = Credentials::ServiceAccount {
            provider: crate::domain::ProviderName::Exchange,
            principal: "svc@corp.example".into(),
            secret: "canary-svc".into(),
            username: None,
            tenant: None,
        };
        let sealed = vault.seal_service_account(&svc, &credentials).unwrap();
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"canary"));
        assert_eq!(vault.open_service_account(&svc, &sealed).unwrap(), credentials);
        assert_eq!(vault.open_service_account(&ServiceAccountId::generate(), &sealed), Err(CryptoError::Decrypt));
        // The same text after another prefix: a profile id spelled like the service account's.
        let lookalike = ProfileId::parse(&format!("pro_{}", &svc.as_str()[4..])).unwrap();
        assert_eq!(vault.open(&lookalike, &sealed), Err(CryptoError::Decrypt));
    }

    #[test]
    fn a_client_secret_opens_only_for_its_application() {
        let vault = Vault::new(Keyring::generate());
        let app = ApplicationId::generate();
        let sealed = vault.seal_secret(&app, "cs_canary-secret").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("canary"));
        assert_eq!(vault.open_secret(&app, &sealed).unwrap().as_str(), "cs_canary-secret");
        assert_eq!(vault.open_secret(&ApplicationId::generate(), &sealed).err(), Some(CryptoError::Decrypt));
    }
}

//! Google Workspace domain-wide delegation: calsync's own Google service account, trusted by a
//! Workspace admin for the calendar scope, gets an access token for any user of the domain
//! through the JWT bearer grant (RFC 7523; Google's "server-to-server" OAuth flow).
//!
//! The operator's key ([`ServiceAccountKey`], Google's JSON key file) signs an RS256 JWT
//! `{iss: client_email, sub: user, scope, aud: token URL, iat, exp: iat + 3600}`, posted as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`. The answer is a bare
//! access token: no refresh token, so a new one is minted whenever one is needed and none is
//! stored for a user. `unauthorized_client` (the domain has not delegated, or withdrew, the
//! scope for this client) and `invalid_grant` (no such user, a bad assertion) refuse the grant;
//! throttling and server errors are transient. Neither the key nor an error description is ever
//! logged or returned.

use std::fmt;
use std::time::Duration as StdDuration;

use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use ring::{rand::SystemRandom, signature};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::crypto::Credentials;
use crate::sync::ProviderError;

/// The one scope calsync asks a Workspace admin to delegate.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";
/// The grant type of RFC 7523 §2.1.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google accepts assertions that live at most an hour.
const ASSERTION_LIFETIME: Duration = Duration::hours(1);
/// Token answers are small; anything larger is not one.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const TIMEOUT: StdDuration = StdDuration::from_secs(15);

/// calsync's Google service account, as in the JSON key file Google gives for it (the other
/// fields of that file are ignored). Debug output never shows the key.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    /// The numeric client id a Workspace admin enters on the domain-wide delegation page.
    pub client_id: String,
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub private_key: SecretString,
    /// Google's token endpoint as the key file names it; calsync posts to its configured one.
    #[serde(default)]
    pub token_uri: Option<String>,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Why a service account key was refused; never quotes the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the Google service account key must be Google's JSON key file (client_email, client_id, private_key) ({0})"
    )]
    Malformed(String),
    #[error("the Google service account key has an empty {0}")]
    Empty(&'static str),
    #[error("the Google service account's private_key is not an RSA key in PKCS#8 PEM")]
    NotRsaPkcs8,
}

impl ServiceAccountKey {
    /// Reads Google's JSON key file and checks the key can sign.
    pub fn from_json(raw: &str) -> Result<Self, KeyError> {
        // serde's message names the field and position, never the value.
        let key: Self = serde_json::from_str(raw)
            .map_err(|e| KeyError::Malformed(format!("line {} column {}", e.line(), e.column())))?;
        key.check()?;
        Ok(key)
    }

    /// Checks the fields are there and the key is an RSA PKCS#8 key.
    pub fn check(&self) -> Result<(), KeyError> {
        if self.client_email.trim().is_empty() {
            return Err(KeyError::Empty("client_email"));
        }
        if self.client_id.trim().is_empty() {
            return Err(KeyError::Empty("client_id"));
        }
        self.key_pair().map(|_| ())
    }

    fn key_pair(&self) -> Result<signature::RsaKeyPair, KeyError> {
        let der = pem_body(self.private_key.expose_secret(), "PRIVATE KEY").ok_or(KeyError::NotRsaPkcs8)?;
        signature::RsaKeyPair::from_pkcs8(&der).map_err(|_| KeyError::NotRsaPkcs8)
    }

    /// The signed JWT asking `token_url` for a token acting as `subject` with the calendar
    /// scope, issued at `now`.
    pub fn assertion(&self, subject: &str, token_url: &str, now: DateTime<Utc>) -> Result<String, KeyError> {
        let header = Header { alg: "RS256", typ: "JWT" };
        let iat = now.timestamp();
        let claims = Claims {
            iss: &self.client_email,
            sub: subject,
            scope: CALENDAR_SCOPE,
            aud: token_url,
            iat,
            exp: iat + ASSERTION_LIFETIME.num_seconds(),
        };
        // Serializing these two structs cannot fail.
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
        let claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{claims}");
        let key_pair = self.key_pair()?;
        let mut signed = vec![0; key_pair.public().modulus_len()];
        key_pair
            .sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signed)
            .map_err(|_| KeyError::NotRsaPkcs8)?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signed)))
    }

    /// Mints an access token for `subject` at `token_url`: a token set with no refresh token.
    pub async fn mint(
        &self,
        http: &reqwest::Client,
        token_url: &str,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Credentials, DelegationError> {
        let assertion = self.assertion(subject, token_url, now).map_err(|e| DelegationError::Key(e.to_string()))?;
        let request = http
            .post(token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("grant_type", JWT_BEARER_GRANT), ("assertion", assertion.as_str())])
            .timeout(TIMEOUT);
        let answer =
            crate::providers::http::send(request, MAX_RESPONSE_BYTES).await.map_err(|failure| match failure {
                crate::providers::http::ReadFailure::TooLarge => {
                    DelegationError::Protocol("the token answer is too large".into())
                }
                unreachable => DelegationError::Transient { retry_after: None, reason: unreachable.reason().into() },
            })?;
        if !answer.status.is_success() {
            return Err(classify(answer.status.as_u16(), answer.retry_after, &answer.body));
        }
        let token: TokenAnswer = serde_json::from_slice(&answer.body)
            .map_err(|_| DelegationError::Protocol("the token answer is not the expected JSON".into()))?;
        if token.access_token.is_empty() {
            return Err(DelegationError::Protocol("the token answer has an empty access token".into()));
        }
        Ok(Credentials::OauthTokenSet {
            access_token: token.access_token,
            refresh_token: None,
            expires_at: token.expires_in.map(|s| now + Duration::seconds(s)),
            scope: token.scope.or_else(|| Some(CALENDAR_SCOPE.to_owned())),
        })
    }
}

/// The body of a PEM block with `label`, decoded.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let base64: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(base64).ok()
}

#[derive(Serialize)]
struct Header {
    alg: &'static str,
    typ: &'static str,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

/// Why no token was minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DelegationError {
    /// `unauthorized_client`: the domain has not delegated the calendar scope to calsync's
    /// client (or withdrew it).
    #[error("the domain has not delegated the calendar scope to calsync's service account")]
    NotDelegated,
    /// `invalid_grant`: Google refused the assertion (no such user, a disabled key).
    #[error("Google refused the service account's grant for this user")]
    Refused,
    /// Throttling, a server error or the network; worth retrying.
    #[error("Google's token endpoint is unavailable ({reason})")]
    Transient { retry_after: Option<StdDuration>, reason: String },
    /// The operator's key cannot sign.
    #[error("{0}")]
    Key(String),
    /// An answer that fits no documented shape, or another OAuth error.
    #[error("unexpected answer from Google's token endpoint: {0}")]
    Protocol(String),
}

impl From<DelegationError> for ProviderError {
    fn from(error: DelegationError) -> Self {
        match error {
            // Delegation withdrawn, or the user gone: the mailbox must be authorized again.
            DelegationError::NotDelegated | DelegationError::Refused => ProviderError::CredentialsDead,
            DelegationError::Transient { retry_after, reason } => ProviderError::Transient { retry_after, reason },
            other => ProviderError::Permanent(other.to_string()),
        }
    }
}

#[derive(Default, Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: String,
}

fn classify(status: u16, retry_after: Option<StdDuration>, body: &[u8]) -> DelegationError {
    let answer: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    if status == 429 || status >= 500 || answer.error == "temporarily_unavailable" {
        return DelegationError::Transient { retry_after, reason: format!("HTTP {status}") };
    }
    match answer.error.as_str() {
        "unauthorized_client" | "access_denied" => DelegationError::NotDelegated,
        "invalid_grant" => DelegationError::Refused,
        "" => DelegationError::Protocol(format!("HTTP {status} without an OAuth error")),
        other => DelegationError::Protocol(format!(
            "HTTP {status}, error `{}`",
            other.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(40).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_FILE: &str = include_str!("../../../../tests/fixtures/google/TEST-ONLY-service-account.json");
    const PUBLIC_KEY: &str = include_str!("../../../../tests/fixtures/google/TEST-ONLY-service-account.public.pem");
    const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
    }

    #[test]
    fn the_assertion_has_googles_header_and_claims_and_verifies_with_the_public_key() {
        let key = ServiceAccountKey::from_json(KEY_FILE).expect("the test key");
        let now = DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").unwrap().to_utc();
        let jwt = key.assertion("ada@corp.example", TOKEN_URL, now).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "{jwt}");
        assert_eq!(parts[0], URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#));
        assert_eq!(
            decode(parts[1]),
            serde_json::json!({
                "iss": "calsync-sync@calsync-tests.iam.gserviceaccount.com",
                "sub": "ada@corp.example",
                "scope": "https://www.googleapis.com/auth/calendar",
                "aud": TOKEN_URL,
                "iat": now.timestamp(),
                "exp": now.timestamp() + 3600,
            })
        );
        let public = pem_body(PUBLIC_KEY, "RSA PUBLIC KEY").expect("PKCS#1 PEM");
        let signed = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(signed.len(), 256, "RSA 2048");
        let verifier = signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public);
        verifier.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signed).expect("the signature verifies");
        let mut tampered = format!("{}.{}", parts[0], parts[1]).into_bytes();
        tampered[10] ^= 1;
        assert!(verifier.verify(&tampered, &signed).is_err());
    }

    #[test]
    fn a_bad_key_file_is_refused_without_quoting_it() {
        let error = ServiceAccountKey::from_json(r#"{"client_email": "a@b", "private_key": "hunter2"}"#).unwrap_err();
        assert!(matches!(error, KeyError::Malformed(_)) && !error.to_string().contains("hunter2"), "{error}");
        let not_rsa = r#"{"client_email": "a@b", "client_id": "1", "private_key": "-----BEGIN PRIVATE KEY-----\naHVudGVyMg==\n-----END PRIVATE KEY-----\n"}"#;
        assert_eq!(ServiceAccountKey::from_json(not_rsa).unwrap_err(), KeyError::NotRsaPkcs8);
        let key = ServiceAccountKey::from_json(KEY_FILE).unwrap();
        let debug = format!("{key:?}");
        assert!(!debug.contains("PRIVATE KEY") && debug.contains("calsync-sync@"), "{debug}");
    }

    #[test]
    fn withdrawn_delegation_and_refused_grants_are_dead_throttling_is_transient() {
        let unauthorized = br#"{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}"#;
        assert_eq!(classify(401, None, unauthorized), DelegationError::NotDelegated);
        assert_eq!(
            classify(400, None, br#"{"error":"invalid_grant","error_description":"Invalid email or User ID"}"#),
            DelegationError::Refused
        );
        assert!(matches!(classify(503, None, b""), DelegationError::Transient { .. }));
        assert!(matches!(
            classify(429, Some(StdDuration::from_secs(2)), b""),
            DelegationError::Transient { retry_after: Some(_), .. }
        ));
        assert_eq!(ProviderError::from(DelegationError::NotDelegated), ProviderError::CredentialsDead);
        let odd = classify(400, None, br#"{"error":"invalid_scope","error_description":"echo hunter2"}"#);
        assert!(!odd.to_string().contains("hunter2"), "{odd}");
    }
}

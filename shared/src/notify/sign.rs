//! `Cronofy-HMAC-SHA256`: the base64 HMAC-SHA256 of the raw body, keyed with the application's
//! client secret. During a secret rotation both secrets are live, so the header carries one value
//! per secret, comma-separated; the SDKs' verifiers (`hmac_valid`, `hmacValid`) split on commas
//! and accept any match.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header's name.
pub const HEADER: &str = "Cronofy-HMAC-SHA256";

/// The header value for `body` signed with each of `secrets`, in order.
pub fn signature(secrets: &[impl AsRef<str>], body: &[u8]) -> String {
    secrets
        .iter()
        // HMAC takes keys of any length, so no secret is ever left out here.
        .filter_map(|secret| <Hmac<Sha256> as Mac>::new_from_slice(secret.as_ref().as_bytes()).ok())
        .map(|mut mac| {
            mac.update(body);
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_base64_hmac_of_the_body_and_one_per_secret() {
        // RFC 4231 test case 2: key "Jefe".
        let body = b"what do ya want for nothing?";
        let expected = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";
        assert_eq!(signature(&["Jefe"], body), expected);
        assert_eq!(signature(&["Jefe", "Jefe"], body), format!("{expected},{expected}"));
    }
}

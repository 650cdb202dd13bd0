//! Opaque ids with Cronofy-style prefixes (`acc_`, `pro_`, `cal_`, `evt_`, `chn_`, `apc_`, `sac_` …).
//!
//! Ids carry 120 random bits in lowercase base32 so they reveal nothing (no counters, no
//! timestamps) and cannot be guessed across tenants.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const RANDOM_LEN: usize = 24;

/// `len` characters of lowercase base32 from the OS-seeded CSPRNG.
pub fn random_token(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// An id that was not of the expected kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{value}` is not a valid {kind} id")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(try_from = "String", into = "String")]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, random_token(RANDOM_LEN)))
            }

            /// Accepts only ids of this kind: the prefix, then 1–64 of `[A-Za-z0-9_-]`.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                let valid = value.strip_prefix($prefix).is_some_and(|rest| {
                    !rest.is_empty()
                        && rest.len() <= 64
                        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
                if valid {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind, value: value.chars().take(80).collect() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, InvalidId> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

prefixed_id!(/// An integrator (the developer organisation behind applications).
    IntegratorId, "int_", "integrator");
prefixed_id!(/// An integrator application; also its row key (the OAuth client id is separate).
    ApplicationId, "app_", "application");
prefixed_id!(/// An end-user's account: the person, across all their calendar services.
    AccountId, "acc_", "account");
prefixed_id!(/// One connected calendar service of an account.
    ProfileId, "pro_", "profile");
prefixed_id!(/// One calendar of a profile.
    CalendarId, "cal_", "calendar");
prefixed_id!(/// calsync's own id for a cached event (integrators see `event_uid`).
    EventUid, "evt_", "event");
prefixed_id!(/// A push notification channel.
    ChannelId, "chn_", "channel");
prefixed_id!(/// The `sub` of an application calendar.
    ApplicationCalendarId, "apc_", "application calendar");
prefixed_id!(/// One grant of an application over an account.
    AuthorizationId, "aut_", "authorization");
prefixed_id!(/// A right-to-be-forgotten request.
    GdprRequestId, "gdpr_", "GDPR request");
prefixed_id!(/// An organisation's service account (Enterprise Connect), through which mailboxes of the
    /// organisation are authorized without their users' passwords.
    ServiceAccountId, "sac_", "service account");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_carry_their_prefix_and_parse_back() {
        let id = AccountId::generate();
        assert!(id.as_str().starts_with("acc_"));
        assert_eq!(id.as_str().len(), 4 + RANDOM_LEN);
        assert_eq!(AccountId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn an_id_of_another_kind_is_refused() {
        let profile = ProfileId::generate();
        let err = AccountId::parse(profile.as_str()).unwrap_err();
        assert_eq!(err.kind, "account");
        assert!(CalendarId::parse("cal_").is_err());
        assert!(CalendarId::parse("cal_a b").is_err());
        assert!(CalendarId::parse("cal_a/../b").is_err());
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let ok: Result<ChannelId, _> = serde_json::from_str("\"chn_abc\"");
        assert!(ok.is_ok());
        let bad: Result<ChannelId, _> = serde_json::from_str("\"acc_abc\"");
        assert!(bad.is_err());
    }
}

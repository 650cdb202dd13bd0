//! Provider adapters live here: one folder per calendar protocol, each a client that speaks the
//! provider's wire format and classifies its failures so the sync engine can decide between
//! retrying, re-authorising and re-baselining without knowing the protocol.

pub mod caldav;
pub mod clients;
pub mod ews;
pub mod google;
pub mod graph;
pub(crate) mod http;
pub mod oauth;

pub use clients::{OAuthClient, ProviderClients};

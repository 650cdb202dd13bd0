//! Domain types: opaque prefixed ids, the entities of the cache, event times, scopes and service
//! accounts.
//!
//! Values here are validated when built (`parse`), so code that holds one never re-checks it.

pub mod free_busy;
pub mod ids;
pub mod model;
pub mod scope;
pub mod service_account;
pub mod time;

pub use free_busy::*;
pub use ids::*;
pub use model::*;
pub use scope::{Scope, Scopes};
pub use service_account::ServiceAccount;
pub use time::EventTime;

//! calsync-core: everything the calsync functions share.
//!
//! The Lambda binaries and the `calsync` command only wire these pieces together: the domain
//! types, the policy as data, one store over PostgreSQL and SQLite, the credentials vault, the
//! AWS/local adapters, the HTTP router and the background job handlers.

pub mod adapters;
pub mod api;
pub mod apps;
pub mod authorization;
pub mod backup;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod gdpr;
pub mod ical;
pub mod jobs;
pub mod lambda;
pub mod local;
pub mod net;
pub mod notify;
pub mod policy;
pub mod providers;
pub mod retention;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tokens;

pub use clock::{Clock, FixedClock, SystemClock};
pub use config::Config;
pub use state::AppState;
pub use store::Store;

//! A CalDAV client (RFC 4791, RFC 6578) built to be pointed at servers calsync does not control:
//! iCloud, self-hosted Radicale/Xandikos and anything else a user types in.
//!
//! Every response is read through a size-capped download and a DTD-free XML reader, every
//! failure comes back as a [`CalDavError`] the sync engine can act on, and calendar resources
//! are handled as opaque iCalendar text (parsing them is `crate::ical`'s job). Servers disagree
//! on status codes and href spellings (providers.md §4.2, §7 item 14), so results are matched by
//! decoded path and preconditions read from the `DAV:error` body as well as the status code.

mod calendars;
mod client;
mod dav;
mod discovery;
mod errors;
mod multistatus;
mod query;
mod sync;
mod write;
pub mod xml;

#[cfg(test)]
mod safety_tests;
#[cfg(test)]
mod sync_tests;

pub use calendars::RemoteCalendar;
pub use client::{CalDavClient, MAX_BODY_BYTES, Policy};
pub use discovery::Discovery;
pub use errors::CalDavError;
pub use multistatus::{Multistatus, Propstat, Response, error_conditions, parse_multistatus};
pub use sync::{MULTIGET_BATCH, Multiget, Resource, SyncResult};
pub use write::{Precondition, PutOutcome};

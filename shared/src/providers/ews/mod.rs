//! An Exchange Web Services client (SOAP 1.1, Exchange 2013 SP1 schema) for on-premises Exchange,
//! speaking the subset pinned in `protocol.md` beside this file (providers.md §5).
//!
//! Requests carry Basic auth and `RequestServerVersion`, plus `ExchangeImpersonation` and
//! `X-AnchorMailbox` when a service account acts for a mailbox. Answers are read through a
//! size-capped download and the DTD-free, depth-capped XML reader CalDAV uses
//! (reliability-security.md §4.6), by namespace and local name. Every failure comes back as an
//! [`EwsError`] the sync engine can act on, including a busy server's `BackOffMilliseconds`.
//! Items are read into [`CalendarItem`]s and turned into iCalendar series by [`read_series`].

mod autodiscover;
mod client;
mod errors;
mod fetch;
mod folders;
mod items;
mod series;
mod soap;
mod sync;
mod write;

#[cfg(test)]
mod tests;

pub use client::{EwsAccount, EwsClient, Login, MAX_BODY_BYTES};
pub use errors::EwsError;
pub use fetch::{GET_ITEM_BATCH, ItemRef, VIEW_ENTRIES, ViewEntry};
pub use folders::CalendarFolder;
pub use items::{CalendarItem, ItemId, ItemType, Pattern, RangeEnd, Recurrence, WeekIndex};
pub use series::{SeriesError, read_series, to_ics};
pub use sync::{Change, MAX_CHANGES, SyncRound};
pub use write::{ItemFields, Unwritable};

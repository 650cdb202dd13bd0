//! The sync engine: keeps each profile's cached calendars and events current with its calendar
//! service, fetching only what changed (providers.md §1, §6).
//!
//! `provider` is the contract every calendar service adapter implements, `caldav` the adapter
//! for CalDAV and iCloud profiles, `window` the range of time kept in the cache, and `engine` the
//! jobs that drive them: syncing a profile's calendar list and syncing one calendar.

pub mod caldav;
pub mod engine;
pub mod provider;
pub mod window;

pub use engine::{CursorState, SyncReport, handles, sync_calendar, sync_calendar_list, sync_calendar_reporting};
pub use provider::{CalendarProvider, ChangeSet, ProviderError, RangeListing, RemoteCalendar, RemoteResource, Written};
pub use window::{SyncWindow, sync_window};

//! The sync engine: keeps each profile's cached calendars and events current with its calendar
//! service, fetching only what changed (providers.md §1, §6).
//!
//! `provider` is the contract every calendar service adapter implements; `caldav` is the adapter
//! for CalDAV and iCloud profiles and `hosted` the one for calendars calsync hosts itself;
//! `window` is the range of time kept in the cache. The jobs: `calendar_list` refreshes a
//! profile's calendars, `calendar` syncs one calendar and advances its window (planning its
//! writes with `plan` and committing them in one transaction), `push` writes partner events back
//! to the provider, and `schedule` fans the periodic poll and the daily window advance out
//! over every profile and calendar.
//! `connect` builds adapters and classifies their failures.

pub mod caldav;
pub mod calendar;
pub mod calendar_list;
mod connect;
pub mod ews;
mod fairness;
pub mod google;
pub mod graph;
pub mod hosted;
mod plan;
pub mod provider;
pub mod push;
pub mod schedule;
mod session;
pub mod watch;
pub mod window;

pub use calendar::{
    CursorState, SyncReport, advance_window, advance_window_reporting, sync_calendar, sync_calendar_reporting,
};
pub use calendar_list::{CalendarListReport, sync_calendar_list, sync_calendar_list_reporting};
pub use connect::{handles, retry_delay};
pub use provider::{
    CalendarListing, CalendarProvider, ChangeSet, ProviderError, RangeListing, RemoteCalendar, RemoteResource, Watch,
    Written,
};
pub use push::{partner_ical_uid, push_event};
pub use schedule::{advance_windows, poll_profiles};
pub use window::{SyncWindow, sync_window};

//! Google Calendar API v3 (providers.md §2): the HTTP client with Google's error classification,
//! and the mapping of Google events onto the engine's iCalendar model. The sync adapter is
//! `sync::google`.

pub mod client;
pub mod event;

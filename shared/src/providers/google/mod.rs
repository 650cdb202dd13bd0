//! Google Calendar API v3 (providers.md §2): the HTTP client with Google's error classification,
//! the mapping of Google events onto the engine's iCalendar model, and the tokens of domain-wide
//! delegation (Enterprise Connect). The sync adapter is `sync::google`.

pub mod client;
pub mod delegation;
pub mod event;

//! Google Calendar API v3 (providers.md §2): the event model mapping for now; the client and
//! the sync adapter build on it.

pub mod event;

//! Microsoft Graph (Office 365 and Outlook.com, providers.md §3): the mapping of Graph events
//! onto the engine's model for now; the client, the sync adapter and subscriptions build on it.

pub mod event;

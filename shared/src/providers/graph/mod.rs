//! Microsoft Graph (Office 365 and Outlook.com, providers.md §3): the HTTP client with Graph's
//! error classification and preferences, and the mapping of Graph events onto the engine's
//! model. The sync adapter and subscriptions build on them.

pub mod client;
pub mod event;

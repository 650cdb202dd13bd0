//! Push notifications (cronofy-api.md §4.5) and Smart Invite callbacks (§4.8): who is told of
//! what (`enqueue`), the Cronofy-shaped body (`payload`), its `Cronofy-HMAC-SHA256` signature
//! (`sign`), the SSRF-safe HTTP client that takes it to the application (`client`), and the
//! delivery job with its retries (`deliver`).

mod client;
mod deliver;
mod enqueue;
mod payload;
mod sign;

pub use client::{Attempt, CallbackClient, CallbackError, MAX_CALLBACK_URL_LEN};
pub use deliver::{GIVE_UP_AFTER, deliver, requeue_stranded, retry_delay};
pub use enqueue::{Changed, account_event, changes, changes_since, queue, send, smart_invite_callback};
pub use payload::{Kind, body, channel_json, smart_invite_body};
pub use sign::{HEADER, signature};

//! The job queue between functions: SQS in Lambda, an in-process queue for `calsync serve`.
//!
//! Both give at-least-once delivery: a received message stays in flight until deleted and comes
//! back if it is not deleted before its visibility timeout, so handlers must be idempotent.

use std::time::Duration;

use async_trait::async_trait;

pub mod memory;
pub mod sqs;

pub use memory::InProcessQueue;
pub use sqs::SqsQueue;

/// The two queues calsync uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// Provider sync jobs.
    Sync,
    /// Push notification deliveries.
    Notify,
}

/// A message taken from a queue, to be deleted once handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    /// Opaque handle for `delete`.
    pub receipt: String,
    pub body: String,
    /// How many times this message has been received, this time included.
    pub receive_count: u32,
}

/// A queue operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue service error: {0}")]
    Service(String),
    #[error("message body of {0} bytes exceeds the 256 KiB limit")]
    TooLarge(usize),
    #[error("the queue is closed")]
    Closed,
}

/// Largest message body SQS accepts; the in-process queue enforces the same limit.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[async_trait]
pub trait Queue: Send + Sync + std::fmt::Debug {
    /// Sends one message, visible after `delay` (at most 15 minutes).
    async fn send(&self, queue: QueueName, body: String, delay: Option<Duration>) -> Result<(), QueueError>;

    /// Receives up to `max` (1–10) messages, waiting up to `wait` for the first.
    async fn receive(&self, queue: QueueName, max: usize, wait: Duration) -> Result<Vec<ReceivedMessage>, QueueError>;

    /// Acknowledges a received message so it is not delivered again.
    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError>;
}

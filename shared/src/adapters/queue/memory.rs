//! The in-process queue behind `calsync serve`: one tokio-guarded list of messages per queue
//! name, with the delivery rules of SQS (delays, visibility timeouts, receive counts), so the
//! job handlers see the same at-least-once behaviour locally as in Lambda.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio::{
    sync::{Mutex, Notify},
    time::Instant,
};

use super::{MAX_BODY_BYTES, Queue, QueueError, QueueName, ReceivedMessage};
use crate::domain::ids::random_token;

/// SQS's default visibility timeout.
const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);
/// SQS refuses larger delays; clamping keeps the two implementations interchangeable.
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// SQS returns at most ten messages per receive.
const MAX_BATCH: usize = 10;
/// SQS's limits for one long poll and for a visibility timeout; they also keep every deadline
/// computed from them far from `Instant` overflow.
const MAX_WAIT: Duration = Duration::from_secs(20);
const MAX_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// A cheaply cloneable handle; clones share the same queues.
#[derive(Debug, Clone)]
pub struct InProcessQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    visibility_timeout: Duration,
    sync: Channel,
    notify: Channel,
}

#[derive(Debug, Default)]
struct Channel {
    messages: Mutex<VecDeque<Stored>>,
    /// Wakes waiting receivers whenever a message is added.
    sent: Notify,
}

#[derive(Debug)]
struct Stored {
    id: String,
    body: String,
    visible_at: Instant,
    receive_count: u32,
    /// The receipt of the latest delivery; a message is only deletable through it.
    receipt: Option<String>,
}

impl InProcessQueue {
    pub fn new() -> Self {
        Self::with_visibility_timeout(DEFAULT_VISIBILITY_TIMEOUT)
    }

    /// A queue whose received messages reappear after `visibility_timeout` (at most 12 hours)
    /// unless deleted.
    pub fn with_visibility_timeout(visibility_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                visibility_timeout: visibility_timeout.min(MAX_VISIBILITY_TIMEOUT),
                sync: Channel::default(),
                notify: Channel::default(),
            }),
        }
    }

    fn channel(&self, queue: QueueName) -> &Channel {
        match queue {
            QueueName::Sync => &self.inner.sync,
            QueueName::Notify => &self.inner.notify,
        }
    }
}

impl Default for InProcessQueue {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl Queue for InProcessQueue {
    async fn send(&self, queue: QueueName, body: String, delay: Option<Duration>) -> Result<(), QueueError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(QueueError::TooLarge(body.len()));
        }
        let delay = delay.unwrap_or_default().min(MAX_DELAY);
        let channel = self.channel(queue);
        channel.messages.lock().await.push_back(Stored {
            id: random_token(24),
            body,
            visible_at: Instant::now() + delay,
            receive_count: 0,
            receipt: None,
        });
        // Delayed messages wake receivers too, so they can re-plan their sleep around the new
        // visibility time.
        channel.sent.notify_waiters();
        Ok(())
    }

    async fn receive(&self, queue: QueueName, max: usize, wait: Duration) -> Result<Vec<ReceivedMessage>, QueueError> {
        let max = max.clamp(1, MAX_BATCH);
        let channel = self.channel(queue);
        let deadline = Instant::now() + wait.min(MAX_WAIT);
        loop {
            // Registered before looking at the messages so a send between the look and the
            // sleep is not missed.
            let sent = channel.sent.notified();
            tokio::pin!(sent);
            sent.as_mut().enable();

            let (taken, next_visible) = take_visible(channel, max, self.inner.visibility_timeout).await;
            if !taken.is_empty() {
                return Ok(taken);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let wake_at = next_visible.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                () = &mut sent => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        let mut messages = self.channel(queue).messages.lock().await;
        if let Some(pos) = messages.iter().position(|m| m.receipt.as_deref() == Some(receipt)) {
            messages.remove(pos);
        }
        Ok(())
    }
}

/// Delivers up to `max` visible messages (oldest first) and says when the next hidden one
/// becomes visible.
async fn take_visible(
    channel: &Channel,
    max: usize,
    visibility_timeout: Duration,
) -> (Vec<ReceivedMessage>, Option<Instant>) {
    let now = Instant::now();
    let mut messages = channel.messages.lock().await;
    let mut taken = Vec::new();
    let mut next_visible: Option<Instant> = None;
    for message in messages.iter_mut() {
        if message.visible_at > now {
            next_visible = Some(next_visible.map_or(message.visible_at, |at| at.min(message.visible_at)));
            continue;
        }
        if taken.len() == max {
            continue;
        }
        let receipt = random_token(32);
        message.receipt = Some(receipt.clone());
        message.receive_count = message.receive_count.saturating_add(1);
        message.visible_at = now + visibility_timeout;
        taken.push(ReceivedMessage {
            message_id: message.id.clone(),
            receipt,
            body: message.body.clone(),
            receive_count: message.receive_count,
        });
    }
    (taken, next_visible)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_WAIT: Duration = Duration::ZERO;

    #[tokio::test]
    async fn a_sent_message_is_received_once_and_gone_after_delete() {
        let queue = InProcessQueue::new();
        queue.send(QueueName::Sync, "job-1".into(), None).await.expect("send");

        let received = queue.receive(QueueName::Sync, 10, NO_WAIT).await.expect("receive");
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].body, "job-1");
        assert_eq!(received[0].receive_count, 1);
        assert!(queue.receive(QueueName::Sync, 10, NO_WAIT).await.expect("receive").is_empty(), "in flight");

        queue.delete(QueueName::Sync, &received[0].receipt).await.expect("delete");
        queue.delete(QueueName::Sync, &received[0].receipt).await.expect("second delete is a no-op");
        queue.delete(QueueName::Sync, "unknown-receipt").await.expect("unknown receipt is a no-op");
        assert!(queue.inner.sync.messages.lock().await.is_empty());
    }

    #[tokio::test]
    async fn queues_are_separate_per_name() {
        let queue = InProcessQueue::new();
        queue.send(QueueName::Notify, "push".into(), None).await.expect("send");

        assert!(queue.receive(QueueName::Sync, 10, NO_WAIT).await.expect("receive").is_empty());
        assert_eq!(queue.receive(QueueName::Notify, 10, NO_WAIT).await.expect("receive").len(), 1);
    }

    #[tokio::test]
    async fn receive_returns_at_most_ten_messages_in_send_order() {
        let queue = InProcessQueue::new();
        for i in 0..12 {
            queue.send(QueueName::Sync, format!("job-{i}"), None).await.expect("send");
        }

        let first = queue.receive(QueueName::Sync, 50, NO_WAIT).await.expect("receive");
        let second = queue.receive(QueueName::Sync, 50, NO_WAIT).await.expect("receive");

        assert_eq!(first.len(), 10);
        assert_eq!(first[0].body, "job-0");
        assert_eq!(second.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["job-10", "job-11"]);
    }

    #[tokio::test]
    async fn an_undeleted_message_comes_back_after_its_visibility_timeout() {
        let queue = InProcessQueue::with_visibility_timeout(Duration::from_millis(100));
        queue.send(QueueName::Sync, "job".into(), None).await.expect("send");
        let first = queue.receive(QueueName::Sync, 1, NO_WAIT).await.expect("receive");

        let again = queue.receive(QueueName::Sync, 1, Duration::from_secs(2)).await.expect("receive");

        assert_eq!(again.len(), 1);
        assert_eq!(again[0].message_id, first[0].message_id);
        assert_eq!(again[0].receive_count, 2);
        assert_ne!(again[0].receipt, first[0].receipt);
        // The stale receipt no longer deletes the message; the fresh one does.
        queue.delete(QueueName::Sync, &first[0].receipt).await.expect("delete");
        assert_eq!(queue.inner.sync.messages.lock().await.len(), 1);
        queue.delete(QueueName::Sync, &again[0].receipt).await.expect("delete");
        assert!(queue.inner.sync.messages.lock().await.is_empty());
    }

    #[tokio::test]
    async fn a_delayed_message_stays_hidden_until_its_delay_has_passed() {
        let queue = InProcessQueue::new();
        let sent_at = Instant::now();
        queue.send(QueueName::Sync, "later".into(), Some(Duration::from_millis(200))).await.expect("send");

        assert!(queue.receive(QueueName::Sync, 1, NO_WAIT).await.expect("receive").is_empty());
        let received = queue.receive(QueueName::Sync, 1, Duration::from_secs(2)).await.expect("receive");

        assert_eq!(received.len(), 1);
        assert!(sent_at.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_waiting_receive_wakes_up_when_a_message_is_sent() {
        let queue = InProcessQueue::new();
        let sender = queue.clone();
        let send = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            sender.send(QueueName::Sync, "job".into(), None).await
        });

        let started = Instant::now();
        let received = queue.receive(QueueName::Sync, 1, Duration::from_secs(5)).await.expect("receive");

        assert_eq!(received.len(), 1);
        assert!(started.elapsed() < Duration::from_secs(4));
        send.await.expect("join").expect("send");
    }

    #[tokio::test]
    async fn a_body_over_the_size_limit_is_refused() {
        let queue = InProcessQueue::new();

        let result = queue.send(QueueName::Sync, "x".repeat(MAX_BODY_BYTES + 1), None).await;

        assert!(matches!(result, Err(QueueError::TooLarge(n)) if n == MAX_BODY_BYTES + 1));
        queue.send(QueueName::Sync, "x".repeat(MAX_BODY_BYTES), None).await.expect("the limit itself is allowed");
    }

    #[tokio::test]
    async fn receive_on_an_empty_queue_returns_nothing_after_the_wait() {
        let queue = InProcessQueue::new();
        let started = Instant::now();

        let received = queue.receive(QueueName::Sync, 10, Duration::from_millis(150)).await.expect("receive");

        assert!(received.is_empty());
        assert!(started.elapsed() >= Duration::from_millis(150));
    }
}

//! SQS as the job queue in Lambda: one queue URL per `QueueName`, long polling on receive and the
//! `ApproximateReceiveCount` attribute for the receive count.
//!
//! Error messages carry the SDK's error context but never a message body, which may hold
//! calendar data.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::{Client, error::DisplayErrorContext, types::MessageSystemAttributeName};

use super::{MAX_BODY_BYTES, Queue, QueueError, QueueName, ReceivedMessage};

/// SQS's limits for the delay of one message and the long-polling wait.
const MAX_DELAY_SECONDS: u64 = 15 * 60;
const MAX_WAIT_SECONDS: u64 = 20;

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    sync_queue_url: String,
    notify_queue_url: String,
}

impl SqsQueue {
    pub fn new(sdk_config: &aws_config::SdkConfig, sync_queue_url: String, notify_queue_url: String) -> Self {
        Self { client: Client::new(sdk_config), sync_queue_url, notify_queue_url }
    }

    fn url(&self, queue: QueueName) -> &str {
        match queue {
            QueueName::Sync => &self.sync_queue_url,
            QueueName::Notify => &self.notify_queue_url,
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    #[tracing::instrument(skip_all, fields(queue = ?queue, bytes = body.len()))]
    async fn send(&self, queue: QueueName, body: String, delay: Option<Duration>) -> Result<(), QueueError> {
        // Checked here as well so both implementations refuse the same bodies, without a round trip.
        if body.len() > MAX_BODY_BYTES {
            return Err(QueueError::TooLarge(body.len()));
        }
        let mut request = self.client.send_message().queue_url(self.url(queue)).message_body(body);
        if let Some(delay) = delay {
            request = request.delay_seconds(whole_seconds(delay, MAX_DELAY_SECONDS));
        }
        request
            .send()
            .await
            .map_err(|e| QueueError::Service(format!("sending to the {queue:?} queue: {}", DisplayErrorContext(&e))))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(queue = ?queue, max = max))]
    async fn receive(&self, queue: QueueName, max: usize, wait: Duration) -> Result<Vec<ReceivedMessage>, QueueError> {
        let max = i32::try_from(max.clamp(1, 10)).unwrap_or(10);
        let output = self
            .client
            .receive_message()
            .queue_url(self.url(queue))
            .max_number_of_messages(max)
            .wait_time_seconds(whole_seconds(wait, MAX_WAIT_SECONDS))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| {
                QueueError::Service(format!("receiving from the {queue:?} queue: {}", DisplayErrorContext(&e)))
            })?;

        output
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let receive_count = message
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|count| count.parse().ok())
                    .unwrap_or(1);
                // Without a receipt handle the message could never be acknowledged.
                let receipt = message.receipt_handle.ok_or_else(|| {
                    QueueError::Service(format!("the {queue:?} queue returned a message without a receipt handle"))
                })?;
                Ok(ReceivedMessage {
                    message_id: message.message_id.unwrap_or_default(),
                    receipt,
                    body: message.body.unwrap_or_default(),
                    receive_count,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(queue = ?queue))]
    async fn delete(&self, queue: QueueName, receipt: &str) -> Result<(), QueueError> {
        self.client.delete_message().queue_url(self.url(queue)).receipt_handle(receipt).send().await.map_err(|e| {
            QueueError::Service(format!("deleting from the {queue:?} queue: {}", DisplayErrorContext(&e)))
        })?;
        Ok(())
    }
}

/// SQS takes whole seconds; a partial second rounds up so a delay is never shortened.
fn whole_seconds(duration: Duration, max: u64) -> i32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(secs.min(max)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::whole_seconds;
    use std::time::Duration;

    #[test]
    fn durations_round_up_to_whole_seconds_within_the_sqs_limit() {
        assert_eq!(whole_seconds(Duration::ZERO, 20), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1), 20), 1);
        assert_eq!(whole_seconds(Duration::from_secs(3), 20), 3);
        assert_eq!(whole_seconds(Duration::from_secs(3600), 900), 900);
    }
}

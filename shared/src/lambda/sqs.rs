//! SQS partial batch failures for the `sync` and `notify` workers.
//!
//! Each record's body goes to the per-message job handler, all records at once, each in a span
//! carrying its `message_id`. Only retryable failures are reported back, so SQS redelivers just
//! those; poison messages are acknowledged so they do not cycle until the dead-letter queue.
//! Lambda reads the response only when the event source mapping sets
//! `FunctionResponseTypes: [ReportBatchItemFailures]`; without it any error retries the batch.
//! Records run concurrently, which suits standard queues; a FIFO queue would need them in
//! order, stopping at the first failure.

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::jobs::{JobError, JobOutcome};

/// What SQS should do with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Handled, skipped or poison: delete it from the queue.
    Acknowledge,
    /// A temporary failure: make it visible again for another try.
    Redeliver,
}

/// Runs `handler` on each record's body and reports the records that failed retryably.
///
/// The handler gets an owned body and returns a `'static` future so records can run as
/// separate tasks; callers clone the (cheap) `AppState` into it. A record without a body is
/// passed as an empty string, which job parsing rejects as poison.
///
/// Errors, so that Lambda retries the whole batch, when a failed record has no `messageId` (it
/// cannot be named in `batchItemFailures`, and Lambda treats an unusable identifier as a failed
/// batch anyway) or when a record's task did not finish (a panic in a debug build).
pub async fn sqs_batch<F, Fut>(
    event: LambdaEvent<SqsEvent>,
    handler: F,
) -> Result<SqsBatchResponse, lambda_runtime::Error>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<JobOutcome, JobError>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    for (index, record) in event.payload.records.into_iter().enumerate() {
        let span = tracing::info_span!("sqs message", message_id = record.message_id.as_deref().unwrap_or_default());
        let work = handler(record.body.unwrap_or_default());
        let message_id = record.message_id;
        tasks.spawn(async move { (index, message_id, delivery(work.await)) }.instrument(span));
    }

    // Wait for every record before deciding: returning early would drop the JoinSet and abort
    // records that are still running.
    let mut redeliver = Vec::new();
    let mut unreportable = 0_usize;
    let mut unfinished = 0_usize;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, Some(message_id), Delivery::Redeliver)) => redeliver.push((index, message_id)),
            Ok((_, None, Delivery::Redeliver)) => unreportable += 1,
            Ok((_, _, Delivery::Acknowledge)) => {}
            Err(e) => {
                tracing::error!(error.message = %e, error.cause_chain = ?e, "an SQS record's task did not finish");
                unfinished += 1;
            }
        }
    }

    if unreportable > 0 || unfinished > 0 {
        return Err(format!(
            "{unreportable} failed record(s) without a messageId and {unfinished} unfinished record(s) \
             cannot be reported individually; failing the whole batch so SQS redelivers it"
        )
        .into());
    }

    // Record order, not completion order, so the response is the same from run to run.
    redeliver.sort_unstable_by_key(|(index, _)| *index);
    let mut response = SqsBatchResponse::default();
    response.set_failures(redeliver.into_iter().map(|(_, message_id)| message_id));
    Ok(response)
}

/// Logs one record's outcome (inside its span) and decides whether SQS should redeliver it.
fn delivery(result: Result<JobOutcome, JobError>) -> Delivery {
    match result {
        Ok(JobOutcome::Done) => {
            tracing::info!("message handled");
            Delivery::Acknowledge
        }
        Ok(JobOutcome::Skipped(reason)) => {
            tracing::info!(reason, "message skipped");
            Delivery::Acknowledge
        }
        // The reason only: the body can hold personal data and is not needed to diagnose.
        Err(JobError::Poison(reason)) => {
            tracing::warn!(reason = %reason, "poison message acknowledged without retry");
            Delivery::Acknowledge
        }
        Err(JobError::Retryable(e)) => {
            tracing::error!(error.message = %e, error.cause_chain = ?e, "message failed; SQS will redeliver it");
            Delivery::Redeliver
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::sqs::SqsMessage;
    use lambda_runtime::Context;

    use super::*;

    fn record(message_id: Option<&str>, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = message_id.map(str::to_owned);
        message.body = Some(body.to_owned());
        message
    }

    fn event(records: Vec<SqsMessage>) -> LambdaEvent<SqsEvent> {
        let mut event = SqsEvent::default();
        event.records = records;
        LambdaEvent::new(event, Context::default())
    }

    /// Stands in for a job handler: the body says what should happen.
    async fn scripted(body: String) -> Result<JobOutcome, JobError> {
        match body.as_str() {
            "ok" => Ok(JobOutcome::Done),
            "skip" => Ok(JobOutcome::Skipped("nothing to do")),
            "retry" => Err(JobError::Retryable(anyhow::anyhow!("database unavailable"))),
            other => Err(JobError::Poison(format!("not a job: {} bytes", other.len()))),
        }
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }

    #[tokio::test]
    async fn only_the_records_that_failed_retryably_are_reported() {
        let event = event(vec![
            record(Some("m1"), "ok"),
            record(Some("m2"), "retry"),
            record(Some("m3"), "skip"),
            record(Some("m4"), "retry"),
        ]);

        let response = sqs_batch(event, scripted).await.expect("a batch response");

        assert_eq!(failed_ids(&response), ["m2", "m4"]);
    }

    #[tokio::test]
    async fn a_poison_record_is_acknowledged_not_reported() {
        let event = event(vec![record(Some("m1"), "not json"), record(Some("m2"), "ok")]);

        let response = sqs_batch(event, scripted).await.expect("a batch response");

        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn a_batch_where_everything_succeeds_reports_no_failures() {
        let event = event(vec![record(Some("m1"), "ok"), record(Some("m2"), "skip")]);

        let response = sqs_batch(event, scripted).await.expect("a batch response");

        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn a_record_without_a_body_is_treated_as_poison() {
        let mut bodiless = record(Some("m1"), "");
        bodiless.body = None;

        let response = sqs_batch(event(vec![bodiless]), scripted).await.expect("a batch response");

        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn a_failed_record_without_a_message_id_fails_the_whole_batch() {
        let event = event(vec![record(Some("m1"), "ok"), record(None, "retry")]);

        let result = sqs_batch(event, scripted).await;

        assert!(result.is_err());
    }

    #[tokio::test]
    async fn a_successful_record_without_a_message_id_needs_no_report() {
        let event = event(vec![record(None, "ok")]);

        let response = sqs_batch(event, scripted).await.expect("a batch response");

        assert!(response.batch_item_failures.is_empty());
    }
}

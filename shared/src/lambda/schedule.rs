//! Scheduled functions (`retention`, `backup`): EventBridge Scheduler's `Input` in, a report out.
//!
//! Scheduler passes the schedule's `Input` JSON as the event itself, not wrapped in an
//! EventBridge envelope, so the payload is read straight into the function's input type. The
//! input is parsed here rather than by the runtime so that a malformed schedule is reported with
//! `errorType` `InvalidInput` (retrying it cannot help) and a failed run with `Retryable`,
//! instead of the runtime's type-name fallback.

use std::future::Future;

use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a scheduled invocation failed; becomes the invocation's `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum ScheduledError {
    /// The schedule's `Input` is not what the function accepts (unknown field, wrong type).
    #[error("invalid input: {0}")]
    InvalidInput(#[from] serde_json::Error),
    /// The run failed (database, blob store); Scheduler's retry policy may run it again, and
    /// the runs are idempotent.
    #[error("{0:#}")]
    Retryable(anyhow::Error),
}

impl From<ScheduledError> for Diagnostic {
    fn from(error: ScheduledError) -> Self {
        let error_type = match error {
            ScheduledError::InvalidInput(_) => "InvalidInput",
            ScheduledError::Retryable(_) => "Retryable",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

/// Parses the event into `I` and calls `run` with it and the invocation's deadline.
///
/// A `null` payload (a schedule without `Input`, or a bare test invoke) counts as `{}`, so the
/// input type's defaults apply.
pub async fn scheduled<I, R, F, Fut>(event: LambdaEvent<Value>, run: F) -> Result<R, ScheduledError>
where
    I: DeserializeOwned,
    F: FnOnce(I, DateTime<Utc>) -> Fut,
    Fut: Future<Output = anyhow::Result<R>>,
{
    let deadline = super::deadline(&event.context);
    let payload = match event.payload {
        Value::Null => Value::Object(serde_json::Map::new()),
        payload => payload,
    };
    let input: I = serde_json::from_value(payload).map_err(|e| {
        tracing::warn!(error.message = %e, "scheduled run refused: invalid input");
        ScheduledError::InvalidInput(e)
    })?;
    run(input, deadline).await.map_err(|e| {
        tracing::error!(error.message = %e, error.cause_chain = ?e, "scheduled run failed");
        ScheduledError::Retryable(e)
    })
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Default, PartialEq, Eq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        #[serde(default)]
        dry_run: bool,
    }

    fn event(payload: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, Context::default())
    }

    async fn echo(input: Input, _deadline: DateTime<Utc>) -> anyhow::Result<bool> {
        Ok(input.dry_run)
    }

    #[tokio::test]
    async fn the_schedule_input_reaches_the_run() {
        let result = scheduled(event(json!({ "dry_run": true })), echo).await;

        assert!(matches!(result, Ok(true)));
    }

    #[tokio::test]
    async fn a_null_payload_means_the_input_defaults() {
        let result = scheduled(event(Value::Null), echo).await;

        assert!(matches!(result, Ok(false)));
    }

    #[tokio::test]
    async fn an_unknown_field_is_reported_as_invalid_input() {
        let error = scheduled(event(json!({ "bogus": 1 })), echo).await.expect_err("the input is refused");

        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "InvalidInput");
        assert!(diagnostic.error_message.contains("bogus"));
    }

    #[tokio::test]
    async fn a_failed_run_is_reported_as_retryable_with_its_cause() {
        let failing = |_: Input, _: DateTime<Utc>| async {
            Err::<(), _>(anyhow::anyhow!("connection refused").context("reading the database"))
        };

        let error = scheduled(event(json!({})), failing).await.expect_err("the run fails");

        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "Retryable");
        assert_eq!(diagnostic.error_message, "reading the database: connection refused");
    }
}

//! The `retention` Lambda function: applies the policy's retention rules, invoked by an
//! EventBridge Scheduler schedule whose `Input` is a `RetentionInput` (e.g. `{"dry_run": true}`).
//!
//! The run works in small batches and stops in time to answer before the Lambda timeout; the
//! report, the invocation's result, says whether it completed. Bad input is reported as
//! `InvalidInput`, a failed run as `Retryable` (see `calsync_core::lambda::scheduled`).

use calsync_core::{AppState, Config, lambda, retention, retention::RetentionInput, telemetry};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_lambda();
    let config = Config::from_env().inspect_err(lambda::log_init_error)?;
    let state = AppState::build(config).await.inspect_err(lambda::log_init_error)?;
    let state = &state;
    lambda_runtime::run(service_fn(|event| {
        lambda::scheduled(event, |input: RetentionInput, deadline| async move {
            retention::run(state, &input, deadline).await
        })
    }))
    .await
}

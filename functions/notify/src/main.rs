//! The `notify` Lambda function: delivers push notifications to integrators' channels, one
//! job per SQS message from the notify queue.
//!
//! Failed messages are reported individually (`ReportBatchItemFailures`), so SQS redelivers only
//! those; see `calsync_core::lambda::sqs_batch`. State is built once, at cold start, and each
//! record's task gets a clone of it.

use calsync_core::{AppState, Config, jobs, lambda, telemetry};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_lambda();
    let config = Config::from_env().inspect_err(lambda::log_init_error)?;
    let state = AppState::build(config).await.inspect_err(lambda::log_init_error)?;
    lambda_runtime::run(service_fn(|event| {
        lambda::sqs_batch(event, |body| {
            let state = state.clone();
            async move { jobs::handle_notify_message(&state, &body).await }
        })
    }))
    .await
}

//! The `backup` Lambda function: takes the daily backup into the backup bucket and prunes old
//! ones, invoked by an EventBridge Scheduler schedule whose `Input` is a `BackupInput`. Each
//! table's progress is logged as structured fields.
//!
//! A backup that already exists for today is not taken again, so Scheduler retries are safe;
//! the report is the invocation's result. Bad input is reported as `InvalidInput`, a failed run
//! as `Retryable` (see `calsync_core::lambda::scheduled`).

use calsync_core::{
    AppState, Config, backup,
    backup::{BackupInput, LogProgress},
    lambda, telemetry,
};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_lambda();
    let config = Config::from_env().inspect_err(lambda::log_init_error)?;
    let state = AppState::build(config).await.inspect_err(lambda::log_init_error)?;
    let state = &state;
    lambda_runtime::run(service_fn(|event| {
        lambda::scheduled(event, |input: BackupInput, deadline| async move {
            backup::run(state, &input, &LogProgress::default(), deadline).await
        })
    }))
    .await
}

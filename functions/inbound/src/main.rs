//! The `inbound` Lambda function: takes the Smart Invite replies that an SES receipt rule for the
//! reply domain publishes to SNS, one message per record; see `calsync_core::lambda::inbound_mail`.
//! State is built once, at cold start.

use calsync_core::{AppState, Config, lambda, telemetry};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_lambda();
    let config = Config::from_env().inspect_err(lambda::log_init_error)?;
    let state = AppState::build(config).await.inspect_err(lambda::log_init_error)?;
    lambda_runtime::run(service_fn(|event| lambda::inbound_mail(&state, event))).await
}

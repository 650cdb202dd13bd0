//! The `api` Lambda function: the calsync HTTP API behind an API Gateway HTTP API (payload 2.0).
//!
//! The Router is the same one `calsync serve` runs locally; `lambda_http` turns each API
//! Gateway event into an `http::Request` for it and its response back into the API Gateway
//! shape. Configuration, the database pool and the keyring are set up once, at cold start.

use calsync_core::{AppState, Config, api, lambda, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_lambda();
    let config = Config::from_env().inspect_err(lambda::log_init_error)?;
    let state = AppState::build(config).await.inspect_err(lambda::log_init_error)?;
    lambda_http::run(api::app(state)).await
}

//! Logging set-up, once per process.
//!
//! In Lambda the runtime's default subscriber is used: it honours `AWS_LAMBDA_LOG_FORMAT=JSON`
//! and `AWS_LAMBDA_LOG_LEVEL` (set by the template's `LoggingConfig`), and every line carries the
//! invocation's `requestId` from the runtime's span. Locally, human-readable lines to stderr.

use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

/// Installs the Lambda runtime's subscriber (JSON logs with request ids when configured).
pub fn init_lambda() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Installs a subscriber for local runs; `RUST_LOG` overrides the default `info` level.
pub fn init_local() {
    init_with_writer(std::io::stderr);
}

/// Installs a subscriber writing to `writer`; a second call is ignored (tests call it often).
pub fn init_with_writer<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_target(false).try_init();
}

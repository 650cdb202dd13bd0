//! Plumbing shared by the Lambda binaries, so each `main` only wires state to a handler.
//!
//! `sqs_batch` turns an SQS event into per-record job calls and a partial-batch response,
//! `scheduled` turns an EventBridge Scheduler `Input` into a typed run with a deadline,
//! `inbound_mail` takes the Smart Invite replies SES publishes to SNS, and `deadline` tells long
//! runs when to stop so they return before Lambda kills them.

use chrono::{DateTime, TimeDelta, Utc};

mod schedule;
mod ses;
mod sqs;

pub use schedule::{ScheduledError, scheduled};
pub use ses::{SesError, inbound_mail, raw_message};
pub use sqs::sqs_batch;

/// Time kept back from the invocation deadline to finish the current batch, write the report
/// and post the response; a run cut off by Lambda reports nothing at all.
pub const DEADLINE_SAFETY_MARGIN: TimeDelta = TimeDelta::seconds(10);

/// When work in this invocation should stop: Lambda's deadline less a safety margin, never
/// earlier than now (a function configured with a very short timeout gets "stop at once").
pub fn deadline(ctx: &lambda_runtime::Context) -> DateTime<Utc> {
    deadline_from(ctx.deadline, Utc::now())
}

fn deadline_from(deadline_ms: u64, now: DateTime<Utc>) -> DateTime<Utc> {
    // `Context::default()` (tests) has 0; an unreadable value is treated the same way, as no
    // time left, rather than as unlimited time.
    let lambda_deadline = i64::try_from(deadline_ms).ok().and_then(DateTime::from_timestamp_millis).unwrap_or(now);
    lambda_deadline.checked_sub_signed(DEADLINE_SAFETY_MARGIN).map_or(now, |d| d.max(now))
}

/// Logs a cold-start failure (configuration, database, keyring) as one structured error line
/// before `main` returns it; the process then exits non-zero and Lambda reports
/// `Runtime.ExitError` with this output in the function's log.
pub fn log_init_error<E>(error: &E)
where
    E: std::fmt::Display + std::fmt::Debug + ?Sized,
{
    tracing::error!(error.message = %error, error.cause_chain = ?error, "cold start failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).expect("a valid test timestamp")
    }

    #[test]
    fn the_deadline_keeps_a_safety_margin_before_lambdas_deadline() {
        let now = at(1_700_000_000_000);
        let deadline = deadline_from(1_700_000_060_000, now);
        assert_eq!(deadline, at(1_700_000_050_000));
    }

    #[test]
    fn the_deadline_is_never_before_now() {
        let now = at(1_700_000_000_000);
        assert_eq!(deadline_from(1_700_000_005_000, now), now);
        assert_eq!(deadline_from(0, now), now);
        assert_eq!(deadline_from(u64::MAX, now), now);
    }

    #[test]
    fn the_deadline_of_a_default_context_is_now_or_later() {
        let before = Utc::now();
        let deadline = deadline(&lambda_runtime::Context::default());
        assert!(deadline >= before);
    }
}

//! Per-application rate limits, Cronofy's defaults: 50 requests a second and 500 a minute.
//! Over either budget the request is refused with 429 and `Retry-After` before the handler runs.

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::error::{ApiError, ApiResult};
use crate::{domain::ApplicationId, state::AppState};

fn window(now: DateTime<Utc>, span: Duration, label: &str) -> (String, DateTime<Utc>, u64) {
    let start = now.duration_trunc(span).unwrap_or(now);
    let end = start + span;
    let retry_after = u64::try_from((end - now).num_seconds()).unwrap_or(0).max(1);
    (format!("{label}:{}", start.timestamp()), end + Duration::minutes(1), retry_after)
}

/// Counts the request against `application`'s budgets; 429 when one is exhausted.
pub async fn check(state: &AppState, application: &ApplicationId) -> ApiResult<()> {
    let limits = &state.config.rate_limits;
    let now = state.clock.now();
    let second = window(now, Duration::seconds(1), "s");
    let minute = window(now, Duration::minutes(1), "m");
    let counts = state
        .store
        .hit_rate_windows(application, &[(second.0.clone(), second.1), (minute.0.clone(), minute.1)], now)
        .await?;
    if counts.first().is_some_and(|&c| c > i64::from(limits.per_second)) {
        return Err(ApiError::RateLimited { retry_after_secs: second.2 });
    }
    if counts.get(1).is_some_and(|&c| c > i64::from(limits.per_minute)) {
        return Err(ApiError::RateLimited { retry_after_secs: minute.2 });
    }
    Ok(())
}

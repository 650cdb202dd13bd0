//! Fixed-window request counters per application, shared by every API instance (Lambda
//! environments do not share memory, so the counters live in the database).

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::ApplicationId;

impl Store {
    /// Counts one request in each window (`key`, `expires_at`) and returns the new counts, in order.
    /// Expired windows of the application are cleared on the way, so the table stays small.
    #[tracing::instrument(skip_all)]
    pub async fn hit_rate_windows(
        &self,
        application: &ApplicationId,
        windows: &[(String, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>> {
        // language=SQL
        const HIT: &str = "INSERT INTO rate_limit_windows (application_id, window_key, count, expires_at) VALUES ($1, $2, 1, $3) \
                           ON CONFLICT (application_id, window_key) DO UPDATE SET count = rate_limit_windows.count + 1 \
                           RETURNING count";
        // language=SQL
        const SWEEP: &str = "DELETE FROM rate_limit_windows WHERE application_id = $1 AND expires_at < $2";
        let counts = with_pool!(self, pool => {
            let mut counts = Vec::with_capacity(windows.len());
            for (key, expires_at) in windows {
                let (count,): (i32,) = sqlx::query_as(HIT).bind(application).bind(key).bind(expires_at).fetch_one(pool).await?;
                counts.push(i64::from(count));
            }
            // One in a hundred requests tidies up: cheap, and bounded by the number of windows.
            if rand::random::<u8>() < 3 {
                sqlx::query(SWEEP).bind(application).bind(now).execute(pool).await?;
            }
            counts
        });
        Ok(counts)
    }
}

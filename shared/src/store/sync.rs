//! Queries the sync engine needs beyond the event upsert: the live provider events of one
//! series (to tombstone instances a changed or removed resource no longer yields) and of a
//! time range (to sweep after a full resync).

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{CalendarId, EventKind, EventUid};

#[derive(sqlx::FromRow)]
struct LiveRow {
    uid: EventUid,
    provider_id: String,
}

impl Store {
    /// `(uid, provider_id)` of the calendar's undeleted third-party events of iCalendar UID
    /// `ical_uid`; only those overlapping `[start, end)` when `overlapping` is given.
    #[tracing::instrument(skip_all)]
    pub async fn live_provider_events_of_series(
        &self,
        calendar: &CalendarId,
        ical_uid: &str,
        overlapping: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> StoreResult<Vec<(EventUid, String)>> {
        let range = if overlapping.is_some() { " AND end_at > $5 AND start_at < $6" } else { "" };
        let sql = format!(
            "SELECT uid, provider_id FROM events WHERE calendar_id = $1 AND kind = $2 AND deleted = $3 \
             AND ical_uid = $4 AND provider_id IS NOT NULL{range} ORDER BY uid"
        );
        let rows: Vec<LiveRow> = with_pool!(self, pool => {
            let query = sqlx::query_as(&sql).bind(calendar).bind(EventKind::ThirdParty).bind(false).bind(ical_uid);
            let query = match overlapping {
                Some((start, end)) => query.bind(start).bind(end),
                None => query,
            };
            query.fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(|r| (r.uid, r.provider_id)).collect())
    }

    /// `(uid, provider_id)` of the calendar's undeleted third-party events overlapping `[start, end)`.
    #[tracing::instrument(skip_all)]
    pub async fn live_provider_events_in_range(
        &self,
        calendar: &CalendarId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> StoreResult<Vec<(EventUid, String)>> {
        // language=SQL
        const SQL: &str = "SELECT uid, provider_id FROM events WHERE calendar_id = $1 AND kind = $2 AND deleted = $3 \
                           AND provider_id IS NOT NULL AND end_at > $4 AND start_at < $5 ORDER BY uid";
        let rows: Vec<LiveRow> = with_pool!(self, pool => sqlx::query_as(SQL)
            .bind(calendar)
            .bind(EventKind::ThirdParty)
            .bind(false)
            .bind(start)
            .bind(end)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(|r| (r.uid, r.provider_id)).collect())
    }
}

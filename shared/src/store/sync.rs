//! What the sync engine writes and reads beyond single events: one calendar sync committed as
//! one transaction (events, tombstones and the cursor that covers them), the live provider events
//! of one series (to tombstone instances a changed or removed resource no longer yields) and of a
//! time range (to sweep after a full resync), and the partner events' provider copies.

use chrono::{DateTime, Utc};

use super::events::{MARK_DELETED, MARK_LEFT_WINDOW, UpsertSql, upsert_within};
use super::sync_states::RECORD_SUCCESS;
use super::{EventUpsert, Store, StoreResult, with_pool};
use crate::domain::{AccountId, ApplicationId, CalendarId, EventKind, EventUid, ProfileId};

/// Everything one calendar sync writes, committed together: a crash leaves either all of it or
/// none, so the stored cursor never runs ahead of the events it covers.
#[derive(Debug, Default)]
pub struct SyncCommit {
    /// Occurrences to create or update (unchanged ones are no-ops).
    pub upserts: Vec<EventUpsert>,
    /// Live events to tombstone.
    pub tombstones: Vec<EventUid>,
    /// Partner events to tombstone because their resource was deleted at the provider: nothing
    /// is left to push for them.
    pub partner_removals: Vec<EventUid>,
    /// New provider versions (ETags) of partner events, seen when the sync met their resources.
    pub partner_etags: Vec<(EventUid, Option<String>)>,
    /// The window's start, when the commit also records which events left the window: those
    /// ending at or before it are marked with the commit's time (the first time counts), and
    /// marked ones ending after it (the window grew back) are unmarked.
    pub window_start: Option<DateTime<Utc>>,
}

/// What a commit changed, as integrators see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    pub changed: usize,
    pub deleted: usize,
    /// Of `deleted`, the partner events whose resource was deleted at the provider.
    pub partner_removed: usize,
}

/// Where a push left an event at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedPush<'a> {
    pub provider_id: Option<&'a str>,
    pub etag: Option<&'a str>,
    /// The content hash pushed, or `deleted`.
    pub pushed_hash: &'a str,
    pub ical_uid: Option<&'a str>,
}

/// A partner event as the sync engine needs it to recognise its resource on the server.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PartnerCopy {
    pub uid: EventUid,
    pub application_id: ApplicationId,
    pub ical_uid: String,
    pub provider_id: Option<String>,
    pub etag: Option<String>,
    pub deleted: bool,
}

#[derive(sqlx::FromRow)]
struct LiveRow {
    uid: EventUid,
    provider_id: String,
}

impl Store {
    /// Applies `commit` and stores `cursor` as the calendar's sync state, in one transaction.
    #[tracing::instrument(skip_all, fields(calendar_id = %calendar))]
    pub async fn commit_sync(
        &self,
        calendar: &CalendarId,
        account: &AccountId,
        commit: &SyncCommit,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Committed> {
        // language=SQL
        const SET_ETAG: &str = "UPDATE events SET etag = $2 WHERE uid = $1";
        // language=SQL
        const SET_PUSHED_DELETED: &str = "UPDATE events SET pushed_hash = 'deleted' WHERE uid = $1";
        // language=SQL
        const BACK_IN_WINDOW: &str = "UPDATE events SET left_window_at = NULL \
                                      WHERE calendar_id = $1 AND end_at > $2 AND left_window_at IS NOT NULL";
        let sql = UpsertSql::of(self);
        let mut committed = Committed::default();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            for event in &commit.upserts {
                if upsert_within!(tx, sql, event, now)?.is_change() {
                    committed.changed += 1;
                }
            }
            for uid in &commit.tombstones {
                let query = sqlx::query(MARK_DELETED).bind(uid).bind(true).bind(now).bind(false);
                committed.deleted += usize::from(query.execute(&mut *tx).await?.rows_affected() == 1);
            }
            for uid in &commit.partner_removals {
                let query = sqlx::query(MARK_DELETED).bind(uid).bind(true).bind(now).bind(false);
                let removed = usize::from(query.execute(&mut *tx).await?.rows_affected() == 1);
                committed.deleted += removed;
                committed.partner_removed += removed;
                sqlx::query(SET_PUSHED_DELETED).bind(uid).execute(&mut *tx).await?;
            }
            for (uid, etag) in &commit.partner_etags {
                sqlx::query(SET_ETAG).bind(uid).bind(etag).execute(&mut *tx).await?;
            }
            if let Some(start) = commit.window_start {
                sqlx::query(MARK_LEFT_WINDOW).bind(calendar).bind(start).bind(now).execute(&mut *tx).await?;
                sqlx::query(BACK_IN_WINDOW).bind(calendar).bind(start).execute(&mut *tx).await?;
            }
            sqlx::query(RECORD_SUCCESS).bind(calendar).bind(account).bind(cursor).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(committed)
    }

    /// The calendar's partner events that have an iCalendar UID, deleted ones included.
    #[tracing::instrument(skip_all)]
    pub async fn partner_copies(&self, calendar: &CalendarId) -> StoreResult<Vec<PartnerCopy>> {
        // language=SQL
        const SQL: &str = "SELECT uid, application_id, ical_uid, provider_id, etag, deleted FROM events \
                           WHERE calendar_id = $1 AND kind = $2 AND ical_uid IS NOT NULL ORDER BY uid";
        let rows = with_pool!(self, pool => sqlx::query_as(SQL).bind(calendar).bind(EventKind::Partner).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Records where a push left an event at its provider, under which iCalendar UID (kept when
    /// the event already has one), and which content it pushed. This is bookkeeping, not a
    /// change: `last_modified` stays, so no integrator is told about it.
    #[tracing::instrument(skip_all)]
    pub async fn record_push(&self, uid: &EventUid, push: &RecordedPush<'_>) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "UPDATE events SET provider_id = $2, etag = $3, pushed_hash = $4, \
                           ical_uid = COALESCE(ical_uid, $5) WHERE uid = $1";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(uid)
            .bind(push.provider_id)
            .bind(push.etag)
            .bind(push.pushed_hash)
            .bind(push.ical_uid)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The content hash last pushed to the provider for this event, if any.
    #[tracing::instrument(skip_all)]
    pub async fn pushed_hash(&self, uid: &EventUid) -> StoreResult<Option<String>> {
        // language=SQL
        const SQL: &str = "SELECT pushed_hash FROM events WHERE uid = $1";
        let hash: Option<Option<String>> =
            with_pool!(self, pool => sqlx::query_scalar(SQL).bind(uid).fetch_optional(pool).await?);
        Ok(hash.flatten())
    }

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

    /// Whether every live calendar of the profile has synced successfully at least once.
    #[tracing::instrument(skip_all)]
    pub async fn profile_initially_synced(&self, profile: &ProfileId) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "SELECT COUNT(*) FROM calendars c LEFT JOIN sync_states s ON s.calendar_id = c.id \
                           WHERE c.profile_id = $1 AND c.deleted = $2 AND s.last_success_at IS NULL";
        let pending: i64 =
            with_pool!(self, pool => sqlx::query_scalar(SQL).bind(profile).bind(false).fetch_one(pool).await?);
        Ok(pending == 0)
    }
}

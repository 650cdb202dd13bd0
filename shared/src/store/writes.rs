//! Store queries of the API's `writes` feature, beyond the keyed `upsert_event` and the single
//! `mark_event_deleted` of `events.rs`: rewriting one event by uid (external edits, participation
//! status), deleting an application's events in bulk, and reopening a tombstone for re-creation.
//!
//! Every change moves `updated_at` and `last_modified` to the caller's `now`, so change readers
//! (`last_modified=`, push notifications) see it.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{EventUpsert, Store, StoreResult, with_pool};
use crate::domain::{AccountId, ApplicationId, CalendarId, EventKind, EventUid};

#[derive(sqlx::FromRow)]
struct DeletedRow {
    uid: EventUid,
    calendar_id: CalendarId,
}

impl Store {
    /// Rewrites the integrator-visible fields of event `uid` from `event` (keys, kind and
    /// provider bookkeeping stay as stored). Returns false when the content was already the
    /// same, in which case nothing is written.
    #[tracing::instrument(skip_all)]
    pub async fn update_event_content(
        &self,
        uid: &EventUid,
        event: &EventUpsert,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let hash = event.content_hash();
        // language=SQL
        const SQL: &str = "UPDATE events SET summary = $2, description = $3, start_at = $4, start_date = $5, \
            start_tzid = $6, end_at = $7, end_date = $8, end_tzid = $9, all_day = $10, recurrence_rule = $11, \
            location = $12, attendees = $13, color = $14, url = $15, reminders = $16, transparency = $17, \
            participation_status = $18, event_private = $19, content_hash = $20, updated_at = $21, last_modified = $21 \
            WHERE uid = $1 AND content_hash <> $20";
        let n = with_pool!(self, pool => sqlx::query(SQL)
            .bind(uid)
            .bind(&event.summary)
            .bind(&event.description)
            .bind(event.start.sort_key())
            .bind(event.start.date())
            .bind(event.start.tzid())
            .bind(event.end.sort_key())
            .bind(event.end.date())
            .bind(event.end.tzid())
            .bind(event.start.is_all_day())
            .bind(&event.recurrence_rule)
            .bind(event.location.as_ref().map(Json))
            .bind(Json(&event.attendees))
            .bind(&event.color)
            .bind(&event.url)
            .bind(Json(&event.reminders))
            .bind(event.transparency)
            .bind(event.participation_status)
            .bind(event.event_private)
            .bind(&hash)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }

    /// Clears the content hash of a deleted event, so that upserting the same content again
    /// counts as a change and brings it back (a tombstone keeps the hash of its last content).
    #[tracing::instrument(skip_all)]
    pub async fn reopen_tombstone(&self, uid: &EventUid) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "UPDATE events SET content_hash = $2 WHERE uid = $1 AND deleted = $3";
        with_pool!(self, pool => sqlx::query(SQL).bind(uid).bind("").bind(true).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Marks deleted every live partner event `application` created in the account's calendars
    /// (or in `calendar` only); returns what was deleted, for the provider pushes.
    #[tracing::instrument(skip_all)]
    pub async fn delete_partner_events(
        &self,
        account: &AccountId,
        application: &ApplicationId,
        calendar: Option<&CalendarId>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(EventUid, CalendarId)>> {
        // language=SQL
        const SQL: &str = "UPDATE events SET deleted = $1, updated_at = $2, last_modified = $2 \
            WHERE account_id = $3 AND application_id = $4 AND kind = $5 AND deleted = $6 \
            AND ($7 IS NULL OR calendar_id = $7) RETURNING uid, calendar_id";
        let calendar = calendar.map(CalendarId::as_str);
        let rows: Vec<DeletedRow> = with_pool!(self, pool => sqlx::query_as(SQL)
            .bind(true)
            .bind(now)
            .bind(account)
            .bind(application)
            .bind(EventKind::Partner)
            .bind(false)
            .bind(calendar)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(|r| (r.uid, r.calendar_id)).collect())
    }
}

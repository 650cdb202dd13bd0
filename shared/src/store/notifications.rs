//! Push notifications and their delivery: one row per notification to one channel (or, for a
//! Smart Invite reply, to the invite's callback URL with the body fixed when it was queued), with
//! the attempts made (status and latency, never the body), when it is next due, and when it was
//! delivered or given up. A delivery claims its row for a short time first, so two copies of
//! one job never both send it, and a delivered row ends every later copy.

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{AccountId, ApplicationId, ChannelId};

/// A notification as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Notification {
    pub id: String,
    /// The channel told; `None` for a Smart Invite callback.
    pub channel_id: Option<ChannelId>,
    pub application_id: ApplicationId,
    /// The account the channel watches; `None` for a Smart Invite callback.
    pub account_id: Option<AccountId>,
    /// `verification`, `change`, `profile_disconnected`, `profile_initial_sync_completed` or
    /// `smart_invite`.
    pub kind: String,
    pub changes_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub abandoned_at: Option<DateTime<Utc>>,
    /// The reply token of the Smart Invite recipient row a callback reports on.
    pub smart_invite_token: Option<String>,
    /// A Smart Invite callback's destination and body (a channel's are derived from the channel).
    pub callback_url: Option<String>,
    pub body: Option<String>,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord<'a> {
    /// The HTTP status, or what went wrong before one came back (`timeout`, `refused`, …).
    pub status: &'a str,
    pub latency_ms: i32,
    pub at: DateTime<Utc>,
    /// Whether the endpoint took it (a 2xx).
    pub delivered: bool,
    /// When to try again; `None` when there is nothing more to try.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Whether delivery was given up.
    pub abandoned: bool,
}

const COLUMNS: &str = "id, channel_id, application_id, account_id, kind, changes_since, created_at, attempts, \
    last_attempt_at, last_status, last_latency_ms, next_attempt_at, delivered_at, abandoned_at, smart_invite_token, \
    callback_url, body";

/// Inserts notification `$n` through `$executor` (a pool, or a transaction as `&mut *tx`).
macro_rules! insert_notification {
    ($executor:expr, $n:expr) => {{
        let n: &$crate::store::Notification = $n;
        sqlx::query(concat!(
            "INSERT INTO notifications (id, channel_id, application_id, account_id, kind, changes_since, created_at, ",
            "attempts, last_attempt_at, last_status, last_latency_ms, next_attempt_at, delivered_at, abandoned_at, ",
            "smart_invite_token, callback_url, body) ",
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ))
        .bind(&n.id)
        .bind(&n.channel_id)
        .bind(&n.application_id)
        .bind(&n.account_id)
        .bind(&n.kind)
        .bind(n.changes_since)
        .bind(n.created_at)
        .bind(n.attempts)
        .bind(n.last_attempt_at)
        .bind(&n.last_status)
        .bind(n.last_latency_ms)
        .bind(n.next_attempt_at)
        .bind(n.delivered_at)
        .bind(n.abandoned_at)
        .bind(&n.smart_invite_token)
        .bind(&n.callback_url)
        .bind(&n.body)
        .execute($executor)
        .await
    }};
}
pub(super) use insert_notification;

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_notification(&self, n: &Notification) -> StoreResult<()> {
        with_pool!(self, pool => insert_notification!(pool, n)?.rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_notification(&self, id: &str) -> StoreResult<Option<Notification>> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = $1");
        let row = with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row)
    }

    /// The notifications sent to a channel, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_channel_notifications(&self, channel: &ChannelId) -> StoreResult<Vec<Notification>> {
        self.notifications_where("channel_id", channel.as_str()).await
    }

    /// The notifications whose `column` is `value`, oldest first.
    pub(super) async fn notifications_where(&self, column: &str, value: &str) -> StoreResult<Vec<Notification>> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE {column} = $1 ORDER BY created_at, id");
        let rows = with_pool!(self, pool => sqlx::query_as(&sql).bind(value).fetch_all(pool).await?);
        Ok(rows)
    }

    /// Claims an undelivered, unabandoned notification for a delivery attempt until `until`;
    /// false when it is delivered, given up, or claimed by another delivery right now.
    #[tracing::instrument(skip_all)]
    pub async fn claim_notification(&self, id: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE notifications SET claimed_until = $2 WHERE id = $1 AND delivered_at IS NULL \
                           AND abandoned_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $3)";
        let n = with_pool!(self, pool => sqlx::query(SQL).bind(id).bind(until).bind(now).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Records an attempt and releases the claim.
    #[tracing::instrument(skip_all)]
    pub async fn record_notification_attempt(&self, id: &str, attempt: &AttemptRecord<'_>) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "UPDATE notifications SET attempts = attempts + 1, last_attempt_at = $2, last_status = $3, \
                           last_latency_ms = $4, next_attempt_at = $5, \
                           delivered_at = CASE WHEN $6 THEN $2 ELSE delivered_at END, \
                           abandoned_at = CASE WHEN $7 THEN $2 ELSE abandoned_at END, \
                           claimed_until = NULL WHERE id = $1";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(id)
            .bind(attempt.at)
            .bind(attempt.status)
            .bind(attempt.latency_ms)
            .bind(attempt.next_attempt_at)
            .bind(attempt.delivered)
            .bind(attempt.abandoned)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Gives a notification up without an attempt (its channel closed meanwhile).
    #[tracing::instrument(skip_all)]
    pub async fn abandon_notification(&self, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "UPDATE notifications SET abandoned_at = $2, claimed_until = NULL \
                           WHERE id = $1 AND delivered_at IS NULL AND abandoned_at IS NULL";
        with_pool!(self, pool => sqlx::query(SQL).bind(id).bind(now).execute(pool).await?.rows_affected());
        Ok(())
    }

    /// Up to `limit` pending notifications whose delivery job looks lost: never attempted and
    /// older than `stale`, or overdue for a retry since before `stale`.
    #[tracing::instrument(skip_all)]
    pub async fn stranded_notifications(&self, stale: DateTime<Utc>, limit: i64) -> StoreResult<Vec<String>> {
        // language=SQL
        const SQL: &str = "SELECT id FROM notifications WHERE delivered_at IS NULL AND abandoned_at IS NULL \
                           AND created_at < $1 AND (claimed_until IS NULL OR claimed_until < $1) \
                           AND (next_attempt_at IS NULL OR next_attempt_at < $1) AND (attempts = 0 OR next_attempt_at IS NOT NULL) \
                           ORDER BY created_at LIMIT $2";
        let ids = with_pool!(self, pool => sqlx::query_scalar(SQL).bind(stale).bind(limit).fetch_all(pool).await?);
        Ok(ids)
    }
}

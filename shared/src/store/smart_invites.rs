//! Smart Invites: one row per application, invite id and recipient email.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::notifications::insert_notification;
use super::{Notification, Store, StoreResult, dialect, with_pool};
use crate::domain::ApplicationId;

/// One invitation to one recipient, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SmartInvite {
    pub application_id: ApplicationId,
    pub smart_invite_id: String,
    /// Lower case.
    pub recipient_email: String,
    /// The iCalendar UID, stable per application and invite id.
    pub uid: String,
    /// The opaque part of the reply address.
    pub reply_token: String,
    /// `request` or `cancel`.
    pub method: String,
    pub sequence: i64,
    /// `pending`, `accepted`, `tentative` or `declined`.
    pub status: String,
    /// The comment of the recipient's latest reply.
    pub reply_comment: Option<String>,
    /// The time the recipient's latest reply proposed instead (`{"start":{time,tzid},"end":…}`).
    pub reply_proposal: Option<Json<Value>>,
    pub callback_url: Option<String>,
    pub organizer: Json<Value>,
    /// The request's event object, as validated.
    pub event: Json<Value>,
    pub event_end: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "application_id, smart_invite_id, recipient_email, uid, reply_token, method, sequence, status, \
                       reply_comment, reply_proposal, callback_url, organizer, event, event_end, created_at, updated_at";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn get_smart_invite(
        &self,
        application: &ApplicationId,
        smart_invite_id: &str,
        recipient_email: &str,
    ) -> StoreResult<Option<SmartInvite>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM smart_invites WHERE application_id = $1 AND smart_invite_id = $2 AND recipient_email = $3"
        );
        let row = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(application)
            .bind(smart_invite_id)
            .bind(recipient_email.to_lowercase())
            .fetch_optional(pool)
            .await?);
        Ok(row)
    }

    /// Inserts the invite, or replaces its mutable fields (the key, UID, reply token and creation
    /// time stay as first written).
    #[tracing::instrument(skip_all)]
    pub async fn save_smart_invite(&self, invite: &SmartInvite) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO smart_invites ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16) ON CONFLICT (application_id, smart_invite_id, recipient_email) DO UPDATE SET \
             method = excluded.method, sequence = excluded.sequence, status = excluded.status, \
             reply_comment = excluded.reply_comment, reply_proposal = excluded.reply_proposal, \
             callback_url = excluded.callback_url, \
             organizer = excluded.organizer, event = excluded.event, event_end = excluded.event_end, \
             updated_at = excluded.updated_at"
        );
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(&invite.application_id)
            .bind(&invite.smart_invite_id)
            .bind(&invite.recipient_email)
            .bind(&invite.uid)
            .bind(&invite.reply_token)
            .bind(&invite.method)
            .bind(invite.sequence)
            .bind(&invite.status)
            .bind(&invite.reply_comment)
            .bind(&invite.reply_proposal)
            .bind(&invite.callback_url)
            .bind(&invite.organizer)
            .bind(&invite.event)
            .bind(invite.event_end)
            .bind(invite.created_at)
            .bind(invite.updated_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Deletes one recipient's invite with the callbacks about it; false when there was none.
    #[tracing::instrument(skip_all)]
    pub async fn delete_smart_invite(
        &self,
        application: &ApplicationId,
        smart_invite_id: &str,
        recipient_email: &str,
    ) -> StoreResult<bool> {
        // language=SQL
        const CALLBACKS: &str = "DELETE FROM notifications WHERE smart_invite_token IN (SELECT reply_token \
                                 FROM smart_invites WHERE application_id = $1 AND smart_invite_id = $2 \
                                 AND recipient_email = $3)";
        // language=SQL
        const INVITE: &str =
            "DELETE FROM smart_invites WHERE application_id = $1 AND smart_invite_id = $2 AND recipient_email = $3";
        let email = recipient_email.to_lowercase();
        let n = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(CALLBACKS).bind(application).bind(smart_invite_id).bind(&email).execute(&mut *tx).await?;
            let n = sqlx::query(INVITE)
                .bind(application)
                .bind(smart_invite_id)
                .bind(&email)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }
}

impl Store {
    /// The invite whose reply address carries `token`.
    #[tracing::instrument(skip_all)]
    pub async fn smart_invite_by_reply_token(&self, token: &str) -> StoreResult<Option<SmartInvite>> {
        let sql = format!("SELECT {COLUMNS} FROM smart_invites WHERE reply_token = $1");
        let row = with_pool!(self, pool => sqlx::query_as(&sql).bind(token).fetch_optional(pool).await?);
        Ok(row)
    }

    /// The invites with this iCalendar UID for this (lower-case) recipient.
    #[tracing::instrument(skip_all)]
    pub async fn smart_invites_by_uid(&self, uid: &str, recipient_email: &str) -> StoreResult<Vec<SmartInvite>> {
        let sql = format!("SELECT {COLUMNS} FROM smart_invites WHERE uid = $1 AND recipient_email = $2");
        let rows = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(uid)
            .bind(recipient_email.to_lowercase())
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    /// Records a recipient's reply (status, comment, proposal) and, when that changed anything,
    /// stores `callback` in the same transaction; false when the reply repeats what is stored (or
    /// the row is gone), in which case no callback is stored either. The condition is part of the
    /// update, so two copies of one reply arriving together produce one callback.
    #[tracing::instrument(skip_all)]
    pub async fn record_smart_invite_reply(
        &self,
        invite: &SmartInvite,
        now: DateTime<Utc>,
        callback: Option<&Notification>,
    ) -> StoreResult<bool> {
        let same = dialect!(self, pg: "IS NOT DISTINCT FROM", sqlite: "IS");
        let sql = format!(
            "UPDATE smart_invites SET status = $4, reply_comment = $5, reply_proposal = $6, updated_at = $7 \
             WHERE application_id = $1 AND smart_invite_id = $2 AND recipient_email = $3 \
             AND NOT (status = $4 AND reply_comment {same} $5 AND reply_proposal {same} $6)"
        );
        let changed = with_pool!(self, pool => {
            let mut tx = pool.begin_with(self.begin_write()).await?;
            let n = sqlx::query(&sql)
                .bind(&invite.application_id)
                .bind(&invite.smart_invite_id)
                .bind(&invite.recipient_email)
                .bind(&invite.status)
                .bind(&invite.reply_comment)
                .bind(&invite.reply_proposal)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 1
                && let Some(callback) = callback
            {
                insert_notification!(&mut *tx, callback)?;
            }
            tx.commit().await?;
            n == 1
        });
        Ok(changed)
    }

    /// The callbacks stored about one recipient's invite (by its reply token), oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_smart_invite_notifications(&self, reply_token: &str) -> StoreResult<Vec<Notification>> {
        self.notifications_where("smart_invite_token", reply_token).await
    }
}

//! Smart Invites: one row per application, invite id and recipient email.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{Store, StoreResult, with_pool};
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
    pub callback_url: Option<String>,
    pub organizer: Json<Value>,
    /// The request's event object, as validated.
    pub event: Json<Value>,
    pub event_end: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "application_id, smart_invite_id, recipient_email, uid, reply_token, method, sequence, status, \
                       callback_url, organizer, event, event_end, created_at, updated_at";

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
            "INSERT INTO smart_invites ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (application_id, smart_invite_id, recipient_email) DO UPDATE SET method = excluded.method, \
             sequence = excluded.sequence, status = excluded.status, callback_url = excluded.callback_url, \
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

    /// Deletes one recipient's invite; false when there was none.
    #[tracing::instrument(skip_all)]
    pub async fn delete_smart_invite(
        &self,
        application: &ApplicationId,
        smart_invite_id: &str,
        recipient_email: &str,
    ) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str =
            "DELETE FROM smart_invites WHERE application_id = $1 AND smart_invite_id = $2 AND recipient_email = $3";
        let n = with_pool!(self, pool => sqlx::query(SQL)
            .bind(application)
            .bind(smart_invite_id)
            .bind(recipient_email.to_lowercase())
            .execute(pool)
            .await?
            .rows_affected());
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

    /// Sets one recipient's reply status; false when it already had that status (or no row).
    #[tracing::instrument(skip_all)]
    pub async fn set_smart_invite_status(
        &self,
        invite: &SmartInvite,
        status: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE smart_invites SET status = $4, updated_at = $5 WHERE application_id = $1 \
                           AND smart_invite_id = $2 AND recipient_email = $3 AND status <> $4";
        let n = with_pool!(self, pool => sqlx::query(SQL)
            .bind(&invite.application_id)
            .bind(&invite.smart_invite_id)
            .bind(&invite.recipient_email)
            .bind(status)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(n == 1)
    }
}

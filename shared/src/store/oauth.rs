//! Store queries of the end-user authorization flow: pending authorize requests, single-use
//! authorization codes, application calendars, and the token lookup revocation needs.
//!
//! Expired requests and codes are deleted whenever a new one is written, so neither table grows
//! with abandoned flows and no separate sweep is needed.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, StoreResult, with_pool};
use crate::{
    authorization::{ApplicationCalendar, AuthorizeRequest, NewAuthorizationCode, RedeemedCode},
    domain::{
        AccountId, ApplicationCalendarId, ApplicationId, Authorization, AuthorizationId, CalendarId, ProfileId, Scopes,
    },
};

fn scopes(text: &str) -> StoreResult<Scopes> {
    Scopes::parse(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[derive(sqlx::FromRow)]
struct AuthorizeRequestRow {
    application_id: ApplicationId,
    redirect_uri: String,
    scopes: String,
    state: Option<String>,
    delegated_scope: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RedeemedRow {
    account_id: AccountId,
    profile_id: Option<ProfileId>,
    scopes: String,
}

#[derive(sqlx::FromRow)]
struct ApplicationCalendarRow {
    id: ApplicationCalendarId,
    application_id: ApplicationId,
    application_calendar_id: String,
    account_id: AccountId,
    profile_id: ProfileId,
    calendar_id: CalendarId,
    created_at: DateTime<Utc>,
}

impl From<ApplicationCalendarRow> for ApplicationCalendar {
    fn from(r: ApplicationCalendarRow) -> Self {
        ApplicationCalendar {
            id: r.id,
            application_id: r.application_id,
            application_calendar_id: r.application_calendar_id,
            account_id: r.account_id,
            profile_id: r.profile_id,
            calendar_id: r.calendar_id,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct LiveAuthorizationRow {
    id: AuthorizationId,
    application_id: ApplicationId,
    account_id: AccountId,
    scopes: String,
    access_token_expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    terminated_at: Option<DateTime<Utc>>,
}

const APPLICATION_CALENDAR_COLUMNS: &str =
    "id, application_id, application_calendar_id, account_id, profile_id, calendar_id, created_at";

impl Store {
    /// Records a pending authorize request under the hash of its id, deleting expired ones.
    #[tracing::instrument(skip_all)]
    pub async fn create_authorize_request(&self, id_hash: &str, request: &AuthorizeRequest) -> StoreResult<()> {
        // language=SQL
        const PURGE: &str = "DELETE FROM authorize_requests WHERE expires_at <= $1";
        // language=SQL
        const INSERT: &str = "INSERT INTO authorize_requests (id_hash, application_id, redirect_uri, scopes, state, \
                              created_at, expires_at, delegated_scope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        with_pool!(self, pool => {
            sqlx::query(PURGE).bind(request.created_at).execute(pool).await?;
            sqlx::query(INSERT)
                .bind(id_hash)
                .bind(&request.application_id)
                .bind(&request.redirect_uri)
                .bind(request.scopes.to_string())
                .bind(&request.state)
                .bind(request.created_at)
                .bind(request.expires_at)
                .bind(request.delegated_scopes.as_ref().map(Scopes::to_string))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// A pending authorize request that has neither expired nor been completed.
    #[tracing::instrument(skip_all)]
    pub async fn find_authorize_request(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AuthorizeRequest>> {
        // language=SQL
        const SQL: &str = "SELECT application_id, redirect_uri, scopes, state, delegated_scope, created_at, expires_at \
                           FROM authorize_requests WHERE id_hash = $1 AND used_at IS NULL AND expires_at > $2";
        let row: Option<AuthorizeRequestRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(id_hash).bind(now).fetch_optional(pool).await?);
        row.map(|r| {
            Ok(AuthorizeRequest {
                scopes: scopes(&r.scopes)?,
                delegated_scopes: r.delegated_scope.as_deref().map(scopes).transpose()?,
                application_id: r.application_id,
                redirect_uri: r.redirect_uri,
                state: r.state,
                created_at: r.created_at,
                expires_at: r.expires_at,
            })
        })
        .transpose()
    }

    /// Marks a pending request completed; false when it already was (or expired), so of two
    /// concurrent submissions exactly one goes on.
    #[tracing::instrument(skip_all)]
    pub async fn complete_authorize_request(&self, id_hash: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE authorize_requests SET used_at = $2 \
                           WHERE id_hash = $1 AND used_at IS NULL AND expires_at > $2";
        let n = with_pool!(self, pool => sqlx::query(SQL).bind(id_hash).bind(now).execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Stores a new authorization code, deleting expired ones.
    #[tracing::instrument(skip_all)]
    pub async fn create_authorization_code(&self, code: &NewAuthorizationCode) -> StoreResult<()> {
        // language=SQL
        const PURGE: &str = "DELETE FROM oauth_codes WHERE expires_at <= $1";
        // language=SQL
        const INSERT: &str = "INSERT INTO oauth_codes (code_hash, application_id, account_id, profile_id, redirect_uri, \
                              scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        with_pool!(self, pool => {
            sqlx::query(PURGE).bind(code.created_at).execute(pool).await?;
            sqlx::query(INSERT)
                .bind(&code.code_hash)
                .bind(&code.application_id)
                .bind(&code.account_id)
                .bind(&code.profile_id)
                .bind(&code.redirect_uri)
                .bind(code.scopes.to_string())
                .bind(code.created_at)
                .bind(code.expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Redeems a code issued to `application` for `redirect_uri`: one conditional UPDATE marks
    /// it used, so of two concurrent exchanges at most one gets `Some`. Unknown, expired, used
    /// and mismatched codes all give `None` and leave the code as it was.
    #[tracing::instrument(skip_all)]
    pub async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        application: &ApplicationId,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<RedeemedCode>> {
        // language=SQL
        const SQL: &str = "UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND application_id = $3 \
                           AND redirect_uri = $4 AND used_at IS NULL AND expires_at > $2 \
                           RETURNING account_id, profile_id, scopes";
        let row: Option<RedeemedRow> = with_pool!(self, pool => sqlx::query_as(SQL)
            .bind(code_hash)
            .bind(now)
            .bind(application)
            .bind(redirect_uri)
            .fetch_optional(pool)
            .await?);
        row.map(|r| Ok(RedeemedCode { scopes: scopes(&r.scopes)?, account_id: r.account_id, profile_id: r.profile_id }))
            .transpose()
    }

    /// Records an application calendar unless the application already has one under the same
    /// key; returns the stored one either way (so concurrent first calls agree on one calendar).
    #[tracing::instrument(skip_all)]
    pub async fn create_application_calendar(
        &self,
        calendar: &ApplicationCalendar,
    ) -> StoreResult<ApplicationCalendar> {
        // language=SQL
        const INSERT: &str = "INSERT INTO application_calendars (id, application_id, application_calendar_id, \
                              account_id, profile_id, calendar_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                              ON CONFLICT (application_id, application_calendar_id) DO NOTHING";
        with_pool!(self, pool => sqlx::query(INSERT)
            .bind(&calendar.id)
            .bind(&calendar.application_id)
            .bind(&calendar.application_calendar_id)
            .bind(&calendar.account_id)
            .bind(&calendar.profile_id)
            .bind(&calendar.calendar_id)
            .bind(calendar.created_at)
            .execute(pool)
            .await?
            .rows_affected());
        self.find_application_calendar(&calendar.application_id, &calendar.application_calendar_id)
            .await?
            .ok_or(StoreError::Conflict("application calendar vanished right after it was written"))
    }

    /// The application's calendar stored under its own key.
    #[tracing::instrument(skip_all)]
    pub async fn find_application_calendar(
        &self,
        application: &ApplicationId,
        application_calendar_id: &str,
    ) -> StoreResult<Option<ApplicationCalendar>> {
        let sql = format!(
            "SELECT {APPLICATION_CALENDAR_COLUMNS} FROM application_calendars \
             WHERE application_id = $1 AND application_calendar_id = $2"
        );
        let row: Option<ApplicationCalendarRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(application)
            .bind(application_calendar_id)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(Into::into))
    }

    /// The application's calendar with this `apc_` id.
    #[tracing::instrument(skip_all)]
    pub async fn get_application_calendar(
        &self,
        application: &ApplicationId,
        id: &ApplicationCalendarId,
    ) -> StoreResult<Option<ApplicationCalendar>> {
        let sql = format!(
            "SELECT {APPLICATION_CALENDAR_COLUMNS} FROM application_calendars WHERE application_id = $1 AND id = $2"
        );
        let row: Option<ApplicationCalendarRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(application).bind(id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// The application's calendar backed by this account, if the account is one.
    #[tracing::instrument(skip_all)]
    pub async fn find_application_calendar_by_account(
        &self,
        application: &ApplicationId,
        account: &AccountId,
    ) -> StoreResult<Option<ApplicationCalendar>> {
        let sql = format!(
            "SELECT {APPLICATION_CALENDAR_COLUMNS} FROM application_calendars WHERE application_id = $1 AND account_id = $2"
        );
        let row: Option<ApplicationCalendarRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(application)
            .bind(account)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(Into::into))
    }

    /// The live authorization whose access token (expired or not) or refresh token hashes to
    /// `token_hash`: revocation must work with an expired access token too (pycronofy #59).
    #[tracing::instrument(skip_all)]
    pub async fn find_live_authorization_by_any_token(&self, token_hash: &str) -> StoreResult<Option<Authorization>> {
        // language=SQL
        const SQL: &str = "SELECT id, application_id, account_id, scopes, access_token_expires_at, created_at, \
                           terminated_at FROM authorizations \
                           WHERE (access_token_hash = $1 OR refresh_token_hash = $1) AND terminated_at IS NULL";
        let row: Option<LiveAuthorizationRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(token_hash).fetch_optional(pool).await?);
        row.map(|r| {
            Ok(Authorization {
                scopes: scopes(&r.scopes)?,
                id: r.id,
                application_id: r.application_id,
                account_id: r.account_id,
                access_token_expires_at: r.access_token_expires_at,
                created_at: r.created_at,
                terminated_at: r.terminated_at,
            })
        })
        .transpose()
    }

    /// How many accounts exist (tests check that refused requests create none).
    #[tracing::instrument(skip_all)]
    pub async fn count_accounts(&self) -> StoreResult<i64> {
        // language=SQL
        const SQL: &str = "SELECT COUNT(*) FROM accounts";
        let (n,): (i64,) = with_pool!(self, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
        Ok(n)
    }
}

//! Integrator applications (OAuth clients). Configuration is kept permanently. Client secrets are
//! compared only as SHA-256 hashes; a copy sealed under the keyring signs push notifications.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{Store, StoreResult, with_pool};
use crate::{
    crypto::{constant_time_eq, token_hash},
    domain::{Application, ApplicationId, IntegratorId},
};

/// A new application, its secret already hashed.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub id: ApplicationId,
    pub integrator_id: Option<IntegratorId>,
    pub name: String,
    pub client_id: String,
    pub client_secret_hash: String,
    /// The secret sealed under the keyring, for signing push notifications.
    pub client_secret_sealed: Vec<u8>,
    pub redirect_uris: Vec<String>,
    pub sync_past_days: i32,
    pub sync_future_days: i32,
    pub created_at: DateTime<Utc>,
}

/// Fields an update may change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct ApplicationUpdate {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub sync_past_days: Option<i32>,
    pub sync_future_days: Option<i32>,
}

#[derive(sqlx::FromRow)]
struct ApplicationRow {
    id: ApplicationId,
    integrator_id: Option<IntegratorId>,
    name: String,
    client_id: String,
    redirect_uris: Json<Vec<String>>,
    sync_past_days: i32,
    sync_future_days: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ApplicationRow> for Application {
    fn from(r: ApplicationRow) -> Self {
        Application {
            id: r.id,
            integrator_id: r.integrator_id,
            name: r.name,
            client_id: r.client_id,
            redirect_uris: r.redirect_uris.0,
            sync_past_days: r.sync_past_days,
            sync_future_days: r.sync_future_days,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The sealed secrets of an application and when the previous one stops being valid.
#[derive(sqlx::FromRow)]
struct SigningRow {
    client_secret_sealed: Option<Vec<u8>>,
    previous_secret_sealed: Option<Vec<u8>>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SecretRow {
    client_secret_hash: String,
    previous_secret_hash: Option<String>,
    previous_secret_expires_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, integrator_id, name, client_id, redirect_uris, sync_past_days, sync_future_days, created_at, updated_at";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_application(&self, app: &NewApplication) -> StoreResult<Application> {
        // language=SQL
        const SQL: &str = "INSERT INTO applications (id, integrator_id, name, client_id, client_secret_hash, redirect_uris, \
                           sync_past_days, sync_future_days, created_at, updated_at, client_secret_sealed) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(&app.id)
            .bind(&app.integrator_id)
            .bind(&app.name)
            .bind(&app.client_id)
            .bind(&app.client_secret_hash)
            .bind(Json(&app.redirect_uris))
            .bind(app.sync_past_days)
            .bind(app.sync_future_days)
            .bind(app.created_at)
            .bind(&app.client_secret_sealed)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(Application {
            id: app.id.clone(),
            integrator_id: app.integrator_id.clone(),
            name: app.name.clone(),
            client_id: app.client_id.clone(),
            redirect_uris: app.redirect_uris.clone(),
            sync_past_days: app.sync_past_days,
            sync_future_days: app.sync_future_days,
            created_at: app.created_at,
            updated_at: app.created_at,
        })
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_application(&self, id: &ApplicationId) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {COLUMNS} FROM applications WHERE id = $1");
        let row: Option<ApplicationRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_application_by_client_id(&self, client_id: &str) -> StoreResult<Option<Application>> {
        let sql = format!("SELECT {COLUMNS} FROM applications WHERE client_id = $1");
        let row: Option<ApplicationRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(client_id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// Every application, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_applications(&self) -> StoreResult<Vec<Application>> {
        let sql = format!("SELECT {COLUMNS} FROM applications ORDER BY created_at, id");
        let rows: Vec<ApplicationRow> = with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Applies `update`; returns the application as it now is, or `None` if it does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn update_application(
        &self,
        id: &ApplicationId,
        update: &ApplicationUpdate,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Application>> {
        // language=SQL
        const SQL: &str = "UPDATE applications SET name = COALESCE($2, name), \
                           redirect_uris = COALESCE($3, redirect_uris), \
                           sync_past_days = COALESCE($4, sync_past_days), \
                           sync_future_days = COALESCE($5, sync_future_days), updated_at = $6 WHERE id = $1";
        let done = with_pool!(self, pool => sqlx::query(SQL)
            .bind(id)
            .bind(&update.name)
            .bind(update.redirect_uris.as_ref().map(Json))
            .bind(update.sync_past_days)
            .bind(update.sync_future_days)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected());
        if done == 0 {
            return Ok(None);
        }
        self.get_application(id).await
    }

    /// Replaces the client secret (its hash, and the secret sealed for signing); the old one
    /// keeps working until `previous_valid_until` so integrators can roll the change out.
    #[tracing::instrument(skip_all)]
    pub async fn rotate_client_secret(
        &self,
        id: &ApplicationId,
        new_secret_hash: &str,
        new_secret_sealed: &[u8],
        previous_valid_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // language=SQL
        const SQL: &str = "UPDATE applications SET previous_secret_hash = client_secret_hash, \
                           previous_secret_sealed = client_secret_sealed, previous_secret_expires_at = $3, \
                           client_secret_hash = $2, client_secret_sealed = $5, updated_at = $4 WHERE id = $1";
        let done = with_pool!(self, pool => sqlx::query(SQL)
            .bind(id)
            .bind(new_secret_hash)
            .bind(previous_valid_until)
            .bind(now)
            .bind(new_secret_sealed)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// The application whose client id and secret these are (the current secret, or the
    /// previous one while its grace period lasts).
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        client_secret: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Application>> {
        // language=SQL
        const SQL: &str = "SELECT client_secret_hash, previous_secret_hash, previous_secret_expires_at FROM applications WHERE client_id = $1";
        let row: Option<SecretRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(client_id).fetch_optional(pool).await?);
        let Some(row) = row else { return Ok(None) };
        let presented = token_hash(client_secret);
        let current = constant_time_eq(&presented, &row.client_secret_hash);
        let previous = match (&row.previous_secret_hash, row.previous_secret_expires_at) {
            (Some(hash), Some(until)) => now < until && constant_time_eq(&presented, hash),
            _ => false,
        };
        if current || previous { self.get_application_by_client_id(client_id).await } else { Ok(None) }
    }

    /// The application whose client secret this is, used alone as a bearer key (the current
    /// secret, or the previous one during its grace period).
    #[tracing::instrument(skip_all)]
    pub async fn authenticate_secret(
        &self,
        client_secret: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Application>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM applications WHERE client_secret_hash = $1 \
             OR (previous_secret_hash = $1 AND previous_secret_expires_at > $2)"
        );
        let hash = token_hash(client_secret);
        let row: Option<ApplicationRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(&hash).bind(now).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// The sealed client secrets push notifications are signed with: the current one, then the
    /// previous one while its grace period lasts. Applications created before secrets were
    /// sealed have none until their secret is rotated.
    #[tracing::instrument(skip_all)]
    pub async fn signing_secrets(&self, id: &ApplicationId, now: DateTime<Utc>) -> StoreResult<Vec<Vec<u8>>> {
        // language=SQL
        const SQL: &str = "SELECT client_secret_sealed, previous_secret_sealed, previous_secret_expires_at \
                           FROM applications WHERE id = $1";
        let row: Option<SigningRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?);
        let Some(SigningRow {
            client_secret_sealed: current,
            previous_secret_sealed: previous,
            previous_secret_expires_at: expires,
        }) = row
        else {
            return Ok(Vec::new());
        };
        let previous = previous.filter(|_| expires.is_some_and(|at| at > now));
        Ok(current.into_iter().chain(previous).collect())
    }
}

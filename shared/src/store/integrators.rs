//! Integrators and their billing information (kept permanently, never purged).

use chrono::{DateTime, Utc};

use super::{Store, StoreResult, with_pool};
use crate::domain::{BillingInfo, Integrator, IntegratorId};

#[derive(sqlx::FromRow)]
struct IntegratorRow {
    id: IntegratorId,
    name: String,
    email: String,
    company: Option<String>,
    phone: Option<String>,
    url: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<IntegratorRow> for Integrator {
    fn from(r: IntegratorRow) -> Self {
        Integrator {
            id: r.id,
            name: r.name,
            email: r.email,
            company: r.company,
            phone: r.phone,
            url: r.url,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct BillingRow {
    integrator_id: IntegratorId,
    contact_name: String,
    contact_email: String,
    postal_address: String,
    company_name: String,
    tax_id: Option<String>,
    updated_at: DateTime<Utc>,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_integrator(&self, integrator: &Integrator) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO integrators (id, name, email, company, phone, url, created_at, updated_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(&integrator.id)
            .bind(&integrator.name)
            .bind(&integrator.email)
            .bind(&integrator.company)
            .bind(&integrator.phone)
            .bind(&integrator.url)
            .bind(integrator.created_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_integrator(&self, id: &IntegratorId) -> StoreResult<Option<Integrator>> {
        // language=SQL
        const SQL: &str = "SELECT id, name, email, company, phone, url, created_at FROM integrators WHERE id = $1";
        let row: Option<IntegratorRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?);
        Ok(row.map(Into::into))
    }

    /// Creates or replaces an integrator's billing record.
    #[tracing::instrument(skip_all)]
    pub async fn put_billing(&self, billing: &BillingInfo) -> StoreResult<()> {
        // language=SQL
        const SQL: &str = "INSERT INTO integrator_billing \
                           (integrator_id, contact_name, contact_email, postal_address, company_name, tax_id, updated_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7) \
                           ON CONFLICT (integrator_id) DO UPDATE SET contact_name = excluded.contact_name, \
                           contact_email = excluded.contact_email, postal_address = excluded.postal_address, \
                           company_name = excluded.company_name, tax_id = excluded.tax_id, updated_at = excluded.updated_at";
        with_pool!(self, pool => sqlx::query(SQL)
            .bind(&billing.integrator_id)
            .bind(&billing.contact_name)
            .bind(&billing.contact_email)
            .bind(&billing.postal_address)
            .bind(&billing.company_name)
            .bind(&billing.tax_id)
            .bind(billing.updated_at)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_billing(&self, id: &IntegratorId) -> StoreResult<Option<BillingInfo>> {
        // language=SQL
        const SQL: &str = "SELECT integrator_id, contact_name, contact_email, postal_address, company_name, tax_id, updated_at \
                           FROM integrator_billing WHERE integrator_id = $1";
        let row: Option<BillingRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?);
        Ok(row.map(|r| BillingInfo {
            integrator_id: r.integrator_id,
            contact_name: r.contact_name,
            contact_email: r.contact_email,
            postal_address: r.postal_address,
            company_name: r.company_name,
            tax_id: r.tax_id,
            updated_at: r.updated_at,
        }))
    }
}

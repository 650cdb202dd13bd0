//! Erasing an end-user: every row of one account, children before parents, in batches.
//!
//! `CATALOGUE` classifies every table of the schema: the ones that hold an account's data (and
//! the column naming it), and the ones that hold none, with the reason. A test compares it with
//! the tables the database actually has, so a new table cannot escape erasure unnoticed. The
//! retention run's account-structure rule walks the same catalogue, in the same order.

use super::{Store, StoreResult, dialect, with_pool};
use crate::domain::AccountId;

/// How erasure treats a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// Rows belong to an account through this column.
    AccountData(&'static str),
    /// No end-user data; the reason.
    Nothing(&'static str),
}

/// Every table, those holding account data in the order erasure empties them (children first).
pub const CATALOGUE: &[(&str, Holds)] = &[
    ("notifications", Holds::AccountData("account_id")),
    ("channels", Holds::AccountData("account_id")),
    ("events", Holds::AccountData("account_id")),
    ("sync_states", Holds::AccountData("account_id")),
    ("provider_watches", Holds::AccountData("account_id")),
    ("application_calendars", Holds::AccountData("account_id")),
    ("oauth_codes", Holds::AccountData("account_id")),
    ("credentials", Holds::AccountData("account_id")),
    ("calendars", Holds::AccountData("account_id")),
    ("profiles", Holds::AccountData("account_id")),
    ("authorizations", Holds::AccountData("account_id")),
    ("request_logs", Holds::AccountData("account_id")),
    // A service account is its own account's data; its mailboxes' profiles belong to theirs.
    ("service_accounts", Holds::AccountData("account_id")),
    ("accounts", Holds::AccountData("id")),
    ("smart_invites", Holds::Nothing("recipients who authorized nothing; purged 30 days after the event ends")),
    ("integrators", Holds::Nothing("integrators' own details, kept under their rules")),
    ("integrator_billing", Holds::Nothing("billing records, kept permanently")),
    ("applications", Holds::Nothing("application configuration, kept permanently")),
    ("authorize_requests", Holds::Nothing("pending requests hold only the application's parameters")),
    ("rate_limit_windows", Holds::Nothing("per-application counters")),
    ("server_slots", Holds::Nothing("which workers talk to a calendar server now, by host")),
    ("server_request_windows", Holds::Nothing("requests per calendar server and minute, by host")),
    ("gdpr_requests", Holds::Nothing("the GDPR report: opaque ids, counts and operator notes")),
    ("erasure_ledger", Holds::Nothing("opaque ids of erased entities, replayed after a restore")),
    ("job_runs", Holds::Nothing("scheduled run bookkeeping")),
    ("_sqlx_migrations", Holds::Nothing("schema versions")),
];

impl Store {
    /// Deletes up to `batch` rows of `table` naming `account` in `column`; returns how many.
    #[tracing::instrument(skip_all, fields(table))]
    pub async fn erase_batch(
        &self,
        table: &'static str,
        column: &'static str,
        account: &AccountId,
        batch: i64,
    ) -> StoreResult<u64> {
        // Tables are keyed differently; every one has a `rowid` (SQLite) or `ctid` (PostgreSQL).
        let sql = dialect!(self,
            pg: format!("DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} WHERE {column} = $1 LIMIT $2)"),
            sqlite: format!("DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} = $1 LIMIT $2)"),
        );
        let n =
            with_pool!(self, pool => sqlx::query(&sql).bind(account).bind(batch).execute(pool).await?.rows_affected());
        Ok(n)
    }

    /// How many rows of `table` name `account` in `column` (the completeness check).
    #[tracing::instrument(skip_all, fields(table))]
    pub async fn count_account_rows(
        &self,
        table: &'static str,
        column: &'static str,
        account: &AccountId,
    ) -> StoreResult<i64> {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
        let n = with_pool!(self, pool => sqlx::query_scalar(&sql).bind(account).fetch_one(pool).await?);
        Ok(n)
    }

    /// The schema's tables, as the database lists them.
    #[tracing::instrument(skip_all)]
    pub async fn table_names(&self) -> StoreResult<Vec<String>> {
        let sql = dialect!(self,
            pg: "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
            sqlite: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
        );
        let names = with_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await?);
        Ok(names)
    }

    /// The accounts an email names: as the account's email or as one of its profiles'.
    #[tracing::instrument(skip_all)]
    pub async fn accounts_by_email(&self, email: &str) -> StoreResult<Vec<AccountId>> {
        // language=SQL
        const SQL: &str = "SELECT id FROM accounts WHERE LOWER(email) = LOWER($1) \
                           UNION SELECT account_id FROM profiles WHERE LOWER(email) = LOWER($1) ORDER BY 1";
        let ids = with_pool!(self, pool => sqlx::query_scalar(SQL).bind(email).fetch_all(pool).await?);
        Ok(ids)
    }
}

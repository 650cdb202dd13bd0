//! One store over two backends: PostgreSQL in production, SQLite embedded for local runs.
//!
//! The set of backends is closed, so the store is an enum and each operation is written once
//! with `with_pool!`, which expands the same body for each pool type. Each aggregate keeps all
//! of its SQL in its own file; where the dialects differ, both texts sit side by side. SQL uses
//! `$N` placeholders, which both backends accept.

use std::{str::FromStr, time::Duration};

use secrecy::ExposeSecret;
use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::DatabaseConfig;

mod accounts;
mod applications;
mod authorizations;
mod calendars;
mod channels;
mod credentials;
mod erasure;
mod events;
mod gdpr;
mod integrators;
mod job_runs;
mod notifications;
mod oauth;
mod profiles;
mod provider_watches;
mod rate_limits;
mod reads;
mod request_logs;
mod retention;
mod server_budgets;
mod service_accounts;
mod smart_invites;
mod sync;
mod sync_states;
mod writes;

pub use applications::{ApplicationUpdate, NewApplication};
pub use authorizations::NewAuthorization;
pub use erasure::{CATALOGUE, Holds};
pub use events::{EventUpsert, UpsertOutcome};
pub use gdpr::{ErasureEntry, GdprRequest};
pub use job_runs::JobClaim;
pub use notifications::{AttemptRecord, Notification};
pub use provider_watches::ProviderWatch;
pub use request_logs::RequestLog;
pub use smart_invites::SmartInvite;
pub use sync::{Committed, PartnerCopy, RecordedPush, SyncCommit};

/// A store operation that failed. Callers map it to a generic error; the text is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database, PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of either backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Postgres($pool) => $body,
            $crate::store::Store::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Picks the SQL text for the store's dialect.
macro_rules! dialect {
    ($store:expr, pg: $pg:expr, sqlite: $sqlite:expr $(,)?) => {
        match $store {
            $crate::store::Store::Postgres(_) => $pg,
            $crate::store::Store::Sqlite(_) => $sqlite,
        }
    };
}
pub(crate) use dialect;

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

impl Store {
    /// Connects as configured. For RDS IAM auth, `aws` supplies the credentials that sign tokens.
    pub async fn connect(config: &DatabaseConfig, aws: Option<&aws_config::SdkConfig>) -> StoreResult<Self> {
        match config {
            DatabaseConfig::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // The database holds end-user data: keep its directory private to the owner.
                    let mut builder = std::fs::DirBuilder::new();
                    builder.recursive(true);
                    #[cfg(unix)]
                    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                    builder.create(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
                }
                let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
                Self::connect_sqlite(options).await
            }
            DatabaseConfig::Postgres { url } => {
                let options = PgConnectOptions::from_str(url.expose_secret())?;
                Self::connect_postgres(options, 5).await
            }
            DatabaseConfig::RdsIam { host, port, user, database } => {
                let aws = aws.ok_or(StoreError::Conflict("RDS IAM auth needs the AWS configuration"))?;
                let token = crate::adapters::rds_auth::generate_token(aws, host, *port, user)
                    .await
                    .map_err(|e| StoreError::Database(sqlx::Error::Configuration(e.into())))?;
                // The proxy's certificate is verified against the built-in web roots (Amazon's
                // roots among them) and its name. Without a statement cache, statements are
                // prepared unnamed, so RDS Proxy need not pin a database connection to each
                // client connection for them.
                let options = PgConnectOptions::new()
                    .host(host)
                    .port(*port)
                    .username(user)
                    .database(database)
                    .password(token.expose_secret())
                    .ssl_mode(PgSslMode::VerifyFull)
                    .statement_cache_capacity(0);
                // A Lambda environment handles one request at a time: one or two connections.
                let store = Self::connect_postgres(options.clone(), 2).await?;
                store.refresh_iam_tokens(aws.clone(), options, host.clone(), *port, user.clone());
                Ok(store)
            }
        }
    }

    async fn connect_sqlite(options: SqliteConnectOptions) -> StoreResult<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        Ok(Store::Sqlite(pool))
    }

    async fn connect_postgres(options: PgConnectOptions, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Store::Postgres(pool))
    }

    /// IAM tokens live 15 minutes and are checked only when a connection opens, so a warm
    /// pool swaps in a fresh token for its future connections every 5 minutes: a connection
    /// never opens with a token older than that (a missed tick after a frozen Lambda
    /// environment thaws fires at once).
    fn refresh_iam_tokens(
        &self,
        aws: aws_config::SdkConfig,
        options: PgConnectOptions,
        host: String,
        port: u16,
        user: String,
    ) {
        let Store::Postgres(pool) = self else { return };
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            tick.tick().await;
            loop {
                tick.tick().await;
                match crate::adapters::rds_auth::generate_token(&aws, &host, port, &user).await {
                    Ok(token) => pool.set_connect_options(options.clone().password(token.expose_secret())),
                    Err(e) => {
                        tracing::error!(error.message = %e, error.cause_chain = ?e, "refreshing the RDS IAM token")
                    }
                }
            }
        });
    }

    /// Opens a store for the given URL (`postgres://…` or `sqlite://…`); used by tools and tests.
    pub async fn connect_url(url: &str) -> Result<Self, anyhow::Error> {
        let config = crate::config::parse_database_url(url)?;
        Ok(Self::connect(&config, None).await?)
    }

    /// Brings the schema up to date (idempotent; concurrent callers are serialised by sqlx).
    pub async fn migrate(&self) -> StoreResult<()> {
        match self {
            Store::Postgres(pool) => PG_MIGRATIONS.run(pool).await?,
            Store::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// The newest migration version this build knows.
    pub fn schema_version(&self) -> i64 {
        Self::latest_schema_version(matches!(self, Store::Sqlite(_)))
    }

    /// The newest migration version this build knows for a backend, before connecting to it.
    pub fn latest_schema_version(sqlite: bool) -> i64 {
        let migrator = if sqlite { &SQLITE_MIGRATIONS } else { &PG_MIGRATIONS };
        migrator.iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// The statement that opens a transaction which reads and then writes. SQLite takes the write
    /// lock up front (`BEGIN IMMEDIATE`, which waits out the busy timeout), because a deferred
    /// transaction that read first cannot upgrade while another connection writes and would fail
    /// at once with `SQLITE_BUSY`; PostgreSQL locks the rows it reads `FOR UPDATE` instead.
    pub(crate) fn begin_write(&self) -> &'static str {
        dialect!(self, pg: "BEGIN", sqlite: "BEGIN IMMEDIATE")
    }

    /// One round trip, for health checks.
    pub async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await?.rows_affected());
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        dialect!(self, pg: "postgres", sqlite: "sqlite")
    }

    /// Closes every connection (graceful shutdown; tests dropping databases).
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await);
    }
}

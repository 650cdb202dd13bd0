//! Fresh databases for tests: a temporary SQLite file, or a PostgreSQL database named after a
//! UUID on the server `CALSYNC_TEST_POSTGRES_URL` points at (dropped when the test ends).

use std::str::FromStr;

use calsync_core::Store;
use sqlx::{
    ConnectOptions, Connection,
    postgres::{PgConnectOptions, PgConnection},
};

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated store on its own database; the database goes away with the value.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<(String, String)>,
}

/// The PostgreSQL server tests use; a clear failure (never a silent skip) when unset.
pub fn postgres_admin_url() -> String {
    match std::env::var("CALSYNC_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "CALSYNC_TEST_POSTGRES_URL is not set. Run the suite with infra/test.sh, or set it to a PostgreSQL \
             server URL whose user may create databases, e.g. postgres://postgres@127.0.0.1:5432/postgres"
        ),
    }
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let db = Self::empty(backend).await;
        db.store.migrate().await.expect("migrate the test database");
        db
    }

    /// A database with no schema at all (a restore target).
    pub async fn empty(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("calsync.db").display());
                let store = Store::connect_url(&url).await.expect("open SQLite");
                Self { store, url, _dir: Some(dir), pg_name: None }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("calsync_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!("cannot reach PostgreSQL at CALSYNC_TEST_POSTGRES_URL ({e}); start it with infra/test.sh")
                });
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
                conn.close().await.ok();
                let options = PgConnectOptions::from_str(&admin).expect("valid URL").database(&name);
                let url = options.to_url_lossy().to_string();
                let store = Store::connect_url(&url).await.expect("connect to the test database");
                Self { store, url, _dir: None, pg_name: Some((admin, name)) }
            }
        }
    }

    /// Closes the pool and drops the PostgreSQL database (the SQLite file goes with its dir).
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((admin, name)) = &self.pg_name {
            if let Ok(mut conn) = PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
            }
        }
    }
}

//! The store suite: every case runs on SQLite and on PostgreSQL, each on a fresh database.

mod accounts;
mod applications;
mod events;
mod operations;
mod upgrades;

/// Generates `sqlite::NAME` and `postgres::NAME` tests calling `NAME(&Store)` from the module.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = calsync_tests::db::TestDb::new(calsync_tests::db::Backend::Sqlite).await;
                    super::$name(&db.store).await;
                    db.cleanup().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = calsync_tests::db::TestDb::new(calsync_tests::db::Backend::Postgres).await;
                    super::$name(&db.store).await;
                    db.cleanup().await;
                }
            )+
        }
    };
}
pub(crate) use on_both_backends;

//! The integrator API end to end, in-process, on SQLite and PostgreSQL.
mod admin;
mod identity;
mod isolation;
mod microsoft;
mod oauth;
mod reads;
mod smart_invite_callbacks;
mod smart_invites;
mod transport;
mod writes;

/// Generates `sqlite::NAME` and `postgres::NAME` tests calling `NAME(&TestApi)` from the module.
macro_rules! api_on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let api = calsync_tests::api::TestApi::new(calsync_tests::db::Backend::Sqlite).await;
                    super::$name(&api).await;
                    api.cleanup().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let api = calsync_tests::api::TestApi::new(calsync_tests::db::Backend::Postgres).await;
                    super::$name(&api).await;
                    api.cleanup().await;
                }
            )+
        }
    };
}
#[allow(unused_imports)]
pub(crate) use api_on_both_backends;

/// As [`api_on_both_backends`], with the API also served on a loopback port at the test's fixed
/// time: for tests whose fake providers call calsync back (Graph validates a subscription's URL
/// by calling it).
macro_rules! served_on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let now = calsync_tests::api::test_now();
                    let api = calsync_tests::api::TestApi::served(calsync_tests::db::Backend::Sqlite, now).await;
                    super::$name(&api).await;
                    api.cleanup().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let now = calsync_tests::api::test_now();
                    let api = calsync_tests::api::TestApi::served(calsync_tests::db::Backend::Postgres, now).await;
                    super::$name(&api).await;
                    api.cleanup().await;
                }
            )+
        }
    };
}
pub(crate) use served_on_both_backends;

//! Right to be forgotten, end to end: an end-user with data in every table that can hold any is
//! forgotten, and a query over every table the catalogue names finds nothing of them, while the
//! catalogue itself must classify every table the database has. The report keeps opaque ids and
//! counts only; a second request finds the existing record; queued jobs for the account do
//! nothing; another user is untouched.

use std::collections::BTreeSet;

use calsync_core::domain::AccountId;
use calsync_core::gdpr::{self, ForgetError, Subject};
use calsync_core::jobs::{JobOutcome, SyncJob, handle_sync_message};
use calsync_core::store::{CATALOGUE, Holds};
use calsync_tests::api::TestApi;
use serde_json::json;

use crate::api::api_on_both_backends;

api_on_both_backends!(
    the_catalogue_classifies_every_table_of_the_schema,
    a_forgotten_user_leaves_no_row_in_any_table_and_the_report_names_no_one,
);

async fn the_catalogue_classifies_every_table_of_the_schema(api: &TestApi) {
    let actual: BTreeSet<String> = api.state.store.table_names().await.unwrap().into_iter().collect();
    let catalogued: BTreeSet<String> = CATALOGUE.iter().map(|(table, _)| (*table).to_owned()).collect();
    assert_eq!(actual, catalogued, "every table must be in store::CATALOGUE, with what it holds");
}

/// Rows of every account-holding table that name `account`.
async fn rows_of(api: &TestApi, account: &AccountId) -> Vec<(&'static str, i64)> {
    let mut rows = Vec::new();
    for (table, holds) in CATALOGUE {
        if let Holds::AccountData(column) = holds {
            rows.push((*table, api.state.store.count_account_rows(table, column, account).await.unwrap()));
        }
    }
    rows
}

async fn a_forgotten_user_leaves_no_row_in_any_table_and_the_report_names_no_one(api: &TestApi) {
    let seeded = api.end_user_everywhere().await;
    let (app, account, calendar) = (&seeded.application, seeded.account.clone(), seeded.calendar.clone());
    let store = &api.state.store;
    let before = rows_of(api, &account).await;
    assert!(before.iter().all(|(_, n)| *n > 0), "the user has data in every table: {before:?}");
    let bystander = api.authorized(app, "read_events").await;
    let bystander_before = rows_of(api, &bystander.account.id).await;

    // Forgotten.
    let reports = gdpr::forget(&api.state, &Subject::Account(account.clone()), "dpo@integrator.example").await.unwrap();
    assert_eq!(reports.len(), 1);
    let after = rows_of(api, &account).await;
    assert!(after.iter().all(|(_, n)| *n == 0), "{after:?}");
    assert_eq!(rows_of(api, &bystander.account.id).await, bystander_before);

    // The report: opaque ids, counts, the checklist; nothing naming the person.
    let report = &reports[0];
    let total: i64 = before.iter().map(|(_, n)| n).sum();
    assert_eq!(report.rows_removed, Some(total));
    assert_eq!(report.backups_expire_by, Some(api.now() + chrono::Duration::days(7)));
    let text = serde_json::to_string(&report.external_progress.0).unwrap();
    for personal in ["Private", "ada@icloud.example", "ada-cal"] {
        assert!(!text.contains(personal), "{text}");
    }
    assert_eq!(report.external_progress.0["removed_rows"]["events"], json!(2));
    let ledger = store.list_erasures_after(0, 100).await.unwrap();
    let erased: Vec<(&str, &str)> = ledger.iter().map(|e| (e.entity_kind.as_str(), e.entity_id.as_str())).collect();
    assert!(erased.contains(&("account", account.as_str())));
    assert!(erased.contains(&("calendar", calendar.id.as_str())));

    // Again: the same record, nothing new. Jobs still queued for the account do nothing.
    let again = gdpr::forget(&api.state, &Subject::Account(account.clone()), "dpo@integrator.example").await.unwrap();
    assert_eq!(again, reports);
    assert_eq!(store.list_gdpr_requests().await.unwrap().len(), 1);
    let sync = serde_json::to_string(&SyncJob::SyncCalendar { calendar_id: calendar.id.clone() }).unwrap();
    assert_eq!(handle_sync_message(&api.state, &sync).await.unwrap(), JobOutcome::Skipped("calendar no longer exists"));
    assert!(rows_of(api, &account).await.iter().all(|(_, n)| *n == 0));

    // An email that names no one is an error, and so is a request without an operator.
    let nobody = gdpr::forget(&api.state, &Subject::Email("nobody@example.com".into()), "dpo").await;
    assert!(matches!(nobody, Err(ForgetError::NotFound)));
    let anonymous = gdpr::forget(&api.state, &Subject::Account(bystander.account.id.clone()), " ").await;
    assert!(matches!(anonymous, Err(ForgetError::NoOperator)));

    // By email: the bystander's account email names them.
    let by_email = gdpr::forget(&api.state, &Subject::Email("ADA@example.com".into()), "dpo").await.unwrap();
    assert_eq!(by_email.iter().map(|r| r.account_id.clone()).collect::<Vec<_>>(), vec![bystander.account.id.clone()]);
}

//! Right to be forgotten (policy.md, "Removal on request"): an operator names an end-user by
//! account id or email; every record of each matching account is deleted from every table that
//! can hold it (`store::CATALOGUE`, children first, in batches), the erased ids go to the erasure
//! ledger (opaque ids only, replayed after a restore so an old backup cannot bring the user
//! back; its copy in the backup bucket is written before anything is erased, so it survives the
//! loss of this database), and the request is recorded in the GDPR report with what was removed per table, when
//! backups taken before it expire, and a checklist of external systems for operators to update
//! by hand. Filing the same request again finds the account gone and returns the existing record.
//!
//! Deletion is final: rows are deleted, not flagged, and jobs still queued for the account find
//! nothing and do nothing.

use serde_json::{Map, Value, json};
use sqlx::types::Json;

use crate::adapters::BlobError;
use crate::backup::{BACKUP_RETENTION, ledger};
use crate::domain::{AccountId, GdprRequestId};
use crate::state::AppState;
use crate::store::{CATALOGUE, GdprRequest, Holds};

/// Rows deleted per statement.
const BATCH: i64 = 1000;

/// Whom a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Account(AccountId),
    Email(String),
}

/// Why a request could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    #[error("no end-user matches: no account has that id or email, and no earlier request erased it")]
    NotFound,
    #[error("the operator's name is required")]
    NoOperator,
    /// The ledger's copy outside the database could not be written, so nothing was erased.
    #[error("the erasure ledger could not be written to the backup store; nothing was erased")]
    Ledger(#[from] BlobError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Forgets everyone `subject` names; returns the report entry of each account.
#[tracing::instrument(skip_all)]
pub async fn forget(state: &AppState, subject: &Subject, operator: &str) -> Result<Vec<GdprRequest>, ForgetError> {
    let operator = operator.trim();
    if operator.is_empty() {
        return Err(ForgetError::NoOperator);
    }
    let accounts = match subject {
        Subject::Account(id) => {
            if state.store.get_account(id).await?.is_some() {
                vec![id.clone()]
            } else {
                // Already erased: the request is idempotent.
                let done: Vec<GdprRequest> =
                    state.store.list_gdpr_requests().await?.into_iter().filter(|r| &r.account_id == id).collect();
                return if done.is_empty() { Err(ForgetError::NotFound) } else { Ok(done) };
            }
        }
        Subject::Email(email) => state.store.accounts_by_email(email.trim()).await?,
    };
    if accounts.is_empty() {
        return Err(ForgetError::NotFound);
    }
    let mut reports = Vec::new();
    for account in accounts {
        reports.push(erase(state, &account, operator).await?);
    }
    Ok(reports)
}

async fn erase(state: &AppState, account: &AccountId, operator: &str) -> Result<GdprRequest, ForgetError> {
    let requested_at = state.clock.now();
    let id = GdprRequestId::generate();
    // The ids to keep erased through a restore, collected before they go.
    let mut ledger: Vec<(String, String)> = vec![("account".into(), account.as_str().to_owned())];
    for profile in state.store.list_profiles(account).await? {
        ledger.push(("profile".into(), profile.id.as_str().to_owned()));
    }
    for calendar in state.store.list_calendars(account).await? {
        ledger.push(("calendar".into(), calendar.id.as_str().to_owned()));
    }
    // Outside the database first: should the database be lost mid-erasure, a restore still
    // knows to erase this account.
    let record = ledger::LedgerRecord {
        request_id: id.as_str().to_owned(),
        account_id: account.as_str().to_owned(),
        requested_by: operator.to_owned(),
        requested_at,
        entities: ledger.clone(),
    };
    ledger::record(state.blobs.as_ref(), &record).await?;

    let mut removed = Map::new();
    let mut total = 0i64;
    for (table, holds) in CATALOGUE {
        let Holds::AccountData(column) = holds else { continue };
        let mut count = 0u64;
        loop {
            let n = state.store.erase_batch(table, column, account, BATCH).await?;
            count += n;
            if n == 0 {
                break;
            }
        }
        total += i64::try_from(count).unwrap_or(i64::MAX);
        removed.insert((*table).to_owned(), json!(count));
    }

    let now = state.clock.now();
    let entries: Vec<(&str, &str)> = ledger.iter().map(|(k, id)| (k.as_str(), id.as_str())).collect();
    let request = GdprRequest {
        id,
        account_id: account.clone(),
        requested_by: operator.to_owned(),
        requested_at,
        completed_at: Some(now),
        rows_removed: Some(total),
        backups_expire_by: Some(now + BACKUP_RETENTION),
        external_progress: Json(checklist(removed)),
        notes: None,
    };
    state.store.append_erasures(&entries, Some(request.id.as_str()), now).await?;
    state.store.create_gdpr_request(&request).await?;
    tracing::info!(gdpr_request_id = %request.id, rows_removed = total, "end-user forgotten");
    Ok(request)
}

/// What operators still do by hand, and what was removed per table.
fn checklist(removed: Map<String, Value>) -> Map<String, Value> {
    let mut progress = Map::new();
    progress.insert("removed_rows".into(), Value::Object(removed));
    progress.insert(
        "provider_tokens".into(),
        json!({"status": "not_applicable", "note": "CalDAV and iCloud passwords are deleted with the credentials; no token to revoke"}),
    );
    progress.insert("backups".into(), json!({"status": "expiring", "note": "backups taken before the request expire within 7 days; a restore replays the erasure ledger"}));
    progress.insert("integrator_notified".into(), json!({"status": "pending", "note": ""}));
    progress
}

/// A request as the report shows it (CLI and admin API).
pub fn report_json(request: &GdprRequest) -> Value {
    json!({
        "id": request.id,
        "account_id": request.account_id,
        "requested_by": request.requested_by,
        "requested_at": request.requested_at,
        "completed_at": request.completed_at,
        "rows_removed": request.rows_removed,
        "backups_expire_by": request.backups_expire_by,
        "external_progress": request.external_progress.0,
        "notes": request.notes,
    })
}

/// Statuses an external system's entry in the checklist may have.
pub const PROGRESS_STATUSES: [&str; 4] = ["pending", "in_progress", "done", "not_applicable"];

/// Why a checklist update was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("no GDPR request has this id")]
    NotFound,
    #[error("the system name must be 1 to 64 letters, digits, dashes or underscores")]
    BadSystem,
    #[error("the status must be one of pending, in_progress, done, not_applicable")]
    BadStatus,
    #[error("the note must be at most 1,000 characters")]
    NoteTooLong,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Records an operator's progress on one external system of a request.
pub async fn record_progress(
    state: &AppState,
    id: &GdprRequestId,
    system: &str,
    status: &str,
    note: &str,
) -> Result<GdprRequest, ProgressError> {
    let valid_system = !system.is_empty()
        && system.len() <= 64
        && system != "removed_rows"
        && system.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_system {
        return Err(ProgressError::BadSystem);
    }
    if !PROGRESS_STATUSES.contains(&status) {
        return Err(ProgressError::BadStatus);
    }
    if note.chars().count() > 1000 {
        return Err(ProgressError::NoteTooLong);
    }
    state.store.update_gdpr_progress(id, system, status, note).await?.ok_or(ProgressError::NotFound)
}

//! Restoring a backup into an empty database, on either backend.
//!
//! Nothing touches the target until every object has been read back and matched its manifest's
//! size and SHA-256, so a damaged or unfinished backup leaves the target as it was. The rows
//! then go in, parents first, in one transaction that also replays the erasure ledger (the copy
//! in the bucket, which outlives the database, and the restored table itself): every account a
//! right-to-be-forgotten request erased is erased again, and a request the backup predates gets
//! its ledger entries and report row back. Only then does the transaction commit, so there is
//! no moment at which the restored database holds a forgotten user.

use std::{
    collections::{BTreeSet, HashSet},
    io::Write as _,
    time::Instant,
};

use chrono::{DateTime, Duration, Utc};
use flate2::write::GzDecoder;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction, types::Json};

use super::{
    ledger::{self, LedgerError, LedgerRecord},
    manifest::{self, Manifest, ManifestError, TableEntry},
    progress::{Phase, Progress},
    rows::{self, Cell},
    tables::Kind,
};
use crate::{
    adapters::{BlobError, BlobStore},
    config::{DatabaseConfig, parse_database_url},
    store::{CATALOGUE, Holds, Store},
};

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestoreReport {
    pub id: String,
    pub taken_at: DateTime<Utc>,
    /// The backend the backup was taken on and the one it went into.
    pub from: String,
    pub into: String,
    pub tables: usize,
    pub rows: u64,
    pub bytes: u64,
    /// Accounts the erasure ledger names, erased again.
    pub erased_accounts: usize,
    /// Rows those erasures removed from the restored data.
    pub rows_erased: u64,
    /// Right-to-be-forgotten requests newer than the backup, whose report rows were re-created.
    pub requests_recreated: usize,
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(
        "backup {id} was taken at schema version {backup}, this calsync is at {this}: restore it with the \
         calsync release that took it, then upgrade"
    )]
    SchemaVersion { id: String, backup: i64, this: i64 },
    #[error("backup object `{0}` is missing; nothing was restored")]
    MissingObject(String),
    #[error("backup object `{object}` is damaged ({reason}); nothing was restored")]
    Damaged { object: String, reason: String },
    #[error("the target database is not empty ({table} holds {rows} rows); restore into an empty database")]
    NotEmpty { table: String, rows: i64 },
    #[error("the target database URL is not usable: {0}")]
    BadTarget(String),
    #[error("reading the erasure ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("the target database failed; the restore was rolled back")]
    Database(#[source] anyhow::Error),
}

impl From<sqlx::Error> for RestoreError {
    fn from(e: sqlx::Error) -> Self {
        RestoreError::Database(e.into())
    }
}

/// Restores backup `id` from `blobs` into the empty database at `target_url`.
#[tracing::instrument(name = "backup restore", skip_all, fields(id))]
pub async fn restore(
    blobs: &dyn BlobStore,
    id: &str,
    target_url: &str,
    progress: &dyn Progress,
    now: DateTime<Utc>,
) -> Result<RestoreReport, RestoreError> {
    let manifest = manifest::read(blobs, id).await?;
    // The URL may carry a password: the error says what is wrong, never the URL.
    let target = parse_database_url(target_url).map_err(|e| RestoreError::BadTarget(e.to_string()))?;
    let this = Store::latest_schema_version(matches!(target, DatabaseConfig::Sqlite { .. }));
    if manifest.schema_version != this {
        return Err(RestoreError::SchemaVersion { id: id.to_owned(), backup: manifest.schema_version, this });
    }
    verify(blobs, &manifest, progress).await?;
    let records = ledger::read_all(blobs).await?;

    let store = Store::connect(&target, None).await.map_err(|e| RestoreError::Database(e.into()))?;
    let report = load(&store, blobs, &manifest, &records, progress, now).await;
    store.close().await;
    report
}

/// Reads every object back and checks its size and SHA-256 against the manifest.
async fn verify(blobs: &dyn BlobStore, manifest: &Manifest, progress: &dyn Progress) -> Result<(), RestoreError> {
    progress.started(Phase::Verify, manifest.tables.len(), manifest.rows(), manifest.bytes());
    for table in &manifest.tables {
        let started = Instant::now();
        progress.table_started(&table.name, table.rows, table.bytes);
        let mut reader =
            blobs.open(&table.object).await?.ok_or_else(|| RestoreError::MissingObject(table.object.clone()))?;
        let mut sha256 = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = reader.next_chunk().await? {
            sha256.update(&chunk);
            size += chunk.len() as u64;
            progress.advanced(0, chunk.len() as u64);
        }
        check_object(table, size, &hex::encode(sha256.finalize()))?;
        progress.table_finished(&table.name, table.rows, size, started.elapsed());
    }
    progress.finished(Phase::Verify);
    Ok(())
}

fn check_object(table: &TableEntry, size: u64, sha256: &str) -> Result<(), RestoreError> {
    let damaged = |reason: String| RestoreError::Damaged { object: table.object.clone(), reason };
    if size != table.bytes {
        return Err(damaged(format!("{size} bytes, the manifest says {}", table.bytes)));
    }
    if sha256 != table.sha256 {
        return Err(damaged("its SHA-256 differs from the manifest's".into()));
    }
    Ok(())
}

async fn load(
    store: &Store,
    blobs: &dyn BlobStore,
    manifest: &Manifest,
    records: &[LedgerRecord],
    progress: &dyn Progress,
    now: DateTime<Utc>,
) -> Result<RestoreReport, RestoreError> {
    store.migrate().await.map_err(|e| RestoreError::Database(e.into()))?;
    let mut tx = match store {
        Store::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        Store::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
    };
    for table in &manifest.tables {
        let rows = tx.count(&table.name).await?;
        if rows > 0 {
            return Err(RestoreError::NotEmpty { table: table.name.clone(), rows });
        }
    }

    progress.started(Phase::Restore, manifest.tables.len(), manifest.rows(), manifest.bytes());
    for table in &manifest.tables {
        let started = Instant::now();
        progress.table_started(&table.name, table.rows, table.bytes);
        load_table(&mut tx, blobs, table, progress).await?;
        progress.table_finished(&table.name, table.rows, table.bytes, started.elapsed());
    }
    tx.reset_sequences().await?;
    let (erased_accounts, rows_erased, requests_recreated) = replay_erasures(&mut tx, manifest, records, now).await?;
    tx.commit().await?;
    progress.finished(Phase::Restore);

    Ok(RestoreReport {
        id: manifest.id.clone(),
        taken_at: manifest.taken_at,
        from: manifest.backend.clone(),
        into: store.backend_name().to_owned(),
        tables: manifest.tables.len(),
        rows: manifest.rows(),
        bytes: manifest.bytes(),
        erased_accounts,
        rows_erased,
        requests_recreated,
    })
}

/// Streams one object into its table, checking it again as it goes (it could have changed since
/// it was verified; the transaction then rolls back).
async fn load_table(
    tx: &mut Tx,
    blobs: &dyn BlobStore,
    table: &TableEntry,
    progress: &dyn Progress,
) -> Result<(), RestoreError> {
    let columns: Vec<(String, Kind)> = table.columns.iter().map(|c| (c.name.clone(), c.kind)).collect();
    let batch_rows = rows::rows_per_insert(columns.len());
    let damaged = |reason: String| RestoreError::Damaged { object: table.object.clone(), reason };

    let mut reader =
        blobs.open(&table.object).await?.ok_or_else(|| RestoreError::MissingObject(table.object.clone()))?;
    let mut gunzip = GzDecoder::new(Vec::new());
    let mut sha256 = Sha256::new();
    let mut size = 0u64;
    let mut line_number = 0u64;
    let mut batch: Vec<Vec<Cell>> = Vec::with_capacity(batch_rows);
    let mut ended = false;
    while !ended {
        let mut compressed = 0;
        match reader.next_chunk().await? {
            Some(chunk) => {
                sha256.update(&chunk);
                size += chunk.len() as u64;
                compressed = chunk.len() as u64;
                gunzip.write_all(&chunk).map_err(|e| damaged(format!("not valid gzip: {e}")))?;
            }
            None => {
                gunzip.try_finish().map_err(|e| damaged(format!("not valid gzip: {e}")))?;
                ended = true;
            }
        }
        // Complete lines only; a line cut by the chunk's end waits for the next chunk.
        let out = gunzip.get_mut();
        let complete: Vec<u8> = match out.iter().rposition(|&b| b == b'\n') {
            Some(end) => out.drain(..=end).collect(),
            None => Vec::new(),
        };
        let mut rows_here = 0;
        for line in complete.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            line_number += 1;
            let cells = rows::decode_line(line, &columns).map_err(|e| damaged(format!("line {line_number}: {e}")))?;
            batch.push(cells);
            rows_here += 1;
            if batch.len() == batch_rows {
                tx.insert(&table.name, &columns, &mut batch).await?;
            }
        }
        progress.advanced(rows_here, compressed);
    }
    if !gunzip.get_ref().is_empty() {
        return Err(damaged("it ends in the middle of a row".into()));
    }
    if !batch.is_empty() {
        tx.insert(&table.name, &columns, &mut batch).await?;
    }
    check_object(table, size, &hex::encode(sha256.finalize()))?;
    if line_number != table.rows {
        return Err(damaged(format!("{line_number} rows, the manifest says {}", table.rows)));
    }
    Ok(())
}

/// Erases again every account the ledger names, and restores the ledger entries and report rows
/// of requests made after the backup. Returns (accounts, rows erased, report rows re-created).
async fn replay_erasures(
    tx: &mut Tx,
    manifest: &Manifest,
    records: &[LedgerRecord],
    now: DateTime<Utc>,
) -> Result<(usize, u64, usize), RestoreError> {
    let restored = tx.strings("SELECT entity_id FROM erasure_ledger WHERE entity_kind = 'account'").await?;
    let accounts: BTreeSet<String> = records.iter().map(|r| r.account_id.clone()).chain(restored).collect();
    let in_backup: HashSet<&str> = manifest.tables.iter().map(|t| t.name.as_str()).collect();

    let mut total = 0u64;
    let mut per_account = std::collections::HashMap::new();
    for account in &accounts {
        let mut removed = 0u64;
        for (table, holds) in CATALOGUE {
            let Holds::AccountData(column) = holds else { continue };
            if in_backup.contains(table) {
                removed += tx.delete_where(table, column, account).await?;
            }
        }
        per_account.insert(account.as_str(), removed);
        total += removed;
    }

    let ledgered: HashSet<String> = tx
        .strings("SELECT DISTINCT request_id FROM erasure_ledger WHERE request_id IS NOT NULL")
        .await?
        .into_iter()
        .collect();
    let reported: HashSet<String> = tx.strings("SELECT id FROM gdpr_requests").await?.into_iter().collect();
    let mut recreated = 0;
    for record in records {
        if !ledgered.contains(&record.request_id) {
            for (kind, id) in &record.entities {
                tx.insert_ledger_entry(kind, id, &record.request_id, record.requested_at).await?;
            }
        }
        if !reported.contains(&record.request_id) {
            let removed = per_account.get(record.account_id.as_str()).copied().unwrap_or(0);
            tx.insert_report(record, &manifest.id, removed, now).await?;
            recreated += 1;
        }
    }
    Ok((accounts.len(), total, recreated))
}

/// The restore's one transaction, on either backend.
enum Tx {
    Postgres(Transaction<'static, Postgres>),
    Sqlite(Transaction<'static, Sqlite>),
}

/// Runs `$body` with `$tx` bound to the transaction of either backend.
macro_rules! with_tx {
    ($self:expr, $tx:ident => $body:expr) => {
        match $self {
            Tx::Postgres($tx) => $body,
            Tx::Sqlite($tx) => $body,
        }
    };
}

/// Binds one cell into a VALUES tuple; on PostgreSQL JSON text is cast to jsonb.
macro_rules! bind_cell {
    ($tuple:expr, $cell:expr, $postgres:expr) => {
        match $cell {
            Cell::Text(v) => {
                $tuple.push_bind(v);
            }
            Cell::Integer(v) => {
                $tuple.push_bind(v);
            }
            Cell::Boolean(v) => {
                $tuple.push_bind(v);
            }
            Cell::Timestamp(v) => {
                $tuple.push_bind(v);
            }
            Cell::Date(v) => {
                $tuple.push_bind(v);
            }
            Cell::Json(v) => {
                $tuple.push_bind(v);
                if $postgres {
                    $tuple.push_unseparated("::jsonb");
                }
            }
            Cell::Bytes(v) => {
                $tuple.push_bind(v);
            }
        }
    };
}

impl Tx {
    fn postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }

    async fn count(&mut self, table: &str) -> Result<i64, sqlx::Error> {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        with_tx!(self, tx => sqlx::query_scalar(&sql).fetch_one(&mut **tx).await)
    }

    async fn insert(
        &mut self,
        table: &str,
        columns: &[(String, Kind)],
        rows: &mut Vec<Vec<Cell>>,
    ) -> Result<(), sqlx::Error> {
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_str()).collect();
        let head = format!("INSERT INTO {table} ({}) ", names.join(", "));
        let postgres = self.postgres();
        with_tx!(self, tx => {
            let mut query = QueryBuilder::new(head);
            query.push_values(rows.drain(..), |mut tuple, row| {
                for cell in row {
                    bind_cell!(tuple, cell, postgres);
                }
            });
            query.build().execute(&mut **tx).await?;
        });
        Ok(())
    }

    /// Serial columns continue after the restored ids (SQLite's AUTOINCREMENT does so by itself).
    async fn reset_sequences(&mut self) -> Result<(), sqlx::Error> {
        let Tx::Postgres(tx) = self else { return Ok(()) };
        for (table, column) in [("request_logs", "id"), ("erasure_ledger", "seq")] {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
            );
            sqlx::query(&sql).execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn strings(&mut self, sql: &str) -> Result<Vec<String>, sqlx::Error> {
        with_tx!(self, tx => sqlx::query_scalar(sql).fetch_all(&mut **tx).await)
    }

    async fn delete_where(&mut self, table: &str, column: &str, value: &str) -> Result<u64, sqlx::Error> {
        let sql = format!("DELETE FROM {table} WHERE {column} = $1");
        with_tx!(self, tx => Ok(sqlx::query(&sql).bind(value).execute(&mut **tx).await?.rows_affected()))
    }

    async fn insert_ledger_entry(
        &mut self,
        kind: &str,
        id: &str,
        request: &str,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        // language=SQL
        const SQL: &str =
            "INSERT INTO erasure_ledger (entity_kind, entity_id, request_id, erased_at) VALUES ($1, $2, $3, $4)";
        with_tx!(self, tx => sqlx::query(SQL).bind(kind).bind(id).bind(request).bind(at).execute(&mut **tx).await?.rows_affected());
        Ok(())
    }

    /// The report row of a request the backup predates, re-created from its ledger record.
    async fn insert_report(
        &mut self,
        record: &LedgerRecord,
        backup: &str,
        removed: u64,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        // language=SQL
        const SQL: &str = "INSERT INTO gdpr_requests (id, account_id, requested_by, requested_at, completed_at, rows_removed, \
                           backups_expire_by, external_progress, notes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let note = format!(
            "re-created from the erasure ledger when backup {backup} was restored; the erasure was applied again then"
        );
        let progress = Json(json!({
            "removed_rows": {"restore": removed},
            "backups": {"status": "expiring", "note": "backups taken before the request expire within 7 days of it"},
            "integrator_notified": {"status": "pending", "note": "check the original request's record"},
        }));
        let removed = i64::try_from(removed).unwrap_or(i64::MAX);
        let expire_by = record.requested_at + Duration::days(7);
        with_tx!(self, tx => sqlx::query(SQL)
            .bind(&record.request_id)
            .bind(&record.account_id)
            .bind(&record.requested_by)
            .bind(record.requested_at)
            .bind(now)
            .bind(removed)
            .bind(expire_by)
            .bind(&progress)
            .bind(&note)
            .execute(&mut **tx)
            .await?
            .rows_affected());
        Ok(())
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        with_tx!(self, tx => tx.commit().await)
    }
}

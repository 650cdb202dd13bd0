//! Taking a backup: every table read from one snapshot (a repeatable-read, read-only transaction
//! on PostgreSQL; one read transaction on SQLite, whose WAL keeps writers going), streamed row by
//! row through gzip into the blob store, then the manifest. Memory holds one row and one
//! compressed piece at a time, whatever the size of the database.

use std::{io::Write as _, time::Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use flate2::{Compression, write::GzEncoder};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};

use super::{
    manifest::{ColumnEntry, FORMAT, Manifest, TableEntry, manifest_key, object_key},
    progress::{Phase, Progress},
    rows::{self, encode_row},
    tables::{Kind, TABLES},
};
use crate::{
    adapters::{BlobStore, BlobUpload},
    store::{Store, with_pool},
};

/// Compressed bytes gathered before they go to the blob store.
const FLUSH_BYTES: usize = 1 << 20;

/// Takes backup `id` of `store` into `blobs` and returns its manifest. On failure the objects
/// already written stay without a manifest, so nothing takes them for a backup; pruning removes them.
pub async fn take(
    store: &Store,
    blobs: &dyn BlobStore,
    id: &str,
    progress: &dyn Progress,
    now: DateTime<Utc>,
) -> anyhow::Result<Manifest> {
    let mut entries = Vec::with_capacity(TABLES.len());
    with_pool!(store, pool => {
        let mut tx = pool.begin().await.context("opening the snapshot")?;
        if matches!(store, Store::Postgres(_)) {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        }
        // Counting first also pins SQLite's snapshot before the first table is read.
        let mut counts = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", table.name)).fetch_one(&mut *tx).await?;
            counts.push(u64::try_from(n).unwrap_or(0));
        }
        progress.started(Phase::Backup, TABLES.len(), counts.iter().sum(), 0);

        let mut line = Vec::with_capacity(1024);
        for (table, expected) in TABLES.iter().zip(counts) {
            let started = Instant::now();
            progress.table_started(table.name, expected, 0);
            let key = object_key(id, table.name);
            let mut object = ObjectWriter::new(blobs.upload(&key).await?);
            let sql = rows::select_sql(store, table);
            let written: anyhow::Result<()> = async {
                let mut stream = sqlx::query(&sql).fetch(&mut *tx);
                while let Some(row) = stream.try_next().await? {
                    encode_row!(row, table, line);
                    let flushed = object.push(&line).await?;
                    progress.advanced(1, flushed);
                }
                Ok(())
            }
            .await;
            if let Err(e) = written {
                object.abort().await;
                return Err(e.context(format!("backing up {}", table.name)));
            }
            let (rows, bytes, sha256, flushed) =
                object.finish().await.with_context(|| format!("writing the backup of {}", table.name))?;
            progress.advanced(0, flushed);
            progress.table_finished(table.name, rows, bytes, started.elapsed());
            entries.push(TableEntry {
                name: table.name.to_owned(),
                object: key,
                columns: table.columns.iter().map(|c| ColumnEntry { name: c.name.to_owned(), kind: c.kind }).collect(),
                rows,
                bytes,
                sha256,
            });
        }
        tx.rollback().await?;
    });

    let manifest = Manifest {
        format: FORMAT.to_owned(),
        id: id.to_owned(),
        taken_at: now,
        backend: store.backend_name().to_owned(),
        schema_version: store.schema_version(),
        tables: entries,
    };
    // Last: its presence is what makes the objects above a backup.
    blobs.put(&manifest_key(id), serde_json::to_vec_pretty(&manifest)?).await?;
    progress.finished(Phase::Backup);
    Ok(manifest)
}

/// One table's object being written: lines through gzip, hashed and sent in pieces.
struct ObjectWriter {
    upload: Box<dyn BlobUpload>,
    gzip: GzEncoder<Vec<u8>>,
    sha256: Sha256,
    rows: u64,
    bytes: u64,
}

impl ObjectWriter {
    fn new(upload: Box<dyn BlobUpload>) -> Self {
        let gzip = GzEncoder::new(Vec::with_capacity(FLUSH_BYTES + FLUSH_BYTES / 4), Compression::default());
        Self { upload, gzip, sha256: Sha256::new(), rows: 0, bytes: 0 }
    }

    /// Adds one line; returns how many compressed bytes went to the store (0 while buffering).
    async fn push(&mut self, line: &[u8]) -> anyhow::Result<u64> {
        self.gzip.write_all(line)?;
        self.rows += 1;
        if self.gzip.get_ref().len() < FLUSH_BYTES {
            return Ok(0);
        }
        let piece = std::mem::take(self.gzip.get_mut());
        self.send(&piece).await?;
        Ok(piece.len() as u64)
    }

    async fn send(&mut self, piece: &[u8]) -> anyhow::Result<()> {
        self.sha256.update(piece);
        self.bytes += piece.len() as u64;
        self.upload.write(piece).await?;
        Ok(())
    }

    /// Ends the object: rows, size, SHA-256 and the bytes sent by this last step.
    async fn finish(mut self) -> anyhow::Result<(u64, u64, String, u64)> {
        let tail = std::mem::replace(&mut self.gzip, GzEncoder::new(Vec::new(), Compression::none())).finish()?;
        if let Err(e) = self.send(&tail).await {
            self.upload.abort().await;
            return Err(e);
        }
        let size = self.upload.finish().await?;
        anyhow::ensure!(size == self.bytes, "the store holds {size} bytes of {}", self.bytes);
        Ok((self.rows, self.bytes, hex::encode(self.sha256.finalize()), tail.len() as u64))
    }

    async fn abort(self) {
        self.upload.abort().await;
    }
}

//! The retention run's deletes, one per purgeable rule: each removes up to a batch of rows whose
//! clock ran out before the cutoff, in one short statement keyed by indexed timestamps, and
//! returns how many went; callers loop until a batch comes back empty. The counts serve the
//! dry run and `calsync retention plan`.

use chrono::{DateTime, Utc};

use super::erasure::{CATALOGUE, Holds};
use super::{Store, StoreResult, dialect, with_pool};
use crate::domain::EventKind;
use crate::policy::retention::Purgeable;

/// The rows a rule's clock has run out for.
struct Due {
    table: &'static str,
    key: &'static str,
    /// The alias of `table` in `select`, whose rows PostgreSQL locks.
    alias: &'static str,
    /// Selects `alias.key`; binds `$1` (the cutoff) and, with `kind`, `$2`.
    select: &'static str,
    kind: Option<EventKind>,
}

/// The rows of a rule, table by table; `None` for account structure, which spans every table the
/// erasure catalogue says holds account data (`purge_structure_step`).
fn due(rule: Purgeable) -> Option<Vec<Due>> {
    Some(vec![match rule {
        Purgeable::AccountStructure => return None,
        Purgeable::RequestLogs => Due {
            table: "request_logs",
            key: "id",
            alias: "r",
            select: "SELECT r.id FROM request_logs r WHERE r.created_at < $1",
            kind: None,
        },
        Purgeable::EventsOutsideWindow => Due {
            table: "events",
            key: "uid",
            alias: "e",
            select: "SELECT e.uid FROM events e WHERE e.left_window_at < $1",
            kind: None,
        },
        // A new authorization clears `authorizations_ended_at`, which cancels this clock.
        Purgeable::ThirdPartyEvents => Due {
            table: "events",
            key: "uid",
            alias: "e",
            select: "SELECT e.uid FROM accounts a JOIN events e ON e.account_id = a.id \
                     WHERE a.authorizations_ended_at < $1 AND e.kind = $2",
            kind: Some(EventKind::ThirdParty),
        },
        // Every authorization of the creating application on the account ended before the cutoff.
        Purgeable::PartnerEvents => Due {
            table: "events",
            key: "uid",
            alias: "e",
            select: "SELECT e.uid FROM events e WHERE e.kind = $2 AND EXISTS (SELECT 1 FROM authorizations au \
                     WHERE au.application_id = e.application_id AND au.account_id = e.account_id \
                     AND au.terminated_at < $1) AND NOT EXISTS (SELECT 1 FROM authorizations l \
                     WHERE l.application_id = e.application_id AND l.account_id = e.account_id \
                     AND (l.terminated_at IS NULL OR l.terminated_at >= $1))",
            kind: Some(EventKind::Partner),
        },
        // Replies belong to their invite's row; the callbacks about them go first.
        Purgeable::SmartInvites => {
            return Some(vec![
                Due {
                    table: "notifications",
                    key: "id",
                    alias: "n",
                    select: "SELECT n.id FROM smart_invites s JOIN notifications n ON n.smart_invite_token = s.reply_token \
                             WHERE s.event_end < $1",
                    kind: None,
                },
                Due {
                    table: "smart_invites",
                    key: "reply_token",
                    alias: "s",
                    select: "SELECT s.reply_token FROM smart_invites s WHERE s.event_end < $1",
                    kind: None,
                },
            ]);
        }
        Purgeable::Credentials => {
            return Some(vec![
                Due {
                    table: "credentials",
                    key: "profile_id",
                    alias: "c",
                    select: "SELECT c.profile_id FROM accounts a JOIN credentials c ON c.account_id = a.id \
                             WHERE a.authorizations_ended_at < $1",
                    kind: None,
                },
                // A service account's row exists to hold its credentials (Enterprise Connect): it
                // goes with them once its own authorizations have ended; the mailboxes it reached
                // are disconnected at their next sync.
                Due {
                    table: "service_accounts",
                    key: "id",
                    alias: "s",
                    select: "SELECT s.id FROM accounts a JOIN service_accounts s ON s.account_id = a.id \
                             WHERE a.authorizations_ended_at < $1",
                    kind: None,
                },
            ]);
        }
    }])
}

impl Store {
    /// Deletes up to `batch` rows of `rule` whose clock ran out before `cutoff`, from the first
    /// of its tables (children first) that still has some; 0 when none is left in any.
    #[tracing::instrument(skip_all, fields(rule = ?rule))]
    pub async fn purge_due(&self, rule: Purgeable, cutoff: DateTime<Utc>, batch: i64) -> StoreResult<u64> {
        if let Some(tables) = due(rule) {
            for due in &tables {
                let n = self.purge_step(due, cutoff, batch).await?;
                if n > 0 {
                    return Ok(n);
                }
            }
            return Ok(0);
        }
        // Account structure: the erasure catalogue's tables, in its order (children first).
        for (table, holds) in CATALOGUE {
            if let Holds::AccountData(column) = holds {
                let n = self.purge_structure_step(table, column, cutoff, batch).await?;
                if n > 0 {
                    return Ok(n);
                }
            }
        }
        Ok(0)
    }

    /// Deletes up to `batch` rows of `table` belonging (through `column`) to accounts whose last
    /// authorization ended before `cutoff`. Rows are addressed as erasure addresses them.
    async fn purge_structure_step(
        &self,
        table: &str,
        column: &str,
        cutoff: DateTime<Utc>,
        batch: i64,
    ) -> StoreResult<u64> {
        let due = format!(
            "FROM {table} x JOIN accounts a ON a.id = x.{column} WHERE a.authorizations_ended_at < $1 LIMIT $2"
        );
        let sql = dialect!(self,
            pg: format!("DELETE FROM {table} WHERE ctid IN (SELECT x.ctid {due} FOR UPDATE OF x SKIP LOCKED)"),
            sqlite: format!("DELETE FROM {table} WHERE rowid IN (SELECT x.rowid {due})"),
        );
        let n =
            with_pool!(self, pool => sqlx::query(&sql).bind(cutoff).bind(batch).execute(pool).await?.rows_affected());
        Ok(n)
    }

    async fn purge_step(&self, due: &Due, cutoff: DateTime<Utc>, batch: i64) -> StoreResult<u64> {
        let limit = if due.kind.is_some() { "$3" } else { "$2" };
        let lock = dialect!(self, pg: format!(" FOR UPDATE OF {} SKIP LOCKED", due.alias), sqlite: String::new());
        let sql = format!("DELETE FROM {} WHERE {} IN ({} LIMIT {limit}{lock})", due.table, due.key, due.select);
        let n = with_pool!(self, pool => {
            let query = sqlx::query(&sql).bind(cutoff);
            let query = match due.kind {
                Some(kind) => query.bind(kind),
                None => query,
            };
            query.bind(batch).execute(pool).await?.rows_affected()
        });
        Ok(n)
    }

    /// How many rows of `rule` a run with this `cutoff` would delete (for account structure, the
    /// accounts, profiles and calendars).
    #[tracing::instrument(skip_all, fields(rule = ?rule))]
    pub async fn count_due(&self, rule: Purgeable, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        if let Some(tables) = due(rule) {
            let mut total = 0;
            for due in &tables {
                total += self.count_step(due, cutoff).await?;
            }
            return Ok(total);
        }
        let mut total = 0;
        for (table, column) in [("accounts", "id"), ("profiles", "account_id"), ("calendars", "account_id")] {
            let sql = format!(
                "SELECT COUNT(*) FROM {table} x JOIN accounts a ON a.id = x.{column} WHERE a.authorizations_ended_at < $1"
            );
            let n: i64 = with_pool!(self, pool => sqlx::query_scalar(&sql).bind(cutoff).fetch_one(pool).await?);
            total += u64::try_from(n).unwrap_or(0);
        }
        Ok(total)
    }

    async fn count_step(&self, due: &Due, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        let sql = format!("SELECT COUNT(*) FROM ({}) due", due.select);
        let n: i64 = with_pool!(self, pool => {
            let query = sqlx::query_scalar(&sql).bind(cutoff);
            let query = match due.kind {
                Some(kind) => query.bind(kind),
                None => query,
            };
            query.fetch_one(pool).await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

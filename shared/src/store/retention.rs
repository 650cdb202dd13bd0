//! The retention run's deletes, one per purgeable rule: each removes up to a batch of rows whose
//! clock ran out before the cutoff, in one short statement keyed by indexed timestamps, and
//! returns how many went; callers loop until a batch comes back short. The counts serve the
//! dry run and `calsync retention plan`.

use chrono::{DateTime, Utc};

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

/// The deletes of `rule`, in the order they must run (children before parents).
fn steps(rule: Purgeable) -> Vec<Due> {
    match rule {
        Purgeable::AccountStructure => ACCOUNT_STRUCTURE
            .iter()
            .map(|(table, key, alias)| Due { table, key, alias, select: structure_select(table), kind: None })
            .collect(),
        other => vec![due(other)],
    }
}

/// What an account whose authorizations all ended owns, children first, the account row last:
/// `(table, key, alias)`. Every table here carries `account_id` (the account, `id`), indexed.
const ACCOUNT_STRUCTURE: [(&str, &str, &str); 12] = [
    ("notifications", "id", "n"),
    ("channels", "id", "h"),
    ("events", "uid", "e"),
    ("sync_states", "calendar_id", "s"),
    ("application_calendars", "id", "ac"),
    ("oauth_codes", "code_hash", "o"),
    ("credentials", "profile_id", "c"),
    ("calendars", "id", "k"),
    ("profiles", "id", "p"),
    ("authorizations", "id", "z"),
    ("request_logs", "id", "r"),
    ("accounts", "id", "a"),
];

/// The rows of `table` that belong to accounts whose last authorization ended before `$1`.
fn structure_select(table: &str) -> &'static str {
    match table {
        "notifications" => {
            "SELECT n.id FROM accounts a JOIN notifications n ON n.account_id = a.id WHERE a.authorizations_ended_at < $1"
        }
        "channels" => {
            "SELECT h.id FROM accounts a JOIN channels h ON h.account_id = a.id WHERE a.authorizations_ended_at < $1"
        }
        "authorizations" => {
            "SELECT z.id FROM accounts a JOIN authorizations z ON z.account_id = a.id WHERE a.authorizations_ended_at < $1"
        }
        "request_logs" => {
            "SELECT r.id FROM accounts a JOIN request_logs r ON r.account_id = a.id WHERE a.authorizations_ended_at < $1"
        }
        "accounts" => "SELECT a.id FROM accounts a WHERE a.authorizations_ended_at < $1",
        "events" => {
            "SELECT e.uid FROM accounts a JOIN events e ON e.account_id = a.id WHERE a.authorizations_ended_at < $1"
        }
        "sync_states" => {
            "SELECT s.calendar_id FROM accounts a JOIN sync_states s ON s.account_id = a.id \
             WHERE a.authorizations_ended_at < $1"
        }
        "application_calendars" => {
            "SELECT ac.id FROM accounts a JOIN application_calendars ac ON ac.account_id = a.id \
             WHERE a.authorizations_ended_at < $1"
        }
        "oauth_codes" => {
            "SELECT o.code_hash FROM accounts a JOIN oauth_codes o ON o.account_id = a.id \
             WHERE a.authorizations_ended_at < $1"
        }
        "credentials" => {
            "SELECT c.profile_id FROM accounts a JOIN credentials c ON c.account_id = a.id \
             WHERE a.authorizations_ended_at < $1"
        }
        "calendars" => {
            "SELECT k.id FROM accounts a JOIN calendars k ON k.account_id = a.id WHERE a.authorizations_ended_at < $1"
        }
        _ => "SELECT p.id FROM accounts a JOIN profiles p ON p.account_id = a.id WHERE a.authorizations_ended_at < $1",
    }
}

fn due(rule: Purgeable) -> Due {
    match rule {
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
        Purgeable::AccountStructure => {
            Due { table: "profiles", key: "id", alias: "p", select: structure_select("profiles"), kind: None }
        }
        Purgeable::Credentials => Due {
            table: "credentials",
            key: "profile_id",
            alias: "c",
            select: "SELECT c.profile_id FROM accounts a JOIN credentials c ON c.account_id = a.id \
                     WHERE a.authorizations_ended_at < $1",
            kind: None,
        },
    }
}

impl Store {
    /// Deletes up to `batch` rows of `rule` whose clock ran out before `cutoff`, from the first
    /// of its tables (children first) that still has some; 0 when none is left in any.
    #[tracing::instrument(skip_all, fields(rule = ?rule))]
    pub async fn purge_due(&self, rule: Purgeable, cutoff: DateTime<Utc>, batch: i64) -> StoreResult<u64> {
        for due in steps(rule) {
            let n = self.purge_step(&due, cutoff, batch).await?;
            if n > 0 {
                return Ok(n);
            }
        }
        Ok(0)
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
        if rule == Purgeable::AccountStructure {
            let mut total = 0;
            for due in steps(rule).iter().filter(|d| matches!(d.table, "profiles" | "calendars" | "accounts")) {
                total += self.count_step(due, cutoff).await?;
            }
            return Ok(total);
        }
        self.count_step(&due(rule), cutoff).await
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

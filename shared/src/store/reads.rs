//! Store queries of the API's read side: event pages, free/busy pages, and what the identity
//! endpoints need beyond the plain per-aggregate lookups.
//!
//! Every event query is scoped by `account_id` first, whatever else the caller asks for, so an id
//! from another tenant can at most select nothing. Pages are counted with the same WHERE clause
//! they are read with, so `pages.total` always agrees with the rows served.
//!
//! The free/busy query selects only the calendar, the start and end columns and the blocking
//! fields (transparency, status, the owner's answer): event content never leaves the database on
//! that path, and its row type has nowhere to put it.
//!
//! Booleans are compared with the `FALSE` keyword, which SQLite has understood since 3.23 (it
//! stores booleans as 0/1).

use chrono::{DateTime, NaiveDate, Utc};

use super::{
    Store, StoreResult,
    events::{EVENT_COLUMNS, EventRow},
    with_pool,
};
use crate::domain::{
    AccountId, AttendeeStatus, CalendarId, Event, EventSelection, EventStatus, EventTime, EventUid, FreeBusyBlock,
    FreeBusyStatus, ManagedEvents, PageCursor, ProfileId, Transparency,
};

/// A bind value of a query assembled at run time.
enum Arg {
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
}

/// A WHERE clause under construction, with its arguments in placeholder order.
#[derive(Default)]
struct Clause {
    parts: Vec<String>,
    args: Vec<Arg>,
}

impl Clause {
    /// Adds an argument and returns its placeholder.
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    fn push(&mut self, sql: String) {
        self.parts.push(sql);
    }

    fn sql(&self) -> String {
        self.parts.join(" AND ")
    }
}

/// Binds every argument of a `Clause` onto a query of either backend.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(v) => query.bind(v.as_str()),
                Arg::Time(v) => query.bind(*v),
                Arg::Int(v) => query.bind(*v),
            };
        }
        query
    }};
}

/// The WHERE clause of a selection, shared by a page and its count. `free_busy` drops deleted
/// and cancelled events and ignores the change-tracking options, which free/busy does not have.
fn where_clause(query: &EventSelection, free_busy: bool) -> Clause {
    let mut c = Clause::default();
    let account = c.arg(Arg::Text(query.account_id.as_str().to_owned()));
    c.push(format!("account_id = {account}"));

    if !query.calendar_ids.is_empty() {
        let list: Vec<String> = query.calendar_ids.iter().map(|id| c.arg(Arg::Text(id.as_str().to_owned()))).collect();
        c.push(format!("calendar_id IN ({})", list.join(", ")));
    }

    let app = c.arg(Arg::Text(query.application_id.as_str().to_owned()));
    let managed = format!("(kind = 'partner' AND application_id IS NOT NULL AND application_id = {app})");
    match query.managed {
        ManagedEvents::Exclude => c.push(format!("NOT {managed}")),
        ManagedEvents::Include => {}
        ManagedEvents::Only => c.push(managed.clone()),
    }

    // Start before `to` (exclusive), end on or after `from` (Cronofy's window).
    let w = query.window;
    let (from, to) = (c.arg(Arg::Time(w.from)), c.arg(Arg::Time(w.to)));
    let (ffrom, fto) = (c.arg(Arg::Time(w.floating_from)), c.arg(Arg::Time(w.floating_to)));
    let mut in_window = vec![format!(
        "(start_date IS NULL AND start_at < {to} AND end_at >= {from}) \
         OR (start_date IS NOT NULL AND start_at < {fto} AND end_at >= {ffrom})"
    )];
    if query.include_moved && !free_busy {
        in_window.push("left_window_at IS NOT NULL".to_owned());
    }
    if query.managed_ignore_window && query.managed != ManagedEvents::Exclude {
        in_window.push(managed);
    }
    c.push(format!("({})", in_window.join(" OR ")));

    if free_busy {
        let cancelled = c.arg(Arg::Text(EventStatus::Cancelled.as_str().to_owned()));
        c.push(format!("deleted = FALSE AND status <> {cancelled}"));
    } else {
        if !query.include_deleted {
            c.push("deleted = FALSE".to_owned());
        }
        if let Some(since) = query.last_modified {
            let since = c.arg(Arg::Time(since));
            c.push(format!("last_modified >= {since}"));
        }
    }
    c
}

/// The free/busy projection: times and blocking fields only.
#[derive(sqlx::FromRow)]
struct FreeBusyRow {
    uid: EventUid,
    calendar_id: CalendarId,
    start_at: DateTime<Utc>,
    start_date: Option<NaiveDate>,
    start_tzid: Option<String>,
    end_at: DateTime<Utc>,
    end_date: Option<NaiveDate>,
    end_tzid: Option<String>,
    transparency: Transparency,
    status: EventStatus,
    participation_status: AttendeeStatus,
}

// language=SQL
const FREE_BUSY_COLUMNS: &str = "uid, calendar_id, start_at, start_date, start_tzid, end_at, end_date, end_tzid, \
    transparency, status, participation_status";

/// Restricts `clause` to rows after `cursor` and returns the LIMIT placeholder for a page.
fn after_cursor(clause: &mut Clause, cursor: Option<&PageCursor>, page_size: u32) -> String {
    if let Some(cursor) = cursor {
        let start = clause.arg(Arg::Time(cursor.start_at));
        let uid = clause.arg(Arg::Text(cursor.uid.as_str().to_owned()));
        clause.push(format!("(start_at > {start} OR (start_at = {start} AND uid > {uid}))"));
    }
    clause.arg(Arg::Int(i64::from(page_size)))
}

impl Store {
    /// How many events `query` selects.
    #[tracing::instrument(skip_all)]
    pub async fn count_events(&self, query: &EventSelection) -> StoreResult<u64> {
        self.count_where(&where_clause(query, false)).await
    }

    /// The page of events `query` selects that follows `after` (the first page without it), in
    /// (start, uid) order, with the cursor the next page starts from.
    #[tracing::instrument(skip_all)]
    pub async fn list_events_page(
        &self,
        query: &EventSelection,
        page_size: u32,
        after: Option<&PageCursor>,
    ) -> StoreResult<(Vec<Event>, Option<PageCursor>)> {
        let mut clause = where_clause(query, false);
        let limit = after_cursor(&mut clause, after, page_size);
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY start_at, uid LIMIT {limit}", clause.sql());
        let rows: Vec<EventRow> = with_pool!(self, pool => {
            bind_args!(sqlx::query_as(&sql), &clause.args).fetch_all(pool).await?
        });
        let cursor = rows.last().map(|r| PageCursor { start_at: r.start_at, uid: r.uid.clone() });
        Ok((rows.into_iter().map(Event::from).collect(), cursor))
    }

    /// How many free/busy blocks `query` selects.
    #[tracing::instrument(skip_all)]
    pub async fn count_free_busy(&self, query: &EventSelection) -> StoreResult<u64> {
        self.count_where(&where_clause(query, true)).await
    }

    /// The page of free/busy blocks that follows `after`, in (start, uid) order, with the cursor
    /// the next page starts from. Only the uid leaves the row besides times and blocking fields.
    #[tracing::instrument(skip_all)]
    pub async fn list_free_busy_page(
        &self,
        query: &EventSelection,
        page_size: u32,
        after: Option<&PageCursor>,
    ) -> StoreResult<(Vec<FreeBusyBlock>, Option<PageCursor>)> {
        let mut clause = where_clause(query, true);
        let limit = after_cursor(&mut clause, after, page_size);
        let sql = format!(
            "SELECT {FREE_BUSY_COLUMNS} FROM events WHERE {} ORDER BY start_at, uid LIMIT {limit}",
            clause.sql()
        );
        let rows: Vec<FreeBusyRow> = with_pool!(self, pool => {
            bind_args!(sqlx::query_as(&sql), &clause.args).fetch_all(pool).await?
        });
        let cursor = rows.last().map(|r| PageCursor { start_at: r.start_at, uid: r.uid.clone() });
        // Cancelled rows are excluded in SQL, so every row maps and the page matches its count.
        let blocks = rows
            .into_iter()
            .filter_map(|r| {
                let status = FreeBusyStatus::of(r.transparency, r.status, r.participation_status)?;
                Some(FreeBusyBlock {
                    calendar_id: r.calendar_id,
                    start: EventTime::from_columns(r.start_at, r.start_date, r.start_tzid.as_deref()),
                    end: EventTime::from_columns(r.end_at, r.end_date, r.end_tzid.as_deref()),
                    status,
                })
            })
            .collect();
        Ok((blocks, cursor))
    }

    async fn count_where(&self, clause: &Clause) -> StoreResult<u64> {
        let sql = format!("SELECT COUNT(*) FROM events WHERE {}", clause.sql());
        let n: i64 = with_pool!(self, pool => {
            bind_args!(sqlx::query_scalar(&sql), &clause.args).fetch_one(pool).await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Profiles of the account with a live calendar that has never synced successfully: Cronofy's
    /// `profile_initial_sync_required`. Hosted profiles have nothing to sync and never appear.
    #[tracing::instrument(skip_all)]
    pub async fn profiles_awaiting_initial_sync(&self, account: &AccountId) -> StoreResult<Vec<ProfileId>> {
        // language=SQL
        const SQL: &str = "SELECT DISTINCT p.id FROM profiles p \
                           JOIN calendars c ON c.profile_id = p.id AND c.deleted = FALSE \
                           LEFT JOIN sync_states s ON s.calendar_id = c.id \
                           WHERE p.account_id = $1 AND p.provider <> $2 AND s.last_success_at IS NULL \
                           ORDER BY p.id";
        let hosted = crate::domain::ProviderName::Hosted;
        let ids: Vec<ProfileId> =
            with_pool!(self, pool => sqlx::query_scalar(SQL).bind(account).bind(hosted).fetch_all(pool).await?);
        Ok(ids)
    }
}

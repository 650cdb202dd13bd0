//! The sync window: the span of time an account's calendars are cached for, the union of the
//! windows of the applications actively authorized on the account (providers.md §6). With no
//! active authorization the default window applies, so a resync never shrinks to nothing.

use chrono::{DateTime, Duration, Utc};

use crate::domain::AccountId;
use crate::store::{Store, StoreResult};

/// Days before now kept when no application says otherwise.
pub const DEFAULT_PAST_DAYS: i32 = 42;
/// Days after now kept when no application says otherwise.
pub const DEFAULT_FUTURE_DAYS: i32 = 201;

/// `[start, end)` of cached time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl SyncWindow {
    /// The window of `past_days` before and `future_days` after `now`.
    pub fn around(now: DateTime<Utc>, past_days: i32, future_days: i32) -> Self {
        SyncWindow { start: now - Duration::days(past_days.into()), end: now + Duration::days(future_days.into()) }
    }

    /// The smallest window covering both.
    pub fn union(self, other: SyncWindow) -> Self {
        SyncWindow { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

/// The account's window at `now`: the union over its live authorizations' applications.
pub async fn sync_window(store: &Store, account: &AccountId, now: DateTime<Utc>) -> StoreResult<SyncWindow> {
    let mut window: Option<SyncWindow> = None;
    for authorization in store.list_authorizations(account).await? {
        if authorization.terminated_at.is_some() {
            continue;
        }
        let Some(app) = store.get_application(&authorization.application_id).await? else { continue };
        let own = SyncWindow::around(now, app.sync_past_days, app.sync_future_days);
        window = Some(window.map_or(own, |w| w.union(own)));
    }
    Ok(window.unwrap_or_else(|| SyncWindow::around(now, DEFAULT_PAST_DAYS, DEFAULT_FUTURE_DAYS)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_union_of_two_windows_spans_the_earliest_start_and_the_latest_end() {
        let now = Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap();
        let a = SyncWindow::around(now, 10, 100);
        let b = SyncWindow::around(now, 30, 20);
        let union = a.union(b);
        assert_eq!(union.start, Utc.with_ymd_and_hms(2026, 4, 1, 10, 0, 0).unwrap());
        assert_eq!(union.end, Utc.with_ymd_and_hms(2026, 8, 9, 10, 0, 0).unwrap());
    }
}

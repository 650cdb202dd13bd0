//! The sync window: the span of time an account's calendars are cached for, the union of the
//! windows of the applications actively authorized on the account (providers.md §6). With no
//! active authorization the default window applies, so a resync never shrinks to nothing.

use chrono::{DateTime, Duration, NaiveTime, Utc};

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
    /// The window of `past_days` before and `future_days` after `now`, widened to whole UTC days
    /// with one more day either side. Readers ask for whole days in their own zone (up to 14
    /// hours from UTC) as far as the window reaches, and the margin keeps all of those inside
    /// what is cached; whole days also mean the window moves once a day, with the daily advance.
    pub fn around(now: DateTime<Utc>, past_days: i32, future_days: i32) -> Self {
        let midnight = |at: DateTime<Utc>| at.date_naive().and_time(NaiveTime::MIN).and_utc();
        SyncWindow {
            start: midnight(now - Duration::days(i64::from(past_days) + 1)),
            end: midnight(now + Duration::days(i64::from(future_days) + 2)),
        }
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
        assert_eq!(union.start, Utc.with_ymd_and_hms(2026, 3, 31, 0, 0, 0).unwrap());
        assert_eq!(union.end, Utc.with_ymd_and_hms(2026, 8, 11, 0, 0, 0).unwrap());
    }

    #[test]
    fn a_window_is_whole_utc_days_with_a_day_of_margin_and_moves_once_a_day() {
        let morning = Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 1).unwrap();
        let night = Utc.with_ymd_and_hms(2026, 5, 1, 23, 59, 59).unwrap();
        let expected = SyncWindow {
            start: Utc.with_ymd_and_hms(2026, 3, 19, 0, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap(),
        };
        assert_eq!(SyncWindow::around(morning, 42, 201), expected);
        assert_eq!(SyncWindow::around(night, 42, 201), expected);
        let next_day = SyncWindow::around(night + Duration::seconds(1), 42, 201);
        assert_eq!(next_day.start - expected.start, Duration::days(1));
    }
}

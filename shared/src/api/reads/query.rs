//! The query of `/v1/events` and `/v1/free_busy`: parameters parsed and the window resolved to
//! instants once, then carried whole in page tokens (`/v1/…/pages/{token}`), because the SDKs
//! send no parameters with `next_page` (and node may append stray ones, which are ignored).
//!
//! Tokens are not signed, so nothing in one is trusted for authorization: the handlers always
//! scope reads by the grant's account, re-check the calendar ids against it, re-check scopes, and
//! refuse a window the application's own sync window would not have allowed (one day of grace
//! lets a walk across midnight finish).

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::access::ReadError;
use crate::{
    api::{
        error::{ApiError, ApiResult, keys},
        extract::{Grant, Params},
        pages::{decode_token, encode_token},
    },
    domain::{Application, CalendarId, EventSelection, ManagedEvents, PageCursor, ReadWindow, time::parse_tz},
};

/// Rows per page.
pub(super) const PAGE_SIZE: u32 = 100;

/// Default window, counted in days from today in the query's zone (Cronofy's defaults).
const DEFAULT_PAST_DAYS: u32 = 42;
const DEFAULT_FUTURE_DAYS: u32 = 201;

/// Which endpoint a token belongs to, so one is not replayed on the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Feature {
    Events,
    FreeBusy,
}

/// A normalized read query: everything a page needs, and exactly what a page token carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ReadQuery {
    pub(super) feature: Feature,
    pub(super) tzid: String,
    pub(super) from: DateTime<Utc>,
    pub(super) to: DateTime<Utc>,
    /// Whether the caller gave `from` or `to`; without either, managed events ignore the window.
    pub(super) window_given: bool,
    pub(super) calendar_ids: Vec<CalendarId>,
    pub(super) include_deleted: bool,
    pub(super) include_moved: bool,
    pub(super) include_managed: bool,
    pub(super) only_managed: bool,
    pub(super) localized_times: bool,
    pub(super) include_geo: bool,
    pub(super) last_modified: Option<DateTime<Utc>>,
    /// 1-based.
    pub(super) page: u64,
    /// The page count, fixed when the first page was served so a walk stays consistent and the
    /// count runs once per walk, not once per page.
    #[serde(default)]
    pub(super) total: Option<u64>,
    /// Where the previous page ended (keyset pagination); none on the first page.
    #[serde(default)]
    pub(super) after: Option<PageCursor>,
}

/// The earliest `from` and latest `to` an application may read, and its defaults.
struct Limits {
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
    default_from: DateTime<Utc>,
    default_to: DateTime<Utc>,
}

impl Limits {
    /// Counted in whole days of the reader's zone: the application may read back to the start of
    /// the day `sync_past_days` ago, and up to the end of the day `sync_future_days` ahead (its
    /// sync window, which is all the cache holds). The defaults are Cronofy's, narrowed to that.
    fn new(application: &Application, tz: Tz, now: DateTime<Utc>) -> Self {
        let today = now.with_timezone(&tz).date_naive();
        let past = u32::try_from(application.sync_past_days).unwrap_or(0);
        let future = u32::try_from(application.sync_future_days).unwrap_or(0).saturating_add(1);
        let back = |days: u32| local_midnight(tz, today.checked_sub_days(Days::new(days.into())).unwrap_or(today));
        let ahead = |days: u32| local_midnight(tz, today.checked_add_days(Days::new(days.into())).unwrap_or(today));
        Limits {
            earliest: back(past),
            latest: ahead(future),
            default_from: back(past.min(DEFAULT_PAST_DAYS)),
            default_to: ahead(future.min(DEFAULT_FUTURE_DAYS)),
        }
    }
}

/// The instant a date starts in `tz`. Where a DST change skips midnight, the day starts at the
/// first wall-clock hour that exists.
fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    (0..4)
        .filter_map(|hour| NaiveTime::from_hms_opt(hour, 0, 0))
        .find_map(|time| tz.from_local_datetime(&date.and_time(time)).earliest())
        .map(|t| t.to_utc())
        .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc())
}

/// `YYYY-MM-DD` (midnight in `tz`) or an RFC 3339 time (any offset, fractional seconds allowed).
fn parse_bound(field: &str, value: &str, tz: Tz) -> ApiResult<DateTime<Utc>> {
    if value.len() == 10 {
        if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            return Ok(local_midnight(tz, date));
        }
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.to_utc())
        .map_err(|_| ApiError::invalid(field, keys::INVALID, "must be a date (YYYY-MM-DD) or an RFC 3339 time"))
}

/// The `tzid` parameter: required, and a zone of the bundled IANA database.
fn parse_tzid(params: &Params) -> ApiResult<Tz> {
    let name = params.get("tzid").ok_or_else(|| ApiError::required("tzid"))?;
    parse_tz(name).map_err(|e| ApiError::invalid("tzid", keys::UNKNOWN_TZID, e.to_string()))
}

/// A wall-clock reading of `at` in `tz`, written as if it were UTC: how all-day (floating)
/// events compare with the window.
fn floating(at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    at.with_timezone(&tz).naive_local().and_utc()
}

impl ReadQuery {
    /// Validates the query string of a first page.
    pub(super) fn from_params(
        params: &Params,
        feature: Feature,
        application: &Application,
        now: DateTime<Utc>,
    ) -> Result<Self, ReadError> {
        let tz = parse_tzid(params)?;
        let limits = Limits::new(application, tz, now);
        let from = params.get("from").map(|v| parse_bound("from", v, tz)).transpose()?;
        let to = params.get("to").map(|v| parse_bound("to", v, tz)).transpose()?;
        if from.is_some_and(|from| from < limits.earliest) {
            return Err(out_of_range("from", "is earlier than the application's sync window allows").into());
        }
        if to.is_some_and(|to| to > limits.latest) {
            return Err(out_of_range("to", "is later than the application's sync window allows").into());
        }
        let window_given = from.is_some() || to.is_some();
        let (from_at, to_at) = (from.unwrap_or(limits.default_from), to.unwrap_or(limits.default_to));
        if from_at >= to_at {
            let field = if to.is_some() { "to" } else { "from" };
            return Err(ApiError::invalid(field, keys::INVALID, "`to` must be later than `from`").into());
        }

        let last_modified = params
            .get("last_modified")
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.to_utc())
                    .map_err(|_| ApiError::invalid("last_modified", keys::INVALID, "must be an RFC 3339 time"))
            })
            .transpose()?;
        let mut calendar_ids = Vec::new();
        for raw in params.list("calendar_ids") {
            // A malformed id is as unknown as a foreign one.
            let id = CalendarId::parse(raw).map_err(|_| ReadError::UnknownCalendar)?;
            if !calendar_ids.contains(&id) {
                calendar_ids.push(id);
            }
        }
        let flag = |name: &str| params.bool(name).map(|v| v.unwrap_or(false));
        let events = feature == Feature::Events;
        Ok(ReadQuery {
            feature,
            tzid: tz.name().to_owned(),
            from: from_at,
            to: to_at,
            window_given,
            calendar_ids,
            include_deleted: events && flag("include_deleted")?,
            include_moved: events && flag("include_moved")?,
            include_managed: flag("include_managed")?,
            only_managed: events && flag("only_managed")?,
            localized_times: flag("localized_times")?,
            include_geo: events && flag("include_geo")?,
            last_modified: if events { last_modified } else { None },
            page: 1,
            total: None,
            after: None,
        })
    }

    /// Decodes a page token for `feature`; one that does not decode, belongs to the other
    /// endpoint, or asks for a window the application could not have asked for is an unknown page.
    pub(super) fn from_token(
        token: &str,
        feature: Feature,
        application: &Application,
        now: DateTime<Utc>,
    ) -> ApiResult<Self> {
        let query: ReadQuery = decode_token(token)?;
        let tz = parse_tz(&query.tzid).map_err(|_| ApiError::NotFound)?;
        let limits = Limits::new(application, tz, now);
        let grace = chrono::Duration::days(1);
        let valid = query.feature == feature
            && query.page >= 1
            && query.from < query.to
            && query.from >= limits.earliest - grace
            && query.to <= limits.latest + grace;
        if valid { Ok(query) } else { Err(ApiError::NotFound) }
    }

    pub(super) fn tz(&self) -> ApiResult<Tz> {
        parse_tz(&self.tzid).map_err(|_| ApiError::NotFound)
    }

    /// The same query, one page further: after `cursor`, with the page count already known.
    pub(super) fn next_page(&self, total: u64, cursor: PageCursor) -> Self {
        ReadQuery { page: self.page.saturating_add(1), total: Some(total), after: Some(cursor), ..self.clone() }
    }

    /// The `next_page` URL after a page that ended at `cursor`, and the page count to report:
    /// rows deleted since the count can end a walk early, and then this page is the last.
    pub(super) fn paging(&self, public_url: &str, total: u64, cursor: Option<PageCursor>) -> (Option<String>, u64) {
        let path = match self.feature {
            Feature::Events => "events",
            Feature::FreeBusy => "free_busy",
        };
        let next = cursor
            .filter(|_| self.page < total)
            .map(|cursor| format!("{public_url}/v1/{path}/pages/{}", encode_token(&self.next_page(total, cursor))));
        let total = if next.is_none() && self.page < total { self.page } else { total };
        (next, total)
    }

    /// What to read for `grant`: always the grant's own account and application.
    pub(super) fn selection(&self, grant: &Grant) -> ApiResult<EventSelection> {
        let tz = self.tz()?;
        let managed = match (self.only_managed, self.include_managed) {
            (true, _) => ManagedEvents::Only,
            (false, true) => ManagedEvents::Include,
            (false, false) => ManagedEvents::Exclude,
        };
        Ok(EventSelection {
            account_id: grant.account_id().clone(),
            application_id: grant.application.id.clone(),
            calendar_ids: self.calendar_ids.clone(),
            window: ReadWindow {
                from: self.from,
                to: self.to,
                floating_from: floating(self.from, tz),
                floating_to: floating(self.to, tz),
            },
            managed,
            managed_ignore_window: !self.window_given,
            include_deleted: self.include_deleted,
            include_moved: self.include_moved,
            last_modified: self.last_modified,
        })
    }
}

fn out_of_range(field: &str, description: &str) -> ApiError {
    ApiError::invalid(field, keys::OUT_OF_RANGE, description)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(past: i32, future: i32) -> Application {
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
        Application {
            id: crate::domain::ApplicationId::generate(),
            integrator_id: None,
            name: "a".into(),
            client_id: "c".into(),
            redirect_uris: vec![],
            sync_past_days: past,
            sync_future_days: future,
            created_at: t,
            updated_at: t,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn dates_are_local_midnights_and_times_keep_their_offsets() {
        let paris = parse_tz("Europe/Paris").unwrap();
        assert_eq!(parse_bound("from", "2026-05-01", paris).unwrap(), at("2026-04-30T22:00:00Z"));
        assert_eq!(
            parse_bound("from", "2026-05-01T10:00:00.250+02:00", paris).unwrap(),
            at("2026-05-01T08:00:00.250Z")
        );
        assert!(parse_bound("from", "May 1st", paris).is_err());
        // Santiago skipped midnight on 2024-09-08: the day starts at 01:00 local.
        let santiago = parse_tz("America/Santiago").unwrap();
        let day = NaiveDate::from_ymd_opt(2024, 9, 8).unwrap();
        assert_eq!(local_midnight(santiago, day), at("2024-09-08T04:00:00Z"));
    }

    #[test]
    fn defaults_are_cronofys_narrowed_to_the_applications_window() {
        let now = at("2026-05-01T10:00:00Z");
        let utc = parse_tz("Etc/UTC").unwrap();
        let wide = Limits::new(&app(42, 201), utc, now);
        assert_eq!(wide.default_from, at("2026-03-20T00:00:00Z"));
        assert_eq!(wide.default_to, at("2026-11-18T00:00:00Z"));
        assert_eq!(wide.earliest, wide.default_from);
        let narrow = Limits::new(&app(7, 30), utc, now);
        assert_eq!(narrow.default_from, at("2026-04-24T00:00:00Z"));
        assert_eq!(narrow.default_to, at("2026-06-01T00:00:00Z"));
        assert_eq!(narrow.latest, narrow.default_to);
    }
}

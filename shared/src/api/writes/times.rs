//! `start` and `end` of an upsert in Cronofy's three forms (cronofy-api.md §5.3): a date
//! `2014-08-05` (all-day, `end` exclusive); a time string, any RFC 3339 offset with optional
//! fractional seconds (pycronofy also writes a trailing `UTC`); or `{"time": …, "tzid": …}`.
//!
//! A time written without an offset is local time in its zone: the object's `tzid`, else the
//! body's `tzid`, else `Etc/UTC`. That zone is stored with the instant, so readers asking for
//! localized times get it back.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::fields::{self, Errors};
use crate::{
    api::error::keys,
    domain::{EventTime, time::parse_tz},
};

/// Years outside this range are typing mistakes, not calendar events.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

const FORMAT_HINT: &str = "must be a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM:SSZ)";

/// A zone name, reporting an unknown one on `field`.
pub(in crate::api) fn zone(value: &Value, field: &str, errors: &mut Errors) -> Option<Tz> {
    let name = fields::string(value, field, 64, errors)?;
    match parse_tz(name.trim()) {
        Ok(tz) => Some(tz),
        Err(e) => {
            errors.add(field, keys::UNKNOWN_TZID, e.to_string());
            None
        }
    }
}

/// Parses one of `start`/`end`; `default_tz` is the body's `tzid` (or UTC).
pub(in crate::api) fn event_time(value: &Value, field: &str, default_tz: Tz, errors: &mut Errors) -> Option<EventTime> {
    let (text, tz) = match value {
        Value::String(text) => (text.as_str(), default_tz),
        Value::Object(object) => {
            let tz = match fields::get(object, "tzid") {
                Some(v) => zone(v, &format!("{field}.tzid"), errors)?,
                None => default_tz,
            };
            let Some(time) = fields::get(object, "time") else {
                errors.required(format!("{field}.time"));
                return None;
            };
            let Some(text) = time.as_str() else {
                errors.add(format!("{field}.time"), keys::INVALID_TYPE, "must be a string");
                return None;
            };
            (text, tz)
        }
        _ => {
            errors.add(field, keys::INVALID_TYPE, FORMAT_HINT);
            return None;
        }
    };
    let parsed = parse(text.trim(), tz).and_then(|t| {
        let year = match &t {
            EventTime::Date(d) => d.year(),
            EventTime::Instant { at, .. } => at.year(),
        };
        if YEARS.contains(&year) { Ok(t) } else { Err((keys::OUT_OF_RANGE, "must be between the years 1900 and 2200")) }
    });
    match parsed {
        Ok(t) => Some(t),
        Err((key, description)) => {
            errors.add(field, key, description);
            None
        }
    }
}

fn parse(text: &str, tz: Tz) -> Result<EventTime, (&'static str, &'static str)> {
    let invalid = (keys::INVALID, FORMAT_HINT);
    if text.len() == 10 {
        return NaiveDate::parse_from_str(text, "%Y-%m-%d").map(EventTime::Date).map_err(|_| invalid);
    }
    let text: Cow<'_, str> = match text.strip_suffix("UTC") {
        Some(rest) => format!("{}Z", rest.trim_end()).into(),
        None => text.into(),
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
        return Ok(EventTime::Instant { at: at.with_timezone(&Utc), tzid: Some(tz) });
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(&text, format) {
            // In a repeated hour (clocks going back) the first occurrence is meant.
            return match tz.from_local_datetime(&local).earliest() {
                Some(at) => Ok(EventTime::Instant { at: at.with_timezone(&Utc), tzid: Some(tz) }),
                None => Err((keys::INVALID, "does not exist in its time zone (skipped by a daylight saving change)")),
            };
        }
    }
    Err(invalid)
}

/// Both dates or both times, and `start` before `end`; problems are reported on `end`.
pub(in crate::api) fn check_span(start: &EventTime, end: &EventTime, errors: &mut Errors) {
    if start.is_all_day() != end.is_all_day() {
        errors.add("end", keys::INVALID, "start and end must both be dates or both be times");
    } else if start.sort_key() >= end.sort_key() {
        errors.add("end", keys::INVALID, "must be after start");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: Value) -> Result<EventTime, Vec<String>> {
        let mut errors = Errors::default();
        let t = event_time(&value, "start", chrono_tz::Etc::UTC, &mut errors);
        match (t, errors.finish()) {
            (Some(t), Ok(())) => Ok(t),
            (_, Err(crate::api::error::ApiError::Invalid(f))) => Err(f.into_iter().map(|e| e.key.to_owned()).collect()),
            _ => Err(vec![]),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn the_three_forms_and_their_zones() {
        let utc_zone = Some(chrono_tz::Etc::UTC);
        let london = Some(chrono_tz::Europe::London);
        assert_eq!(
            one(Value::from("2014-08-05T15:30:00Z")),
            Ok(EventTime::Instant { at: utc("2014-08-05T15:30:00Z"), tzid: utc_zone })
        );
        assert_eq!(
            one(Value::from("2014-08-05T16:30:00.250+01:00")),
            Ok(EventTime::Instant { at: utc("2014-08-05T15:30:00.250Z"), tzid: utc_zone })
        );
        assert_eq!(
            one(Value::from("2014-08-05 15:30:00 UTC")),
            Ok(EventTime::Instant { at: utc("2014-08-05T15:30:00Z"), tzid: utc_zone })
        );
        assert_eq!(one(Value::from("2014-08-05")), Ok(EventTime::Date(NaiveDate::from_ymd_opt(2014, 8, 5).unwrap())));
        assert_eq!(
            one(serde_json::json!({"time": "2014-08-05T15:30:00", "tzid": "Europe/London"})),
            Ok(EventTime::Instant { at: utc("2014-08-05T14:30:00Z"), tzid: london })
        );
    }

    #[test]
    fn bad_values_name_their_problem() {
        assert_eq!(one(Value::from("2014-02-30")), Err(vec![keys::INVALID.to_owned()]));
        assert_eq!(one(Value::from("tomorrow")), Err(vec![keys::INVALID.to_owned()]));
        assert_eq!(one(Value::from("1850-01-01")), Err(vec![keys::OUT_OF_RANGE.to_owned()]));
        assert_eq!(one(Value::from(7)), Err(vec![keys::INVALID_TYPE.to_owned()]));
        assert_eq!(
            one(serde_json::json!({"time": "2026-03-29T01:30:00", "tzid": "Europe/London"})),
            Err(vec![keys::INVALID.to_owned()])
        );
        assert_eq!(
            one(serde_json::json!({"time": "2026-03-29T09:00:00Z", "tzid": "Mars/Base"})),
            Err(vec![keys::UNKNOWN_TZID.to_owned()])
        );
    }
}

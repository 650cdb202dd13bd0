//! TZID resolution: IANA names, Windows names (Outlook, Exchange), `X-LIC-LOCATION` and Outlook
//! CDO ids via calcard's tables; custom VTIMEZONEs that name no known zone fall back to their
//! standard offset, else UTC, and are reported as a [`Warning`]. The other way, an IANA zone's
//! Windows id comes from CLDR's table in `zones/windows.rs` (calcard's goes one way only).

use std::collections::HashMap;

use calcard::common::timezone::Tz as CalTz;
use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty, ICalendarValue};
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::model::Warning;

mod windows;

/// The zones one resource can refer to.
pub(super) struct Zones {
    known: HashMap<String, Tz>,
    /// Standard offsets (seconds east of UTC) of VTIMEZONEs calcard could not identify.
    custom_offsets: HashMap<String, i32>,
}

impl Zones {
    pub(super) fn new(calendar: &ICalendar) -> Self {
        let mut known = HashMap::new();
        for (name, tz) in calendar.timezones().filter_map(|c| c.timezone()) {
            if let Some(tz) = to_chrono(tz) {
                known.insert(name.to_string(), tz);
            }
        }
        let mut custom_offsets = HashMap::new();
        for zone in calendar.timezones() {
            let Some(name) = zone.property(&ICalendarProperty::Tzid).and_then(|e| e.values.first()) else {
                continue;
            };
            let Some(name) = name.as_text() else { continue };
            if known.contains_key(name) {
                continue;
            }
            if let Some(offset) = standard_offset(calendar, zone) {
                custom_offsets.insert(name.to_string(), offset);
            }
        }
        Zones { known, custom_offsets }
    }

    /// The zone a TZID names, or the fallback used for it plus a warning.
    pub(super) fn resolve(&self, tzid: &str) -> (Tz, Option<Warning>) {
        if let Some(tz) = self.known.get(tzid) {
            return (*tz, None);
        }
        if let Some(tz) = tzid.parse::<CalTz>().ok().and_then(to_chrono) {
            return (tz, None);
        }
        let fallback = self.custom_offsets.get(tzid).and_then(|seconds| fixed_zone(*seconds)).unwrap_or(Tz::UTC);
        let tzid: String = tzid.chars().take(64).collect();
        (fallback, Some(Warning::UnknownTimeZone { tzid, fallback: fallback.name() }))
    }
}

/// Windows ids whose zone in calcard's table has since moved to another clock (Chihuahua left
/// Mountain time in 2022, Almaty left UTC+6 in 2024), with CLDR's zone for them now.
const WINDOWS_MOVED: [(&str, Tz); 2] =
    [("Mountain Standard Time (Mexico)", Tz::America__Mazatlan), ("Central Asia Standard Time", Tz::Asia__Bishkek)];

/// The IANA zone a zone name stands for: an IANA name, or a Windows name as Outlook, Exchange and
/// Microsoft Graph give them (`W. Europe Standard Time`); `None` for custom and unknown zones.
pub fn iana_zone(name: &str) -> Option<Tz> {
    if let Some((_, tz)) = WINDOWS_MOVED.iter().find(|(id, _)| *id == name) {
        return Some(*tz);
    }
    name.parse::<Tz>()
        .ok()
        .or_else(|| name.parse::<CalTz>().ok().and_then(to_chrono))
        // Windows ids newer than calcard's table (`South Sudan Standard Time`).
        .or_else(|| windows::IANA_TO_WINDOWS.iter().find(|(_, id)| *id == name).and_then(|(iana, _)| iana.parse().ok()))
}

/// The Windows zone id of an IANA zone (`Europe/London` → `GMT Standard Time`), as Exchange and
/// Outlook name zones; `None` for the few zones Windows has no id for.
pub fn windows_zone(tz: Tz) -> Option<&'static str> {
    let name = tz.name();
    windows::IANA_TO_WINDOWS.binary_search_by(|(iana, _)| (*iana).cmp(name)).ok().map(|i| windows::IANA_TO_WINDOWS[i].1)
}

/// The instant a wall-clock time names in `tz` (RFC 5545 §3.3.5): a time repeated by a DST
/// overlap is its first occurrence; a time skipped by a gap is read with the offset in force
/// before the gap, which moves it forward by the gap's length (02:30 → 03:30 BST).
pub fn localize(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(at) => at.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Walk back to the last valid wall-clock time; gaps are at most a day (Samoa 2011).
            for step in 1..=96 {
                if let Some(before) = tz.from_local_datetime(&(local - Duration::minutes(15 * step))).earliest() {
                    let offset = before.offset().fix().local_minus_utc();
                    return (local - Duration::seconds(i64::from(offset))).and_utc();
                }
            }
            local.and_utc()
        }
    }
}

fn to_chrono(tz: CalTz) -> Option<Tz> {
    match tz {
        CalTz::Tz(tz) => Some(tz),
        CalTz::Fixed(offset) => fixed_zone(offset.local_minus_utc()),
        CalTz::Floating => None,
    }
}

/// A whole-hour offset as the matching `Etc/GMT∓N` zone (POSIX sign: `Etc/GMT-1` is UTC+1).
fn fixed_zone(seconds_east: i32) -> Option<Tz> {
    if seconds_east == 0 {
        return Some(Tz::UTC);
    }
    if seconds_east % 3600 != 0 {
        return None;
    }
    let hours = seconds_east / 3600;
    let name = if hours > 0 { format!("Etc/GMT-{hours}") } else { format!("Etc/GMT+{}", -hours) };
    name.parse().ok()
}

/// TZOFFSETTO of the VTIMEZONE's STANDARD observance (or its only observance).
fn standard_offset(calendar: &ICalendar, zone: &calcard::icalendar::ICalendarComponent) -> Option<i32> {
    let observances: Vec<_> =
        zone.component_ids.iter().filter_map(|id| calendar.components.get(*id as usize)).collect();
    let chosen = observances
        .iter()
        .find(|c| c.component_type == ICalendarComponentType::Standard)
        .or_else(|| observances.first())?;
    match chosen.property(&ICalendarProperty::Tzoffsetto)?.values.first()? {
        ICalendarValue::PartialDateTime(offset) => {
            let seconds = i32::from(offset.tz_hour?) * 3600 + i32::from(offset.tz_minute.unwrap_or(0)) * 60;
            Some(if offset.tz_minus { -seconds } else { seconds })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_hour_offsets_map_to_posix_signed_etc_zones() {
        assert_eq!(fixed_zone(3600), Some(chrono_tz::Etc::GMTMinus1));
        assert_eq!(fixed_zone(-5 * 3600), Some(chrono_tz::Etc::GMTPlus5));
        assert_eq!(fixed_zone(0), Some(Tz::UTC));
        assert_eq!(fixed_zone(5 * 3600 + 1800), None);
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn a_wall_clock_time_in_a_dst_gap_moves_forward_by_the_gap() {
        let utc = localize(at("2026-03-29T01:30"), chrono_tz::Europe::London);
        assert_eq!(utc.to_rfc3339(), "2026-03-29T01:30:00+00:00");
    }

    #[test]
    fn a_wall_clock_time_in_a_dst_overlap_is_its_first_occurrence() {
        let utc = localize(at("2026-10-25T01:30"), chrono_tz::Europe::London);
        assert_eq!(utc.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn common_windows_zone_names_resolve_to_their_iana_zones() {
        let zones = Zones { known: HashMap::new(), custom_offsets: HashMap::new() };
        for (windows, iana) in [
            ("W. Europe Standard Time", "Europe/Berlin"),
            ("Pacific Standard Time", "America/Los_Angeles"),
            ("GMT Standard Time", "Europe/London"),
            ("Eastern Standard Time", "America/New_York"),
            ("Central Standard Time", "America/Chicago"),
            ("Romance Standard Time", "Europe/Paris"),
            ("Tokyo Standard Time", "Asia/Tokyo"),
            ("AUS Eastern Standard Time", "Australia/Sydney"),
        ] {
            assert_eq!(zones.resolve(windows), (iana.parse::<Tz>().unwrap(), None), "{windows}");
        }
    }

    #[test]
    fn iana_zones_map_to_their_windows_ids_aliases_included() {
        for (iana, windows) in [
            ("Europe/London", "GMT Standard Time"),
            ("Europe/Berlin", "W. Europe Standard Time"),
            ("Europe/Madrid", "Romance Standard Time"),
            ("America/New_York", "Eastern Standard Time"),
            ("US/Eastern", "Eastern Standard Time"),
            ("America/Toronto", "Eastern Standard Time"),
            ("Asia/Kolkata", "India Standard Time"),
            ("Asia/Calcutta", "India Standard Time"),
            ("Europe/Kyiv", "FLE Standard Time"),
            ("Etc/UTC", "UTC"),
            ("UTC", "UTC"),
            ("Etc/GMT-3", "E. Africa Standard Time"),
        ] {
            assert_eq!(windows_zone(iana.parse().unwrap()), Some(windows), "{iana}");
        }
        assert_eq!(windows_zone(chrono_tz::Antarctica::Troll), None);
    }

    #[test]
    fn the_windows_table_is_sorted_names_real_zones_and_reads_back_as_the_same_clock() {
        let table = windows::IANA_TO_WINDOWS;
        assert!(table.windows(2).all(|w| w[0].0 < w[1].0), "sorted and unique, for the binary search");
        // Every Windows id read back (as Exchange names an item's zone) is a zone keeping the same
        // wall clock as the IANA zone it was written for, around now.
        let instants: Vec<DateTime<Utc>> = (0..24)
            .map(|month| Utc.with_ymd_and_hms(2025, 1, 15, 12, 0, 0).unwrap() + Duration::days(30 * month))
            .collect();
        let (mut unread, mut other_clock) = (Vec::new(), Vec::new());
        for (iana, windows) in table {
            let tz: Tz = iana.parse().unwrap_or_else(|_| panic!("{iana} is a chrono-tz zone"));
            let Some(back) = iana_zone(windows) else {
                unread.push(*windows);
                continue;
            };
            let offset = |zone: Tz, at: &DateTime<Utc>| at.with_timezone(&zone).offset().fix();
            if instants.iter().any(|at| offset(tz, at) != offset(back, at)) {
                other_clock.push(*iana);
            }
        }
        unread.dedup();
        assert_eq!(unread, Vec::<&str>::new(), "Windows ids calcard cannot read back");
        assert_eq!(other_clock, Vec::<&str>::new(), "zones whose Windows id keeps another clock");
    }

    #[test]
    fn an_unknown_tzid_without_a_vtimezone_falls_back_to_utc_with_a_warning() {
        let zones = Zones { known: HashMap::new(), custom_offsets: HashMap::new() };
        let warning = Warning::UnknownTimeZone { tzid: "tzone://Microsoft/Custom".into(), fallback: "UTC" };
        assert_eq!(zones.resolve("tzone://Microsoft/Custom"), (Tz::UTC, Some(warning)));
    }
}

//! iCalendar throughput: a deterministic 10,000-event feed (single events in five zones, all-day
//! events, weekly series with a moved override and an EXDATE, daily series with COUNT, weekly
//! UTC series with UNTIL) parsed and expanded over one year. Criterion reports events/second;
//! afterwards the same feed, written to target/ical-bench-feed.ics, is timed in Python
//! (icalendar + recurring_ical_events) and both rates and their ratio are printed.
//!
//!     eval "$(infra/ical-bench.sh)" && cargo bench -p calsync-tests --bench ical

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use calsync_core::ical::{self, Limits};
use chrono::{DateTime, Duration as Span, NaiveDate, Utc};
use criterion::{Criterion, Throughput};

const EVENTS: usize = 10_000;
const FROM: &str = "2026-01-01T00:00:00Z";
const TO: &str = "2027-01-01T00:00:00Z";
const ZONES: [&str; 5] = ["Europe/London", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC"];

fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// The feed: event `i` starts `i * 37` minutes after 2025-10-01 wrapped into ~15 months,
/// so starts spread over the window and a quarter year before it.
fn feed() -> String {
    let base = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap().and_hms_opt(8, 0, 0).unwrap();
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync//bench//EN\r\n");
    for i in 0..EVENTS {
        let start = base + Span::minutes((i as i64 * 37) % (450 * 24 * 60));
        let start = start.date().and_hms_opt(8 + (i % 10) as u32, if i % 2 == 0 { 0 } else { 30 }, 0).unwrap();
        let end = start + Span::minutes(30 + 15 * (i % 4) as i64);
        let zone = ZONES[i % ZONES.len()];
        let local = |t: chrono::NaiveDateTime| t.format("%Y%m%dT%H%M%S").to_string();
        let (dtstart, dtend) = if zone == "UTC" {
            (format!("DTSTART:{}Z", local(start)), format!("DTEND:{}Z", local(end)))
        } else {
            (format!("DTSTART;TZID={zone}:{}", local(start)), format!("DTEND;TZID={zone}:{}", local(end)))
        };
        let head = format!("BEGIN:VEVENT\r\nUID:bench-{i}@calsync\r\nDTSTAMP:20250901T000000Z\r\n");
        let body = format!("SUMMARY:Bench event {i}\\, kind {}\r\nLOCATION:Room {}\r\n", i % 10, i % 50);
        match i % 10 {
            0..=4 => out += &format!("{head}{dtstart}\r\n{dtend}\r\n{body}END:VEVENT\r\n"),
            5 => {
                let day = start.date();
                out += &format!(
                    "{head}DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\n{body}END:VEVENT\r\n",
                    day.format("%Y%m%d"),
                    (day + Span::days(1 + (i % 3) as i64)).format("%Y%m%d")
                )
            }
            6 | 7 => {
                let excluded = start + Span::weeks(2);
                let moved = start + Span::weeks(3);
                let tz = if zone == "UTC" { String::new() } else { format!(";TZID={zone}") };
                let z = if zone == "UTC" { "Z" } else { "" };
                out += &format!(
                    "{head}{dtstart}\r\n{dtend}\r\nRRULE:FREQ=WEEKLY;COUNT=52\r\nEXDATE{tz}:{}{z}\r\n{body}END:VEVENT\r\n",
                    local(excluded)
                );
                out += &format!(
                    "{head}RECURRENCE-ID{tz}:{}{z}\r\nDTSTART{tz}:{}{z}\r\nDTEND{tz}:{}{z}\r\nSUMMARY:Moved {i}\r\nEND:VEVENT\r\n",
                    local(moved),
                    local(moved + Span::hours(2)),
                    local(moved + Span::hours(3))
                );
            }
            8 => out += &format!("{head}{dtstart}\r\n{dtend}\r\nRRULE:FREQ=DAILY;COUNT=60\r\n{body}END:VEVENT\r\n"),
            _ => {
                let until = local(start + Span::weeks(26));
                out += &format!(
                    "{head}DTSTART:{}Z\r\nDTEND:{}Z\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL={until}Z\r\n{body}END:VEVENT\r\n",
                    local(start),
                    local(end)
                )
            }
        }
    }
    out + "END:VCALENDAR\r\n"
}

/// Parses and expands the whole feed; returns the number of occurrences in the window.
fn parse_and_expand(text: &str) -> usize {
    let (from, to) = (instant(FROM), instant(TO));
    let series = ical::parse_feed(text, chrono_tz::Europe::London, Limits::FEED).unwrap();
    series.iter().map(|s| ical::expand(s, from, to).occurrences.len()).sum()
}

fn python(feed_path: &Path) -> Option<(f64, u64)> {
    let python = std::env::var("CALSYNC_BENCH_PYTHON").unwrap_or_else(|_| ".venv/bin/python".into());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(&python)
        .arg(root.join("bench/ical_python.py"))
        .args([feed_path.to_str()?, FROM, TO, "3"])
        .current_dir(root.parent()?)
        .output();
    let output = match output {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!("python baseline failed: {}", String::from_utf8_lossy(&o.stderr));
            return None;
        }
        Err(e) => {
            eprintln!("python baseline not run ({python}: {e}); see infra/ical-bench.sh");
            return None;
        }
    };
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    Some((report["seconds"].as_f64()?, report["occurrences"].as_u64()?))
}

fn main() {
    let text = feed();
    let mut criterion =
        Criterion::default().configure_from_args().sample_size(10).measurement_time(Duration::from_secs(20));
    let mut group = criterion.benchmark_group("ical");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("parse_and_expand_10k_events_one_year", |b| b.iter(|| parse_and_expand(&text)));
    group.finish();

    // The comparison: best of three on each side, same feed, same window.
    let mut best = f64::MAX;
    let mut occurrences = 0;
    for _ in 0..3 {
        let began = Instant::now();
        occurrences = parse_and_expand(&text);
        best = best.min(began.elapsed().as_secs_f64());
    }
    let feed_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ical-bench-feed.ics");
    std::fs::write(&feed_path, &text).unwrap();
    println!("ical feed: {EVENTS} events, {} bytes, window {FROM}..{TO}", text.len());
    println!("rust:   {:>10.0} events/s ({best:.3} s, {occurrences} occurrences)", EVENTS as f64 / best);
    match python(&feed_path) {
        Some((seconds, py_occurrences)) => {
            println!(
                "python: {:>10.0} events/s ({seconds:.3} s, {py_occurrences} occurrences)",
                EVENTS as f64 / seconds
            );
            println!("rust is {:.1}x python", seconds / best);
        }
        None => println!("python: not measured"),
    }
}

"""Python baseline for the iCalendar benchmark: parse an ICS feed with `icalendar` and expand it
over a window with `recurring_ical_events`, the same work `cargo bench --bench ical` times in Rust.

    python tests/bench/ical_python.py FEED.ics 2026-01-01T00:00:00Z 2027-01-01T00:00:00Z [RUNS]

Prints one JSON line: the best wall time of RUNS runs and the number of occurrences found.
"""

import datetime
import json
import sys
import time

import icalendar
import recurring_ical_events


def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def main():
    path, start, end = sys.argv[1], instant(sys.argv[2]), instant(sys.argv[3])
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    with open(path, "rb") as feed:
        data = feed.read()
    best, occurrences = None, 0
    for _ in range(runs):
        began = time.perf_counter()
        calendar = icalendar.Calendar.from_ical(data)
        occurrences = len(recurring_ical_events.of(calendar).between(start, end))
        took = time.perf_counter() - began
        best = took if best is None else min(best, took)
    print(json.dumps({"seconds": best, "occurrences": occurrences}))


if __name__ == "__main__":
    main()

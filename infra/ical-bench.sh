#!/usr/bin/env bash
# Installs the Python side of the iCalendar benchmark (icalendar + recurring_ical_events, pinned
# in tests/bench/requirements.txt) into the project's virtualenv and prints the line that points
# the Rust benchmark at it:
#
#     eval "$(infra/ical-bench.sh)" && cargo bench -p calsync-tests --bench ical
#
# Progress goes to stderr so `eval` only sees the export line.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" >&2
fi
"$VENV/bin/python" -m pip install --quiet -r "$REPO/tests/bench/requirements.txt" >&2
echo "export CALSYNC_BENCH_PYTHON=$VENV/bin/python"

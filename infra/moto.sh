#!/usr/bin/env bash
# Starts moto server for the AWS adapter tests, or reuses one already answering on the port,
# and prints the line that points the tests at it:
#
#     eval "$(infra/moto.sh)"
#
# moto lives in the project's own virtualenv ($REPO/.venv) so a fresh machine installs it
# without touching the system Python. Only the export line goes to stdout; progress and errors
# go to stderr so `eval` never sees them. The server keeps running after this script exits;
# its PID is in target/moto.pid (stop it with `kill "$(cat target/moto.pid)"`).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST=127.0.0.1
PORT="${MOTO_PORT:-5055}"
URL="http://$HOST:$PORT"
VENV="$REPO/.venv"
# Pinned to one major version: moto's server API and its AWS protocol coverage shift between majors.
MOTO_REQUIREMENT='moto[server]>=5,<6'
STATE_DIR="$REPO/target"
PID_FILE="$STATE_DIR/moto.pid"
LOG_FILE="$STATE_DIR/moto.log"
WAIT_SECONDS=30

log() { echo "moto.sh: $*" >&2; }

# Prints the HTTP status of a GET on $1, or 000 when nothing answers.
http_status() {
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true
    else
        python3 - "$1" <<'EOF' || echo 000
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
    fi
}

# The dashboard path only exists on moto, so a 200 there tells moto apart from any other server.
is_moto() { [ "$(http_status "$URL/moto-api/")" = 200 ]; }

emit() { echo "export CALSYNC_TEST_MOTO_URL=$URL"; }

if is_moto; then
    log "reusing the moto server already answering on $URL"
    emit
    exit 0
fi
if [ "$(http_status "$URL/")" != 000 ]; then
    log "something other than moto answers on $URL; set MOTO_PORT to a free port"
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtualenv $VENV"
    python3 -m venv "$VENV" >&2
fi
if [ ! -x "$VENV/bin/moto_server" ]; then
    log "installing $MOTO_REQUIREMENT into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$MOTO_REQUIREMENT" >&2
fi

mkdir -p "$STATE_DIR"
log "starting moto server on $URL (log: $LOG_FILE)"
# stdin/stdout/stderr are all redirected so the server holds no pipe of a `$(...)` caller open.
nohup "$VENV/bin/moto_server" -H "$HOST" -p "$PORT" </dev/null >"$LOG_FILE" 2>&1 &
pid=$!
echo "$pid" >"$PID_FILE"

for _ in $(seq 1 $((WAIT_SECONDS * 4))); do
    if is_moto; then
        emit
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        log "moto server exited during start-up; last lines of $LOG_FILE:"
        tail -n 20 "$LOG_FILE" >&2 || true
        rm -f "$PID_FILE"
        exit 1
    fi
    sleep 0.25
done

log "moto server did not answer within ${WAIT_SECONDS}s; stopping it. Last lines of $LOG_FILE:"
tail -n 20 "$LOG_FILE" >&2 || true
kill "$pid" 2>/dev/null || true
rm -f "$PID_FILE"
exit 1

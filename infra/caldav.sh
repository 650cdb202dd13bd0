#!/usr/bin/env bash
# Starts the two CalDAV servers the CalDAV client tests run against, Radicale and Xandikos, and
# prints the lines that point the tests at them:
#
#     eval "$(infra/caldav.sh)"
#
# Both live in the project's own virtualenv ($REPO/.venv), pinned to one minor series each
# because their status codes for the same precondition differ between releases (providers.md §4.2).
# Each server gets a free loopback port and a fresh temporary storage directory, so every run
# starts empty. Radicale requires HTTP Basic auth (htpasswd, plain, two generated users); Xandikos
# only offers Basic auth over its self-signed HTTPS mode, so it runs without authentication and
# ignores the credentials the client sends. Only the export lines go to stdout; progress and
# errors go to stderr so `eval` never sees them. The servers keep running after this script
# exits; their PIDs are in target/radicale.pid and target/xandikos.pid.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOST=127.0.0.1
VENV="$REPO/.venv"
RADICALE_REQUIREMENT='radicale>=3.9,<3.10'
XANDIKOS_REQUIREMENT='xandikos>=0.4,<0.5'
STATE_DIR="$REPO/target"
WAIT_SECONDS=30
USERNAME=calsync
PASSWORD="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
# A second Radicale account named like an Apple ID: the authorization page's iCloud form checks
# the credentials it is given, and in the tests Radicale stands in for Apple's server.
APPLE_ID=ada@icloud.example
APPLE_PASSWORD="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

log() { echo "caldav.sh: $*" >&2; }

# Prints the HTTP status of a PROPFIND on $1 (with Basic credentials when given as $2), or 000
# when nothing answers. PROPFIND rather than GET because only a DAV server answers it with 207.
dav_status() {
    "$VENV/bin/python" - "$@" <<'EOF' || echo 000
import base64, sys, urllib.request, urllib.error
request = urllib.request.Request(sys.argv[1], method="PROPFIND", headers={"Depth": "0"})
if len(sys.argv) > 2:
    request.add_header("Authorization", "Basic " + base64.b64encode(sys.argv[2].encode()).decode())
try:
    print(urllib.request.urlopen(request, timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
}

free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until $1 answers a PROPFIND with 207; $2 is the server's PID, $3 its log, $4 optional
# credentials.
wait_for() {
    local url="$1" pid="$2" log_file="$3" credentials="${4:-}"
    for _ in $(seq 1 $((WAIT_SECONDS * 4))); do
        if [ "$(dav_status "$url" ${credentials:+"$credentials"})" = 207 ]; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "the server behind $url exited during start-up; last lines of $log_file:"
            tail -n 20 "$log_file" >&2 || true
            return 1
        fi
        sleep 0.25
    done
    log "$url did not answer within ${WAIT_SECONDS}s; last lines of $log_file:"
    tail -n 20 "$log_file" >&2 || true
    kill "$pid" 2>/dev/null || true
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtualenv $VENV"
    python3 -m venv "$VENV" >&2
fi
if [ ! -x "$VENV/bin/radicale" ] || [ ! -x "$VENV/bin/xandikos" ]; then
    log "installing $RADICALE_REQUIREMENT and $XANDIKOS_REQUIREMENT into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "$RADICALE_REQUIREMENT" "$XANDIKOS_REQUIREMENT" >&2
fi
mkdir -p "$STATE_DIR"

# Radicale -------------------------------------------------------------------------------------
# Storage lives under target/ (not /tmp) so repeated runs do not pile up directories; the
# previous run's storage is removed once its server is gone.
for old in "$STATE_DIR"/caldav-radicale.* "$STATE_DIR"/caldav-xandikos.*; do
    [ -d "$old" ] || continue
    pid_file="$STATE_DIR/$(basename "$old" | cut -d. -f1 | sed 's/caldav-//').pid"
    if ! { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }; then rm -rf "$old"; fi
done
radicale_dir="$(mktemp -d "$STATE_DIR/caldav-radicale.XXXXXX")"
radicale_port="$(free_port)"
radicale_url="http://$HOST:$radicale_port"
radicale_log="$STATE_DIR/radicale.log"
printf '%s:%s\n%s:%s\n' "$USERNAME" "$PASSWORD" "$APPLE_ID" "$APPLE_PASSWORD" >"$radicale_dir/users"
chmod 600 "$radicale_dir/users"
# delay = 0: Radicale sleeps after a failed login by default, which only slows the wrong-password test.
cat >"$radicale_dir/config" <<EOF
[server]
hosts = $HOST:$radicale_port
[auth]
type = htpasswd
htpasswd_filename = $radicale_dir/users
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = $radicale_dir/collections
[logging]
level = warning
mask_passwords = True
EOF
log "starting Radicale on $radicale_url (storage $radicale_dir, log $radicale_log)"
nohup "$VENV/bin/radicale" --config "$radicale_dir/config" </dev/null >"$radicale_log" 2>&1 &
radicale_pid=$!
echo "$radicale_pid" >"$STATE_DIR/radicale.pid"
wait_for "$radicale_url/" "$radicale_pid" "$radicale_log" "$USERNAME:$PASSWORD" || exit 1

# Xandikos -------------------------------------------------------------------------------------
xandikos_dir="$(mktemp -d "$STATE_DIR/caldav-xandikos.XXXXXX")"
xandikos_port="$(free_port)"
xandikos_url="http://$HOST:$xandikos_port"
xandikos_log="$STATE_DIR/xandikos.log"
log "starting Xandikos on $xandikos_url (storage $xandikos_dir, log $xandikos_log)"
nohup "$VENV/bin/xandikos" serve --directory "$xandikos_dir/data" --state-dir "$xandikos_dir/state" \
    --autocreate --current-user-principal "/$USERNAME/" --listen-address "$HOST" --port "$xandikos_port" \
    --no-detect-systemd </dev/null >"$xandikos_log" 2>&1 &
xandikos_pid=$!
echo "$xandikos_pid" >"$STATE_DIR/xandikos.pid"
wait_for "$xandikos_url/" "$xandikos_pid" "$xandikos_log" || { kill "$radicale_pid" 2>/dev/null || true; exit 1; }

echo "export CALSYNC_TEST_RADICALE_URL=$radicale_url"
echo "export CALSYNC_TEST_RADICALE_USER=$USERNAME"
echo "export CALSYNC_TEST_RADICALE_PASSWORD=$PASSWORD"
echo "export CALSYNC_TEST_RADICALE_APPLE_ID=$APPLE_ID"
echo "export CALSYNC_TEST_RADICALE_APPLE_PASSWORD=$APPLE_PASSWORD"
echo "export CALSYNC_TEST_XANDIKOS_URL=$xandikos_url"

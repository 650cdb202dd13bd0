#!/usr/bin/env bash
# Runs calsync's whole test suite on a fresh machine, the one command the README and CI use:
#
#     infra/test.sh
#
# It reuses the PostgreSQL server at $CALSYNC_TEST_POSTGRES_URL (default: the local one on
# 127.0.0.1:5432, started here if it is installed but down), starts moto server from the
# project's own virtualenv (infra/moto.sh), builds the Lambda binaries the end-to-end tests run
# as child processes, lints template.yaml with cfn-lint, and runs every test: unit tests, the
# store suite on SQLite and PostgreSQL, the vault canary, the moto-backed adapters, the template's
# invariants and the Lambda binaries under a Runtime API emulator.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
log() { echo "test.sh: $*" >&2; }

# PostgreSQL -----------------------------------------------------------------------------------
export CALSYNC_TEST_POSTGRES_URL="${CALSYNC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_ready() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -d "$CALSYNC_TEST_POSTGRES_URL"
    else
        python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", 5432), 2)' 2>/dev/null
    fi
}
if ! pg_ready; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
        log "PostgreSQL is not answering; starting the local cluster"
        for version in $(ls /etc/postgresql); do
            pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        done
        for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
    fi
fi
if ! pg_ready; then
    log "PostgreSQL is not reachable at CALSYNC_TEST_POSTGRES_URL ($CALSYNC_TEST_POSTGRES_URL)."
    log "Start it (e.g. pg_ctlcluster --skip-systemctl-redirect <version> main start) or point the variable at a server."
    exit 1
fi
log "PostgreSQL is ready"

# moto server ----------------------------------------------------------------------------------
started_moto=""
if [ -z "${CALSYNC_TEST_MOTO_URL:-}" ]; then
    pid_file="$REPO/target/moto.pid"
    before="$(cat "$pid_file" 2>/dev/null || true)"
    eval "$(infra/moto.sh)"
    after="$(cat "$pid_file" 2>/dev/null || true)"
    [ -n "$after" ] && [ "$after" != "$before" ] && started_moto="$after"
fi
started_caldav=""
cleanup() {
    if [ -n "$started_moto" ]; then kill "$started_moto" 2>/dev/null || true; fi
    # shellcheck disable=SC2086 # two PIDs, split on purpose
    if [ -n "$started_caldav" ]; then kill $started_caldav 2>/dev/null || true; fi
}
trap cleanup EXIT
log "moto server at $CALSYNC_TEST_MOTO_URL"

# CalDAV servers (Radicale + Xandikos) from the project's virtualenv ---------------------------
eval "$(infra/caldav.sh)"
started_caldav="$(cat "$REPO/target/radicale.pid") $(cat "$REPO/target/xandikos.pid")"
log "Radicale at $CALSYNC_TEST_RADICALE_URL, Xandikos at $CALSYNC_TEST_XANDIKOS_URL"

# Cronofy SDKs (pycronofy in .venv, npm cronofy in tests/sdk/node) -----------------------------
eval "$(infra/sdks.sh)"
log "pycronofy at $CALSYNC_TEST_PYTHON; npm cronofy in $CALSYNC_TEST_NODE_SDK_DIR"

# Headless browser (Chromium + playwright-core) for the authorization page --------------------
eval "$(infra/browser.sh)"
log "Chromium at $CALSYNC_TEST_CHROMIUM, browser test packages in $CALSYNC_TEST_BROWSER_DIR"

# The SAM template: cfn-lint, and the virtualenv Python whose decoder the template test uses --
eval "$(infra/cfn-lint.sh)"
log "template.yaml passes cfn-lint"

# Build and test -------------------------------------------------------------------------------
log "building the workspace (Lambda binaries included)"
cargo build --workspace --bins --locked
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast --failure-output final
else
    log "cargo-nextest not found; using cargo test"
    cargo test --workspace --locked --no-fail-fast
fi

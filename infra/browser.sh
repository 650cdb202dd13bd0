#!/usr/bin/env bash
# Installs what the headless-browser test (tests/e2e/browser.rs) needs on a fresh Debian machine
# and prints the variables that point the test at it:
#
#     eval "$(infra/browser.sh)"
#
# Chromium comes from Debian's own package; the test drives it with playwright-core, which ships
# no browser of its own (tests/browser/package.json pins it, package-lock.json pins the tree).
# Progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BROWSER_DIR="$REPO/tests/browser"
CHROMIUM=/usr/bin/chromium
log() { echo "browser.sh: $*" >&2; }

if [ ! -x "$CHROMIUM" ]; then
    log "installing Chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends chromium >&2
fi
[ -x "$CHROMIUM" ] || { log "Chromium is still missing at $CHROMIUM"; exit 1; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    log "installing Node.js and npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends nodejs npm >&2
fi

cd "$BROWSER_DIR"
if [ ! -f package-lock.json ]; then
    log "creating package-lock.json"
    npm install --no-audit --no-fund >&2
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    # npm ci wipes node_modules, so only when the lockfile changed since the last install.
    log "installing the browser test's npm packages"
    npm ci --no-audit --no-fund >&2
fi

echo "export CALSYNC_TEST_CHROMIUM=$CHROMIUM"
echo "export CALSYNC_TEST_BROWSER_DIR=$BROWSER_DIR"

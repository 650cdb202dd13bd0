#!/usr/bin/env bash
# Installs the Cronofy SDKs the compatibility tests drive (tests/e2e/sdk.rs) and prints the
# lines that point the tests at them:
#
#     eval "$(infra/sdks.sh)"
#
# pycronofy goes into the project's own virtualenv ($REPO/.venv, shared with infra/moto.sh), the
# npm `cronofy` package into tests/sdk/node/node_modules from its lock file. Each is installed
# only when missing or at another version, so a warm machine makes no registry request. Only
# the export lines go to stdout; progress and errors go to stderr so `eval` never sees them.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
PY_REQUIREMENTS="$REPO/tests/sdk/python/requirements.txt"
NODE_DIR="$REPO/tests/sdk/node"

log() { echo "sdks.sh: $*" >&2; }

# Python: pycronofy ---------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtualenv $VENV"
    python3 -m venv "$VENV" >&2
fi
# `pip install --dry-run` would still ask the registry; comparing the installed version with the
# pin keeps a warm run offline.
wanted="$(sed -n 's/^pycronofy==\([^[:space:]]*\).*/\1/p' "$PY_REQUIREMENTS")"
installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pycronofy"))' 2>/dev/null || true)"
if [ -z "$wanted" ]; then
    log "no pycronofy==VERSION pin in $PY_REQUIREMENTS"
    exit 1
fi
# icalendar reads the Smart Invite invitations back (tests/sdk/python/smart_invite.py).
if [ "$installed" != "$wanted" ] || ! "$VENV/bin/python" -c 'import icalendar' 2>/dev/null; then
    log "installing pycronofy $wanted and icalendar into $VENV (found: ${installed:-none})"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$PY_REQUIREMENTS" >&2
fi

# Node: cronofy -------------------------------------------------------------------------------
if ! command -v npm >/dev/null 2>&1; then
    log "npm is not installed (Debian: apt-get install -y nodejs npm)"
    exit 1
fi
# The install is current when every package of the lock file is in node_modules at its version.
node_current() {
    (cd "$NODE_DIR" && node -e '
        const fs = require("fs");
        const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
        const stale = Object.entries(lock.packages).filter(([path, p]) => {
            if (!path) return false;
            try { return JSON.parse(fs.readFileSync(path + "/package.json", "utf8")).version !== p.version; }
            catch { return true; }
        });
        process.exit(stale.length ? 1 : 0);
    ')
}
if ! node_current; then
    log "installing the npm cronofy SDK into $NODE_DIR/node_modules"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

echo "export CALSYNC_TEST_PYTHON=$VENV/bin/python"
echo "export CALSYNC_TEST_NODE_SDK_DIR=$NODE_DIR"

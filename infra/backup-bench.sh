#!/usr/bin/env bash
# Backup benchmark: `calsync backup run` against `pg_dump -Fc` of the same PostgreSQL database, in
# the same run, at two database sizes, with the peak memory (max RSS) of each process, so that
# flat memory as the database grows is visible:
#
#     infra/backup-bench.sh [SMALL_EVENTS] [LARGE_EVENTS]      # default 100000 1000000
#
# Needs PostgreSQL at CALSYNC_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres)
# and pg_dump of the server's major version. Each size gets its own database, seeded in SQL with
# one account whose calendar holds that many events (summary, description, attendees), and is
# dropped afterwards. The backup goes to a directory blob store and pg_dump to a file on the
# same disk, each timed once after one warm-up of the database's cache.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ADMIN_URL="${CALSYNC_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
SIZES=("${1:-100000}" "${2:-1000000}")
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

log() { echo "backup-bench: $*" >&2; }

log "building calsync (optimised, without LTO)"
cargo build --quiet --profile bench -p calsync --manifest-path "$REPO/Cargo.toml"
CALSYNC="$REPO/target/release/calsync"

# Runs a command and prints "<seconds> <max RSS in KiB>" of it.
measure() {
    python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
start = time.monotonic()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
elapsed = time.monotonic() - start
print(f"{elapsed:.2f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
EOF
}

db_url() { python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$ADMIN_URL" "$1"; }

seed() {
    local url="$1" events="$2"
    psql -q "$url" -v ON_ERROR_STOP=1 <<EOF
INSERT INTO accounts (id, email, name, default_tzid, created_at)
VALUES ('acc_bench', 'bench@example.com', 'Bench', 'Europe/London', now());
INSERT INTO profiles (id, account_id, provider, provider_service, email, status, created_at, updated_at)
VALUES ('pro_bench', 'acc_bench', 'apple', 'apple', 'bench@example.com', 'active', now(), now());
INSERT INTO calendars (id, profile_id, account_id, provider_calendar_id, name, is_primary, read_only, deleted, created_at, updated_at)
VALUES ('cal_bench', 'pro_bench', 'acc_bench', 'home', 'Home', true, false, false, now(), now());
INSERT INTO events (uid, calendar_id, profile_id, account_id, kind, provider_id, ical_uid, etag, content_hash,
                    summary, description, start_at, end_at, all_day, attendees, categories, transparency, status,
                    deleted, created_at, updated_at, last_modified)
SELECT 'evt_' || lpad(i::text, 10, '0'), 'cal_bench', 'pro_bench', 'acc_bench', 'third_party',
       'evt-' || i || '.ics', 'uid-' || i || '@example.com', md5(i::text), md5('c' || i),
       'Meeting ' || i || ' about the quarterly plan',
       repeat('Agenda item ' || i || '. ', 8),
       timestamptz '2026-01-01' + (i % 5000) * interval '1 hour',
       timestamptz '2026-01-01' + (i % 5000) * interval '1 hour' + interval '30 minutes',
       false,
       jsonb_build_array(jsonb_build_object('email', 'guest' || i || '@example.com', 'status', 'accepted')),
       '[]'::jsonb, 'opaque', 'confirmed', false, now(), now(), now()
FROM generate_series(1, $events) AS i;
ANALYZE;
EOF
}

printf '\n| events | database | calsync backup | pg_dump -Fc | backup / pg_dump | backup size | dump size | backup peak RSS | pg_dump peak RSS |\n'
printf '|---|---|---|---|---|---|---|---|---|\n'
for events in "${SIZES[@]}"; do
    name="calsync_backup_bench_$events"
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name"
    url="$(db_url "$name")"
    data="$WORK/data-$events"
    log "$events events: migrating and seeding $name"
    CALSYNC_DATA_DIR="$data" CALSYNC_DATABASE_URL="$url" "$CALSYNC" migrate >/dev/null
    seed "$url" "$events"
    db_size="$(psql -Atq "$url" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    psql -q "$url" -c "SELECT count(*) FROM events" >/dev/null # warm the cache

    log "$events events: calsync backup run"
    read -r backup_s backup_kib < <(CALSYNC_DATA_DIR="$data" CALSYNC_DATABASE_URL="$url" measure "$CALSYNC" backup run)
    backup_bytes="$(du -sb "$data/blobs/backups" | cut -f1)"
    log "$events events: pg_dump -Fc"
    read -r dump_s dump_kib < <(measure pg_dump -Fc -f "$WORK/$name.dump" "$url")
    dump_bytes="$(stat -c %s "$WORK/$name.dump")"

    ratio="$(python3 -c "print(f'{$backup_s / $dump_s:.2f}x')")"
    mib() { python3 -c "print(f'{$1 / 1048576:.1f} MiB')"; }
    printf '| %s | %s | %s s | %s s | %s | %s | %s | %s | %s |\n' "$events" "$db_size" "$backup_s" "$dump_s" "$ratio" \
        "$(mib "$backup_bytes")" "$(mib "$dump_bytes")" "$(mib "$((backup_kib * 1024))")" "$(mib "$((dump_kib * 1024))")"
    psql -q "$ADMIN_URL" -c "DROP DATABASE $name WITH (FORCE)"
done

#!/usr/bin/env bash
# `make restore FILE=var/backups/citysafety-….dump DB=citysafety_restored`:
# restore a dump of `make backup` into a NEW database of that name, on the
# server of DATABASE_URL. It never writes into an existing database: check
# the restored copy, then point DATABASE_URL at it (or rename the databases
# while the platform is stopped). docs/operations.md, "Backups".
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

file="${1:-}"
target="${2:-}"
[[ -n "$file" && -n "$target" ]] || die "usage: make restore FILE=<dump> DB=<new database name>"
[[ -f "$file" ]] || die "no such dump: $file"
[[ "$target" =~ ^[A-Za-z_][A-Za-z0-9_]{0,62}$ ]] ||
    die "DB=$target: use letters, digits and underscores (at most 63, not starting with a digit)"
resolve_urls
command -v pg_restore >/dev/null || die "pg_restore is missing (package postgresql-client-15)"
pg_restore --list "$file" >/dev/null || die "$file is not a dump of pg_dump's custom format"

# The name is checked above: it can stand in the SQL as it is.
exists="$(psql "$PG_ADMIN_URI" -X -q -t -A -v ON_ERROR_STOP=1 -c "SELECT 1 FROM pg_database WHERE datname = '$target'")"
[[ -z "$exists" ]] || die "the database $target exists already; restore into a new name"

target_uri="$("$PYTHON" -c 'import sys; from urllib.parse import urlsplit; print(urlsplit(sys.argv[1])._replace(path="/" + sys.argv[2]).geturl())' "$PG_DB_URI" "$target")"
log "Creating $target on $DB_HOST:$DB_PORT"
psql "$PG_ADMIN_URI" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$target\"" >/dev/null
log "Restoring $file into $target"
# One transaction: a restore that fails half-way leaves an empty database,
# not a partial one that looks whole.
if ! pg_restore --exit-on-error --single-transaction --no-owner --dbname="$target_uri" "$file"; then
    die "the restore failed; $target is left empty (drop it with: DROP DATABASE \"$target\")"
fi
readings="$(psql "$target_uri" -X -q -t -A -c 'SELECT count(*) FROM monitoring_reading')"
log "Restored $target: $readings readings"

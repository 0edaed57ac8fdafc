#!/usr/bin/env bash
# `make backup`: the whole database (readings' partitions, pg_partman's
# configuration and PostGIS included) in pg_dump's custom format, one file
# named for the database and the UTC time it was taken:
#   $BACKUP_DIR/<database>-<YYYYmmddTHHMMSSZ>.dump
# The file is written under a temporary name and renamed only once pg_restore
# has read its table of contents back, so a file with the final name is whole.
# Configuration: DATABASE_URL (as for the platform), BACKUP_DIR (default
# var/backups), BACKUP_KEEP (newest dumps of this database kept; default 14,
# 0 keeps all). docs/operations.md, "Backups", has the schedule.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

resolve_urls
command -v pg_dump >/dev/null || die "pg_dump is missing (package postgresql-client-15)"
BACKUP_DIR="${BACKUP_DIR:-$VAR/backups}"
BACKUP_KEEP="${BACKUP_KEEP:-14}"
[[ "$BACKUP_KEEP" =~ ^[0-9]+$ ]] || die "BACKUP_KEEP=$BACKUP_KEEP is not a number of dumps"
mkdir -p "$BACKUP_DIR"

file="$BACKUP_DIR/$DB_NAME-$(date -u +%Y%m%dT%H%M%SZ).dump"
[[ ! -e "$file" ]] || die "$file exists already (two backups within one second?)"
partial="$file.partial"
trap 'rm -f "$partial"' EXIT
log "Dumping $DB_NAME from $DB_HOST:$DB_PORT"
pg_dump --format=custom --compress=6 --file="$partial" "$PG_DB_URI"
pg_restore --list "$partial" >/dev/null || die "the dump does not read back: $partial"
mv "$partial" "$file"
log "Backup written: $file ($(du -h "$file" | cut -f1))"

if ((BACKUP_KEEP > 0)); then
    # Names sort by time; only this database's dumps are counted.
    mapfile -t old < <(ls -1 "$BACKUP_DIR/$DB_NAME"-*.dump 2>/dev/null | sort | head -n "-$BACKUP_KEEP")
    for stale in "${old[@]}"; do
        log "Removing the old backup $stale"
        rm -f -- "$stale"
    done
fi
echo "$file"

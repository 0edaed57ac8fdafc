#!/usr/bin/env bash
# `make bench-history`: the warning and work-order lists over a history of
# 1,000,000 warnings and 4,000,000 work orders (`python -m bench.history`,
# see bench/history.py), on a database of its own: BENCH_DATABASE_URL, else
# citysafety_bench on DATABASE_URL's server, dropped and created again.
# BENCH_ARGS and the arguments go to `python -m bench.history` (`--help`).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv requirements.txt
resolve_urls
ensure_service PostgreSQL "$DB_HOST" "$DB_PORT" start_private_postgres

read -r -a extra <<<"${BENCH_ARGS:-}"
cd "$ROOT"
exec "$VENV/bin/python" -m bench.history "${extra[@]}" "$@"

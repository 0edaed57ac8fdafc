#!/usr/bin/env bash
# `make bench-rollups`: python -m bench.rollups (see bench/rollups.py) on a
# database of its own: BENCH_DATABASE_URL (default citysafety_bench on
# DATABASE_URL's server), dropped and created again. QUICK=1: 10,000 sensors.
# BENCH_ARGS and the arguments go to `python -m bench.rollups` (`--help`).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages "${RUN_PACKAGES[@]}"
ensure_venv requirements-dev.txt
resolve_urls
ensure_service PostgreSQL "$DB_HOST" "$DB_PORT" start_private_postgres

args=()
if [[ -n "${QUICK:-}" && "${QUICK}" != 0 ]]; then
    args+=(--quick)
fi
read -r -a extra <<<"${BENCH_ARGS:-}"
cd "$ROOT"
exec "$VENV/bin/python" -m bench.rollups "${args[@]}" "${extra[@]}" "$@"

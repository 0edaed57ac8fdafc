#!/usr/bin/env bash
# `make bench-map`: the one map at 10,000 and 100,000 sensors in headless
# Chromium (bench/map.py): time to the first full paint, payload, JS heap,
# redraw after a pan and a zoom, beside issue 8's targets. Its own database
# (BENCH_DATABASE_URL, default citysafety_bench on DATABASE_URL's server,
# dropped and made again) and its own Redis and daphne. BENCH_ARGS and the
# arguments go to `python -m bench.map` (`--help` lists them).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# redis-server for the bench's private Redis; Chromium and Playwright from
# the test set-up.
ensure_packages "${TEST_PACKAGES[@]}"
ensure_venv requirements-dev.txt
resolve_urls
ensure_service PostgreSQL "$DB_HOST" "$DB_PORT" start_private_postgres

read -r -a extra <<<"${BENCH_ARGS:-}"
cd "$ROOT"
exec "$VENV/bin/python" -m bench.map "${extra[@]}" "$@"

#!/usr/bin/env bash
# `make bench` and the other bench-* targets: one benchmark under bench/, on a
# database (and, for `make bench`, a Redis and Mosquitto) of its own.
#
#   BENCH_MODULE        the benchmark: bench (default: the storm load against
#                       the stack as `make run` starts it, bench/run.py),
#                       bench.backtest, bench.history, bench.rollups, bench.map,
#                       bench.no_data
#   QUICK=1             a first look, for the benchmarks that have one
#                       (bench: under 3 minutes; bench.rollups and bench.no_data:
#                       10,000 sensors)
#   BENCH_ARGS          more arguments (`python -m <module> --help` lists them)
#   BENCH_DATABASE_URL  its database (default: citysafety_bench on
#                       DATABASE_URL's server, dropped and created again)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

module="${BENCH_MODULE:-bench}"
# redis-server and mosquitto for the storm bench's private servers, Chromium
# for the map's; the dev requirements for the probe's websocket client.
if [[ "$module" == bench.map ]]; then
    ensure_packages "${TEST_PACKAGES[@]}"
else
    ensure_packages "${RUN_PACKAGES[@]}"
fi
ensure_venv requirements-dev.txt
resolve_urls
ensure_service PostgreSQL "$DB_HOST" "$DB_PORT" start_private_postgres

args=()
if [[ -n "${QUICK:-}" && "${QUICK}" != 0 ]]; then
    args+=(--quick)
fi
read -r -a extra <<<"${BENCH_ARGS:-}"
cd "$ROOT"
exec "$VENV/bin/python" -m "$module" "${args[@]}" "${extra[@]}" "$@"

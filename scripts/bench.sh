#!/usr/bin/env bash
# `make bench`: the benchmark (`python -m bench`, see bench/run.py) against
# the stack as `make run` starts it, on a database, Redis and Mosquitto of its
# own. QUICK=1 gives a first look in under 3 minutes. BENCH_ARGS and the
# arguments go to `python -m bench` (`--help` lists them); BENCH_DATABASE_URL
# names its database (default: citysafety_bench on DATABASE_URL's server,
# dropped and created again on every run).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# redis-server and mosquitto for the bench's private servers; the dev
# requirements for the probe's websocket client.
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
# BENCH_MODULE picks another benchmark under bench/ (the Makefile's bench-* targets).
if [[ -n "${BENCH_MODULE:-}" ]]; then
    exec "$VENV/bin/python" -m "$BENCH_MODULE" "${extra[@]}" "$@"
fi
exec "$VENV/bin/python" -m bench "${args[@]}" "${extra[@]}" "$@"

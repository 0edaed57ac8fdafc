#!/usr/bin/env bash
# `make test`: the run set-up plus the browser, fonts and docker-compose, then
# the whole suite as two pytest calls: Playwright's sync API and
# pytest-asyncio's event loop cannot share one process. Both calls always
# run; the result fails when either fails, and "no tests collected" (pytest's
# exit code 5) is a failure too.
#
# Each call spreads its tests over pytest-xdist workers; every worker has its
# own test database, Redis server, MQTT topics and servers (tests/live.py).
# Many tests wait on real processes (daphne, Celery, Chromium) rather than
# compute, so more workers than cores pay off: docs/testing.md has the
# measurements behind the defaults.
#
#   PYTEST_ARGS   extra arguments for both pytest calls, e.g. "-x -k ingest"
#   TEST_WORKERS  workers for the tests without a browser (0: no xdist)
#   E2E_WORKERS   workers for the browser tests (0: no xdist)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup test
export CI="${CI:-true}"
# Browser tests drive Debian's Chromium; Playwright's own download is not used.
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

read -r -a extra <<<"${PYTEST_ARGS:-}"

unit_workers="${TEST_WORKERS:-2}"
e2e_workers="${E2E_WORKERS:-2}"
# xdist's default scheduling deals the first tests out one to each worker;
# tests/conftest.py puts the longest first, so they start side by side.
spread=(--dist load --durations=25)

log "pytest -m 'not e2e' -n $unit_workers"
unit=0
"$VENV/bin/pytest" -m "not e2e" -n "$unit_workers" "${spread[@]}" "${extra[@]}" </dev/null || unit=$?

log "pytest -m e2e -n $e2e_workers"
e2e=0
"$VENV/bin/pytest" -m e2e -n "$e2e_workers" "${spread[@]}" "${extra[@]}" </dev/null || e2e=$?

describe() {
    case "$1" in
        0) echo "passed" ;;
        5) echo "FAILED: no tests collected (exit 5)" ;;
        *) echo "FAILED (exit $1)" ;;
    esac
}
log "not e2e: $(describe "$unit"); e2e: $(describe "$e2e")"
((unit == 0 && e2e == 0))

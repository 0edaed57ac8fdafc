#!/usr/bin/env bash
# `make test`: the run set-up plus the browser, fonts and docker-compose, then
# the whole suite as two pytest calls: Playwright's sync API and
# pytest-asyncio's event loop cannot share one process. Both calls always
# run; the result fails when either fails, and "no tests collected" (pytest's
# exit code 5) is a failure too.
#
#   PYTEST_ARGS   extra arguments for both pytest calls, e.g. "-x -k ingest"
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup test
export CI="${CI:-true}"
# Browser tests drive Debian's Chromium; Playwright's own download is not used.
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

read -r -a extra <<<"${PYTEST_ARGS:-}"

log "pytest -m 'not e2e'"
unit=0
"$VENV/bin/pytest" -m "not e2e" "${extra[@]}" </dev/null || unit=$?

log "pytest -m e2e"
e2e=0
"$VENV/bin/pytest" -m e2e "${extra[@]}" </dev/null || e2e=$?

describe() {
    case "$1" in
        0) echo "passed" ;;
        5) echo "FAILED: no tests collected (exit 5)" ;;
        *) echo "FAILED (exit $1)" ;;
    esac
}
log "not e2e: $(describe "$unit"); e2e: $(describe "$e2e")"
((unit == 0 && e2e == 0))

#!/usr/bin/env bash
# `make bench`: the benchmarks in bench/run.py, against the same servers as
# `make run`. Arguments go to bench/run.py.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -f "$ROOT/bench/run.py" ]] || die "bench/run.py does not exist yet"
ensure_packages "${RUN_PACKAGES[@]}"
ensure_venv requirements-dev.txt
resolve_urls
ensure_services
ensure_database
cd "$ROOT"
exec "$VENV/bin/python" bench/run.py "$@"

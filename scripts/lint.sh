#!/usr/bin/env bash
# `make lint`: ruff's checks and its formatter, checking only, and the
# architecture's import contracts (pyproject.toml).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv requirements-dev.txt
cd "$ROOT"
status=0
"$VENV/bin/ruff" check . || status=1
"$VENV/bin/ruff" format --check . || status=1
"$VENV/bin/lint-imports" || status=1
exit "$status"

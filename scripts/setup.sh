#!/usr/bin/env bash
# `make setup`: what `make run` (setup.sh run) or `make test` (setup.sh test)
# installs and starts before Django runs, on its own.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-test}" in
    run | test) setup "${1:-test}" ;;
    *) die "usage: $0 [run|test]" ;;
esac

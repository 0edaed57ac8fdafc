#!/usr/bin/env bash
# `make run`: set up, load the demo city and run web, worker, beat and the
# simulator in the foreground. Ctrl-C or SIGTERM stops all of them.
#
#   PORT=8000        where daphne listens
#   LOAD_DEMO=1      0 skips `manage.py load_demo_city`
#   SIMULATOR=1      0 runs without the reading simulator
#   SIMULATOR_ARGS   extra simulate_readings options, e.g. "--incident gas_leak"
#   STOP_TIMEOUT=20  seconds a process gets to stop before it is killed
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${PORT:-8000}"
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"

setup run
log "Migrating the database"
manage migrate --noinput -v 1
if [[ "${LOAD_DEMO:-1}" != 0 ]]; then
    log "Loading the demo city"
    manage load_demo_city
fi
port_open 127.0.0.1 "$PORT" && die "port $PORT is taken; stop what listens there or choose another PORT"

# --- Supervisor ---------------------------------------------------------------
# Each process runs in its own session (setsid), so the terminal's Ctrl-C
# reaches only this script, which then stops each process: TERM, a grace
# period, then KILL for its whole process group. Nothing is left behind,
# including Celery's pool children.

declare -A NAME_OF=()
PIDS=()
STOPPING=0

if [[ -t 1 ]]; then
    COLOURS=(36 33 35 32 34 31)
else
    COLOURS=()
fi

start_process() { # NAME COMMAND...
    local name="$1" prefix
    shift
    if ((${#COLOURS[@]})); then
        prefix=$'\033['"${COLOURS[${#PIDS[@]} % ${#COLOURS[@]}]}m$(printf '%-9s' "$name")|"$'\033[0m '
    else
        prefix="$(printf '%-9s' "$name")| "
    fi
    # The prefixer ignores SIGINT so it outlives its process and keeps the
    # shutdown messages; sed -u passes each line on at once (mawk would hold
    # a quiet process's lines back until its buffer fills).
    setsid "$@" </dev/null > >(
        trap '' INT
        exec sed -u "s#^#$prefix#"
    ) 2>&1 &
    PIDS+=("$!")
    NAME_OF[$!]="$name"
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_all() {
    local pid deadline
    ((STOPPING || ${#PIDS[@]} == 0)) && return 0
    STOPPING=1
    local names=()
    for pid in "${PIDS[@]}"; do names+=("${NAME_OF[$pid]}"); done
    log "Stopping ${names[*]}"
    # TERM goes to the main process only: Celery's warm shutdown lets its
    # pool children finish their tasks, which a TERM of their own would cut.
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + STOP_TIMEOUT))
    for pid in "${PIDS[@]}"; do
        while group_alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if group_alive "$pid"; then
            kill -0 "$pid" 2>/dev/null && log "${NAME_OF[$pid]} did not stop in ${STOP_TIMEOUT}s: killing it"
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    done
    wait 2>/dev/null || true
}

# shellcheck disable=SC2317 # called by trap
on_signal() {
    trap '' INT TERM
    stop_all
    log "Stopped"
    exit 0
}
trap on_signal INT TERM
trap stop_all EXIT

start_process web "$VENV/bin/daphne" -b 127.0.0.1 -p "$PORT" citysafety.asgi:application
start_process worker "$VENV/bin/celery" -A citysafety worker -l info --concurrency 2
start_process beat "$VENV/bin/celery" -A citysafety beat -l info -s "$VAR/celerybeat-schedule"
start_process mqtt "$VENV/bin/python" manage.py mqtt_bridge

# The simulator posts to the web server: start it once daphne answers.
deadline=$((SECONDS + 60))
until port_open 127.0.0.1 "$PORT"; do
    group_alive "${PIDS[0]}" || break
    ((SECONDS < deadline)) || die "daphne did not listen on port $PORT within 60s"
    sleep 0.3
done
if [[ "${SIMULATOR:-1}" != 0 ]] && group_alive "${PIDS[0]}"; then
    read -r -a simulator_args <<<"${SIMULATOR_ARGS:-}"
    start_process simulator "$VENV/bin/python" manage.py simulate_readings --url "http://127.0.0.1:$PORT" \
        "${simulator_args[@]}"
fi

cat >&2 <<EOF

${_BOLD}CitySafety is running at http://127.0.0.1:$PORT/${_RESET}
  dashboard    http://127.0.0.1:$PORT/
  work orders  http://127.0.0.1:$PORT/work-orders/
  admin        http://127.0.0.1:$PORT/admin/
  API docs     http://127.0.0.1:$PORT/api/v1/docs/
Demo logins (user / password):
  admin / citysafety-admin    administrator
  duty  / citysafety-duty     duty officer
  gas   / citysafety-gas      gas company staff
  water / citysafety-water    water company staff
  every other department signs in as its code (housing-bureau, command-office,
  gov-340102, …) with the password citysafety-demo
Press Ctrl-C to stop.

EOF

# Any process that ends on its own ends the whole run: a half-running system
# would only mislead.
status=0
wait -n -p exited "${PIDS[@]}" || status=$?
log "${NAME_OF[${exited:-}]:-a process} exited with status $status; stopping the others"
stop_all
exit $((status == 0 ? 1 : status))

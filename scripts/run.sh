#!/usr/bin/env bash
# `make run`: set up, load the demo city and run web, api, worker, beat, the
# MQTT bridge and the simulator in the foreground. Ctrl-C or SIGTERM stops
# all of them.
#
#   PORT=8000        where daphne listens: pages and websockets
#   INGEST_PORT      where gunicorn listens: the gateways' HTTP API (PORT+1)
#   WEB_CONCURRENCY=3  gunicorn's worker processes
#   DEBUG=0          1 runs Django in debug mode (tracebacks in the browser)
#   HTTPS_ONLY=0     plain http on this machine, with DEBUG off (see docs/configuration.md)
#   DB_CONN_MAX_AGE=60  seconds the api and Celery workers keep a database
#                    connection (daphne always uses 0)
#   LOAD_DEMO=1      0 skips `manage.py load_demo_city`
#   SIMULATOR=1      0 runs without the reading simulator
#   SIMULATOR_ARGS   extra simulate_readings options, e.g. "--incident gas_leak"
#   STOP_TIMEOUT=20  seconds a process gets to stop before it is killed
#   OTP_REQUIRED_ROLES=  roles asked for a TOTP code; none in the demo
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT="${PORT:-8000}"
INGEST_PORT="${INGEST_PORT:-$((PORT + 1))}"
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"
DB_CONN_MAX_AGE="${DB_CONN_MAX_AGE:-60}"

# Django runs as it would in production unless the person asks for DEBUG=1,
# over plain http on this machine (HTTPS_ONLY=0: no redirect to TLS, cookies
# sent over http). Without DEBUG Django needs a secret key: one is made on
# the first run and kept in var/, so sessions survive a restart.
export DEBUG="${DEBUG:-0}" HTTPS_ONLY="${HTTPS_ONLY:-0}"
# The demo's logins have no authenticator app behind them: no second factor
# unless asked for (set but empty; production's default is on).
export OTP_REQUIRED_ROLES="${OTP_REQUIRED_ROLES-}"
if [[ -z "${SECRET_KEY:-}" ]]; then
    mkdir -p "$VAR"
    if [[ ! -s "$VAR/secret_key" ]]; then
        (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))' >"$VAR/secret_key")
    fi
    SECRET_KEY="$(cat "$VAR/secret_key")"
    export SECRET_KEY
fi
case "${DEBUG,,}" in
    1 | true | yes | on) debug=1 ;;
    *) debug=0 ;;
esac

setup run
log "Migrating the database"
manage migrate --noinput -v 1
if [[ "${LOAD_DEMO:-1}" != 0 ]]; then
    log "Loading the demo city"
    manage load_demo_city
fi
if ((!debug)); then
    # WhiteNoise serves the collected files when DEBUG is off.
    log "Collecting static files"
    manage collectstatic --noinput -v 0
fi
port_open 127.0.0.1 "$PORT" && die "port $PORT is taken; stop what listens there or choose another PORT"
port_open 127.0.0.1 "$INGEST_PORT" &&
    die "port $INGEST_PORT is taken; stop what listens there or choose another INGEST_PORT"

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

# daphne: pages and websockets. gunicorn: the same Django application for
# the gateways' HTTP API, several requests at once in worker processes that
# keep their database connections (gunicorn.conf.py).
start_process web "$VENV/bin/daphne" -b 127.0.0.1 -p "$PORT" citysafety.asgi:application
start_process api "$VENV/bin/gunicorn" -c gunicorn.conf.py -b "127.0.0.1:$INGEST_PORT" citysafety.wsgi:application
start_process worker env DB_CONN_MAX_AGE="$DB_CONN_MAX_AGE" \
    "$VENV/bin/celery" -A citysafety worker -l info --concurrency 2
start_process beat "$VENV/bin/celery" -A citysafety beat -l info -s "$VAR/celerybeat-schedule"
# A client id per web port: two checkouts on one machine (or make run beside
# the tests) keep their own broker sessions instead of taking over each other's.
start_process mqtt env DB_CONN_MAX_AGE="$DB_CONN_MAX_AGE" "$VENV/bin/python" manage.py mqtt_bridge --client-id "citysafety-bridge-$PORT"

# The simulator posts to the API: start it once daphne and gunicorn answer.
deadline=$((SECONDS + 60))
for server in "0 daphne $PORT" "1 gunicorn $INGEST_PORT"; do
    read -r index name port <<<"$server"
    until port_open 127.0.0.1 "$port"; do
        group_alive "${PIDS[$index]}" || break
        ((SECONDS < deadline)) || die "$name did not listen on port $port within 60s"
        sleep 0.3
    done
done
if [[ "${SIMULATOR:-1}" != 0 ]] && group_alive "${PIDS[0]}" && group_alive "${PIDS[1]}"; then
    read -r -a simulator_args <<<"${SIMULATOR_ARGS:-}"
    start_process simulator "$VENV/bin/python" manage.py simulate_readings --url "http://127.0.0.1:$INGEST_PORT" \
        "${simulator_args[@]}"
fi

if ((debug)); then
    mode="DEBUG on"
else
    mode="DEBUG off; DEBUG=1 make run for tracebacks in the browser"
fi
cat >&2 <<EOF

${_BOLD}CitySafety is running at http://127.0.0.1:$PORT/${_RESET} ($mode)
  dashboard    http://127.0.0.1:$PORT/
  work orders  http://127.0.0.1:$PORT/work-orders/
  admin        http://127.0.0.1:$PORT/admin/
  API docs     http://127.0.0.1:$PORT/api/v1/docs/
  gateway API  http://127.0.0.1:$INGEST_PORT/api/v1/readings/ (gunicorn)
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

# Shared set-up for `make run`, `make test` and friends. Sourced, not run.
#
# Everything here is safe to repeat: packages, the virtualenv, the servers and
# the database are only touched when they are missing or out of date, so a
# second run costs a few seconds.
#
# Configuration (environment):
#   DATABASE_URL  default postgis://postgres@127.0.0.1:$PG_PORT/$DB_NAME
#   REDIS_URL     default redis://127.0.0.1:$REDIS_PORT/0
#   MQTT_URL      default mqtt://127.0.0.1:$MQTT_PORT
#   PG_PORT=5432 REDIS_PORT=6379 MQTT_PORT=1883 DB_NAME=citysafety
#       used only to build the URLs above when they are not given
#   PYTHON=python3   interpreter the virtualenv is made from
#   VENV=.venv       where the virtualenv lives
#   PG_BIN=/usr/lib/postgresql/15/bin   initdb and pg_ctl of a private server
#   PGDATA_DIR=var/pgdata               data of a private PostgreSQL server

# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="$ROOT/var"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
export DEBIAN_FRONTEND=noninteractive

# postgresql-15-partman: pg_partman, which keeps the readings' partitions.
RUN_PACKAGES=(postgresql-15 postgresql-15-postgis-3 postgresql-15-partman libgdal32 redis-server mosquitto gettext)
# prometheus: promtool, which checks what /metrics answers.
TEST_PACKAGES=("${RUN_PACKAGES[@]}" chromium fonts-noto-cjk docker-compose prometheus)

if [[ -t 2 ]]; then
    _BOLD=$'\033[1m' _RED=$'\033[31m' _RESET=$'\033[0m'
else
    _BOLD='' _RED='' _RESET=''
fi

log() { printf '%s==> %s%s\n' "$_BOLD" "$*" "$_RESET" >&2; }
die() {
    printf '%serror: %s%s\n' "$_RED" "$*" "$_RESET" >&2
    exit 1
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# --- Debian packages --------------------------------------------------------

package_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# ensure_packages PKG...: install the missing ones; `apt-get update` runs once,
# and only when something has to be installed.
_APT_UPDATED=0
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        package_installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    log "Installing Debian packages: ${missing[*]}"
    if ((!_APT_UPDATED)); then
        as_root apt-get update -qq
        _APT_UPDATED=1
    fi
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# --- Virtualenv -------------------------------------------------------------

# The requirements hash covers the file, the files it includes with -r, and
# the interpreter version, so a changed pin or a new Python reinstalls.
_requirements_hash() {
    local file="$1" included
    {
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
        cat "$ROOT/$file"
        for included in $(sed -n 's/^-r[[:space:]]*//p' "$ROOT/$file"); do
            cat "$ROOT/$included"
        done
    } | sha256sum | cut -d' ' -f1
}

# ensure_venv REQUIREMENTS_FILE: make the virtualenv and install the file when
# its stamp is missing or stale.
ensure_venv() {
    local file="${1:-requirements.txt}"
    if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
        if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
            # Debian's own python3 ships venv support separately.
            ensure_packages python3-venv
        fi
        log "Creating the virtualenv in $VENV"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.stamp-$file" hash
    hash="$(_requirements_hash "$file")"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
        return 0
    fi
    log "Installing $file into the virtualenv"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$ROOT/$file"
    echo "$hash" >"$stamp"
    # A file that includes others satisfies them too.
    local included
    for included in $(sed -n 's/^-r[[:space:]]*//p' "$ROOT/$file"); do
        _requirements_hash "$included" >"$VENV/.stamp-$included"
    done
}

# --- Front-end packages -----------------------------------------------------

# What the pages load from npm packages (package.json, package-lock.json):
# "package/file in node_modules" → static/vendor/. Only the built files and
# their licences, not the whole of node_modules, reach the static files, so
# collectstatic and WhiteNoise serve them like the project's own.
VENDOR_FILES=(
    echarts/dist/echarts.min.js
    echarts/LICENSE
    echarts/NOTICE
    hls.js/dist/hls.min.js
    # The file names its source map: collectstatic's manifest refuses a missing one.
    hls.js/dist/hls.min.js.map
    hls.js/LICENSE
)

# ensure_node: node and npm, from Debian when the machine has neither (a
# machine may carry its own Node.js, whose package already brings npm; then
# Debian's npm would conflict with it).
ensure_node() {
    command -v node >/dev/null || ensure_packages nodejs
    command -v npm >/dev/null || ensure_packages npm
}

# ensure_vendor: `npm ci` when the lockfile changed since the last install (a
# stamp like the virtualenv's), then copy VENDOR_FILES into static/vendor/.
ensure_vendor() {
    ensure_node
    local stamp="$ROOT/node_modules/.stamp-lockfile" hash
    hash="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$hash" ]]; then
        log "Installing the front-end packages (npm ci)"
        (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
        echo "$hash" >"$stamp"
    fi
    local file target
    for file in "${VENDOR_FILES[@]}"; do
        target="$ROOT/static/vendor/$file"
        # cmp: an unchanged file keeps its time, so collectstatic skips it.
        if ! cmp -s "$ROOT/node_modules/$file" "$target"; then
            mkdir -p "$(dirname "$target")"
            cp "$ROOT/node_modules/$file" "$target" || die "node_modules/$file is missing after npm ci"
        fi
    done
}

# --- Servers ----------------------------------------------------------------

port_open() { # HOST PORT
    timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

wait_port() { # NAME HOST PORT [SECONDS]
    local deadline=$((SECONDS + ${4:-30}))
    until port_open "$2" "$3"; do
        ((SECONDS < deadline)) || die "$1 did not start listening on $2:$3 (see its log under $VAR)"
        sleep 0.2
    done
}

is_local_host() {
    [[ "$1" == 127.* || "$1" == localhost || "$1" == ::1 || "$1" == '[::1]' ]]
}

# Fill DATABASE_URL, REDIS_URL and MQTT_URL from the port variables when they
# are not given, then split them into the parts the set-up needs.
resolve_urls() {
    export DATABASE_URL="${DATABASE_URL:-postgis://postgres@127.0.0.1:${PG_PORT:-5432}/${DB_NAME:-citysafety}}"
    export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:${REDIS_PORT:-6379}/0}"
    export MQTT_URL="${MQTT_URL:-mqtt://127.0.0.1:${MQTT_PORT:-1883}}"
    eval "$(
        "$PYTHON" - <<'EOF'
import os
import shlex
from urllib.parse import unquote, urlsplit


def emit(name, value):
    print(f"{name}={shlex.quote(str(value))}")


db = urlsplit(os.environ["DATABASE_URL"])
if db.scheme not in {"postgis", "postgres", "postgresql", "pgsql"}:
    raise SystemExit(f"DATABASE_URL must be a postgis:// URL, not {db.scheme}://")
emit("DB_HOST", db.hostname or "127.0.0.1")
emit("DB_PORT", db.port or 5432)
emit("DB_USER", unquote(db.username or "postgres"))
emit("DB_NAME", unquote(db.path.lstrip("/")) or "citysafety")
# libpq URIs: the maintenance database, and the application's.
emit("PG_ADMIN_URI", db._replace(scheme="postgresql", path="/postgres", query="", fragment="").geturl())
emit("PG_DB_URI", db._replace(scheme="postgresql", query="", fragment="").geturl())
redis = urlsplit(os.environ["REDIS_URL"])
emit("REDIS_HOST", redis.hostname or "127.0.0.1")
emit("REDIS_PORT", redis.port or 6379)
mqtt = urlsplit(os.environ["MQTT_URL"])
emit("MQTT_HOST", mqtt.hostname or "127.0.0.1")
emit("MQTT_PORT", mqtt.port or 1883)
EOF
    )" || die "could not read DATABASE_URL / REDIS_URL / MQTT_URL"
}

# Run a PostgreSQL server program as the postgres user (initdb refuses root).
_as_postgres() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_pgdata_dir() {
    local dir="${PGDATA_DIR:-$VAR/pgdata}"
    [[ "$dir" == /* ]] || dir="$ROOT/$dir"
    echo "$dir"
}

start_private_postgres() {
    local dir
    dir="$(_pgdata_dir)"
    [[ -x "$PG_BIN/pg_ctl" ]] || die "PostgreSQL 15 is not installed ($PG_BIN/pg_ctl missing)"
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [[ $EUID -eq 0 ]]; then
        chown postgres:postgres "$dir"
        runuser -u postgres -- test -w "$dir" ||
            die "the postgres user cannot reach $dir (a parent folder is closed to it); set PGDATA_DIR to a folder it can reach"
    fi
    if [[ ! -s "$dir/PG_VERSION" ]]; then
        log "Creating a private PostgreSQL cluster in $dir"
        _as_postgres "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$VAR/initdb.log" ||
            die "initdb failed, see $VAR/initdb.log"
    fi
    log "Starting a private PostgreSQL on $DB_HOST:$DB_PORT (data in $dir)"
    _as_postgres "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $DB_PORT -c listen_addresses=$DB_HOST -c unix_socket_directories=$dir" start >/dev/null ||
        die "PostgreSQL did not start, see $dir/server.log"
    echo "$dir" >"$VAR/pg.datadir"
}

start_private_redis() {
    mkdir -p "$VAR/redis"
    log "Starting a private Redis on $REDIS_HOST:$REDIS_PORT (files in var/redis)"
    # Redis holds nothing the database does not: no persistence.
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --dir "$VAR/redis" \
        --pidfile "$VAR/redis/redis.pid" --logfile "$VAR/redis/redis.log" --save '' --appendonly no ||
        die "Redis did not start, see $VAR/redis/redis.log"
}

start_private_mosquitto() {
    mkdir -p "$VAR/mosquitto"
    # Run as root, mosquitto drops to its own user and must still write here.
    if [[ $EUID -eq 0 ]] && id mosquitto >/dev/null 2>&1; then
        chown mosquitto "$VAR/mosquitto"
    fi
    cat >"$VAR/mosquitto.conf" <<EOF
# Written by scripts/lib.sh for a private development broker.
pid_file $VAR/mosquitto/mosquitto.pid
listener $MQTT_PORT $MQTT_HOST
allow_anonymous true
# The MQTT bridge's session (its subscription, the messages waiting for it)
# outlives a restart of the broker.
persistence true
persistence_location $VAR/mosquitto/
log_dest file $VAR/mosquitto/mosquitto.log
EOF
    log "Starting a private Mosquitto on $MQTT_HOST:$MQTT_PORT (files in var/mosquitto)"
    mosquitto -d -c "$VAR/mosquitto.conf" || die "Mosquitto did not start, see $VAR/mosquitto/mosquitto.log"
}

# ensure_service NAME HOST PORT START_FUNCTION: reuse whatever listens on the
# port; start a private server when nothing does and the host is this machine.
ensure_service() {
    local name="$1" host="$2" port="$3" start="$4"
    if port_open "$host" "$port"; then
        log "$name: reusing the server on $host:$port"
        return 0
    fi
    is_local_host "$host" || die "$name: nothing answers on $host:$port"
    mkdir -p "$VAR"
    "$start"
    wait_port "$name" "$host" "$port"
}

ensure_services() {
    ensure_service PostgreSQL "$DB_HOST" "$DB_PORT" start_private_postgres
    ensure_service Redis "$REDIS_HOST" "$REDIS_PORT" start_private_redis
    ensure_service Mosquitto "$MQTT_HOST" "$MQTT_PORT" start_private_mosquitto
}

# Stop the private servers this checkout started (never anybody else's).
stop_private_services() {
    local dir pid
    if [[ -f "$VAR/pg.datadir" ]]; then
        dir="$(cat "$VAR/pg.datadir")"
        if [[ -f "$dir/postmaster.pid" ]]; then
            log "Stopping the private PostgreSQL ($dir)"
            _as_postgres "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
        fi
    fi
    for pidfile in "$VAR/redis/redis.pid" "$VAR/mosquitto/mosquitto.pid"; do
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            log "Stopping $(basename "$pidfile" .pid) (pid $pid)"
            kill "$pid"
            for _ in {1..50}; do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
        rm -f "$pidfile"
    done
}

# --- Database ---------------------------------------------------------------

ensure_database() {
    command -v psql >/dev/null || die "psql is missing (package postgresql-client-15)"
    local exists
    exists="$(psql "$PG_ADMIN_URI" -X -q -t -A -v ON_ERROR_STOP=1 \
        -c "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME//\'/\'\'}'")" ||
        die "cannot connect to PostgreSQL at $DB_HOST:$DB_PORT as $DB_USER"
    if [[ "$exists" != 1 ]]; then
        log "Creating the database $DB_NAME"
        psql "$PG_ADMIN_URI" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"${DB_NAME//\"/\"\"}\"" >/dev/null
    fi
    PGOPTIONS='-c client_min_messages=warning' psql "$PG_DB_URI" -X -q -v ON_ERROR_STOP=1 \
        -c 'CREATE EXTENSION IF NOT EXISTS postgis' >/dev/null ||
        die "could not enable PostGIS in $DB_NAME (is postgresql-15-postgis-3 installed on that server?)"
    # Here rather than only in the migration: creating it takes a superuser,
    # which the set-up is and the application's role need not be.
    PGOPTIONS='-c client_min_messages=warning' psql "$PG_DB_URI" -X -q -v ON_ERROR_STOP=1 \
        -c 'CREATE SCHEMA IF NOT EXISTS partman' -c 'CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman' >/dev/null ||
        die "could not enable pg_partman in $DB_NAME (is postgresql-15-partman installed on that server?)"
}

# --- Django -----------------------------------------------------------------

manage() { "$VENV/bin/python" "$ROOT/manage.py" "$@"; }

compile_messages() {
    # LOCALE_PATHS must exist (git does not keep an empty folder); without any
    # .po file there is nothing to compile, and that is fine.
    mkdir -p "$ROOT/locale"
    if find "$ROOT" \( -path "$VENV" -o -path "$VAR" -o -path "$ROOT/.git" -o -name node_modules \) -prune \
        -o -name '*.po' -print -quit | grep -q .; then
        log "Compiling translations"
        (cd "$ROOT" && manage compilemessages -v 0 -i .venv -i var -i node_modules -i .git)
    fi
}

# setup PROFILE: everything `make run` (PROFILE=run) or `make test` (test)
# needs before the first Django command.
setup() {
    local profile="$1" started=$SECONDS
    cd "$ROOT" || die "cannot enter $ROOT"
    mkdir -p "$VAR"
    local venv_packages=()
    # Debian's own python3 ships venv support separately.
    "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || venv_packages=(python3-venv)
    if [[ "$profile" == test ]]; then
        ensure_packages "${TEST_PACKAGES[@]}" "${venv_packages[@]}"
        ensure_venv requirements-dev.txt
    else
        ensure_packages "${RUN_PACKAGES[@]}" "${venv_packages[@]}"
        ensure_venv requirements.txt
    fi
    ensure_vendor
    resolve_urls
    ensure_services
    ensure_database
    compile_messages
    export PYTHONUNBUFFERED=1
    log "Set-up done in $((SECONDS - started))s (DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL MQTT_URL=$MQTT_URL)"
}

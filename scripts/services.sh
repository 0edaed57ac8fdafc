#!/usr/bin/env bash
# `make services` / `make stop`: the servers on their own.
#   start   reuse or start PostgreSQL, Redis and Mosquitto, create the database
#   stop    stop the private servers this checkout started under var/
#   status  say what answers on each port
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
    start)
        ensure_packages "${RUN_PACKAGES[@]}"
        resolve_urls
        ensure_services
        ensure_database
        ;;
    stop)
        stop_private_services
        ;;
    status)
        resolve_urls
        for service in "PostgreSQL $DB_HOST $DB_PORT" "Redis $REDIS_HOST $REDIS_PORT" "Mosquitto $MQTT_HOST $MQTT_PORT"; do
            read -r name host port <<<"$service"
            if port_open "$host" "$port"; then
                echo "$name: listening on $host:$port"
            else
                echo "$name: nothing on $host:$port"
            fi
        done
        ;;
    *)
        die "usage: $0 start|stop|status"
        ;;
esac

#!/usr/bin/env bash
# Registers the Citus workers with the coordinator:
#   citus-setup.sh COORDINATOR WORKER [WORKER ...]
# Idempotent: citus_add_node returns the node's id when it is already there.
# The nodes connect to each other with PGPASSWORD (set in their environment).
set -euo pipefail
coordinator="$1"
shift
psql_coordinator() {
    psql -v ON_ERROR_STOP=1 -h "$coordinator" -U "$POSTGRES_USER" -d "$POSTGRES_DB" -qAt -c "$1"
}

# The coordinator in the metadata lets reference tables (sensors) keep their
# foreign keys to the tables that stay on the coordinator (districts,
# departments): Citus turns those into citus-managed local tables.
psql_coordinator "SELECT citus_set_coordinator_host('$coordinator', 5432)"
for worker in "$@"; do
    psql_coordinator "SELECT citus_add_node('$worker', 5432)"
done
psql_coordinator "SELECT count(*) FROM citus_get_active_worker_nodes()"

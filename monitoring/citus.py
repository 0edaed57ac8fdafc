"""The readings on Citus, when the database is a Citus coordinator.

Readings, and what is kept per sensor beside them, are sharded by sensor
(each sensor's series lives on one worker, so ingest and evaluation of a
sensor stay on one node); sensors are a reference table (a copy on every
worker, for the joins). The tables the sensors refer to (districts,
departments, sensor types, gateways) stay on the coordinator as
citus-managed local tables, which needs the coordinator registered in the
metadata (deploy/citus/citus-setup.sh does it).

On plain PostgreSQL none of this runs: ``installed()`` is False and the
migration that calls ``distribute`` does nothing.
"""

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper

# Sharded by sensor, all in one co-location group: a sensor's readings,
# roll-ups and state live on the same worker. Citus requires every unique
# constraint to include the distribution column: (sensor_id, observed_at)
# and the roll-ups' (sensor_id, bucket) do; the readings' primary key
# (id, observed_at) gains sensor_id first (``_KEYS_WITH_SENSOR``).
DISTRIBUTED = (
    ("monitoring_reading", "sensor_id"),
    ("monitoring_minuterollup", "sensor_id"),
    ("monitoring_hourrollup", "sensor_id"),
    ("monitoring_sensorstate", "sensor_id"),
)
REFERENCE = ("monitoring_sensor",)
_KEYS_WITH_SENSOR = {"monitoring_reading": ("monitoring_reading_pkey", "sensor_id, id, observed_at")}


def installed(connection: BaseDatabaseWrapper | None = None) -> bool:
    with _cursor(connection) as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
        return cursor.fetchone() is not None


def worker_nodes(connection: BaseDatabaseWrapper | None = None) -> list[tuple[str, int]]:
    with _cursor(connection) as cursor:
        cursor.execute("SELECT node_name, node_port FROM citus_get_active_worker_nodes()")
        return list(cursor.fetchall())


def distribute(connection: BaseDatabaseWrapper) -> list[str]:
    """Distribute what is not yet; returns the tables it changed (idempotent)."""
    if not installed(connection):
        return []
    changed = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT logicalrelid::regclass::text FROM pg_dist_partition")
        done = {row[0] for row in cursor.fetchall()}
        for table in REFERENCE:
            if table not in done:
                cursor.execute("SELECT create_reference_table(%s)", [table])
                changed.append(table)
        colocate_with = "default"
        for table, column in DISTRIBUTED:
            if table not in done and _exists(cursor, table):
                if table in _KEYS_WITH_SENSOR:
                    constraint, columns = _KEYS_WITH_SENSOR[table]
                    cursor.execute(
                        f"ALTER TABLE {table} DROP CONSTRAINT {constraint}, ADD CONSTRAINT {constraint}"
                        f" PRIMARY KEY ({columns})"
                    )
                cursor.execute(
                    "SELECT create_distributed_table(%s, %s, colocate_with => %s)", [table, column, colocate_with]
                )
                changed.append(table)
            colocate_with = DISTRIBUTED[0][0]
    return changed


def _exists(cursor, table: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
    return cursor.fetchone()[0]


def _cursor(connection: BaseDatabaseWrapper | None):
    if connection is None:
        connection = default_connection
    return connection.cursor()

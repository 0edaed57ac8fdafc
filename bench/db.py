"""The bench database: created afresh each run, seeded in bulk, measured.

Needs Django set up (``bench.run`` does it) with ``DATABASE_URL`` naming
the bench's own database. Bulk writes go through the ORM's table names in
set-based SQL: seeding 100,000 sensors or 50 million readings one object at
a time would take longer than the benchmark.
"""

import io
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import psycopg2
from django.db import connection, transaction

from bench import schema

SENSORS_PER_GATEWAY = 1000
PROBE_SENSORS = 30
DUTY_USERNAME = "bench-duty"
DUTY_PASSWORD = "bench-duty-password"  # a throwaway user in a throwaway database
# Thresholds of the bench rule (upper limit): background readings stay
# below Level III; the probe's Level I readings are far above Level I.
LEVEL3, LEVEL2, LEVEL1, DEAD_BAND = 10.0, 20.0, 50.0, 1.0
NORMAL_VALUE, LEVEL1_VALUE = 1.0, 80.0


def sensor_code(n: int) -> str:
    return f"B-{n:06d}"


def gateway_code(g: int) -> str:
    return f"gw-bench-{g:03d}"


def probe_code(n: int) -> str:
    return f"PROBE-{n:02d}"


@dataclass(frozen=True)
class GatewayShare:
    """A gateway and the block of bench sensors it serves: codes B-<first> … B-<first + count - 1>."""

    code: str
    token: str
    first: int
    count: int


@dataclass
class Population:
    sensors: int = 0
    gateways: list[GatewayShare] = field(default_factory=list)
    probe_gateway: GatewayShare | None = None
    probe_codes: list[str] = field(default_factory=list)

    def gateways_for(self, sensors: int) -> list[GatewayShare]:
        """The gateways serving the first ``sensors`` bench sensors."""
        return [g for g in self.gateways if g.first < sensors]


def own_database(suffix: str) -> str:
    """Set this process up on a database of the benchmark's own (the
    configured one's name + ``suffix``), recreated and migrated, so a
    benchmark never touches the development data; returns its URL.

    For benchmarks run as ``python -m bench.<name>``, before Django is set up.
    """
    import os
    import sys
    from pathlib import Path

    url = database_url(os.environ.get("DATABASE_URL", "postgis://postgres@127.0.0.1:5432/citysafety"))
    url = urlsplit(url)._replace(path=urlsplit(url).path + suffix).geturl()
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "citysafety.settings"})
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False
    print(f"bench database {url}: creating, migrating", flush=True)
    database_recreate(url)
    migrate()
    return url


def database_recreate(url: str) -> None:
    """Drop and create the bench database with PostGIS: every run starts from nothing."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name or '"' in name:
        raise SystemExit(f"cannot use {name!r} as the bench database name")
    admin = psycopg2.connect(
        dbname="postgres",
        user=parts.username or "postgres",
        password=parts.password,
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        cursor.execute("CREATE SCHEMA IF NOT EXISTS partman")
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman")


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def population_seed(population: Population, *, sensors: int) -> None:
    """Make sure the first ``sensors`` bench sensors, their gateways and the probe exist.

    One threshold rule on the bench sensor type covers every sensor. New
    sensors start with every rule state in place and caught up, as in a
    city that has been running (``schema.evaluation_mark_all_done``).
    """
    from monitoring.models import RiskDomain, Sensor, SensorType
    from monitoring.services import gateway_create
    from warning.models import ThresholdRule

    domain, _ = RiskDomain.objects.get_or_create(code="bench", defaults={"name": "Bench", "category": "lifeline"})
    sensor_type, _ = SensorType.objects.get_or_create(
        code="bench-methane",
        defaults={"name": "Bench methane", "domain": domain, "metric": "methane", "unit": "%LEL"},
    )
    ThresholdRule.objects.get_or_create(
        name="Bench methane upper limit",
        sensor_type=sensor_type,
        defaults={
            "level3_threshold": LEVEL3,
            "level2_threshold": LEVEL2,
            "level1_threshold": LEVEL1,
            "dead_band": DEAD_BAND,
        },
    )
    if population.probe_gateway is None:
        gateway, token = gateway_create(code="gw-bench-probe", name="Bench probe")
        population.probe_gateway = GatewayShare(gateway.code, token, 0, PROBE_SENSORS)
        population.probe_codes = [probe_code(n) for n in range(PROBE_SENSORS)]
        _sensors_insert(
            table=Sensor._meta.db_table,
            sensor_type_id=sensor_type.pk,
            codes=population.probe_codes,
            gateway_ids=[gateway.pk] * PROBE_SENSORS,
        )
    if sensors > population.sensors:
        first_new_gateway = population.sensors // SENSORS_PER_GATEWAY
        gateway_ids = []
        for g in range(first_new_gateway, -(-sensors // SENSORS_PER_GATEWAY)):
            gateway, token = gateway_create(code=gateway_code(g), name=f"Bench gateway {g}")
            first = g * SENSORS_PER_GATEWAY
            population.gateways.append(
                GatewayShare(gateway.code, token, first, min(SENSORS_PER_GATEWAY, sensors - first))
            )
            gateway_ids.append(gateway.pk)
        numbers = range(population.sensors, sensors)
        _sensors_insert(
            table=Sensor._meta.db_table,
            sensor_type_id=sensor_type.pk,
            codes=[sensor_code(n) for n in numbers],
            gateway_ids=[gateway_ids[n // SENSORS_PER_GATEWAY - first_new_gateway] for n in numbers],
        )
        population.sensors = sensors
    with transaction.atomic(), connection.cursor() as cursor:
        schema.evaluation_mark_all_done(cursor)
        cursor.execute(f"ANALYZE {Sensor._meta.db_table}")


def _sensors_insert(*, table: str, sensor_type_id: int, codes: list[str], gateway_ids: list[int]) -> None:
    # Points on a grid over Hefei, so that map queries would see a city.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (code, name, sensor_type_id, location, gateway_id, address, is_active, status)
            SELECT c, 'Bench sensor ' || c, %s,
                   ST_SetSRID(ST_MakePoint(117.0 + (n %% 400) * 0.001, 31.6 + (n / 400) * 0.0016), 4326),
                   g, '', true, 'unknown'
            FROM unnest(%s::text[], %s::bigint[]) WITH ORDINALITY AS u (c, g, n)
            """,
            [sensor_type_id, codes, gateway_ids],
        )


def sensor_ids(codes: list[str]) -> list[int]:
    from monitoring.models import Sensor

    return list(Sensor.objects.filter(code__in=codes).values_list("pk", flat=True))


def duty_officer_create() -> tuple[str, str]:
    """A duty officer whose socket the probe listens on; returns (username, password)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from organisation.roles import DUTY_OFFICER

    user = get_user_model().objects.create_user(username=DUTY_USERNAME, password=DUTY_PASSWORD)
    user.groups.add(Group.objects.get(name=DUTY_OFFICER))
    return DUTY_USERNAME, DUTY_PASSWORD


def max_reading_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM monitoring_reading")
        return cursor.fetchone()[0]


def copy_floor(*, rows: int, sensors: int) -> dict:
    """COPY ``rows`` generated readings into a table like the readings table; rows/s.

    The floor any ingest path is compared with: the same columns and
    indexes (primary key, unique (sensor, observed_at)), the rows in arrival
    order (every sensor at one time, then the next time), one transaction.
    The rows are generated before the clock starts.
    """
    from monitoring.models import Reading

    table = Reading._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM monitoring_sensor ORDER BY id LIMIT %s", [sensors])
        ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("DROP TABLE IF EXISTS bench_copy_floor")
        cursor.execute(f"CREATE TABLE bench_copy_floor (LIKE {table} INCLUDING ALL)")
    start = datetime.now(UTC) - timedelta(days=20)
    lines = []
    rng = random.Random(7)
    for n in range(rows):
        when = (start + timedelta(seconds=n // len(ids))).isoformat()
        lines.append(f"{ids[n % len(ids)]}\t{when}\t{rng.random() * 9:.2f}\t{when}\n")
    data = io.StringIO("".join(lines))
    del lines
    raw = connection.connection
    began = time.perf_counter()
    with raw.cursor() as cursor:
        cursor.copy_expert(
            "COPY bench_copy_floor (sensor_id, observed_at, value, received_at) FROM STDIN",
            data,
        )
    raw.commit()
    elapsed = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy_floor")
    return {"rows": rows, "seconds": elapsed, "rows_per_second": rows / elapsed}


# Past this many readings at once, history is written without the table's
# secondary indexes, which are built again afterwards: kept up row by row,
# the (sensor, time) index made 50 M readings take 18 minutes instead of 5.
BULK_WITHOUT_INDEXES = 5_000_000


def history_seed(*, target: int, sensors: int, minute: int, grown: bool = False) -> dict:
    """Top the readings table up to ``target`` readings of the first ``sensors`` bench sensors.

    One minute of the city at a time (every sensor, then the next minute),
    as readings arrive, starting ``minute`` minutes after a point 29 days
    ago; returns the next minute to use and the speed. The sensors' latest
    readings and every rule's watermark are then set as if ingestion and
    evaluation had seen them all.

    A large top-up drops the secondary indexes and unique constraints and
    builds them again at the end, unless ``grown``: the index is then denser
    than one grown by inserts, which flatters the cost measured on it (at
    50 M readings: ingest x1.1 of its cost at 1 M on a rebuilt index, x2.1 on
    a grown one, on this 2-core machine).
    """
    from monitoring.models import Reading, Sensor

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {Reading._meta.db_table}")
        present = cursor.fetchone()[0]
    missing = target - present
    if missing <= 0:
        return {"added": 0, "seconds": 0.0, "minute": minute, "present": present}
    ids = list(Sensor.objects.filter(code__startswith="B-").order_by("pk").values_list("pk", flat=True)[:sensors])
    minutes = -(-missing // len(ids))
    origin = datetime.now(UTC) - timedelta(days=29)
    began = time.perf_counter()
    added = 0
    step = max(1, 1_000_000 // len(ids))
    bulk = missing >= BULK_WITHOUT_INDEXES and not grown
    rebuild = _secondary_indexes_drop(Reading._meta.db_table) if bulk else []
    for first in range(minute, minute + minutes, step):
        last = min(first + step, minute + minutes) - 1
        # Every chunk holds every sensor: the last one holds each sensor's latest reading.
        after = max_reading_id()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {Reading._meta.db_table} (sensor_id, observed_at, value, received_at)
                SELECT s.id, %s + make_interval(mins => m), round((random() * 9)::numeric, 2), %s + make_interval(mins => m)
                FROM generate_series(%s::int, %s::int) AS m
                CROSS JOIN unnest(%s::bigint[]) AS s (id)
                ORDER BY m, s.id
                """,
                [origin, origin, first, last, ids],
            )
            added += cursor.rowcount
    if rebuild:
        with connection.cursor() as cursor:
            # The server's default (64 MB) sorts 50 M index entries on disk.
            cursor.execute("SET maintenance_work_mem = '1GB'")
            for statement in rebuild:
                cursor.execute(statement)
            cursor.execute("RESET maintenance_work_mem")
    elapsed = time.perf_counter() - began
    with transaction.atomic(), connection.cursor() as cursor:
        schema.sensors_take_latest(cursor, after_id=after)
        schema.evaluation_mark_all_done(cursor)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Reading._meta.db_table}")
        cursor.execute(f"VACUUM ANALYZE {Sensor._meta.db_table}")
        cursor.execute("VACUUM ANALYZE warning_rulestate")
    return {
        "added": added,
        "seconds": elapsed,
        "rows_per_second": added / elapsed if elapsed else None,
        "minute": minute + minutes,
        "present": present + added,
        "indexes": "rebuilt" if bulk else "grown",
    }


def _secondary_indexes_drop(table: str) -> list[str]:
    """Drop the table's unique constraints and indexes but its primary key; returns the SQL that builds them again.

    Read from the catalogue, so that whatever indexes the readings table
    has when this runs are the ones rebuilt.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'x')",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = %s::regclass AND NOT indisprimary "
            "AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        indexes = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    return [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints] + [
        definition for _, definition in indexes
    ]


def readings_truncate() -> None:
    from monitoring.models import Reading

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Reading._meta.db_table}")


def storage() -> dict:
    """Bytes per stored reading and the sensor table's size, as the load left them.

    The sensor table is measured first and not vacuumed: its dead rows are
    the point (issue #7: 202 MB for 10,700 sensors). The readings table is
    vacuumed first so that rows of aborted batches do not count.
    """
    from monitoring.models import Reading, Sensor

    sensor_table = Sensor._meta.db_table
    reading_table = Reading._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT pg_total_relation_size(%s), n_live_tup, n_dead_tup, autovacuum_count, n_tup_upd, n_tup_hot_upd "
            "FROM pg_stat_user_tables WHERE relname = %s",
            [sensor_table, sensor_table],
        )
        size, live, dead, autovacuums, updates, hot = cursor.fetchone()
        # The narrow table every batch writes (the sensors' newest readings).
        cursor.execute(
            "SELECT pg_total_relation_size(relid), n_dead_tup, n_tup_upd, n_tup_hot_upd, autovacuum_count "
            "FROM pg_stat_user_tables WHERE relname = 'monitoring_sensorstate'"
        )
        state_size, state_dead, state_updates, state_hot, state_autovacuums = cursor.fetchone() or (0, 0, 0, 0, 0)
        cursor.execute(f"SELECT count(*) FROM {sensor_table}")
        sensors = cursor.fetchone()[0]
        cursor.execute(f"VACUUM ANALYZE {reading_table}")
        # Partitioned: the parent itself holds nothing, its partitions do.
        cursor.execute(
            "SELECT (SELECT coalesce(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree(%s::regclass)),"
            f" (SELECT count(*) FROM {reading_table})",
            [reading_table],
        )
        reading_bytes, readings = cursor.fetchone()
    return {
        "sensor_table_bytes": size,
        "sensors": sensors,
        "sensor_live_rows": live,
        "sensor_dead_rows": dead,
        "sensor_autovacuums": autovacuums,
        "sensor_updates": updates,
        "sensor_hot_updates": hot,
        "state_table_bytes": state_size,
        "state_dead_rows": state_dead,
        "state_updates": state_updates,
        "state_hot_updates": state_hot,
        "state_autovacuums": state_autovacuums,
        "reading_bytes": reading_bytes,
        "readings": readings,
        "bytes_per_reading": reading_bytes / readings if readings else None,
    }


def database_url(server_url: str) -> str:
    """The bench database: BENCH_DATABASE_URL, else citysafety_bench on the server of ``server_url``."""
    import os

    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    return urlsplit(server_url)._replace(path="/citysafety_bench", query="", fragment="").geturl()

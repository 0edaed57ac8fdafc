"""Keeping the time-partitioned tables: partitions ahead, retention, the default partition.

pg_partman does the work (``partman.run_maintenance``); this module tells it
what the settings say and handles what it leaves alone: rows that landed in
a default partition (older than the oldest partition, newer than the newest
made ahead) get partitions of their own and move there, so nothing is lost
and a later partition for their day can still be made.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction

# table: (unit of a partition, what holds a row's time)
PARTITIONED = {
    "monitoring_reading": ("day", "observed_at"),
    "monitoring_minuterollup": ("day", "bucket"),
    "monitoring_hourrollup": ("month", "bucket"),
}

# How long maintenance waits for a table lock before giving up until its
# next run: creating or dropping a partition briefly locks the table, and a
# waiting lock would make every ingest batch queue behind it.
LOCK_TIMEOUT = "10s"


@dataclass(frozen=True)
class TablePolicy:
    table: str
    retention_days: int  # 0: keep everything
    premake: int  # partitions made ahead of the clock
    reach_back_days: int = 0  # partitions kept ready this far into the past


@dataclass(frozen=True)
class MaintenanceResult:
    moved_from_default: dict[str, int]
    dropped: dict[str, int]


def policies_from_settings() -> list[TablePolicy]:
    """What the settings ask of each partitioned table. Partitions reach back
    as far as the oldest reading a gateway may send (INGEST_MAX_AGE_DAYS)."""
    back = settings.INGEST_MAX_AGE_DAYS
    ahead = settings.READING_PARTITIONS_AHEAD
    return [
        TablePolicy("monitoring_reading", settings.READING_RETENTION_DAYS, premake=ahead, reach_back_days=back),
        TablePolicy(
            "monitoring_minuterollup", settings.MINUTE_ROLLUP_RETENTION_DAYS, premake=ahead, reach_back_days=back
        ),
        # Months: three ahead is plenty.
        TablePolicy("monitoring_hourrollup", settings.HOUR_ROLLUP_RETENTION_DAYS, premake=3, reach_back_days=back),
    ]


def partitions_maintain(*, policies: list[TablePolicy]) -> MaintenanceResult:
    """Bring each table's partitions in line with its policy; safe to run any time, as often as wanted.

    In order: rows in the default partition move into partitions made for
    them; every partition from ``reach_back_days`` ago (the oldest reading a
    gateway may still send) to ``premake`` ahead is made; pg_partman drops,
    whole, those past retention. Each table in a transaction of its own.
    """
    moved: dict[str, int] = {}
    dropped: dict[str, int] = {}
    for policy in policies:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            parent = _qualified(cursor, policy.table)
            cursor.execute(
                "UPDATE partman.part_config SET retention = %s, retention_keep_table = false,"
                " retention_keep_index = false, premake = %s, infinite_time_partitions = true"
                " WHERE parent_table = %s",
                [f"{policy.retention_days} days" if policy.retention_days > 0 else None, policy.premake, parent],
            )
            if cursor.rowcount != 1:
                raise LookupError(f"{policy.table} is not partitioned by pg_partman (migration 0005/0006 not applied?)")
            moved[policy.table] = _empty_default(cursor, parent, policy.table)
            _ensure_span(cursor, parent, policy)
            before = partitions_of(cursor, parent)
            cursor.execute("SELECT partman.run_maintenance(%s, p_analyze := false, p_jobmon := false)", [parent])
            dropped[policy.table] = len(before - partitions_of(cursor, parent))
    return MaintenanceResult(moved_from_default=moved, dropped=dropped)


def _qualified(cursor, table: str) -> str:
    cursor.execute("SELECT current_schema() || '.' || %s", [table])
    return cursor.fetchone()[0]


def partitions_of(cursor, parent: str) -> set[str]:
    """The names of the parent's partitions (the default partition left out)."""
    cursor.execute("SELECT partition_tablename FROM partman.show_partitions(%s)", [parent])
    return {row[0] for row in cursor.fetchall()}


def _empty_default(cursor, parent: str, table: str) -> int:
    """Move the default partition's rows into partitions made for them; how many moved.

    pg_partman makes a partition for each interval the rows fall in (one
    interval per batch) and moves them in the same transaction.
    """
    cursor.execute(f"SELECT count(*) FROM {table}_default")  # noqa: S608 (a name from PARTITIONED)
    waiting = cursor.fetchone()[0]
    if not waiting:
        return 0
    moved = 0
    while True:
        cursor.execute("SELECT partman.partition_data_time(%s, p_batch_count := 100, p_analyze := false)", [parent])
        step = cursor.fetchone()[0] or 0
        moved += step
        if not step:
            return moved


def _ensure_span(cursor, parent: str, policy: TablePolicy) -> None:
    """Make the missing partitions from ``reach_back_days`` ago (within retention) to ``premake`` ahead.

    pg_partman alone counts the partitions ahead from the newest one: a
    stray partition made for a far-future row would stop it making the days
    in between. Naming every partition of the span leaves no gap.
    """
    days = policy.reach_back_days
    if policy.retention_days:
        days = min(days, policy.retention_days)
    unit = PARTITIONED[policy.table][0]
    cursor.execute(
        "SELECT array_agg(DISTINCT date_trunc(%s, t, 'UTC'))"
        " FROM generate_series(now() - %s, now() + %s * %s::interval, interval '1 day') AS t",
        [unit, timedelta(days=max(days, 0)), policy.premake, f"1 {unit}"],
    )
    times = cursor.fetchone()[0]
    # pg_partman skips the partitions that exist.
    cursor.execute("SELECT partman.create_partition_time(%s, %s, p_analyze := false)", [parent, times])


# pg_partman 5 (PostgreSQL 16 packages, the Citus image) dropped the "native"
# type and takes intervals as PostgreSQL intervals; 4.7 (Debian's for
# PostgreSQL 15) takes the type and a keyword.
_PARTMAN_5_INTERVALS = {"daily": "1 day", "monthly": "1 month"}


def partman_create_parent(cursor, *, table: str, column: str, interval: str, premake: int, start: str) -> None:
    """Hand ``table`` (in the current schema) to pg_partman, partitioned on ``column`` by ``interval``."""
    cursor.execute("SELECT split_part(extversion, '.', 1)::int FROM pg_extension WHERE extname = 'pg_partman'")
    (major,) = cursor.fetchone()
    if major >= 5:
        cursor.execute(
            "SELECT partman.create_parent(p_parent_table := current_schema() || '.' || %s, p_control := %s,"
            " p_interval := %s, p_premake := %s, p_start_partition := %s, p_jobmon := false)",
            [table, column, _PARTMAN_5_INTERVALS[interval], premake, start],
        )
    else:
        cursor.execute(
            "SELECT partman.create_parent(current_schema() || '.' || %s, %s, 'native', %s,"
            " p_premake := %s, p_start_partition := %s, p_jobmon := false)",
            [table, column, interval, premake, start],
        )

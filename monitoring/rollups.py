"""Minute and hour roll-ups, folded in from the readings as they arrive.

The readings past ``RollupProgress.rolled_up_through`` (by id) are grouped
by sensor and minute and merged into the minute and hour roll-ups: counts
and sums add, minimum and maximum widen, the last value is the one observed
last. Readings are only ever added (a duplicate is refused, never
rewritten), so merging is exact, and a late reading lands in the bucket of
the time it was observed. The merge and the move of the mark commit
together: a run retried after a crash folds nothing twice.

Ids are handed out in order but committed in any order: a batch holding id
100 may commit after one holding 101. So a run only folds up to the newest
id it saw handed out on an earlier run (``settling_through``), once no
transaction that was writing back then is still open.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from monitoring.models import RollupProgress

# Readings folded in per transaction: a backlog (the first run after the
# migration, a long outage) is caught up in steps, never in one transaction
# of minutes.
CHUNK = 200_000

_MERGE = """
    ON CONFLICT (sensor_id, bucket) DO UPDATE SET
        count = r.count + excluded.count,
        minimum = least(r.minimum, excluded.minimum),
        maximum = greatest(r.maximum, excluded.maximum),
        total = r.total + excluded.total,
        last_value = CASE WHEN excluded.last_observed_at > r.last_observed_at
                          THEN excluded.last_value ELSE r.last_value END,
        last_observed_at = greatest(r.last_observed_at, excluded.last_observed_at)
"""

# Minutes first, then the hours from those minutes: one pass over the new
# readings, by the primary key (id, observed_at) of each partition.
_FOLD = f"""
    WITH minutes AS (
        SELECT sensor_id, date_trunc('minute', observed_at, 'UTC') AS bucket, count(*) AS count,
               min(value) AS minimum, max(value) AS maximum, sum(value) AS total,
               (array_agg(value ORDER BY observed_at DESC))[1] AS last_value, max(observed_at) AS last_observed_at
        FROM monitoring_reading
        WHERE id > %(after)s AND id <= %(through)s
        GROUP BY 1, 2
    ), into_minutes AS (
        INSERT INTO monitoring_minuterollup AS r
            (sensor_id, bucket, count, minimum, maximum, total, last_value, last_observed_at)
        SELECT * FROM minutes
        {_MERGE}
    )
    INSERT INTO monitoring_hourrollup AS r
        (sensor_id, bucket, count, minimum, maximum, total, last_value, last_observed_at)
    SELECT sensor_id, date_trunc('hour', bucket, 'UTC'), sum(count), min(minimum), max(maximum), sum(total),
           (array_agg(last_value ORDER BY last_observed_at DESC))[1], max(last_observed_at)
    FROM minutes
    GROUP BY 1, 2
    {_MERGE}
"""  # noqa: S608 (constants only)

# Is any transaction that may hold a reading id handed out before ``since``
# still open? Client sessions that have written (they hold a transaction id)
# or are running a statement (an INSERT takes its id before it writes).
# Autovacuum and other server processes insert no readings. The sessions
# must be visible: the application's own role, or pg_read_all_stats.
_STILL_WRITING = """
    SELECT EXISTS (
        SELECT 1 FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND xact_start < %s AND (backend_xid IS NOT NULL OR state = 'active')
    )
"""


@dataclass(frozen=True)
class RollupRun:
    folded_through: int  # the mark after the run
    readings_seen: int  # id range covered (readings aborted or dropped leave gaps)
    busy: bool = False  # another run held the mark


def readings_roll_up(*, chunk: int = CHUNK) -> RollupRun:
    """Fold the readings stored since the last run into the roll-ups; idempotent.

    Returns quietly when another run is at it. Readings of the last moments
    wait for the next run (see the module's docstring).
    """
    start_mark = None
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            progress = RollupProgress.objects.select_for_update(skip_locked=True).filter(pk=1).first()
            if progress is None:
                if not RollupProgress.objects.filter(pk=1).exists():
                    RollupProgress.objects.get_or_create(pk=1)
                    continue
                return RollupRun(folded_through=-1, readings_seen=0, busy=True)
            if start_mark is None:
                start_mark = progress.rolled_up_through
            settled = progress.settling_through is not None and not _still_writing(cursor, progress.settling_since)
            if settled and progress.settling_through > progress.rolled_up_through:
                through = min(progress.settling_through, progress.rolled_up_through + chunk)
                cursor.execute(_FOLD, {"after": progress.rolled_up_through, "through": through})
                progress.rolled_up_through = through
                if through < progress.settling_through:
                    progress.save(update_fields=["rolled_up_through"])
                    continue
            if settled or progress.settling_through is None:
                # Look again at what has been handed out since: the next run folds it.
                cursor.execute("SELECT last_value, is_called FROM monitoring_reading_id_seq")
                last_value, is_called = cursor.fetchone()
                cursor.execute("SELECT clock_timestamp()")
                progress.settling_through = last_value if is_called else last_value - 1
                progress.settling_since = cursor.fetchone()[0]
            progress.save()
            return RollupRun(
                folded_through=progress.rolled_up_through, readings_seen=progress.rolled_up_through - start_mark
            )


def _still_writing(cursor, since: datetime) -> bool:
    cursor.execute(_STILL_WRITING, [since])
    return cursor.fetchone()[0]

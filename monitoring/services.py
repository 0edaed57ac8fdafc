"""Every write of the monitoring app."""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import IO

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from citysafety import tallies
from citysafety.errors import InvalidInputError, OverloadedError, TooLargeError
from citysafety.tables import RowError
from monitoring import imports
from monitoring.events import readings_stored
from monitoring.ingest import ItemError, SensorRef, as_batch, sensor_codes, validate_items
from monitoring.models import Gateway, Reading, SensorStatus
from monitoring.selectors import evaluation_backlog


def gateway_issue_token(*, gateway: Gateway) -> str:
    """Give the gateway a new API token and return it; only its hash is kept.

    The old token stops working at once. The token is shown to a person once.
    """
    token = gateway.set_token()
    gateway.save(update_fields=["token_hash", "token_prefix"])
    return token


def gateway_create(*, code: str, name: str) -> tuple[Gateway, str]:
    """Create a gateway and return it with its first token."""
    gateway = Gateway(code=code, name=name)
    token = gateway.set_token()
    gateway.save()
    return gateway, token


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: int
    errors: list[ItemError]

    def as_dict(self) -> dict:
        """What a gateway is told, over HTTP and MQTT alike."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "errors": [{"index": e.index, "field": e.field, "message": e.message} for e in self.errors],
        }


def _text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_ELEMENT = {
    int: str,
    float: repr,
    bool: lambda value: "t" if value else "f",
    datetime: datetime.isoformat,
    str: _text,
    type(None): lambda _value: "NULL",
}


def array_literal(values: Iterable) -> str:
    """A list as one PostgreSQL array literal (``'{1,2,3}'``), cast in the SQL (``%s::bigint[]``).

    psycopg2 sends a list as ``ARRAY[x, y, …]``, an expression per element
    that the server parses and plans one by one: three arrays of 1,000
    took 77 ms that way, 11 ms as text (the batch's insert, on the
    development machine). Elements: int, float, bool, datetime, str, None.
    """
    values = values if isinstance(values, list | tuple) else list(values)
    if values and isinstance(values[0], datetime):
        # Formatting a time costs more than the rest of a row: each distinct
        # one once (a batch's readings mostly share a few).
        memo: dict[datetime | None, str] = {None: "NULL"}
        parts = []
        for value in values:
            text = memo.get(value)
            if text is None:
                text = memo[value] = value.isoformat()
            parts.append(text)
        return "{" + ",".join(parts) + "}"
    if values and type(values[0]) is str:
        # Codes: quoted once for all when none holds a quote or a backslash
        # (a fifth of the time of quoting each).
        together = "".join(values) if set(map(type, values)) == {str} else None
        if together is not None and "\\" not in together and '"' not in together:
            return '{"' + '","'.join(values) + '"}'
    return "{" + ",".join([(_ELEMENT.get(type(value)) or _subclass_format(value))(value) for value in values]) + "}"


def _subclass_format(value: object):
    # A subclass (a test's frozen datetime, an IntEnum): the slow way.
    for kind, format_ in _ELEMENT.items():
        if isinstance(value, kind):
            return format_
    raise TypeError(f"{type(value).__name__} cannot go into a PostgreSQL array literal")


# The batch travels as three arrays (text literals, ``array_literal``), not
# as a VALUES list formatted row by row in Python: the formatting was a
# fifth of the time of a batch of 1,000 (bench/run.py).
_INSERT_READINGS = """
    INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at)
    SELECT sensor_id, observed_at, value, %s
    FROM unnest(%s::bigint[], %s::timestamptz[], %s::double precision[]) AS r (sensor_id, observed_at, value)
    ON CONFLICT (sensor_id, observed_at) DO NOTHING
    RETURNING id, sensor_id, observed_at, value
"""

# The latest value and time only move forward: a late reading from a
# gateway's buffer must not overwrite a newer one. The newest reading id
# always moves, and the unevaluated marks keep their oldest time.
# ``advanced``: this batch brought the sensor's newest observation. The
# second list of ids is there for the planner: with it the rows are found by
# the key, without it PostgreSQL hashed the whole state table for every
# batch (a cost that grew with the number of sensors).
_SET_STATES = """
    SET latest_value = CASE WHEN s.latest_observed_at IS NULL OR s.latest_observed_at < v.observed_at
                            THEN v.value ELSE s.latest_value END,
        latest_observed_at = GREATEST(s.latest_observed_at, v.observed_at),
        latest_reading_id = GREATEST(s.latest_reading_id, v.reading_id),
        unevaluated_since = LEAST(s.unevaluated_since, %s),
        unevaluated_observed_from = LEAST(s.unevaluated_observed_from, v.oldest_observed_at),
        unevaluated_reading_id_from = LEAST(s.unevaluated_reading_id_from, v.oldest_reading_id)
"""

_UPDATE_STATES = (
    "UPDATE monitoring_sensorstate AS s"
    + _SET_STATES
    + """
    FROM unnest(%s::bigint[], %s::timestamptz[], %s::double precision[], %s::bigint[], %s::timestamptz[], %s::bigint[])
         AS v (sensor_id, observed_at, value, reading_id, oldest_observed_at, oldest_reading_id)
    WHERE s.sensor_id = v.sensor_id AND s.sensor_id = ANY(%s::bigint[])
    RETURNING s.sensor_id, s.latest_observed_at = v.observed_at AS advanced, s.latest_value
"""
)

# A gateway's batch in one statement: the insert, then the states moved by
# what it stored, summed up per sensor by the database. As two statements
# the stored rows came back to Python and went out again as seven arrays: a
# round trip, and about a quarter of this process's CPU for a batch of 1,000
# (``python -m bench.profile view``). ``stored``: the sensor's readings
# this batch stored.
_INGEST_READINGS = (
    "WITH inserted AS ("  # noqa: S608 (constants only)
    + _INSERT_READINGS
    + """
    ), v AS (
        SELECT sensor_id, max(observed_at) AS observed_at,
               (array_agg(value ORDER BY observed_at DESC))[1] AS value,
               max(id) AS reading_id, min(observed_at) AS oldest_observed_at, min(id) AS oldest_reading_id,
               count(*) AS stored
        FROM inserted GROUP BY sensor_id
    )
    UPDATE monitoring_sensorstate AS s"""
    + _SET_STATES
    + """
    FROM v
    WHERE s.sensor_id = v.sensor_id AND s.sensor_id = ANY(%s::bigint[])
    RETURNING s.sensor_id, s.latest_observed_at = v.observed_at AS advanced, s.latest_value, v.stored
"""
)


def sensor_states_lock(cursor, sensor_ids: list[int], *, create_missing: bool = True) -> None:
    """Lock the sensors' state rows, in id order so two lockers cannot deadlock.

    Ingestion holds these locks from before it inserts until it commits,
    and evaluation takes them too: so when evaluation holds a sensor, every
    reading of it with a smaller id has committed, and the id watermark
    skips none. A sensor's first reading creates its row
    (``create_missing``; evaluation has nothing to do for a sensor without one).
    """
    ids = sorted(sensor_ids)
    cursor.execute(
        "SELECT sensor_id FROM monitoring_sensorstate WHERE sensor_id = ANY(%s::bigint[])"
        " ORDER BY sensor_id FOR NO KEY UPDATE",
        [array_literal(ids)],
    )
    if create_missing and cursor.rowcount < len(ids):
        # The new rows are this transaction's until it commits: a second
        # batch for the same new sensor waits here as it would for the lock.
        cursor.execute(
            "INSERT INTO monitoring_sensorstate (sensor_id) SELECT unnest(%s::bigint[]) ORDER BY 1 ON CONFLICT DO NOTHING",
            [array_literal(ids)],
        )
        cursor.execute(
            "SELECT sensor_id FROM monitoring_sensorstate WHERE sensor_id = ANY(%s::bigint[])"
            " ORDER BY sensor_id FOR NO KEY UPDATE",
            [array_literal(ids)],
        )


# A gateway's "last seen" is written at most this often: at 20 batches a
# second, once a batch would rewrite its row 20 times a second for nothing.
GATEWAY_SEEN_PRECISION = timedelta(seconds=10)

# The evaluation backlog as last measured by this process: (monotonic time, lag).
_backlog_seen: tuple[float, float] = (float("-inf"), 0.0)
BACKLOG_MEASURED_EVERY = 1.0


def admit_batch() -> None:
    """Refuse a batch while evaluation is too far behind (OverloadedError).

    Backpressure: a gateway keeps its readings and sends them again after
    Retry-After, and what the platform did accept is evaluated in time. The
    backlog is measured at most once a second per process.
    """
    global _backlog_seen
    limit = settings.INGEST_MAX_EVALUATION_LAG_SECONDS
    if limit <= 0:
        return
    measured_at, lag = _backlog_seen
    if time.monotonic() - measured_at > BACKLOG_MEASURED_EVERY:
        lag = evaluation_backlog()[0].total_seconds()
        _backlog_seen = (time.monotonic(), lag)
    if lag > limit:
        retry_after = int(min(max(lag / 2, 5), 120))
        raise OverloadedError(
            f"Evaluation is {lag:.0f} s behind; send this batch again in {retry_after} s.", retry_after=retry_after
        )


def readings_ingest(*, gateway: Gateway, batch: object) -> IngestResult:
    """Store a gateway's batch (parsed JSON): valid items in bulk, the rest described.

    A batch that is not a list, is empty or is too large is refused whole
    (InvalidInputError, TooLargeError) and nothing is stored. A reading
    already stored for the same (sensor, observed_at) is counted as a
    duplicate and left as it was, so a retried batch changes nothing.
    """
    items = as_batch(batch)
    if not items:
        raise InvalidInputError("The batch is empty: send at least one reading.")
    if len(items) > settings.INGEST_MAX_BATCH:
        tallies.readings_counted(gateway=gateway.code, accepted=0, refused=len(items))
        raise TooLargeError(
            f"The batch holds {len(items)} readings; at most {settings.INGEST_MAX_BATCH} are accepted at once."
        )
    admit_batch()
    codes = sensor_codes(items)
    with connection.cursor() as cursor:
        # Plain SQL: the ORM's lookup of 1,000 codes cost 4 ms of Python.
        cursor.execute(
            "SELECT code, id, gateway_id, is_active, status, sensor_type_id FROM monitoring_sensor WHERE code = ANY(%s::text[])",
            [array_literal(codes)],
        )
        rows = cursor.fetchall()
    sensors = {code: SensorRef(id=pk, gateway_id=gw, is_active=active) for code, pk, gw, active, _status, _t in rows}
    not_online = {pk for _code, pk, _gw, _active, status, _t in rows if status != SensorStatus.ONLINE}
    types = {pk: type_id for _code, pk, _gw, _active, _status, type_id in rows}
    batch = validate_items(
        items,
        sensors=sensors,
        gateway_id=gateway.pk,
        max_future=timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS),
        max_age=timedelta(days=settings.INGEST_MAX_AGE_DAYS),
    )
    if not batch.rows:
        tallies.readings_counted(gateway=gateway.code, accepted=0, refused=len(batch.errors))
        return IngestResult(accepted=0, duplicates=batch.duplicates_in_batch, errors=batch.errors)

    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SET LOCAL lock_timeout = {int(settings.INGEST_LOCK_TIMEOUT_MS)};"
            f" SET LOCAL statement_timeout = {int(settings.INGEST_STATEMENT_TIMEOUT_MS)}"
        )
        locked = sorted({sensor_id for sensor_id, _, _ in batch.rows})
        sensor_states_lock(cursor, locked)
        sensor_ids, times, values = zip(*batch.rows, strict=True)
        cursor.execute(
            _INGEST_READINGS, [now, *map(array_literal, (sensor_ids, times, values)), now, array_literal(locked)]
        )
        states = cursor.fetchall()
        accepted = sum(stored for _id, _advanced, _value, stored in states)
        if states:
            _states_moved(cursor, [row[:3] for row in states], not_online=not_online, types=types)
        if gateway.last_seen_at is None or now - gateway.last_seen_at > GATEWAY_SEEN_PRECISION:
            Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=now)

    duplicates = batch.duplicates_in_batch + len(batch.rows) - accepted
    # After the commit, for /metrics: the readings ingested and refused per gateway.
    tallies.readings_counted(gateway=gateway.code, accepted=accepted, refused=len(batch.errors))
    return IngestResult(accepted=accepted, duplicates=duplicates, errors=batch.errors)


@dataclass(frozen=True)
class ImportResult:
    rows: int
    accepted: int
    duplicates: int
    errors: list[RowError]

    @property
    def refused(self) -> int:
        """Rows refused: a row that fails in two columns is one row."""
        return len({error.row for error in self.errors})

    def summary(self, name: str) -> str:
        return imports.import_summary(
            name=name, rows=self.rows, accepted=self.accepted, duplicates=self.duplicates, errors=self.errors
        )


# Rows stored per transaction: each holds its sensors' state rows locked
# (ingestion of those sensors waits meanwhile), so an archive of a million
# rows goes in many short steps rather than one long one.
IMPORT_CHUNK = 5000


def readings_import(*, file: IO[bytes], name: str, kind: str | None = None, zone: tzinfo | None = None) -> ImportResult:
    """Store an archive of readings (CSV or Excel): valid rows kept, each invalid row described.

    The same checks as a gateway's batch (``monitoring.ingest``: unknown or
    disabled sensors, NaN, bad or future times, duplicates) but no age limit
    and no gateway: an administrator imports for any sensor. Readings
    already stored count as duplicates and are left as they were, so an
    import run twice changes nothing. The readings are evaluated like any
    others (queued as each step commits); an episode the archive shows to
    have ended in the past becomes a historical warning, never a live one.
    A file that cannot be read at all raises ``citysafety.tables.TableError``
    (``imports.ArchiveError`` when it lacks a column).
    """
    archive = imports.archive_read(file, name=name, kind=kind, zone=zone or timezone.get_default_timezone())
    items = archive.items
    codes = sensor_codes(items)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, id, is_active FROM monitoring_sensor WHERE code = ANY(%s::text[])", [array_literal(codes)]
        )
        sensors = {code: SensorRef(id=pk, gateway_id=None, is_active=active) for code, pk, active in cursor.fetchall()}
    batch = validate_items(
        items,
        sensors=sensors,
        gateway_id=None,
        max_future=timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS),
        max_age=None,
    )
    errors = [RowError(archive.rows[e.index], e.field, e.message) for e in batch.errors]
    accepted = 0
    for start in range(0, len(batch.rows), IMPORT_CHUNK):
        rows = batch.rows[start : start + IMPORT_CHUNK]
        now = timezone.now()
        with transaction.atomic(), connection.cursor() as cursor:
            sensor_states_lock(cursor, list({sensor_id for sensor_id, _, _ in rows}))
            sensor_ids, times, values = zip(*rows, strict=True)
            cursor.execute(_INSERT_READINGS, [now, *map(array_literal, (sensor_ids, times, values))])
            inserted = cursor.fetchall()
            if inserted:
                _record_stored(cursor, inserted, now, not_online=set())
        accepted += len(inserted)
    return ImportResult(
        rows=len(items),
        accepted=accepted,
        duplicates=batch.duplicates_in_batch + len(batch.rows) - accepted,
        errors=errors,
    )


def readings_record_stored(*, readings: list[Reading]) -> None:
    """Bring the sensors' state up to readings stored by other means than
    ``readings_ingest`` (an archive import, a test), so that evaluation
    sees them: latest value, newest id, unevaluated marks."""
    if not readings:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        sensor_states_lock(cursor, list({reading.sensor_id for reading in readings}))
        rows = [(r.pk, r.sensor_id, r.observed_at, r.value) for r in readings]
        _record_stored(cursor, rows, timezone.now(), not_online=None)


def _record_stored(
    cursor,
    inserted: list[tuple],
    received_at: datetime,
    *,
    not_online: set[int] | None,
    types: dict[int, int] | None = None,
) -> None:
    """Move the locked sensors' states for newly stored readings (id, sensor, observed_at, value).

    ``not_online``: the sensors that may need to be marked online (None: any).
    ``types``: the sensors' type ids, when known, so that listeners learn
    each sensor's type and newest value without a query of their own.
    """
    newest = _newest_per_sensor(inserted)
    ids = sorted(newest)
    arrays = [ids, *([newest[i][k] for i in ids] for k in range(5)), ids]
    cursor.execute(_UPDATE_STATES, [received_at, *map(array_literal, arrays)])
    _states_moved(cursor, cursor.fetchall(), not_online=not_online, types=types)


def _states_moved(cursor, states: list[tuple], *, not_online: set[int] | None, types: dict[int, int] | None) -> None:
    """After the states moved (sensor id, advanced, newest value): sensors back online, and the news."""
    ids = [sensor_id for sensor_id, _advanced, _value in states]
    advanced = [
        sensor_id for sensor_id, moved, _value in states if moved and (not_online is None or sensor_id in not_online)
    ]
    latest = (
        {sensor_id: (types[sensor_id], value) for sensor_id, _moved, value in states if sensor_id in types}
        if types
        else None
    )
    if advanced:
        # Rarely a write: only a sensor coming back online changes.
        cursor.execute(
            "UPDATE monitoring_sensor SET status = 'online' WHERE id = ANY(%s::bigint[]) AND status <> 'online'",
            [array_literal(advanced)],
        )
    # ``latest``: sensor id: (sensor type id, newest value), for ranking by
    # severity (None: not known here).
    readings_stored.send(sender=Gateway, sensor_ids=set(ids), latest=latest)


def _newest_per_sensor(inserted: list[tuple]) -> dict[int, tuple[datetime, float, int, datetime, int]]:
    """Per sensor: its newest observation (time, value), newest id, oldest observation time and smallest id."""
    newest: dict[int, tuple[datetime, float, int, datetime, int]] = {}
    for reading_id, sensor_id, observed_at, value in inserted:
        known = newest.get(sensor_id)
        if known is None:
            newest[sensor_id] = (observed_at, value, reading_id, observed_at, reading_id)
            continue
        when, latest_value = (observed_at, value) if observed_at > known[0] else known[:2]
        newest[sensor_id] = (
            when,
            latest_value,
            max(known[2], reading_id),
            min(known[3], observed_at),
            min(known[4], reading_id),
        )
    return newest


def sensors_mark_offline(*, now: datetime | None = None) -> int:
    """Mark offline the sensors silent for three reporting intervals."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE monitoring_sensor AS s SET status = 'offline'
            FROM monitoring_sensortype AS t, monitoring_sensorstate AS st
            WHERE s.sensor_type_id = t.id AND st.sensor_id = s.id AND s.status = 'online' AND s.is_active
              AND st.latest_observed_at < %s - make_interval(secs => 3 * t.reporting_interval_seconds)
            """,
            [now],
        )
        return cursor.rowcount

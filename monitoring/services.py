"""Every write of the monitoring app."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg2.extras import execute_values

from citysafety.errors import InvalidInputError, TooLargeError
from monitoring.events import readings_stored
from monitoring.ingest import ItemError, SensorRef, as_batch, sensor_codes, validate_items
from monitoring.models import Gateway, Sensor


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


_INSERT_READINGS = """
    INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at)
    VALUES %s
    ON CONFLICT (sensor_id, observed_at) DO NOTHING
    RETURNING id, sensor_id, observed_at, value
"""

# The latest value and time only move forward: a late reading from a
# gateway's buffer must not overwrite a newer one. The newest reading id
# always moves: the evaluation sweep follows it.
_UPDATE_LATEST = """
    UPDATE monitoring_sensor AS s
    SET latest_value = CASE WHEN s.latest_observed_at IS NULL OR s.latest_observed_at < v.observed_at
                            THEN v.value ELSE s.latest_value END,
        status = CASE WHEN s.latest_observed_at IS NULL OR s.latest_observed_at < v.observed_at
                      THEN 'online' ELSE s.status END,
        latest_observed_at = GREATEST(s.latest_observed_at, v.observed_at),
        latest_reading_id = GREATEST(s.latest_reading_id, v.reading_id)
    FROM (VALUES %s) AS v (id, observed_at, value, reading_id)
    WHERE s.id = v.id
"""


def sensors_lock(cursor, sensor_ids: list[int]) -> None:
    """Lock sensor rows, always in id order so that two lockers cannot deadlock.

    Ingestion holds these locks from before it inserts until it commits,
    and evaluation takes them too: so when evaluation holds a sensor, every
    reading of it with a smaller id has committed, and the id watermark
    skips none.
    """
    cursor.execute(
        "SELECT id FROM monitoring_sensor WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [sorted(sensor_ids)]
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
        raise TooLargeError(
            f"The batch holds {len(items)} readings; at most {settings.INGEST_MAX_BATCH} are accepted at once."
        )
    codes = sensor_codes(items)
    sensors = {
        code: SensorRef(id=pk, gateway_id=gw, is_active=active)
        for code, pk, gw, active in Sensor.objects.filter(code__in=codes).values_list(
            "code", "id", "gateway_id", "is_active"
        )
    }
    batch = validate_items(
        items,
        sensors=sensors,
        gateway_id=gateway.pk,
        max_future=timedelta(seconds=settings.INGEST_MAX_FUTURE_SECONDS),
        max_age=timedelta(days=settings.INGEST_MAX_AGE_DAYS),
    )
    if not batch.rows:
        return IngestResult(accepted=0, duplicates=batch.duplicates_in_batch, errors=batch.errors)

    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        sensors_lock(cursor, list({sensor_id for sensor_id, _, _ in batch.rows}))
        inserted = execute_values(
            cursor.cursor,
            _INSERT_READINGS,
            [(sensor_id, observed_at, value, now) for sensor_id, observed_at, value in batch.rows],
            page_size=len(batch.rows),
            fetch=True,
        )
        # Per sensor: the newest observation (time, value) and the newest id.
        newest: dict[int, tuple[datetime, float, int]] = {}
        for reading_id, sensor_id, observed_at, value in inserted:
            known = newest.get(sensor_id)
            if known is None:
                newest[sensor_id] = (observed_at, value, reading_id)
            else:
                when, latest_value = (observed_at, value) if observed_at > known[0] else known[:2]
                newest[sensor_id] = (when, latest_value, max(known[2], reading_id))
        if newest:
            execute_values(
                cursor.cursor,
                _UPDATE_LATEST,
                [(sensor_id, *row) for sensor_id, row in sorted(newest.items())],
                template="(%s::bigint, %s::timestamptz, %s::double precision, %s::bigint)",
                page_size=len(newest),
            )
            readings_stored.send(sender=Gateway, sensor_ids=set(newest))
        Gateway.objects.filter(pk=gateway.pk).update(last_seen_at=now)

    duplicates = batch.duplicates_in_batch + len(batch.rows) - len(inserted)
    return IngestResult(accepted=len(inserted), duplicates=duplicates, errors=batch.errors)


def sensors_mark_offline(*, now: datetime | None = None) -> int:
    """Mark offline the sensors silent for three reporting intervals."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE monitoring_sensor AS s SET status = 'offline'
            FROM monitoring_sensortype AS t
            WHERE s.sensor_type_id = t.id AND s.status = 'online' AND s.is_active
              AND s.latest_observed_at < %s - make_interval(secs => 3 * t.reporting_interval_seconds)
            """,
            [now],
        )
        return cursor.rowcount


def readings_purge_expired(*, retention_days: int, batch_size: int = 50_000, now: datetime | None = None) -> int:
    """Delete readings older than the retention period, a batch per transaction.

    Small batches keep each transaction short, so ingestion never waits
    behind a purge of millions of rows. Returns how many were deleted.
    """
    if retention_days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=retention_days)
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM monitoring_reading WHERE id IN "
                "(SELECT id FROM monitoring_reading WHERE observed_at < %s LIMIT %s)",
                [cutoff, batch_size],
            )
            count = cursor.rowcount
        deleted += count
        if count < batch_size:
            return deleted

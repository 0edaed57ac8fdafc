"""Which sensors a silence (maintenance window) covers, when: the reads
evaluation, the no-data sweep and the map ask of silences. Writing and
lifting silences is ``warning.silences``'.
"""

from datetime import datetime

from django.db import connection
from django.utils import timezone

from monitoring.services import array_literal

Window = tuple[datetime, datetime]


# A silence covers a sensor by any of its four targets. The sensors' rows are
# joined by their primary key, so a chunk's look-up reads the silences in
# force (few) and the chunk's sensors, never the whole sensor table.
_WINDOWS = """
    SELECT s.id, si.starts_at, si.ends_at
    FROM monitoring_sensor AS s
    JOIN warning_silence AS si
      ON si.sensor_id = s.id OR si.gateway_id = s.gateway_id
         OR si.district_id = s.district_id OR si.sensor_type_id = s.sensor_type_id
    WHERE s.id = ANY(%s::bigint[]) AND si.ends_at > %s AND si.starts_at <= %s
"""


def silence_windows(sensor_ids: list[int], *, since: datetime, until: datetime) -> dict[int, list[Window]]:
    """Sensor id: the silences' [start, end) windows overlapping [since, until], for these sensors (one query)."""
    if not sensor_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_WINDOWS, [array_literal(sorted(set(sensor_ids))), since, until])
        windows: dict[int, list[Window]] = {}
        for sensor_id, starts_at, ends_at in cursor.fetchall():
            windows.setdefault(sensor_id, []).append((starts_at, ends_at))
    return windows


def covers(windows: list[Window] | None, at: datetime) -> bool:
    return bool(windows) and any(start <= at < end for start, end in windows)


def sensors_silenced_now(sensor_ids: list[int]) -> set[int]:
    """The sensors among these under a silence in force now (one query): the map's maintenance marker."""
    now = timezone.now()
    return {
        sensor_id
        for sensor_id, windows in silence_windows(sensor_ids, since=now, until=now).items()
        if covers(windows, now)
    }

"""Reads shared by monitoring's views, consumers and tasks."""

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import FloatField, Func, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citysafety.errors import InvalidInputError
from citysafety.parameters import shown, zoned_datetime
from monitoring.models import Sensor
from organisation.models import District
from organisation.roles import is_duty_officer
from organisation.selectors import department_id_of


def sensors_visible_to(user: AbstractBaseUser) -> QuerySet[Sensor]:
    """Duty officers see every sensor; department staff the sensors they own."""
    sensors = Sensor.objects.filter(is_active=True)
    if is_duty_officer(user):
        return sensors
    department_id = department_id_of(user)
    return sensors.filter(owner_department_id=department_id) if department_id else sensors.none()


def sensors_geojson(sensors: QuerySet[Sensor]) -> dict:
    """A GeoJSON (RFC 7946) FeatureCollection of sensors for the map."""
    rows = (
        sensors.annotate(
            lng=Func("location", function="ST_X", output_field=FloatField()),
            lat=Func("location", function="ST_Y", output_field=FloatField()),
        )
        .order_by("id")
        .values(
            "id",
            "code",
            "name",
            "lng",
            "lat",
            "status",
            "warning_level",
            "state__latest_value",
            "state__latest_observed_at",
            "sensor_type__name",
            "sensor_type__unit",
            "sensor_type__domain__code",
            "sensor_type__domain__name",
            "district__name",
        )
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [round(row["lng"], 6), round(row["lat"], 6)]},
                "properties": {
                    "id": row["id"],
                    "code": row["code"],
                    "name": row["name"],
                    "type": row["sensor_type__name"],
                    "unit": row["sensor_type__unit"],
                    "domain": row["sensor_type__domain__code"],
                    "domain_name": row["sensor_type__domain__name"],
                    "district": row["district__name"],
                    "status": row["status"],
                    "warning_level": row["warning_level"],
                    "latest_value": row["state__latest_value"],
                    "latest_observed_at": (
                        row["state__latest_observed_at"].isoformat() if row["state__latest_observed_at"] else None
                    ),
                },
            }
            for row in rows
        ],
    }


def evaluation_backlog() -> tuple[timedelta, int]:
    """(how long the oldest reading evaluation has not seen has waited, how
    many sensors hold such readings). Ingestion marks a sensor's state,
    evaluation clears it; one pass over the narrow state table."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT now() - min(unevaluated_since), count(unevaluated_since) FROM monitoring_sensorstate")
        lag, waiting = cursor.fetchone()
    return max(lag or timedelta(0), timedelta(0)), waiting


def districts_geojson() -> dict:
    features = []
    for district in District.objects.order_by("code"):
        features.append(
            {
                "type": "Feature",
                "id": district.pk,
                "geometry": json.loads(district.boundary.geojson),
                "properties": {"id": district.pk, "code": district.code, "name": district.name},
            }
        )
    return {"type": "FeatureCollection", "features": features}


# The longest span each resolution answers, so that no chart asks for
# millions of points: two days of readings (17,280 at one every 10 s), two
# weeks of minutes (20,160), five years of hours (43,800).
SERIES_MAX_SPAN = {
    "raw": timedelta(days=2),
    "minute": timedelta(days=14),
    "hour": timedelta(days=5 * 366),
}

# The database encodes the columns: a year of hours is 50,000 numbers, and
# fetching them as rows into Python objects to encode them again took ten
# times the query itself (bench/rollups.py). Times as ISO 8601 in UTC (the
# session's time zone), numbers in their shortest exact form. The rows come
# by the index of each partition the range touches (for hours, the key
# alone answers: see migration 0006).
_RAW_SERIES = """
    SELECT json_build_object(
        't', coalesce(json_agg(observed_at ORDER BY observed_at), '[]'),
        'value', coalesce(json_agg(value ORDER BY observed_at), '[]')
    )::text
    FROM monitoring_reading WHERE sensor_id = %s AND observed_at >= %s AND observed_at < %s
"""
_ROLLUP_SERIES = """
    SELECT json_build_object(
        't', coalesce(json_agg(bucket ORDER BY bucket), '[]'),
        'min', coalesce(json_agg(minimum ORDER BY bucket), '[]'),
        'max', coalesce(json_agg(maximum ORDER BY bucket), '[]'),
        'mean', coalesce(json_agg(total / count ORDER BY bucket), '[]'),
        'count', coalesce(json_agg(count ORDER BY bucket), '[]'),
        'last', coalesce(json_agg(last_value ORDER BY bucket), '[]')
    )::text
    FROM {table} WHERE sensor_id = %s AND bucket >= %s AND bucket < %s
"""


def series_range(
    *, start: str | None, end: str | None, resolution: str | None, now: datetime
) -> tuple[datetime, datetime, str]:
    """Parse a chart's query (ISO 8601 times with their zone): (start, end, resolution).

    The end defaults to now, the start to a day before the end. With no
    resolution, a range of up to ``READING_CHART_RAW_MAX_HOURS`` reads the
    readings themselves and a longer one the hour roll-ups.
    """
    end_at = zoned_datetime(end, name="end") if end is not None else now
    start_at = zoned_datetime(start, name="start") if start is not None else end_at - timedelta(days=1)
    if start_at >= end_at:
        raise InvalidInputError(_("start must be before end."), field="start")
    if resolution is None:
        raw_max = timedelta(hours=settings.READING_CHART_RAW_MAX_HOURS)
        resolution = "raw" if end_at - start_at <= raw_max else "hour"
    if resolution not in SERIES_MAX_SPAN:
        raise InvalidInputError(
            _("resolution must be one of %(values)s, not %(value)s.")
            % {"values": ", ".join(SERIES_MAX_SPAN), "value": shown(resolution)},
            field="resolution",
        )
    longest = SERIES_MAX_SPAN[resolution]
    if end_at - start_at > longest:
        raise InvalidInputError(
            ngettext(
                "A %(resolution)s series spans at most %(days)d day; ask for a coarser resolution.",
                "A %(resolution)s series spans at most %(days)d days; ask for a coarser resolution.",
                longest.days,
            )
            % {"resolution": resolution, "days": longest.days},
            field="resolution",
        )
    return start_at, end_at, resolution


def sensor_series(*, sensor_id: int, start: datetime, end: datetime, resolution: str) -> str:
    """One sensor's values from start (included) to end (excluded): a JSON object of columns for a chart.

    ``raw``: each reading (``t``, ``value``). ``minute`` and ``hour``: each
    bucket holding readings (``t`` its start, ``min``, ``max``, ``mean``,
    ``count``, ``last``); the newest minutes reach the roll-ups within about
    two minutes. Times are ISO 8601 in UTC. Returned encoded (see above).
    """
    with connection.cursor() as cursor:
        cursor.execute(sensor_series_statement(resolution), [sensor_id, start, end])
        return cursor.fetchone()[0]


def sensor_series_statement(resolution: str) -> str:
    """The statement ``sensor_series`` runs at this resolution; its parameters
    are the sensor id, the start and the end (the bench explains it)."""
    if resolution == "raw":
        return _RAW_SERIES
    table = {"minute": "monitoring_minuterollup", "hour": "monitoring_hourrollup"}[resolution]
    return _ROLLUP_SERIES.format(table=table)

"""Reads shared by monitoring's views, consumers and tasks."""

import json
import re
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

# Resampling (``points``): the roll-ups grouped into buckets of one of these
# widths, the narrowest that keeps the series within the points asked for, so
# a week of minutes reaches the chart as a few hundred buckets. Buckets start
# on whole minutes, hours and days in Beijing time (the origin below).
SERIES_STEPS = tuple(
    timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2 * 1440, 7 * 1440)
)
SERIES_MAX_POINTS = 5000
_SERIES_ORIGIN = datetime.fromisoformat("2000-01-03T00:00:00+08:00")  # a Monday, midnight in Beijing
_RESAMPLED_SERIES = """
    SELECT json_build_object(
        't', coalesce(json_agg(b.bucket ORDER BY b.bucket), '[]'),
        'min', coalesce(json_agg(b.minimum ORDER BY b.bucket), '[]'),
        'max', coalesce(json_agg(b.maximum ORDER BY b.bucket), '[]'),
        'mean', coalesce(json_agg(b.total / b.count ORDER BY b.bucket), '[]'),
        'count', coalesce(json_agg(b.count ORDER BY b.bucket), '[]'),
        'last', coalesce(json_agg(b.last_value ORDER BY b.bucket), '[]')
    )::text
    FROM (
        SELECT date_bin(%s, bucket, %s) AS bucket, min(minimum) AS minimum, max(maximum) AS maximum,
               sum(total) AS total, sum(count) AS count,
               (array_agg(last_value ORDER BY bucket DESC))[1] AS last_value
        FROM {table} WHERE sensor_id = %s AND bucket >= %s AND bucket < %s
        GROUP BY 1
    ) AS b
"""
_ROLLUP_TABLES = {"minute": "monitoring_minuterollup", "hour": "monitoring_hourrollup"}


def series_points(value: str | None, *, resolution: str | None) -> int | None:
    """Parse ``points``: at most how many buckets the chart wants (None: the roll-ups as they are)."""
    if value is None:
        return None
    # Only ASCII digits: str.isdigit() takes "²", which int() refuses.
    points = int(value) if re.fullmatch(r"[0-9]{1,6}", value) else 0
    if not 2 <= points <= SERIES_MAX_POINTS:
        raise InvalidInputError(
            _("points must be a whole number from 2 to %(most)d, not %(value)s.")
            % {"most": SERIES_MAX_POINTS, "value": shown(value)},
            field="points",
        )
    if resolution == "raw":
        raise InvalidInputError(
            _("points resamples the minute or hour roll-ups; ask for resolution minute or hour, or leave it out."),
            field="points",
        )
    return points


def series_step(*, start: datetime, end: datetime, resolution: str, points: int) -> timedelta:
    """The narrowest bucket width giving at most ``points`` buckets, none finer than the roll-up itself."""
    finest = timedelta(minutes=1) if resolution == "minute" else timedelta(hours=1)
    # One bucket more than the span divides into: the first may straddle start.
    least = (end - start) / max(points - 1, 1)
    for step in SERIES_STEPS:
        if step >= finest and step >= least:
            return step
    return SERIES_STEPS[-1]


def series_range(
    *, start: str | None, end: str | None, resolution: str | None, now: datetime, points: int | None = None
) -> tuple[datetime, datetime, str]:
    """Parse a chart's query (ISO 8601 times with their zone): (start, end, resolution).

    The end defaults to now, the start to a day before the end. With no
    resolution, a range of up to ``READING_CHART_RAW_MAX_HOURS`` reads the
    readings themselves and a longer one the hour roll-ups; asked for at most
    ``points`` buckets, the minute roll-ups up to their longest span.
    """
    end_at = zoned_datetime(end, name="end") if end is not None else now
    start_at = zoned_datetime(start, name="start") if start is not None else end_at - timedelta(days=1)
    if start_at >= end_at:
        raise InvalidInputError(_("start must be before end."), field="start")
    if resolution is None and points is not None:
        resolution = "minute" if end_at - start_at <= SERIES_MAX_SPAN["minute"] else "hour"
    elif resolution is None:
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


def sensor_series(
    *, sensor_id: int, start: datetime, end: datetime, resolution: str, step: timedelta | None = None
) -> str:
    """One sensor's values from start (included) to end (excluded): a JSON object of columns for a chart.

    ``raw``: each reading (``t``, ``value``). ``minute`` and ``hour``: each
    bucket holding readings (``t`` its start, ``min``, ``max``, ``mean``,
    ``count``, ``last``); the newest minutes reach the roll-ups within about
    two minutes. With a ``step``, the roll-ups grouped into buckets that wide
    (the first may start before ``start``; it holds only what follows it).
    Times are ISO 8601 in UTC. Returned encoded (see above).
    """
    with connection.cursor() as cursor:
        if step is not None:
            statement = _RESAMPLED_SERIES.format(table=_ROLLUP_TABLES[resolution])
            cursor.execute(statement, [step, _SERIES_ORIGIN, sensor_id, start, end])
        else:
            cursor.execute(sensor_series_statement(resolution), [sensor_id, start, end])
        return cursor.fetchone()[0]


def sensor_series_statement(resolution: str) -> str:
    """The statement ``sensor_series`` runs at this resolution; its parameters
    are the sensor id, the start and the end (the bench explains it)."""
    if resolution == "raw":
        return _RAW_SERIES
    return _ROLLUP_SERIES.format(table=_ROLLUP_TABLES[resolution])

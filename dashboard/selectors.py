"""The one map's sensor layer at city scale: only what is in view, and
clustered on the server when the view holds too many sensors to draw.

Measured before choosing (load average 4): supercluster, the well-kept
browser clusterer, takes 2.6 s to index 100,000 points in V8 before the
first cluster is drawn, and again after every change; the grid below answers
a whole-city view of 100,000 sensors in a fraction of that, with a response
of a few kilobytes. The figures are in ``bench/map.py``'s table.

Clusters are cells of a grid fixed to the earth (the origin is 0°, 0°), so
a pan does not move them; a cell is about ``CELL_PX`` pixels wide on screen
at the zoom asked for.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.gis.geos import Polygon
from django.db import connection, transaction
from django.db.models import Count, FloatField, Func, QuerySet
from django.utils.translation import gettext as _

from citysafety import parameters
from citysafety.errors import InvalidInputError
from monitoring.models import Sensor, SensorStatus
from monitoring.selectors import sensors_geojson
from warning.models import Level
from warning.silence_windows import sensors_silenced_now

# On-screen width of a grid cell; a cluster's marker is at most ~46 px wide,
# so neighbours rarely overlap.
CELL_PX = 72
# A view holding at most this many sensors gets them one by one (with what
# their popup shows); more are clustered.
INDIVIDUAL_LIMIT = 600
MIN_ZOOM, MAX_ZOOM = 0.0, 22.0
# The worst first: a cluster without open warnings takes the colour of the
# worst status among its members. Offline (was reporting, stopped) is worse
# than no data yet.
STATUS_SEVERITY = (SensorStatus.OFFLINE, SensorStatus.UNKNOWN, SensorStatus.ONLINE)

_X = Func("location", function="ST_X", output_field=FloatField())
_Y = Func("location", function="ST_Y", output_field=FloatField())


@dataclass(frozen=True)
class MapView:
    """The part of the map a page shows: a box in degrees (WGS 84) and a web-map zoom level."""

    west: float
    south: float
    east: float
    north: float
    zoom: float

    def polygon(self) -> Polygon:
        return Polygon.from_bbox((self.west, self.south, self.east, self.north))

    def cell_degrees(self) -> tuple[float, float]:
        """A grid cell of about CELL_PX pixels, in degrees of longitude and latitude.

        Web Mercator squeezes a degree of longitude by cos(latitude) against
        a degree of latitude; the latitude is rounded to a whole degree so
        that a small pan north or south keeps the same grid.
        """
        width = CELL_PX * 360.0 / (256.0 * 2.0**self.zoom)
        latitude = round((self.south + self.north) / 2)
        return width, width * math.cos(math.radians(latitude))


def map_view_parse(params: Mapping[str, str]) -> MapView:
    """The view from a query string: ``bbox=west,south,east,north`` (degrees) and ``zoom``."""
    west, south, east, north = parameters.bbox(params)
    raw_zoom = params.get("zoom")
    if raw_zoom is None or raw_zoom == "":
        raise InvalidInputError(_("Give the map's zoom level as zoom=."), field="zoom")
    try:
        zoom = parameters.finite_number(raw_zoom, "zoom")
    except InvalidInputError as error:
        raise InvalidInputError(str(error), field="zoom") from None
    if not MIN_ZOOM <= zoom <= MAX_ZOOM:
        raise InvalidInputError(
            _("zoom must be between %(min)s and %(max)s.") % {"min": int(MIN_ZOOM), "max": int(MAX_ZOOM)},
            field="zoom",
        )
    return MapView(west, south, east, north, zoom)


def totals_wanted(params: Mapping[str, str]) -> bool:
    """``totals=1``: add the whole city's counts to the answer."""
    raw = params.get("totals", "0")
    if raw not in {"0", "1", "true", "false"}:
        raise InvalidInputError(_("totals must be 1 or 0, not %(raw)r.") % {"raw": raw}, field="totals")
    return raw in {"1", "true"}


def _worst_status(statuses: Mapping[str, int]) -> str | None:
    return next((str(status) for status in STATUS_SEVERITY if statuses.get(str(status))), None)


def _clusters(sensors: QuerySet[Sensor], view: MapView) -> list[dict]:
    size_x, size_y = view.cell_degrees()
    levels = [int(level) for level in Level]
    statuses = [str(status) for status in SensorStatus]
    # The asker's sensors in view, as a subquery: who may see what stays in one place.
    members = sensors.annotate(x=_X, y=_Y).values("x", "y", "warning_level", "status").order_by()
    members_sql, members_params = members.query.sql_with_params()
    level_counts = "".join(f", count(*) FILTER (WHERE warning_level = {level:d})" for level in levels)
    status_counts = "".join(", count(*) FILTER (WHERE status = %s)" for _ in statuses)
    # OFFSET 0 keeps the subquery apart, so ST_X and ST_Y run once per sensor
    # rather than once per aggregate. The planner cannot tell how many cells
    # floor() makes and guesses one per row, so it would sort every sensor (on
    # disk, at 100,000) to group them; there are a few hundred cells at most,
    # and hashing them is what it should do (measured: 1.1 s → 0.5 s on a busy
    # machine, bench/map.py).
    query = f"""
        SELECT count(*), avg(x), avg(y), min(x), min(y), max(x), max(y), min(warning_level)
               {level_counts} {status_counts}
        FROM ({members_sql} OFFSET 0) AS members
        GROUP BY floor(x / %s), floor(y / %s)
    """  # noqa: S608 - the parts are the ORM's SQL and integers; values are parameters
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(query, [*statuses, *members_params, size_x, size_y])
        rows = cursor.fetchall()
    clusters = []
    for row in rows:
        count, lng, lat, west, south, east, north, level = row[:8]
        by_level = dict(zip(levels, row[8 : 8 + len(levels)], strict=True))
        by_status = dict(zip(statuses, row[8 + len(levels) :], strict=True))
        by_status = {status: n for status, n in by_status.items() if n}
        clusters.append(
            {
                "lng": round(lng, 6),
                "lat": round(lat, 6),
                "count": count,
                "bounds": [round(west, 6), round(south, 6), round(east, 6), round(north, 6)],
                # The worst member decides the colour: its open warning's level (1 = most severe) …
                "level": level,
                "levels": {str(lvl): n for lvl, n in by_level.items() if n},
                # … or, with no warning open, its status.
                "status": _worst_status(by_status),
                "statuses": by_status,
            }
        )
    return clusters


def sensor_totals(sensors: QuerySet[Sensor]) -> dict:
    """The asker's sensors in the whole city, by status, for the summary under the map."""
    statuses = {row["status"]: row["n"] for row in sensors.order_by().values("status").annotate(n=Count("id"))}
    return {"sensors": sum(statuses.values()), "statuses": statuses}


def sensor_map(sensors: QuerySet[Sensor], view: MapView, *, totals: bool = False) -> dict:
    """What the map draws for a view: the sensors in it one by one, or clusters.

    The clusters come first: their counts say how many sensors the view
    holds, and when that is few the sensors follow one by one. ``totals``
    adds :func:`sensor_totals` (a pass over every sensor: the page asks for
    it when it loads and refreshes, not on every pan).
    """
    in_view = sensors.filter(location__bboverlaps=view.polygon())
    clusters = _clusters(in_view, view)
    total_in_view = sum(cluster["count"] for cluster in clusters)
    result: dict = {"zoom": view.zoom, "in_view": total_in_view}
    if totals:
        result["totals"] = sensor_totals(sensors)
    if total_in_view <= INDIVIDUAL_LIMIT:
        result["clustered"] = False
        result["sensors"] = sensors_geojson(in_view)
        _mark_maintenance(result["sensors"])
        result["clusters"] = []
    else:
        result["clustered"] = True
        result["sensors"] = {"type": "FeatureCollection", "features": []}
        result["clusters"] = clusters
    return result


def _mark_maintenance(collection: dict) -> None:
    """Flag the sensors under a silence in force (``maintenance``): one query for the view's sensors."""
    features = collection["features"]
    silenced = sensors_silenced_now([feature["id"] for feature in features])
    for feature in features:
        feature["properties"]["maintenance"] = feature["id"] in silenced

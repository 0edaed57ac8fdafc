"""Where a sensor stands, and the district that follows from it.

A sensor's district decides which district government a Level II warning
goes to, so it follows from the sensor's location (the district whose
boundary covers the point) unless an administrator sets it by hand,
deliberately. A point outside every district of the city is refused: it
is either a typo or a sensor of another city, and either way no one would
be routed its warnings. Every path that places a sensor (the admin, the
demo city, imports) asks this module.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citysafety.errors import InvalidInputError
from organisation.models import District

# The admin's checkbox, named in the messages that point to it.
OVERRIDE_LABEL = gettext_lazy("Set the district by hand")


class LocationError(InvalidInputError):
    """The location, or the district chosen for it, cannot be accepted."""


def _coordinates(point: Point) -> str:
    return _("longitude %(longitude)s, latitude %(latitude)s") % {
        "longitude": f"{point.x:.6f}".rstrip("0").rstrip("."),
        "latitude": f"{point.y:.6f}".rstrip("0").rstrip("."),
    }


def district_at(point: Point) -> District | None:
    """The district whose boundary covers the point (a point on a shared border: the lower code)."""
    if not (-180 <= point.x <= 180 and -90 <= point.y <= 90):
        return None
    # Only the key and name: the boundaries stay in the database.
    return District.objects.filter(boundary__covers=_in_wgs84(point)).defer("boundary").order_by("code").first()


def _in_wgs84(point: Point) -> Point:
    return Point(point.x, point.y, srid=4326)


@dataclass(frozen=True)
class Placement:
    """A sensor's district, and whether an administrator chose it against its location."""

    district: District
    located_in: District
    overridden: bool


def sensor_place(
    *, location: Point, district: District | None = None, district_chosen: bool = False, override: bool = False
) -> Placement:
    """The district of a sensor at ``location``; LocationError when it cannot stand there.

    ``district``: the district asked for, if any. ``district_chosen``: the
    person picked it now (in a form, an import row), as opposed to it being
    the one the sensor had. Without ``override`` a district picked against
    the location is refused with a message naming the right one, and an
    inherited one is replaced by the district the point lies in. With
    ``override`` the district asked for is kept, wherever in the city the
    point lies.
    """
    located_in = district_at(location)
    if located_in is None:
        raise LocationError(outside_message(location), field="location")
    if override:
        if district is None:
            raise LocationError(
                _("Choose the district that handles this sensor, or untick “%(override)s”.")
                % {"override": OVERRIDE_LABEL},
                field="district",
            )
        return Placement(district=district, located_in=located_in, overridden=district.pk != located_in.pk)
    if district is not None and district_chosen and district.pk != located_in.pk:
        raise LocationError(
            _(
                "The location (%(coordinates)s) lies in %(located)s, not in %(chosen)s. Leave the district empty "
                "to take %(located)s, move the point, or tick “%(override)s” to keep %(chosen)s."
            )
            % {
                "coordinates": _coordinates(location),
                "located": located_in.name,
                "chosen": district.name,
                "override": OVERRIDE_LABEL,
            },
            field="district",
        )
    return Placement(district=located_in, located_in=located_in, overridden=False)


def outside_message(location: Point) -> str:
    """Why a point outside every district is refused, naming the district a swap of its coordinates lands in."""
    # Whole sentences, one message each: Chinese joins sentences without a space.
    coordinates = _coordinates(location)
    swapped_in = district_at(Point(location.y, location.x, srid=4326))
    if swapped_in is not None:
        return _(
            "The location (%(coordinates)s) lies outside every district of the city. Longitude and latitude "
            "seem swapped: %(swapped)s lies in %(district)s."
        ) % {
            "coordinates": coordinates,
            "swapped": _coordinates(Point(location.y, location.x, srid=4326)),
            "district": swapped_in.name,
        }
    if not -90 <= location.y <= 90:
        return _(
            "The location (%(coordinates)s) lies outside every district of the city. A latitude lies between "
            "-90 and 90; check the order of the coordinates."
        ) % {"coordinates": coordinates}
    return _(
        "The location (%(coordinates)s) lies outside every district of the city. Check the coordinates, or "
        "add the missing district with its boundary first."
    ) % {"coordinates": coordinates}


def districts_at(points: Sequence[tuple[float, float]]) -> list[int | None]:
    """The district id covering each (longitude, latitude), in one query: for loads of many sensors."""
    if not points:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT p.n, (
                SELECT d.id FROM organisation_district AS d
                WHERE ST_Covers(d.boundary, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))
                ORDER BY d.code LIMIT 1
            )
            FROM unnest(%s::double precision[], %s::double precision[]) WITH ORDINALITY AS p (x, y, n)
            ORDER BY p.n
            """,
            [[x for x, _y in points], [y for _x, y in points]],
        )
        return [district_id for _n, district_id in cursor.fetchall()]


def sensors_place(rows: Sequence[tuple[str, Point, District | None]]) -> list[District]:
    """The district of each (sensor code, location, district asked for), for loads of many sensors.

    The same rule as ``sensor_place`` with the district chosen (an import or
    a catalogue names it on purpose), checked in one query; the first row
    that cannot stand is refused with a LocationError naming its sensor.
    """
    found = districts_at([(location.x, location.y) for _code, location, _district in rows])
    by_id = {d.pk: d for _code, _location, d in rows if d is not None}
    placed = []
    for (code, location, district), district_id in zip(rows, found, strict=True):
        if district_id is not None and (district is None or district.pk == district_id):
            placed.append(by_id.get(district_id) or District.objects.defer("boundary").get(pk=district_id))
            continue
        try:
            sensor_place(location=location, district=district, district_chosen=True)
        except LocationError as error:
            raise LocationError(
                _("Sensor %(code)s: %(problem)s") % {"code": code, "problem": error}, field=error.field
            ) from error
        raise AssertionError("sensor_place accepted what districts_at refused")  # pragma: no cover
    return placed

"""Reading a query parameter's value, with a refusal that names the parameter and what it takes.

Shared by the API's list filters (``citysafety.filters``) and the endpoints
that read their parameters themselves (a sensor's series, the map's view).
"""

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from citysafety.errors import InvalidInputError

EXAMPLE_TIME = "2026-11-21T08:00:00+08:00"
_SHOWN_LENGTH = 40


def shown(value: object) -> str:
    """A refused value as a message quotes it: in quotes, cut short when long."""
    text = str(value)
    if len(text) > _SHOWN_LENGTH:
        text = text[: _SHOWN_LENGTH - 1] + "…"
    return f"'{text}'"


def zoned_datetime(text: str, *, name: str) -> datetime:
    """An ISO 8601 date and time with its zone: without one, which moment a time means depends on the reader."""
    try:
        moment = parse_datetime(text.strip())
    except ValueError:  # the shape of a date and time, but no such day or hour
        moment = None
    if moment is None:
        raise InvalidInputError(
            _("%(name)s must be an ISO 8601 date and time with its zone, e.g. %(example)s; not %(value)s.")
            % {"name": name, "example": EXAMPLE_TIME, "value": shown(text)},
            field=name,
        )
    if moment.tzinfo is None:
        raise InvalidInputError(
            _("%(name)s must carry its time zone, e.g. +08:00 or Z: %(value)s has none.")
            % {"name": name, "value": shown(text)},
            field=name,
        )
    try:
        # In UTC: PostgreSQL takes offsets up to 15:59, Python up to 23:59 (+18:15 was a 500).
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+08:00 is in year 0 in UTC, which Python and PostgreSQL refuse
        raise InvalidInputError(
            _("%(name)s falls outside the years 1 to 9999 once in UTC: %(value)s.")
            % {"name": name, "value": shown(text)},
            field=name,
        ) from None


def finite_number(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidInputError(_("%(name)s must be a number, not %(raw)r.") % {"name": name, "raw": raw}) from None
    if not math.isfinite(value):
        raise InvalidInputError(_("%(name)s must be a finite number.") % {"name": name})
    return value


# Four decimal numbers: what the schema allows, bbox() takes (beyond ±180 and
# ±90 clamped), unless west > east or south > north.
_NUMBER = r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*"
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"


def bbox(params: Mapping[str, str]) -> tuple[float, float, float, float]:
    """The map's box from ``bbox=west,south,east,north`` (degrees), clamped to the world.

    Every map layer reads its view here, so each says the same about the same bad box.
    """
    raw = params.get("bbox")
    if not raw:
        raise InvalidInputError(_("Give the map's box as bbox=west,south,east,north."), field="bbox")
    parts = raw.split(",")
    if len(parts) != 4:
        raise InvalidInputError(
            _("bbox needs four numbers, west,south,east,north; it has %(count)s.") % {"count": len(parts)},
            field="bbox",
        )
    try:
        west, south, east, north = (finite_number(part.strip(), name) for part, name in zip(parts, "wsen", strict=True))
    except InvalidInputError as error:
        raise InvalidInputError(str(error), field="bbox") from None
    # A map that wraps past ±180° asks for more than the world; clamp it.
    west, east = max(west, -180.0), min(east, 180.0)
    south, north = max(south, -90.0), min(north, 90.0)
    # A box of no width or height (a point, a line) is a view, if an empty
    # one: the schema allows it, and refusing it would refuse what it allows.
    if not (west <= east and south <= north):
        raise InvalidInputError(
            _("bbox must have west <= east and south <= north, within -180..180 and -90..90."), field="bbox"
        )
    return west, south, east, north

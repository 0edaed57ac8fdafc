"""Reading a query parameter's value, with a refusal that names the parameter and what it takes.

Shared by the API's list filters (``citysafety.filters``) and the endpoints
that read their parameters themselves (a sensor's series, the map's view).
"""

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

"""Reading an archive of readings (CSV or Excel, through ``citysafety.tables``) into ingest items.

An archive is a table with the columns ``sensor`` (the sensor's code),
``observed_at`` and ``value``, one reading a row, any other columns
ignored. Rows keep the number a spreadsheet shows (the header is row 1),
so an error names the row a person finds in the file. Nothing is written
here: ``monitoring.services.readings_import`` validates and stores.

A time with no zone (Excel's dates have none) is taken in the zone given,
by default the platform's (settings.TIME_ZONE); an ISO text with a zone
keeps its own.
"""

import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import IO

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citysafety.tables import FORMATS, RowError, TableError, table_format, table_read
from monitoring.ingest import NonFinite

__all__ = ["COLUMNS", "FORMATS", "Archive", "ArchiveError", "RowError", "archive_read", "import_summary"]

COLUMNS = ("sensor", "observed_at", "value")


class ArchiveError(TableError):
    """The file as a whole cannot be read as an archive of readings."""


@dataclass(frozen=True)
class Archive:
    items: list[dict]  # ingest items {sensor, observed_at, value}, one per data row, in order
    rows: list[int]  # the row number (as the sheet shows it) of each item


def archive_read(file: IO[bytes], *, name: str, kind: str | None, zone: tzinfo) -> Archive:
    """The file's data rows as ingest items; ``kind`` (csv or xlsx) or else the name's ending says the format.

    Cells are brought to what ``monitoring.ingest.validate_items`` checks:
    codes as text, times as ISO text with a zone, numbers as floats (a NaN
    or infinite one as NonFinite). What cannot be brought there is passed on
    as it is, for validation to name. Rows left all blank are not items.
    """
    table = table_read(file, kind=table_format(name, kind))
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise ArchiveError(
            _("The file lacks the column(s) %(missing)s; its header row has %(found)s.")
            % {
                "missing": ", ".join(missing),
                "found": ", ".join(column for column in table.columns if column) or _("nothing"),
            }
        )
    items = []
    for row in table.rows:
        item = {}
        for column, raw in (
            ("sensor", _code(row.cells.get("sensor"))),
            ("observed_at", _time(row.cells.get("observed_at"), zone)),
            ("value", _number(row.cells.get("value"))),
        ):
            if raw is not None:
                item[column] = raw
        items.append(item)
    return Archive(items=items, rows=[row.number for row in table.rows])


def import_summary(*, name: str, rows: int, accepted: int, duplicates: int, errors: list[RowError]) -> str:
    """One sentence on an import: rows read, readings stored, rows refused (a row may fail several ways)."""
    refused = len({error.row for error in errors})
    return _("%(name)s: %(rows)s, %(accepted)s, %(duplicates)s, %(refused)s.") % {
        "name": name,
        "rows": ngettext("%(count)d row", "%(count)d rows", rows) % {"count": rows},
        "accepted": ngettext("%(count)d reading stored", "%(count)d readings stored", accepted) % {"count": accepted},
        "duplicates": ngettext("%(count)d already stored", "%(count)d already stored", duplicates)
        % {"count": duplicates},
        "refused": ngettext("%(count)d row refused", "%(count)d rows refused", refused) % {"count": refused},
    }


def _blank(raw: object) -> bool:
    """An empty cell: "" in a CSV, None in Excel."""
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    return isinstance(raw, float) and math.isnan(raw)


def _code(raw: object) -> object:
    if _blank(raw):
        return None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # an Excel cell holding a code of digits
    return str(raw).strip()


def _time(raw: object, zone: tzinfo) -> object:
    if _blank(raw):
        return None
    when = None
    if isinstance(raw, datetime):
        when = raw
    elif isinstance(raw, str):
        try:
            when = datetime.fromisoformat(raw.strip())
        except ValueError:
            return raw  # validation names it
    else:
        return str(raw)
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.isoformat()


def _number(raw: object) -> object:
    if _blank(raw):
        return None
    if isinstance(raw, bool):
        return raw  # validation refuses it
    if isinstance(raw, int | float):
        value = float(raw)
        return value if math.isfinite(value) else NonFinite(value)
    text = str(raw).strip()
    try:
        value = float(text)
    except ValueError:
        return text  # validation: "must be a number, not a string"
    return value if math.isfinite(value) else NonFinite(value)

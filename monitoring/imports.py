"""Reading an archive of readings (CSV or Excel, through pandas) into ingest items.

An archive is a table with the columns ``sensor`` (the sensor's code),
``observed_at`` and ``value``, one reading a row, any other columns
ignored. Rows are numbered as a spreadsheet shows them (the header is row 1),
so an error names the row a person finds in the file. Nothing is written
here: ``monitoring.services.readings_import`` validates and stores.

A time with no zone (Excel's dates have none) is taken in the zone given,
by default the platform's (settings.TIME_ZONE); an ISO text with a zone
keeps its own.
"""

import math
import zipfile
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import PurePath
from typing import IO

import pandas as pd
from django.utils.translation import gettext as _

from citysafety.errors import InvalidInputError
from monitoring.ingest import NonFinite

COLUMNS = ("sensor", "observed_at", "value")
FORMATS = ("csv", "xlsx")
# The header row: data rows start at 2.
FIRST_ROW = 2


class ArchiveError(InvalidInputError):
    """The file as a whole cannot be read as an archive of readings."""


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return _("Row %(row)d, column “%(column)s”: %(message)s") % {
                "row": self.row,
                "column": self.column,
                "message": self.message,
            }
        return _("Row %(row)d: %(message)s") % {"row": self.row, "message": self.message}


def archive_format(name: str, chosen: str | None = None) -> str:
    """The format asked for, else the one the file's name ends in."""
    if chosen:
        if chosen not in FORMATS:
            raise ArchiveError(
                _("Unknown format “%(format)s”: choose csv or xlsx.") % {"format": chosen}, field="format"
            )
        return chosen
    suffix = PurePath(name).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix == "xls":
        raise ArchiveError(_("Old Excel files (.xls) are not read: save the sheet as .xlsx or CSV."), field="file")
    raise ArchiveError(
        _("Cannot tell the format of “%(name)s”: name the file .csv or .xlsx, or choose the format.") % {"name": name},
        field="file",
    )


def archive_items(file: IO[bytes], *, kind: str, zone: tzinfo) -> list[dict]:
    """The file's rows as ingest items ``{sensor, observed_at, value}``, one per data row, in order.

    Cells are brought to what ``monitoring.ingest.validate_items`` checks:
    codes as text, times as ISO text with a zone, numbers as floats (a NaN
    or infinite one as NonFinite). What cannot be brought there is passed on
    as it is, for validation to name.
    """
    table = _read(file, kind)
    table.columns = [str(column).strip().lower() for column in table.columns]
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise ArchiveError(
            _("The file lacks the column(s) %(missing)s; its header row has %(found)s.")
            % {
                "missing": ", ".join(missing),
                "found": ", ".join(str(column) for column in table.columns) or _("nothing"),
            },
            field="file",
        )
    items = []
    for sensor, observed_at, value in zip(*(table[column].tolist() for column in COLUMNS), strict=True):
        item = {}
        for name, raw in (
            ("sensor", _code(sensor)),
            ("observed_at", _time(observed_at, zone)),
            ("value", _number(value)),
        ):
            if raw is not None:
                item[name] = raw
        items.append(item)
    return items


def _read(file: IO[bytes], kind: str) -> pd.DataFrame:
    try:
        if kind == "csv":
            # Every cell as text: pandas' own guesses (a code of digits as a
            # number, "NA" as missing) would change what the file says.
            return pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        return pd.read_excel(file, engine="openpyxl", dtype=object)
    except pd.errors.EmptyDataError as exc:
        raise ArchiveError(_("The file is empty."), field="file") from exc
    except UnicodeDecodeError as exc:
        raise ArchiveError(_("The CSV file is not UTF-8 text."), field="file") from exc
    except (pd.errors.ParserError, ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        # openpyxl says "File is not a zip file" and the like: a name for the person.
        raise ArchiveError(
            _("The file cannot be read as %(format)s: %(reason)s") % {"format": kind.upper(), "reason": exc},
            field="file",
        ) from exc


def _blank(raw: object) -> bool:
    """An empty cell: "" in a CSV, NaN (pandas' missing) or None in Excel."""
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    return (isinstance(raw, float) and math.isnan(raw)) or raw is pd.NaT


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
    if isinstance(raw, datetime):  # pandas' Timestamp is one too
        when = raw.to_pydatetime() if isinstance(raw, pd.Timestamp) else raw
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

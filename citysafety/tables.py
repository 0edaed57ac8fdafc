"""Reading an uploaded table (CSV or Excel .xlsx) as the offices that fill it in save it.

Every import of a sheet (the readings archive, the duty roster, and those
to come) reads it here, so that each says the same thing about the same
bad file. Excel on Chinese Windows saves "CSV" in GBK, "CSV UTF-8" with a
byte order mark; GB18030 is a superset of GBK, so UTF-8 (with or without
the mark) is tried first and GB18030 second. Anything the file itself gets
wrong (an unknown encoding, a damaged workbook, an old .xls, no rows at
all, binary data) raises ``TableError`` with one sentence for a person, in
the active language; what a row gets wrong is the importing app's to say.

Rows keep the number a spreadsheet shows for them (the header is row 1,
unless blank rows come before it), so an error names the row a person
finds in the file. Rows whose cells are all blank (Excel leaves them after
the data, or in a CSV as ",,,") are dropped, not reported.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO

import openpyxl
from django.utils.translation import gettext as _
from openpyxl.utils.exceptions import InvalidFileException

from citysafety.errors import InvalidInputError

FORMATS = ("csv", "xlsx")
ENCODINGS = ("utf-8-sig", "gb18030")
ZIP_MAGIC = b"PK\x03\x04"
# The compound-file header of Excel 97-2003 (.xls), Word .doc and the like.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Control characters no text table holds (tab, line feed and carriage return
# are text): their presence means binary data that happened to decode.
BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TableError(InvalidInputError):
    """The file as a whole cannot be read as a table; ``str()`` says why in one sentence."""

    def __init__(self, message: str):
        super().__init__(message, field="file")


@dataclass(frozen=True)
class Row:
    number: int  # as a spreadsheet shows it: the header is row 1
    cells: dict[str, object]  # by column name (stripped, lower case); a short row lacks the last ones


@dataclass(frozen=True)
class Table:
    columns: list[str]  # the header row's cells, stripped and in lower case
    rows: list[Row]  # the data rows that hold something, in order


@dataclass(frozen=True)
class RowError:
    """What is wrong with one cell of a row (``column`` empty: with the row as a whole)."""

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

    @property
    def problem(self) -> str:
        """The error without its row, as listed under the row."""
        if self.column:
            return _("Column “%(column)s”: %(message)s") % {"column": self.column, "message": self.message}
        return self.message


def errors_by_row(errors: Iterable[RowError]) -> list[tuple[int, list[RowError]]]:
    """The errors under their row, rows in order: one row may fail several ways and still is one row."""
    rows: dict[int, list[RowError]] = {}
    for error in errors:
        rows.setdefault(error.row, []).append(error)
    return sorted(rows.items())


def table_format(name: str, chosen: str | None = None) -> str:
    """The format asked for, else the one the file's name ends in."""
    if chosen:
        if chosen not in FORMATS:
            raise TableError(_("Unknown format “%(format)s”: choose csv or xlsx.") % {"format": chosen})
        return chosen
    suffix = PurePath(name).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix == "xlsm":  # a workbook with macros: openpyxl reads its cells and leaves the macros
        return "xlsx"
    if suffix == "xls":
        raise TableError(_("Old Excel files (.xls) are not read: save the sheet as .xlsx or CSV."))
    raise TableError(_("Cannot tell the format of “%(name)s”: name the file .csv or .xlsx.") % {"name": name})


def table_read(file: IO[bytes] | bytes, *, kind: str) -> Table:
    """The table in the file (``kind``: csv or xlsx; the first sheet of a workbook)."""
    data = file if isinstance(file, bytes) else file.read()
    if not data or data.isspace():
        raise TableError(_("The file is empty: it holds neither a header row nor data."))
    if data.startswith(OLE2_MAGIC):
        raise TableError(_("Old Excel files (.xls) are not read: save the sheet as .xlsx or CSV."))
    # Both readers yield rows as they parse, so a large archive is never held twice.
    lines = _csv_lines(data) if kind == "csv" else _xlsx_lines(data)
    numbered = ((number, cells) for number, cells in enumerate(lines, start=1) if not _all_blank(cells))
    try:
        first = next(numbered)
    except StopIteration:
        raise TableError(_("The file is empty: it holds neither a header row nor data.")) from None
    header_number, header = first
    columns = [_column(cell) for cell in header]
    named = [column for column in columns if column]
    repeated = sorted({column for column in named if named.count(column) > 1})
    if repeated:
        raise TableError(
            _("Row %(row)d names the column “%(column)s” twice; a table names each column once.")
            % {"row": header_number, "column": repeated[0]}
        )
    rows = [Row(number, {c: cell for c, cell in zip(columns, cells, strict=False) if c}) for number, cells in numbered]
    return Table(columns=columns, rows=rows)


def _csv_lines(data: bytes) -> Iterator[list[str]]:
    if data.startswith(ZIP_MAGIC):
        raise TableError(_("The file is an Excel workbook, not CSV text: name it .xlsx and upload it again."))
    text = _decode(data)
    if BINARY.search(text):
        raise TableError(_("The file holds binary data, not CSV text: is it another kind of file named .csv?"))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from reader
    except csv.Error as exc:  # a cell longer than csv.field_size_limit (128 KB): no table holds one
        raise TableError(
            _("Line %(line)d of the file is not CSV: a cell there runs on for more than 128 KB.")
            % {"line": reader.line_num}
        ) from exc


def _decode(data: bytes) -> str:
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(
        _(
            "The file is not CSV text in UTF-8, GBK or GB18030 (the encodings Excel saves CSV in): "
            "save it from Excel as “CSV UTF-8” and upload it again."
        )
    )


def _xlsx_lines(data: bytes) -> Iterator[tuple[object, ...]]:
    if not data.startswith(ZIP_MAGIC):
        raise TableError(
            _("The file is not an Excel workbook (.xlsx): if it is CSV text, name it .csv and upload it again.")
        )
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        # A read-only workbook parses its sheet as the rows are asked for: a
        # damaged sheet fails here, in the middle, not at the opening.
        yield from book.worksheets[0].iter_rows(values_only=True)
        book.close()
    except (zipfile.BadZipFile, InvalidFileException, KeyError, IndexError, ValueError, TypeError, OSError) as exc:
        raise TableError(_damaged()) from exc
    except Exception as exc:  # openpyxl lets the XML parser's own errors through (lxml or ElementTree)
        if type(exc).__module__.split(".")[0] in {"lxml", "xml"}:
            raise TableError(_damaged()) from exc
        raise


def _damaged() -> str:
    return _(
        "The file cannot be read as an Excel workbook (.xlsx): it is damaged, cut short or another kind of file; "
        "open it in Excel, save it as .xlsx and upload it again."
    )


def _all_blank(cells: Iterable[object]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _column(cell: object) -> str:
    return "" if cell is None else str(cell).strip().lower()

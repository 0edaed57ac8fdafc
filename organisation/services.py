"""Writes of the organisation app: the duty roster and its import from a sheet."""

import io
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from citysafety.errors import InvalidInputError, TooLargeError
from organisation.models import Department, DutyShift, Membership, Shift
from organisation.roles import is_duty_officer

# Columns of a roster sheet, as the first row names them. "department" is a
# department's code; empty (or "city") means the city operations centre.
ROSTER_COLUMNS = ("date", "shift", "department", "person_on_duty", "leader_on_duty", "deputy")
ROSTER_MAX_ROWS = 5000
ROSTER_MAX_BYTES = 2 * 1024 * 1024
CITY_CENTRE_CODES = {"", "city", "centre", "center"}


def duty_shift_people_problems(
    *, department: Department | None, people: dict[str, AbstractBaseUser | None]
) -> dict[str, str]:
    """Why each named person may not stand on this roster row ({} when all may).

    A department's row names its own members; the city centre's names duty
    officers. Otherwise a notification about one department's work would
    reach someone of another department.
    """
    problems = {}
    for role, user in people.items():
        if user is None:
            continue
        if department is None:
            if not is_duty_officer(user):
                problems[role] = _(
                    "%(user)s is not a duty officer; the city centre's roster names duty officers only."
                ) % {"user": user.get_username()}
        elif not Membership.objects.filter(user=user, department=department).exists():
            problems[role] = _(
                "%(user)s does not work for %(department)s; a department's roster names its own members."
            ) % {"user": user.get_username(), "department": department.name}
    return problems


@dataclass
class RosterImport:
    created: int = 0
    updated: int = 0
    # (row number as the sheet shows it, column or "", message)
    errors: list[tuple[int, str, str]] = field(default_factory=list)


def duty_roster_import(*, content: bytes, filename: str) -> RosterImport:
    """Read a roster from a CSV or Excel sheet; keep every valid row, report each bad one.

    A row for a department, day and shift that already exists replaces it,
    so importing the same sheet twice changes nothing.
    """
    if len(content) > ROSTER_MAX_BYTES:
        raise TooLargeError(
            _("The file is larger than %(limit)s MB; split the roster into smaller sheets.")
            % {"limit": ROSTER_MAX_BYTES // (1024 * 1024)},
            field="file",
        )
    frame = _read_sheet(content, filename)
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    missing = [column for column in ("date", "department", "person_on_duty") if column not in frame.columns]
    if missing:
        raise InvalidInputError(
            _("The sheet has no column %(columns)s; its first row must name the columns %(expected)s.")
            % {"columns": ", ".join(missing), "expected": ", ".join(ROSTER_COLUMNS)},
            field="file",
        )
    if len(frame) > ROSTER_MAX_ROWS:
        raise TooLargeError(
            ngettext(
                "The sheet has %(rows)s row; at most %(limit)s are imported at once.",
                "The sheet has %(rows)s rows; at most %(limit)s are imported at once.",
                len(frame),
            )
            % {"rows": len(frame), "limit": ROSTER_MAX_ROWS},
            field="file",
        )
    result = RosterImport()
    departments = {d.code.lower(): d for d in Department.objects.all()}
    users = {u.get_username().lower(): u for u in get_user_model().objects.filter(is_active=True)}
    seen: dict[tuple, int] = {}
    for index, raw in enumerate(frame.to_dict("records")):
        row_number = index + 2  # the header is row 1
        values = {key: _cell(raw.get(key)) for key in ROSTER_COLUMNS}
        errors_before = len(result.errors)

        def error(column: str, message: str, row_number: int = row_number) -> None:
            result.errors.append((row_number, column, message))

        day = _parse_date(values["date"])
        if day is None:
            error("date", _("%(value)r is not a date; write it as 2026-12-01.") % {"value": values["date"]})
        shift = values["shift"].lower() or Shift.ALL_DAY
        if shift not in Shift.values:
            error(
                "shift",
                _("%(value)r is not a shift; use one of %(shifts)s.")
                % {"value": values["shift"], "shifts": ", ".join(Shift.values)},
            )
        code = values["department"].lower()
        department = None
        if code not in CITY_CENTRE_CODES:
            department = departments.get(code)
            if department is None:
                error("department", _("No department has the code %(code)r.") % {"code": values["department"]})
        people = {}
        for role in ("person_on_duty", "leader_on_duty", "deputy"):
            name = values[role]
            if not name:
                if role == "person_on_duty":
                    error(role, _("Name the person on duty (a username)."))
                people[role] = None
                continue
            people[role] = users.get(name.lower())
            if people[role] is None:
                error(role, _("No active user has the username %(name)r.") % {"name": name})
        if len(result.errors) == errors_before:
            for role, message in duty_shift_people_problems(department=department, people=people).items():
                error(role, message)
        if len(result.errors) == errors_before:
            key = (department.pk if department else None, day, shift)
            if key in seen:
                error("", _("Row %(row)s already sets this department, day and shift.") % {"row": seen[key]})
                continue
            seen[key] = row_number
            with transaction.atomic():
                _row, created = DutyShift.objects.update_or_create(
                    department=department,
                    date=day,
                    shift=shift,
                    defaults={
                        "person_on_duty": people["person_on_duty"],
                        "leader_on_duty": people["leader_on_duty"],
                        "deputy": people["deputy"],
                    },
                )
            if created:
                result.created += 1
            else:
                result.updated += 1
    return result


def _read_sheet(content: bytes, filename: str) -> pd.DataFrame:
    name = filename.lower()
    try:
        if name.endswith((".xlsx", ".xlsm")):
            return pd.read_excel(io.BytesIO(content), dtype=str, keep_default_na=False, engine="openpyxl")
        if name.endswith(".csv"):
            # utf-8-sig: a sheet saved as CSV by Excel starts with a byte order mark.
            return pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, OSError, KeyError) as exc:
        raise InvalidInputError(
            _("The file could not be read as a %(kind)s sheet: %(error)s")
            % {"kind": "Excel" if name.endswith(("xlsx", "xlsm")) else "CSV", "error": exc},
            field="file",
        ) from exc
    except Exception as exc:  # openpyxl raises its own errors (zipfile.BadZipFile, InvalidFileException)
        raise InvalidInputError(
            _("The file could not be read as an Excel sheet: %(error)s") % {"error": exc}, field="file"
        ) from exc
    raise InvalidInputError(_("Upload a .csv or .xlsx file."), field="file")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    return str(value).strip()


def _parse_date(value: str) -> date | None:
    if not value:
        return None
    # An Excel date cell read as text comes as "2026-12-01 00:00:00".
    text = value.split(" ")[0].replace("/", "-")
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None

"""Writes of the organisation app: the duty roster and its import from a sheet."""

import re
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from citysafety.errors import InvalidInputError, TooLargeError
from citysafety.tables import RowError, table_format, table_read
from organisation.models import Department, DutyShift, Membership, Shift
from organisation.roles import is_duty_officer

# Columns of a roster sheet, as the first row names them. "department" is a
# department's code; empty (or "city") means the city operations centre.
ROSTER_COLUMNS = ("date", "shift", "department", "person_on_duty", "leader_on_duty", "deputy")
ROSTER_MAX_ROWS = 5000
ROSTER_MAX_BYTES = 2 * 1024 * 1024
CITY_CENTRE_CODES = {"", "city", "centre", "center"}
DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")


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


# Shifts of one department and day that cover the same hours: an all-day
# row covers both the day and the night shift, which do not meet.
# (The night shift of the day before runs into this day's morning; the
# roster resolves that hand-over in ``selectors.duty_shifts_at`` — the
# night shift wins — so rows of different dates are not compared.)
OVERLAPPING_SHIFTS = {
    Shift.ALL_DAY: (Shift.DAY, Shift.NIGHT),
    Shift.DAY: (Shift.ALL_DAY,),
    Shift.NIGHT: (Shift.ALL_DAY,),
}


@dataclass
class RosterImport:
    rows: int = 0  # data rows read (rows left all blank are not counted)
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def refused(self) -> int:
        """Rows refused: a row that fails in two columns is one row."""
        return len({error.row for error in self.errors})


def duty_roster_import(*, content: bytes, filename: str) -> RosterImport:
    """Read a roster from a CSV or Excel sheet; keep every valid row, report each bad one.

    A row for a department, day and shift that already exists replaces it,
    so importing the same sheet twice changes nothing. A row whose shift
    overlaps another of the same department and day (an all-day row and a
    day or night shift), in the sheet or already on the roster, is refused:
    the roster would name two people on duty at once.
    """
    if len(content) > ROSTER_MAX_BYTES:
        raise TooLargeError(
            _("The file is larger than %(limit)s MB; split the roster into smaller sheets.")
            % {"limit": ROSTER_MAX_BYTES // (1024 * 1024)},
            field="file",
        )
    table = table_read(content, kind=table_format(filename))
    missing = [column for column in ("date", "department", "person_on_duty") if column not in table.columns]
    if missing:
        raise InvalidInputError(
            _("The sheet has no column %(columns)s; its first row must name the columns %(expected)s.")
            % {"columns": ", ".join(missing), "expected": ", ".join(ROSTER_COLUMNS)},
            field="file",
        )
    if len(table.rows) > ROSTER_MAX_ROWS:
        raise TooLargeError(
            ngettext(
                "The sheet has %(rows)s row; at most %(limit)s are imported at once.",
                "The sheet has %(rows)s rows; at most %(limit)s are imported at once.",
                len(table.rows),
            )
            % {"rows": len(table.rows), "limit": ROSTER_MAX_ROWS},
            field="file",
        )
    result = RosterImport(rows=len(table.rows))
    departments = {d.code.lower(): d for d in Department.objects.all()}
    users = {u.get_username().lower(): u for u in get_user_model().objects.filter(is_active=True)}
    days = {_parse_date(_cell(row.cells.get("date"))) for row in table.rows} - {None}
    stored: dict[tuple, dict[str, DutyShift]] = {}
    for shift_row in DutyShift.objects.filter(date__in=days).select_related("person_on_duty"):
        stored.setdefault((shift_row.department_id, shift_row.date), {})[shift_row.shift] = shift_row
    # (department id, day) -> {shift: the sheet's row that sets it}
    placed: dict[tuple, dict[str, int]] = {}
    for row in table.rows:
        values = {key: _cell(row.cells.get(key)) for key in ROSTER_COLUMNS}
        errors_before = len(result.errors)

        def error(column: str, message: str, row_number: int = row.number) -> None:
            result.errors.append(RowError(row_number, column, message))

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
        if len(result.errors) != errors_before:
            continue
        key = (department.pk if department else None, day)
        in_sheet = placed.setdefault(key, {})
        if shift in in_sheet:
            error("", _("Row %(row)s already sets this department, day and shift.") % {"row": in_sheet[shift]})
            continue
        problem = _overlap(shift, in_sheet, stored.get(key, {}))
        if problem:
            error("shift", problem)
            continue
        in_sheet[shift] = row.number
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


def _overlap(shift: str, in_sheet: dict[str, int], stored: dict[str, DutyShift]) -> str:
    """Why a shift may not join the others of its department and day ("" when it may)."""
    for other in OVERLAPPING_SHIFTS[shift]:
        if other in in_sheet:
            return _("It overlaps the %(shift)s that row %(row)d sets for the same department and day.") % {
                "shift": Shift(other).label,
                "row": in_sheet[other],
            }
        if other in stored:
            return _(
                "It overlaps the %(shift)s already on the roster for the same department and day "
                "(%(person)s on duty); delete that row first to replace it."
            ) % {"shift": Shift(other).label, "person": stored[other].person_on_duty.get_username()}
    return ""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # an Excel number cell holding a code or a username of digits
    if hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    return str(value).strip()


def _parse_date(value: str) -> date | None:
    """A day as ISO writes it, or as Excel on Chinese Windows does (2026/12/1, 2026年12月1日)."""
    # An Excel date cell read as text may carry a time: "2026-12-01 00:00:00".
    match = DATE.fullmatch(value.split(" ")[0])
    if match is None:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def totp_device_prepare(*, user: AbstractBaseUser) -> TOTPDevice:
    """The device this person is setting up: made once, so that reloading the
    set-up page shows the secret already scanned."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=_("Authenticator app"), confirmed=False)
    return device


def totp_device_confirm(*, device: TOTPDevice, token: str) -> bool:
    """Confirm the device with a code it produced; False when the code is wrong."""
    with transaction.atomic():
        if not device.verify_token(token):
            return False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return True

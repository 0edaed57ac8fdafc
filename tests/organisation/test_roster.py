"""The duty roster: who is on duty when, and its import from a CSV or Excel sheet."""

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from citysafety.errors import InvalidInputError, TooLargeError
from organisation.models import DutyShift, Shift
from organisation.roles import DUTY_OFFICER
from organisation.selectors import duty_shift_at, roster_of_day
from organisation.services import duty_roster_import
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def people(department_a, department_b):
    return {
        "alice": UserFactory(username="alice", department=department_a),
        "amy": UserFactory(username="amy", department=department_a),
        "arthur": UserFactory(username="arthur", department=department_a),
        "bob": UserFactory(username="bob", department=department_b),
        "duty": UserFactory(username="duty", roles=[DUTY_OFFICER]),
        "chief": UserFactory(username="chief", roles=[DUTY_OFFICER]),
    }


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=BEIJING)


def test_the_night_shift_of_the_day_before_is_on_duty_in_the_small_hours(department_a, people):
    night = DutyShift.objects.create(
        department=department_a, date=date(2026, 12, 1), shift=Shift.NIGHT, person_on_duty=people["alice"]
    )
    day = DutyShift.objects.create(
        department=department_a, date=date(2026, 12, 2), shift=Shift.DAY, person_on_duty=people["amy"]
    )

    assert duty_shift_at(department_a.pk, at(2, 3)) == night
    assert duty_shift_at(department_a.pk, at(1, 21)) == night
    assert duty_shift_at(department_a.pk, at(2, 10)) == day
    assert duty_shift_at(department_a.pk, at(2, 21)) is None


def test_an_all_day_row_covers_what_no_shift_row_covers(department_a, people):
    all_day = DutyShift.objects.create(
        department=department_a, date=date(2026, 12, 2), shift=Shift.ALL_DAY, person_on_duty=people["arthur"]
    )
    assert duty_shift_at(department_a.pk, at(2, 3)) == all_day
    assert duty_shift_at(department_a.pk, at(2, 23)) == all_day
    assert duty_shift_at(department_a.pk, at(3, 9)) is None


def test_the_city_centre_and_departments_keep_rosters_of_their_own(department_a, people):
    DutyShift.objects.create(department=None, date=date(2026, 12, 2), person_on_duty=people["duty"])
    DutyShift.objects.create(department=department_a, date=date(2026, 12, 2), person_on_duty=people["alice"])

    assert duty_shift_at(None, at(2, 12)).person_on_duty == people["duty"]
    assert duty_shift_at(department_a.pk, at(2, 12)).person_on_duty == people["alice"]
    assert [row.department for row in roster_of_day(date(2026, 12, 2))] == [None, department_a]


def csv(text: str) -> bytes:
    return text.strip().encode()


def test_a_csv_roster_keeps_its_valid_rows_and_says_what_is_wrong_with_each_other_row(department_a, people):
    result = duty_roster_import(
        content=csv(
            """
date,shift,department,person_on_duty,leader_on_duty,deputy
2026-12-01,day,gas-company,alice,arthur,amy
2026-12-01,night,,duty,chief,
2026-13-01,day,gas-company,alice,,
2026-12-02,noon,gas-company,alice,,
2026-12-02,day,no-such-dept,alice,,
2026-12-02,day,gas-company,nobody,,
2026-12-02,day,gas-company,bob,,
2026-12-02,day,,alice,,
2026-12-01,day,gas-company,amy,,
2026-12-03,,gas-company,,,
"""
        ),
        filename="roster.csv",
    )

    assert (result.created, result.updated) == (2, 0)
    assert result.errors == [
        (4, "date", "'2026-13-01' is not a date; write it as 2026-12-01."),
        (5, "shift", "'noon' is not a shift; use one of day, night, all_day."),
        (6, "department", "No department has the code 'no-such-dept'."),
        (7, "person_on_duty", "No active user has the username 'nobody'."),
        (8, "person_on_duty", "bob does not work for Gas company; a department's roster names its own members."),
        (9, "person_on_duty", "alice is not a duty officer; the city centre's roster names duty officers only."),
        (10, "", "Row 2 already sets this department, day and shift."),
        (11, "person_on_duty", "Name the person on duty (a username)."),
    ]
    row = DutyShift.objects.get(department=department_a, date=date(2026, 12, 1), shift=Shift.DAY)
    assert (row.person_on_duty, row.leader_on_duty, row.deputy) == (people["alice"], people["arthur"], people["amy"])
    assert DutyShift.objects.get(department=None).leader_on_duty == people["chief"]


def test_importing_the_same_sheet_again_replaces_rows_instead_of_adding_them(department_a, people):
    sheet = csv("date,shift,department,person_on_duty\n2026-12-01,day,gas-company,alice")
    duty_roster_import(content=sheet, filename="r.csv")
    again = duty_roster_import(
        content=csv("date,shift,department,person_on_duty\n2026-12-01,day,GAS-COMPANY,amy"), filename="r.csv"
    )

    assert (again.created, again.updated, again.errors) == (0, 1, [])
    assert DutyShift.objects.get().person_on_duty == people["amy"]


def test_an_excel_roster_is_read_with_its_date_cells(department_a, people):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Date", "Shift", "Department", "Person_on_duty", "Leader_on_duty", "Deputy"])
    sheet.append([datetime(2026, 12, 5), "night", "gas-company", "amy", "arthur", None])
    sheet.append(["2026-12-06", "day", "gas-company", "ghost", None, None])
    buffer = io.BytesIO()
    book.save(buffer)

    result = duty_roster_import(content=buffer.getvalue(), filename="roster.xlsx")

    assert (result.created, [e[:2] for e in result.errors]) == (1, [(3, "person_on_duty")])
    row = DutyShift.objects.get()
    assert (row.date, row.shift, row.person_on_duty, row.leader_on_duty) == (
        date(2026, 12, 5),
        Shift.NIGHT,
        people["amy"],
        people["arthur"],
    )


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"PK\x03\x04 not really a zip", "roster.xlsx", "could not be read as an Excel sheet"),
        (b"date,shift\n2026-12-01,day", "roster.csv", "The sheet has no column department, person_on_duty"),
        (b"date,department,person_on_duty\n", "roster.txt", "Upload a .csv or .xlsx file."),
        (b"\xff\xfe\x00garbage", "roster.csv", "could not be read as a CSV sheet"),
    ],
)
def test_a_sheet_that_cannot_be_read_is_refused_as_a_whole(db, content, filename, message):
    with pytest.raises(InvalidInputError) as refused:
        duty_roster_import(content=content, filename=filename)
    assert message in str(refused.value)
    assert refused.value.field == "file"
    assert not DutyShift.objects.exists()


def test_an_oversized_sheet_is_refused(db):
    with pytest.raises(TooLargeError):
        duty_roster_import(content=b"x" * (3 * 1024 * 1024), filename="roster.csv")


def test_the_admin_imports_a_sheet_and_lists_the_refused_rows(admin_client, department_a, people):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "roster.csv",
        csv("date,shift,department,person_on_duty\n2026-12-01,day,gas-company,alice\n2026-12-01,day,gas-company,bob"),
    )
    response = admin_client.post("/admin/organisation/dutyshift/import/", {"file": upload})

    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="roster-import-errors"' in body
    assert "bob 不属于Gas company；部门值班表只能安排本部门人员。" in body  # noqa: RUF001
    assert DutyShift.objects.get().person_on_duty == people["alice"]


def test_the_admin_form_refuses_a_person_of_another_department(admin_client, department_a, people):
    response = admin_client.post(
        "/admin/organisation/dutyshift/add/",
        {"department": department_a.pk, "date": "2026-12-01", "shift": "day", "person_on_duty": people["bob"].pk},
    )
    assert response.status_code == 200
    assert "bob 不属于Gas company" in response.content.decode()
    assert not DutyShift.objects.exists()


def test_department_staff_cannot_reach_the_import_page(client, staff_a):
    client.force_login(staff_a)
    response = client.get("/admin/organisation/dutyshift/import/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_todays_roster_is_on_the_duty_officers_dashboard_and_not_shown_to_department_staff(
    client, duty_officer, staff_a, department_a, people
):
    from django.utils import timezone

    DutyShift.objects.create(
        department=department_a,
        date=timezone.localdate(),
        person_on_duty=people["alice"],
        leader_on_duty=people["arthur"],
    )
    client.force_login(duty_officer)
    body = client.get("/dashboard/").content.decode()
    assert 'id="roster-today"' in body
    assert "arthur" in body

    client.force_login(staff_a)
    response = client.get("/dashboard/")
    assert response.status_code == 403
    assert "roster-today" not in response.content.decode()

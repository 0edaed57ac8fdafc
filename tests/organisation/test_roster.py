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
    assert [(e.row, e.column, e.message) for e in result.errors] == [
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

    assert (result.created, [(e.row, e.column) for e in result.errors]) == (1, [(3, "person_on_duty")])
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
        (b"PK\x03\x04 not really a zip", "roster.xlsx", "cannot be read as an Excel workbook"),
        (b"date,shift\n2026-12-01,day", "roster.csv", "The sheet has no column department, person_on_duty"),
        (b"date,department,person_on_duty\n", "roster.txt", "name the file .csv or .xlsx."),
        (b"\xff\xfe\x00garbage", "roster.csv", "not CSV text in UTF-8, GBK or GB18030"),
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


# --- Overlapping shifts, blank rows, files as Chinese offices save them ----------------------


def test_a_shift_that_overlaps_another_of_the_same_department_and_day_is_refused_naming_it(department_a, people):
    result = duty_roster_import(
        content=csv(
            """
date,shift,department,person_on_duty
2026-12-01,all_day,gas-company,alice
2026-12-01,day,gas-company,amy
2026-12-01,night,gas-company,arthur
2026-12-02,day,gas-company,amy
2026-12-02,night,gas-company,arthur
2026-12-02,all_day,gas-company,alice
2026-12-03,all_day,gas-company,alice
2026-12-02,all_day,,duty
"""
        ),
        filename="roster.csv",
    )

    assert [(e.row, e.column, e.message) for e in result.errors] == [
        (3, "shift", "It overlaps the All day (00:00-24:00) that row 2 sets for the same department and day."),
        (4, "shift", "It overlaps the All day (00:00-24:00) that row 2 sets for the same department and day."),
        (7, "shift", "It overlaps the Day shift (08:00-20:00) that row 5 sets for the same department and day."),
    ]
    # The night shift of the 2nd runs into the morning of the 3rd; the
    # all-day row of the 3rd is another day, and another department's
    # (here the city centre's) all-day row of the 2nd is no overlap.
    assert sorted(DutyShift.objects.values_list("date__day", "shift", "department")) == [
        (1, "all_day", department_a.pk),
        (2, "all_day", None),
        (2, "day", department_a.pk),
        (2, "night", department_a.pk),
        (3, "all_day", department_a.pk),
    ]
    assert (result.rows, result.created, result.refused) == (8, 5, 3)


def test_a_shift_that_overlaps_one_already_on_the_roster_is_refused_and_the_same_shift_replaces(department_a, people):
    DutyShift.objects.create(department=department_a, date=date(2026, 12, 1), person_on_duty=people["alice"])

    result = duty_roster_import(
        content=csv(
            "date,shift,department,person_on_duty\n2026-12-01,day,gas-company,amy\n2026-12-01,,gas-company,amy"
        ),
        filename="roster.csv",
    )

    assert [(e.row, e.column, e.message) for e in result.errors] == [
        (
            2,
            "shift",
            "It overlaps the All day (00:00-24:00) already on the roster for the same department and day "
            "(alice on duty); delete that row first to replace it.",
        )
    ]
    assert (result.created, result.updated) == (0, 1)
    assert DutyShift.objects.get().person_on_duty == people["amy"]


def test_blank_rows_are_skipped_without_a_word_and_the_rows_keep_their_numbers(department_a, people):
    content = (
        b"date,shift,department,person_on_duty,leader_on_duty,deputy\r\n"
        b",,,,,\r\n"  # row 2: left blank in the middle
        b"2026-12-01,day,gas-company,alice,,\r\n"  # row 3
        b"2026-12-01,day,gas-company,ghost,,\r\n"  # row 4
        b",,,,,\r\n , ,,,,\r\n,,,,,\r\n"  # trailing rows Excel saves
    )

    result = duty_roster_import(content=content, filename="roster.csv")

    assert [(e.row, e.column) for e in result.errors] == [(4, "person_on_duty")]
    assert (result.rows, result.created, result.refused) == (2, 1, 1)


def test_an_excel_roster_with_empty_rows_after_the_data_imports_without_errors(department_a, people):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["date", "shift", "department", "person_on_duty"])
    sheet.append([datetime(2026, 12, 5), "night", "gas-company", "amy"])
    for row in range(3, 10):  # formatted, never filled
        sheet.cell(row=row, column=1).number_format = "yyyy-mm-dd"
        sheet.cell(row=row, column=4, value="  ")
    buffer = io.BytesIO()
    book.save(buffer)

    result = duty_roster_import(content=buffer.getvalue(), filename="排班表.xlsx")

    assert (result.rows, result.created, result.errors) == (1, 1, [])


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig"])
def test_a_roster_saved_by_excel_on_chinese_windows_is_read_with_its_chinese_names(department_a, encoding):
    zhang = UserFactory(username="张伟", department=department_a)
    li = UserFactory(username="李娜", department=department_a)
    content = (
        "date,shift,department,person_on_duty,leader_on_duty,备注\r\n"
        "2026/12/1,day,gas-company,张伟,李娜,元旦前检查\r\n"
        "2026年12月2日,night,gas-company,李娜,,\r\n"
        ",,,,,\r\n"
    ).encode(encoding)

    result = duty_roster_import(content=content, filename="值班表.csv")

    assert (result.rows, result.created, result.errors) == (2, 2, [])
    assert list(
        DutyShift.objects.order_by("date").values_list("date", "shift", "person_on_duty", "leader_on_duty")
    ) == [
        (date(2026, 12, 1), "day", zhang.pk, li.pk),
        (date(2026, 12, 2), "night", li.pk, None),
    ]


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "roster.csv", "The file is empty"),
        (b",,,\r\n,,,\r\n", "roster.csv", "The file is empty"),
        (bytes(range(256)) * 4, "roster.csv", "not CSV text in UTF-8, GBK or GB18030"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "roster.csv", "binary data, not CSV text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "roster.xlsx", "Old Excel files (.xls)"),
        (b"x", "roster.xls", "Old Excel files (.xls)"),
    ],
    ids=["empty", "blank-rows-only", "not-text", "binary-renamed-csv", "xls-renamed-xlsx", "xls"],
)
def test_a_roster_file_that_is_no_table_is_refused_in_one_sentence(db, content, filename, message):
    with pytest.raises(InvalidInputError) as refused:
        duty_roster_import(content=content, filename=filename)
    assert message in str(refused.value)
    assert not DutyShift.objects.exists()


def test_the_admin_counts_refused_rows_and_lists_each_rows_errors_under_it(admin_client, department_a, people):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "值班表.csv",
        "date,shift,department,person_on_duty\r\n"
        "2026-12-01,day,gas-company,alice\r\n"
        "2026-13-01,noon,gas-company,nobody\r\n"  # three errors, one row
        "2026-12-01,all_day,gas-company,amy\r\n"
        ",,,\r\n,,,\r\n".encode("gb18030"),
    )
    response = admin_client.post("/admin/organisation/dutyshift/import/", {"file": upload})

    body = response.content.decode()
    assert "读取值班记录 3 行：新增 1 条，替换 0 条，拒收 2 行。" in body  # noqa: RUF001
    start = body.index('id="roster-import-errors"')
    table = body[start : body.index("</table>", start)]
    assert table.count("<tr data-row=") == 2
    row_3 = table[table.index('data-row="3"') : table.index('data-row="4"')]
    assert row_3.count("<li data-column=") == 3
    assert "“person_on_duty”列：没有用户名为 &#x27;nobody&#x27; 的有效用户。" in row_3  # noqa: RUF001
    assert "与第 2 行为同一部门同一天安排的白班（08:00-20:00）时间重叠。" in table[table.index('data-row="4"') :]  # noqa: RUF001


def test_the_admin_says_in_chinese_why_a_broken_workbook_cannot_be_read(admin_client, db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    book = openpyxl.Workbook()
    buffer = io.BytesIO()
    book.save(buffer)
    upload = SimpleUploadedFile("值班表.xlsx", buffer.getvalue()[:200])

    response = admin_client.post("/admin/organisation/dutyshift/import/", {"file": upload})

    body = response.content.decode()
    assert "无法作为 Excel 工作簿（.xlsx）读取该文件：文件已损坏、不完整或是别的类型" in body  # noqa: RUF001
    assert "zip" not in body.lower()


def test_a_cell_that_holds_markup_is_shown_escaped_on_the_import_page(admin_client, department_a, people):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "roster.csv",
        b"date,shift,department,person_on_duty\r\n2026-12-01,day,gas-company,<img src=x onerror=alert(1)>\r\n",
    )
    body = admin_client.post("/admin/organisation/dutyshift/import/", {"file": upload}).content.decode()

    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<img src=x" not in body

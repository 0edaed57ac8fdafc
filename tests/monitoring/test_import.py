"""Importing an archive of readings: CSV or Excel, row by row errors, valid rows kept, no age limit."""

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from citysafety.tables import TableError
from dispatch.models import WorkOrder
from monitoring import services
from monitoring.models import Reading, SensorState
from tests.factories import RoutingPolicyFactory, SensorFactory, SensorTypeFactory, ThresholdRuleFactory, UserFactory
from warning import services as warning_services
from warning.models import Warning, WarningStatus

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def sensors():
    return SensorFactory(code="FLOW-1"), SensorFactory(code="FLOW-2"), SensorFactory(code="OFF-1", is_active=False)


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


def stored(sensor) -> list[tuple[datetime, float]]:
    return list(Reading.objects.filter(sensor=sensor).order_by("observed_at").values_list("observed_at", "value"))


def test_a_csv_archive_keeps_its_valid_rows_and_names_each_bad_one_by_row_and_column(sensors):
    flow1, flow2, _off = sensors
    future = (timezone.now() + timedelta(days=2)).isoformat()
    archive = csv_file(
        "sensor,observed_at,value,comment\n"
        "FLOW-1,2019-03-01T08:00:00+08:00,61.5,seven years old: kept\n"  # row 2
        "FLOW-1,2019-03-01 09:00:00,60.0,no zone: the platform's\n"  # row 3
        "NOPE-9,2019-03-01T08:00:00+08:00,1,\n"  # row 4
        "FLOW-2,2019-03-01T08:00:00+08:00,NaN,\n"  # row 5
        "FLOW-2,yesterday,1,\n"  # row 6
        f"FLOW-2,{future},1,\n"  # row 7
        "FLOW-2,2019-03-01T08:00:00+08:00,,\n"  # row 8
        "FLOW-2,2019-03-01T08:00:00+08:00,ten,\n"  # row 9
        "OFF-1,2019-03-01T08:00:00+08:00,1,\n"  # row 10
        ",2019-03-01T08:00:00+08:00,1,\n"  # row 11
        "FLOW-2,2019-03-01T10:00:00Z,59,\n"  # row 12
    )

    result = services.readings_import(file=archive, name="archive.csv")

    assert (result.rows, result.accepted, result.duplicates) == (11, 3, 0)
    assert [(e.row, e.column) for e in result.errors] == [
        (4, "sensor"),
        (5, "value"),
        (6, "observed_at"),
        (7, "observed_at"),
        (8, "value"),
        (9, "value"),
        (10, "sensor"),
        (11, "sensor"),
    ]
    messages = {e.row: str(e) for e in result.errors}
    assert messages[4] == "Row 4, column “sensor”: unknown sensor 'NOPE-9'."
    assert "NaN and Infinity are not readings" in messages[5]
    assert "is not an ISO 8601 timestamp" in messages[6]
    assert "in the future" in messages[7]
    assert messages[8] == "Row 8, column “value”: is required."
    assert "must be a number, not a string" in messages[9]
    assert "disabled" in messages[10]
    assert stored(flow1) == [
        (datetime(2019, 3, 1, 0, 0, tzinfo=UTC), 61.5),
        (datetime(2019, 3, 1, 9, 0, tzinfo=SHANGHAI), 60.0),
    ]
    assert stored(flow2) == [(datetime(2019, 3, 1, 10, 0, tzinfo=UTC), 59.0)]


def test_an_excel_archive_is_read_with_its_dates_in_the_zone_given(sensors):
    flow1, _flow2, _off = sensors
    sheet = io.BytesIO()
    pd.DataFrame(
        {
            "Sensor": ["FLOW-1", "FLOW-1", "FLOW-1"],
            "observed_at": [datetime(2020, 5, 1, 8, 0), datetime(2020, 5, 1, 9, 0), None],
            "value": [40.5, "abc", 3],
        }
    ).to_excel(sheet, index=False)
    sheet.seek(0)

    result = services.readings_import(file=sheet, name="archive.xlsx", zone=ZoneInfo("UTC"))

    assert result.accepted == 1
    assert [(e.row, e.column) for e in result.errors] == [(3, "value"), (4, "observed_at")]
    assert stored(flow1) == [(datetime(2020, 5, 1, 8, 0, tzinfo=UTC), 40.5)]


def test_importing_the_same_archive_twice_changes_nothing(sensors):
    flow1, _flow2, _off = sensors
    text = "sensor,observed_at,value\nFLOW-1,2021-01-01T00:00:00Z,1\nFLOW-1,2021-01-01T01:00:00Z,2\n"
    services.readings_import(file=csv_file(text), name="a.csv")

    again = services.readings_import(file=csv_file(text.replace(",2\n", ",99\n")), name="a.csv")

    assert (again.accepted, again.duplicates, again.errors) == (0, 2, [])
    assert [value for _, value in stored(flow1)] == [1.0, 2.0]


@pytest.mark.parametrize(
    ("name", "content", "kind", "says"),
    [
        ("a.csv", b"sensor,value\nFLOW-1,1\n", None, "lacks the column(s) observed_at"),
        ("a.csv", b"", None, "The file is empty"),
        ("a.txt", b"sensor,observed_at,value\n", None, "Cannot tell the format"),
        ("a.xls", b"whatever", None, "Old Excel files"),
        ("a.xlsx", b"not a zip", None, "not an Excel workbook"),
        (
            "a.csv",
            "sensor,observed_at,value\nFLOW-1,2021-01-01T00:00:00Z,1\n".encode("utf-16"),
            None,
            "not CSV text in UTF-8, GBK or GB18030",
        ),
        ("a.csv", b"sensor,observed_at,value\n", "ods", "Unknown format"),
    ],
)
def test_a_file_that_is_no_archive_is_refused_whole_saying_why(sensors, name, content, kind, says):
    with pytest.raises(TableError, match=says.replace("(", r"\(").replace(")", r"\)")):
        services.readings_import(file=io.BytesIO(content), name=name, kind=kind)
    assert not Reading.objects.exists()


def test_an_archive_after_a_current_reading_leaves_the_sensors_current_value(sensors):
    flow1, _flow2, _off = sensors
    now = timezone.now().replace(microsecond=0)
    services.readings_import(file=csv_file(f"sensor,observed_at,value\nFLOW-1,{now.isoformat()},50\n"), name="n.csv")

    services.readings_import(file=csv_file("sensor,observed_at,value\nFLOW-1,2018-06-01T00:00:00Z,7\n"), name="o.csv")

    state = SensorState.objects.get(sensor=flow1)
    assert (state.latest_observed_at, state.latest_value) == (now, 50.0)


def test_an_imported_archive_is_evaluated_as_history_and_dispatches_nothing():
    flow = SensorTypeFactory(code="pipe-flow")
    ThresholdRuleFactory(
        sensor_type=flow, direction="below", level3_threshold=40, level2_threshold=30, level1_threshold=20
    )
    RoutingPolicyFactory(domain=flow.domain, level=3, include_sensor_owner=True)
    sensor = SensorFactory(code="FLOW-9", sensor_type=flow)
    rows = [(0, 60), (1, 35), (2, 25), (3, 60), (4, 61)]
    text = "sensor,observed_at,value\n" + "".join(f"FLOW-9,2022-07-0{1 + day}T00:00:00Z,{v}\n" for day, v in rows)
    assert services.readings_import(file=csv_file(text), name="flow.csv").accepted == 5

    warning_services.sensor_evaluate(sensor_id=sensor.pk)

    warning = Warning.objects.get(sensor=sensor)
    assert (warning.level, warning.status, warning.is_historical) == (2, WarningStatus.CLOSED, True)
    assert warning.opened_at == datetime(2022, 7, 2, tzinfo=UTC)
    assert warning.recovered_at == datetime(2022, 7, 4, tzinfo=UTC)
    assert not WorkOrder.objects.exists()


# --- The management command --------------------------------------------------------------


def test_the_command_stores_the_valid_rows_and_fails_naming_the_refused_ones(sensors, tmp_path):
    flow1, _flow2, _off = sensors
    path = tmp_path / "archive.csv"
    path.write_text("sensor,observed_at,value\nFLOW-1,2019-01-01T00:00:00Z,5\nFLOW-1,2019-01-01T01:00:00Z,inf\n")
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match="1 row was refused"):
        call_command("import_readings", str(path), stdout=out, stderr=err)

    assert "2 rows, 1 reading stored, 0 already stored, 1 row refused" in out.getvalue()
    assert "Row 3, column “value”: must be a finite number" in err.getvalue()
    assert stored(flow1) == [(datetime(2019, 1, 1, tzinfo=UTC), 5.0)]


def test_the_command_reads_excel_with_the_format_and_zone_given(sensors, tmp_path):
    flow1, _flow2, _off = sensors
    path = tmp_path / "archive.data"
    pd.DataFrame({"sensor": ["FLOW-1"], "observed_at": [datetime(2019, 1, 1, 8)], "value": [5]}).to_excel(
        path, index=False
    )
    out = io.StringIO()

    call_command("import_readings", str(path), "--format", "xlsx", "--timezone", "Asia/Shanghai", stdout=out)

    assert "1 reading stored" in out.getvalue()
    assert stored(flow1) == [(datetime(2019, 1, 1, tzinfo=UTC), 5.0)]


def test_the_command_refuses_an_unknown_zone_and_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Unknown time zone"):
        call_command("import_readings", str(tmp_path / "a.csv"), "--timezone", "Mars/Olympus")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_readings", str(tmp_path / "missing.csv"))


# --- The admin upload ----------------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_the_readings_list_links_to_the_import(admin_client):
    response = admin_client.get(reverse("admin:monitoring_reading_changelist"))
    assert reverse("admin:monitoring_reading_import") in response.content.decode()


def test_an_administrator_uploads_an_archive_and_sees_each_refused_row(admin_client, sensors):
    flow1, _flow2, _off = sensors
    upload = SimpleUploadedFile(
        "archive.csv",
        b"sensor,observed_at,value\nFLOW-1,2019-01-01T00:00:00Z,5\nNOPE,2019-01-01T00:00:00Z,5\n"
        b"FLOW-1,2019-01-01T02:00:00Z,x\n",
        content_type="text/csv",
    )

    response = admin_client.post(reverse("admin:monitoring_reading_import"), {"file": upload, "format": ""})

    assert response.status_code == 200
    html = response.content.decode()
    assert "archive.csv: 3 rows, 1 reading stored, 0 already stored, 2 rows refused." in html
    assert '<li data-column="sensor">Column “sensor”: unknown sensor &#x27;NOPE&#x27;.</li>' in html
    assert html.index('data-row="3"') < html.index('data-column="sensor"') < html.index('data-row="4"')
    assert html.index('data-row="4"') < html.index('data-column="value"')
    assert stored(flow1) == [(datetime(2019, 1, 1, tzinfo=UTC), 5.0)]


def test_an_upload_that_is_no_archive_shows_why_on_the_form(admin_client, sensors):
    upload = SimpleUploadedFile("archive.csv", b"code;time;reading\nFLOW-1;x;1\n", content_type="text/csv")

    response = admin_client.post(reverse("admin:monitoring_reading_import"), {"file": upload})

    assert response.status_code == 200
    assert "lacks the column(s) sensor, observed_at, value" in response.content.decode()
    assert not Reading.objects.exists()


def test_staff_without_the_right_to_add_readings_cannot_import(client):
    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)
    assert client.get(reverse("admin:monitoring_reading_import")).status_code == 403


def test_the_upload_page_is_in_chinese_by_default(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("admin:monitoring_reading_import"))
    html = response.content.decode()
    assert "导入读数" in html
    assert "归档文件" in html


# --- Files as Chinese offices save them ----------------------------------------------------

# A Chinese sensor code and a Chinese remark, as an office's own sheet has them.
CHINESE_ARCHIVE = (
    "sensor,observed_at,value,备注\n"
    "望江路-流量-1,2019-03-01T08:00:00+08:00,61.5,春节前巡检\n"
    "望江路-流量-1,2019-03-01 09:00:00,60,夜间\n"
)


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig"])
def test_an_archive_saved_by_excel_on_chinese_windows_is_read(encoding):
    sensor = SensorFactory(code="望江路-流量-1")

    result = services.readings_import(file=io.BytesIO(CHINESE_ARCHIVE.encode(encoding)), name="流量.csv")

    assert (result.rows, result.accepted, result.errors) == (2, 2, [])
    assert stored(sensor) == [
        (datetime(2019, 3, 1, 0, 0, tzinfo=UTC), 61.5),
        (datetime(2019, 3, 1, 9, 0, tzinfo=SHANGHAI), 60.0),
    ]


def test_blank_rows_are_skipped_and_a_row_that_fails_twice_is_one_row_refused(sensors):
    flow1, _flow2, _off = sensors
    archive = csv_file(
        "sensor,observed_at,value\n"
        "FLOW-1,2019-01-01T00:00:00Z,1\n"  # row 2
        ",,\n"  # row 3: blank, as Excel leaves it
        ",,5\n"  # row 4: no sensor and no time
        "FLOW-1,2019-01-01T01:00:00Z,2\n"  # row 5
        ",,\n,,\n"  # rows 6-7: trailing blank rows
    )

    result = services.readings_import(file=archive, name="a.csv")

    assert (result.rows, result.accepted, result.refused) == (3, 2, 1)
    assert [(e.row, e.column) for e in result.errors] == [(4, "sensor"), (4, "observed_at")]
    assert result.summary("a.csv") == "a.csv: 3 rows, 2 readings stored, 0 already stored, 1 row refused."
    assert [value for _, value in stored(flow1)] == [1.0, 2.0]


def test_an_excel_archive_with_trailing_empty_rows_has_no_errors(sensors):
    flow1, _flow2, _off = sensors
    book = openpyxl.Workbook()
    book.active.append(["sensor", "observed_at", "value"])
    book.active.append(["FLOW-1", datetime(2020, 1, 1, 8), 3])
    for row in range(3, 8):  # cells Excel formatted and left empty
        book.active.cell(row=row, column=1).number_format = "0.00"
        book.active.cell(row=row, column=2, value=None)
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)

    result = services.readings_import(file=buffer, name="a.xlsx")

    assert (result.rows, result.accepted, result.errors) == (1, 1, [])
    assert stored(flow1) == [(datetime(2020, 1, 1, tzinfo=UTC), 3.0)]


def test_the_command_reads_a_gb18030_archive_and_refuses_a_broken_workbook_in_one_sentence(tmp_path):
    sensor = SensorFactory(code="望江路-流量-1")
    good = tmp_path / "流量.csv"
    good.write_bytes(CHINESE_ARCHIVE.encode("gb18030"))
    out = io.StringIO()

    call_command("import_readings", str(good), stdout=out)

    assert "2 rows, 2 readings stored, 0 already stored, 0 rows refused." in out.getvalue()
    assert len(stored(sensor)) == 2

    book = openpyxl.Workbook()
    book.active.append(["sensor", "observed_at", "value"])
    buffer = io.BytesIO()
    book.save(buffer)
    broken = tmp_path / "archive.xlsx"
    broken.write_bytes(buffer.getvalue()[:300])
    with pytest.raises(CommandError) as refused:
        call_command("import_readings", str(broken))
    assert str(refused.value) == (
        f"{broken}: The file cannot be read as an Excel workbook (.xlsx): it is damaged, cut short or another"
        " kind of file; open it in Excel, save it as .xlsx and upload it again."
    )

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(CommandError, match="The file is empty"):
        call_command("import_readings", str(empty))


def test_the_command_lists_each_refused_row_once_with_all_its_errors(sensors, tmp_path):
    path = tmp_path / "archive.csv"
    path.write_text("sensor,observed_at,value\n,,5\nFLOW-1,2019-01-01T00:00:00Z,x\n")
    err = io.StringIO()

    with pytest.raises(CommandError, match="2 rows were refused"):
        call_command("import_readings", str(path), stdout=io.StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        "Row 2, column “sensor”: is required.; Column “observed_at”: is required.",
        "Row 3, column “value”: must be a number, not a string.",
    ]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("archive.csv", bytes(range(256)) * 4, "不是 UTF-8、GBK 或 GB18030 编码"),
        ("archive.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "含有二进制数据"),
        ("archive.xlsx", b"PK\x03\x04\x14\x00\x00\x00 cut short", "文件已损坏、不完整"),
        ("archive.csv", b",,\r\n,,\r\n", "文件是空的"),
        ("archive.csv", b"", "提交的是空文件"),  # Django's form says it before the import reads
    ],
    ids=["not-text", "binary-renamed-csv", "corrupt-xlsx", "blank-rows-only", "empty"],
)
def test_an_upload_that_cannot_be_read_says_why_in_chinese_on_the_form(client, admin_user, name, content, says):
    client.force_login(admin_user)
    upload = SimpleUploadedFile(name, content)

    response = client.post(reverse("admin:monitoring_reading_import"), {"file": upload})

    html = response.content.decode()
    assert response.status_code == 200
    assert says in html
    assert "codec" not in html
    assert "zip file" not in html
    assert not Reading.objects.exists()


def test_a_gb18030_upload_is_summarised_in_rows_with_the_errors_under_each_row(client, admin_user):
    SensorFactory(code="望江路-流量-1")
    client.force_login(admin_user)
    text = CHINESE_ARCHIVE + ",,\n,,5\n望江路-流量-1,2019-03-01T10:00:00+08:00,十\n,,\n"
    upload = SimpleUploadedFile("流量.csv", text.encode("gb18030"), content_type="text/csv")

    response = client.post(reverse("admin:monitoring_reading_import"), {"file": upload})

    html = response.content.decode()
    assert "流量.csv：共 4 行，存入 2 条读数，0 条已存在，拒收 2 行。" in html  # noqa: RUF001
    assert html.count('<li data-row="') == 2
    row_5 = html[html.index('<li data-row="5">') : html.index('<li data-row="6">')]
    assert "第 5 行" in row_5
    assert "“sensor”列" in row_5
    assert "“observed_at”列" in row_5
    assert "“value”列" in html[html.index('<li data-row="6">') :]

"""Importing an archive of readings: CSV or Excel, row by row errors, valid rows kept, no age limit."""

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from dispatch.models import WorkOrder
from monitoring import imports, services
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
        ("a.xlsx", b"not a zip", None, "cannot be read as XLSX"),
        ("a.csv", "sensor,observed_at,value\nFLOW-1,2021-01-01T00:00:00Z,1\n".encode("utf-16"), None, "not UTF-8"),
        ("a.csv", b"sensor,observed_at,value\n", "ods", "Unknown format"),
    ],
)
def test_a_file_that_is_no_archive_is_refused_whole_saying_why(sensors, name, content, kind, says):
    with pytest.raises(imports.ArchiveError, match=says.replace("(", r"\(").replace(")", r"\)")):
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

    assert "2 rows, 1 reading stored, 0 already stored, 1 refused" in out.getvalue()
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

    assert "1 row, 1 reading stored" in out.getvalue()
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
    assert "archive.csv: 3 rows, 1 reading stored, 0 already stored, 2 refused." in html
    assert 'data-row="3" data-column="sensor"' in html
    assert "Row 3, column “sensor”: unknown sensor &#x27;NOPE&#x27;." in html
    assert 'data-row="4" data-column="value"' in html
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

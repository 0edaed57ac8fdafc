"""In Chromium, an administrator imports an archive through the admin and finds its dip in the history.

The archive is a CSV as Excel on Chinese Windows saves it: GB18030, Chinese
remarks, blank rows after the data.
"""

import pytest
from playwright.sync_api import expect

from monitoring.models import Reading
from organisation.roles import ADMINISTRATOR
from tests.e2e.conftest import log_in
from tests.factories import SensorFactory, SensorTypeFactory, ThresholdRuleFactory, UserFactory
from warning import services as warning_services
from warning.models import Warning

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARCHIVE = (
    "sensor,observed_at,value,备注\r\n"
    "FLOW-0001,2024-03-01T08:00:00+08:00,61,正常\r\n"
    "FLOW-0001,2024-03-01T09:00:00+08:00,35,流量下降\r\n"
    "FLOW-0001,2024-03-01T10:00:00+08:00,24,疑似泄漏\r\n"
    "FLOW-0001,2024-03-01T11:00:00+08:00,62,抢修后恢复\r\n"
    "FLOW-0009,2024-03-01T11:00:00+08:00,62,\r\n"
    ",,NaN,编码和时间漏填\r\n"
    ",,,\r\n,,,\r\n"
)


def test_an_archive_uploaded_in_the_admin_names_its_bad_rows_and_its_dip_is_history(
    daphne_server, new_context, shoot, tmp_path
):
    UserFactory(username="admin", roles=[ADMINISTRATOR], is_staff=True, is_superuser=True)
    flow = SensorTypeFactory(code="pipe-flow", name="管道流量")
    ThresholdRuleFactory(
        name="低流量",
        sensor_type=flow,
        direction="below",
        level3_threshold=40,
        level2_threshold=30,
        level1_threshold=20,
    )
    sensor = SensorFactory(code="FLOW-0001", name="望江路干管流量", sensor_type=flow)
    archive = tmp_path / "望江路流量.csv"
    archive.write_bytes(ARCHIVE.encode("gb18030"))
    page = new_context().new_page()
    log_in(page, daphne_server.url, "admin")

    page.goto(f"{daphne_server.url}/admin/monitoring/reading/")
    page.click("text=导入读数")
    page.set_input_files("input[name=file]", str(archive))
    page.click("#reading-import-form input[type=submit]")

    expect(page.locator("#import-summary")).to_have_text(
        "望江路流量.csv：共 6 行，存入 4 条读数，0 条已存在，拒收 2 行。"  # noqa: RUF001
    )
    rows = page.locator("#import-errors > li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("第 6 行")
    expect(rows.nth(0).locator("li")).to_have_text(["“sensor”列：未知的传感器“FLOW-0009”。"])  # noqa: RUF001
    expect(rows.nth(1)).to_contain_text("第 7 行")
    # One row, two errors: listed under it, counted once above.
    expect(rows.nth(1).locator("li[data-column]")).to_have_count(2)
    shoot(page, "01-upload-result")
    assert Reading.objects.filter(sensor=sensor).count() == 4

    warning_services.sensor_evaluate(sensor_id=sensor.pk)  # as the worker would
    warning = Warning.objects.get(sensor=sensor)
    assert (warning.level, warning.is_historical) == (2, True)

    page.goto(f"{daphne_server.url}/warnings/closed/")
    row = page.locator(f"tr[data-warning='{warning.pk}']")
    expect(row.locator("[data-historical]")).to_have_text("历史")
    # Closed when the dip was over (its recovery at 11:00), not when the archive came in.
    expect(row.locator("td time").nth(1)).to_have_text("2024-03-01 11:00")
    expect(row.locator("[data-historical-end]")).to_have_text("事件结束时间")
    expect(row.locator("[data-archive-import]")).to_contain_text("从档案导入")
    shoot(page, "02-closed-list-historical")

    row.locator("[data-summary-link]").click()
    summary = page.locator("#summary-form textarea[name=text_zh]")
    expect(summary).to_contain_text("从档案导入")
    expect(summary).to_contain_text("事件持续 120 分钟，自 2024-03-01 09:00 至 2024-03-01 11:00。")  # noqa: RUF001
    expect(summary).not_to_contain_text("由 平台 办结")
    shoot(page, "03-historical-summary")

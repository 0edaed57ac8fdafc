"""In Chromium, an administrator imports an archive through the admin and finds its dip in the history."""

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
    "sensor,observed_at,value\n"
    "FLOW-0001,2024-03-01T08:00:00+08:00,61\n"
    "FLOW-0001,2024-03-01T09:00:00+08:00,35\n"
    "FLOW-0001,2024-03-01T10:00:00+08:00,24\n"
    "FLOW-0001,2024-03-01T11:00:00+08:00,62\n"
    "FLOW-0009,2024-03-01T11:00:00+08:00,62\n"
    "FLOW-0001,2024-03-01 12:00,NaN\n"
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
    archive = tmp_path / "flow-archive.csv"
    archive.write_text(ARCHIVE)
    page = new_context().new_page()
    log_in(page, daphne_server.url, "admin")

    page.goto(f"{daphne_server.url}/admin/monitoring/reading/")
    page.click("text=导入读数")
    page.set_input_files("input[name=file]", str(archive))
    page.click("#reading-import-form input[type=submit]")

    expect(page.locator("#import-summary")).to_contain_text("flow-archive.csv：共 6 行，存入 4 条读数")  # noqa: RUF001
    errors = page.locator("#import-errors li")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("第 6 行，“sensor”列")  # noqa: RUF001
    expect(errors.nth(1)).to_contain_text("第 7 行，“value”列")  # noqa: RUF001
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

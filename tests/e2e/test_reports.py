"""The response-times page and an event summary, in Chromium, in Chinese and English."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dispatch.models import WorkOrder
from organisation.roles import DUTY_OFFICER
from reports.summaries import event_summary_write
from tests.e2e.conftest import log_in
from tests.factories import DepartmentFactory, SensorFactory, ThresholdRuleFactory, UserFactory
from warning.models import Warning, WarningStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _closed_warning_with_order(department, *, ack_minutes: int, days_ago: int) -> Warning:
    sensor = SensorFactory()
    opened = timezone.now() - timedelta(days=days_ago)
    warning = Warning.objects.create(
        sensor=sensor,
        rule=ThresholdRuleFactory(sensor_type=sensor.sensor_type),
        level=2,
        status=WarningStatus.CLOSED,
        opened_at=opened,
        first_value=22,
        last_value=3,
        peak_value=31,
        last_observed_at=opened + timedelta(minutes=50),
        recovered_at=opened + timedelta(minutes=50),
        closed_at=opened + timedelta(minutes=90),
        disposal_note="Leaking joint replaced.",
    )
    WorkOrder.objects.create(
        warning=warning,
        department=department,
        level=2,
        status="closed",
        created_at=opened,
        ack_deadline=opened + timedelta(minutes=15),
        acknowledged_at=opened + timedelta(minutes=ack_minutes),
        reported_at=opened + timedelta(minutes=60),
        report="Valve closed.",
        closed_at=opened + timedelta(minutes=90),
        is_overdue=ack_minutes > 15,
    )
    return warning


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_a_duty_officer_reads_response_times_and_archives_a_summary(daphne_server, new_context, shoot, locale):
    UserFactory(username="duty", roles=[DUTY_OFFICER])
    gas = DepartmentFactory(code="gas-company", name="燃气公司")
    water = DepartmentFactory(code="water-company", name="Water company")
    for minutes, days in ((3, 1), (9, 2), (20, 3)):
        _closed_warning_with_order(gas, ack_minutes=minutes, days_ago=days)
    warning = _closed_warning_with_order(water, ack_minutes=5, days_ago=1)
    event_summary_write(warning_id=warning.pk)
    page = new_context(locale=locale).new_page()
    log_in(page, daphne_server.url, "duty")

    page.goto(f"{daphne_server.url}/reports/response-times/")
    table = page.locator("#response-times")
    expect(table).to_contain_text("燃气公司")
    expect(table.locator("tr", has_text="燃气公司")).to_contain_text("9.0")  # the median of 3, 9 and 20
    expect(page.locator("svg[role=img]")).to_have_count(3)
    expect(page.locator("h1")).to_have_text("处置时效" if locale == "zh-CN" else "Response times")
    shoot(page, f"{locale}-01-response-times")

    page.goto(f"{daphne_server.url}/reports/summaries/{warning.pk}/")
    chinese = page.locator("#id_text_zh")
    expect(page.locator("#id_text_en")).to_contain_text("Level II (orange) warning")
    shoot(page, f"{locale}-02-summary-form")
    chinese.fill("二级预警，燃气公司 5 分钟签收，接头已更换。")  # noqa: RUF001
    page.click("button[name=archive]")
    text = page.locator("#summary-text")
    expect(text).to_be_visible()
    expect(page.locator("#summary-meta")).to_contain_text("duty")
    if locale == "zh-CN":
        expect(text).to_have_text("二级预警，燃气公司 5 分钟签收，接头已更换。")  # noqa: RUF001
    else:
        expect(text).to_contain_text("Level II (orange) warning")
    shoot(page, f"{locale}-03-summary-archived")

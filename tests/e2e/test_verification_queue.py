# ruff: noqa: RUF001 - the Chinese sentences are meant, fullwidth punctuation and all
"""The verification queue (研判) in a real browser on the real stack, in Chinese and English.

Readings go in over HTTP, the real worker evaluates them, the warning waits
on the duty officer's page (live, its age ticking) and nowhere in the
department's; confirming sends the work orders, a false alarm closes the
warning with its reason.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from dispatch.models import RoutingPolicy, VerificationMode, WorkOrder
from tests.e2e.conftest import log_in
from tests.e2e.test_closing import post
from tests.e2e.test_live_loop import GAS_COMPANY, build_city
from tests.factories import SensorFactory
from tests.live import wait_for
from warning.models import FalseAlarmReason, VerificationStatus, Warning, WarningStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "zh-CN": {
        "title": "研判",
        "empty": "没有等待研判的预警",
        "confirm": "确认并派发",
        "false_alarm": "误报…",
        "close": "按误报关闭",
        "other_needs_note": "请说明误报原因：原因为“其他”。",
        "sensor_fault": "传感器故障",
        "level2": "二级",
    },
    "en-GB": {
        "title": "Verification",
        "empty": "No warning is waiting for verification",
        "confirm": "Confirm and dispatch",
        "false_alarm": "False alarm…",
        "close": "Close as a false alarm",
        "other_needs_note": "Say what the false alarm was: the reason is “Other”.",
        "sensor_fault": "Sensor fault",
        "level2": "Level II",
    },
}


def expect_live(page: Page) -> None:
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_queue_shows_waiting_warnings_live_and_takes_verdicts(
    daphne_server, celery_worker_process, new_context, shoot, locale
):
    text = TEXTS[locale]
    url = daphne_server.url
    city = build_city()
    RoutingPolicy.objects.filter(level__in=[2, 3]).update(verification=VerificationMode.VERIFY_FIRST)
    second = SensorFactory(
        code="GAS-0065",
        name=city.sensor.name.replace("064", "065"),
        sensor_type=city.sensor.sensor_type,
        district=city.sensor.district,
        owner_department=city.sensor.owner_department,
        gateway=city.sensor.gateway,
    )
    duty = new_context(locale=locale).new_page()
    log_in(duty, url, "duty")
    duty.goto(f"{url}/warnings/verification/")
    expect_live(duty)
    expect(duty.locator("h1")).to_contain_text(text["title"])
    expect(duty.locator("#vq-empty")).to_contain_text(text["empty"])
    gas = new_context(locale=locale).new_page()
    log_in(gas, url, "gas")

    # A Level III reading: the warning waits in the queue, live, and goes to nobody.
    post(url, city, city.sensor, 12.0)
    card = duty.locator(f"[data-vq]:has-text('{city.sensor.code}')")
    expect(card).to_be_visible(timeout=15_000)
    warning = Warning.objects.get(sensor=city.sensor)
    assert warning.verification == VerificationStatus.PENDING
    assert not WorkOrder.objects.filter(warning=warning).exists()
    age = card.locator("[data-age]")
    first_age = age.inner_text()
    expect(age).not_to_have_text(first_age, timeout=5_000)  # it ticks
    assert re.fullmatch(r"\d\d:\d\d", age.inner_text())

    # It escalates while waiting: the same card, now at Level II, still waiting.
    post(url, city, city.sensor, 25.0)
    expect(card.locator(".level-badge")).to_have_text(text["level2"], timeout=15_000)
    expect(duty.locator("[data-vq]")).to_have_count(1)
    post(url, city, second, 13.0)
    expect(duty.locator("[data-vq]")).to_have_count(2, timeout=15_000)
    expect(duty.locator("#vq-count")).to_have_text("2")
    # Most severe first.
    expect(duty.locator("[data-vq]").first).to_contain_text(city.sensor.code)
    shoot(duty, "01-queue")

    # The department sees none of it: no work order, no link to the queue.
    gas.goto(f"{url}/work-orders/")
    expect(gas.locator(".mainnav")).not_to_contain_text(text["title"])
    expect(gas.locator("#wo-list .wo-card")).to_have_count(0)
    assert gas.goto(f"{url}/warnings/verification/").status == 403

    # The one map's warning detail says it waits, and links to the queue.
    board = duty.context.new_page()
    board.goto(f"{url}/dashboard/")
    expect_live(board)
    board.locator(f".warning-item[data-warning-id='{warning.pk}']").click()
    expect(board.locator("#warning-detail [data-awaiting-verification]")).to_be_visible()

    # Confirm: the card leaves, the orders go out, and the department's queue shows them live.
    gas.goto(f"{url}/work-orders/")
    expect_live(gas)
    card.locator("[data-confirm]").click()
    expect(card).to_have_count(0)
    expect(board.locator("#warning-detail [data-awaiting-verification]")).to_have_count(0)
    wait_for(lambda: WorkOrder.objects.filter(warning=warning).count() == 2, what="two work orders")
    expect(gas.locator("#wo-list .wo-card")).to_have_count(1, timeout=10_000)
    expect(gas.locator("#wo-list")).to_contain_text(city.sensor.name)
    assert Warning.objects.get(pk=warning.pk).verification == VerificationStatus.CONFIRMED
    assert {order.department.name for order in WorkOrder.objects.filter(warning=warning)} >= {GAS_COMPANY}

    # A false alarm: "Other" needs a note, said before anything is sent.
    other = duty.locator("[data-vq]").first
    other.locator("[data-open-false-alarm]").click()
    duty.select_option("#vq-reason", "other")
    other.locator("form button[type=submit]").click()
    expect(other.locator("[data-error]")).to_have_text(text["other_needs_note"])
    shoot(duty, "02-false-alarm-form")
    duty.select_option("#vq-reason", label=text["sensor_fault"])
    duty.fill("#vq-note", "探头进水。")
    other.locator("form button[type=submit]").click()
    expect(duty.locator("#vq-empty")).to_be_visible()
    closed = Warning.objects.get(sensor=second)
    assert closed.status == WarningStatus.CLOSED
    assert closed.false_alarm_reason == FalseAlarmReason.SENSOR_FAULT
    assert closed.transitions.last().note == "探头进水。"
    shoot(duty, "03-queue-empty")

"""Closing and the pages around it, in a real browser on the real stack:
the Close button that says why it waits, closing an active warning only by
choice, peak and current level, live values, the department's stable queue,
the duty officer's queue grouped by warning with each department's contact,
and timelines in the reader's language with the person who acted.
"""

import re
from datetime import datetime

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import Page, expect

from dispatch import services as dispatch_services
from dispatch.models import WorkOrder
from monitoring.models import Sensor
from organisation.models import Department
from tests.e2e.conftest import log_in
from tests.e2e.test_live_loop import COMMAND_OFFICE, GAS_COMPANY, GOVERNMENT, City, build_city, off_the_event_loop
from tests.factories import SensorFactory
from tests.live import wait_for
from warning.models import Warning, WarningStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def post(base_url: str, city: City, sensor: Sensor, value: float, at: datetime | None = None) -> None:
    response = requests.post(
        f"{base_url}/api/v1/readings/",
        json=[{"sensor": sensor.code, "observed_at": (at or timezone.now()).isoformat(), "value": value}],
        headers={"Authorization": f"Bearer {city.token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


def expect_live(page: Page) -> None:
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")


def report_all(warning: Warning, city: City, departments=(GAS_COMPANY, GOVERNMENT, COMMAND_OFFICE)) -> None:
    """Each department reports and the duty officer verifies the report."""
    staff = {GAS_COMPANY: city.gas_staff, GOVERNMENT: city.government_staff, COMMAND_OFFICE: city.command_staff}
    for name in departments:
        order = WorkOrder.objects.get(warning=warning, department__name=name)
        off_the_event_loop(dispatch_services.work_order_acknowledge, work_order_id=order.pk, user=staff[name])
        off_the_event_loop(dispatch_services.work_order_arrive, work_order_id=order.pk, user=staff[name])
        off_the_event_loop(
            dispatch_services.work_order_report, work_order_id=order.pk, user=staff[name], report="已到场核实。"
        )
        off_the_event_loop(dispatch_services.work_order_verify, work_order_id=order.pk, user=city.duty, accept=True)


def test_closing_waits_for_every_report_and_an_active_warning_only_by_choice(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    duty = new_context().new_page()
    log_in(duty, url, "duty")
    expect_live(duty)

    post(url, city, city.sensor, 60.0)
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")
    wait_for(lambda: WorkOrder.objects.filter(warning=warning).count() == 3, what="three work orders")
    duty.locator(f".warning-item[data-warning-id='{warning.pk}']").click()
    detail = duty.locator("#warning-detail")
    expect(detail.locator("[data-detail-orders] .wo-card")).to_have_count(3)

    # Nobody has reported: the button is disabled and says why, naming who is awaited.
    button = detail.locator("#close-form button[type=submit]")
    expect(button).to_be_disabled()
    hint = detail.locator("[data-close-progress]")
    expect(hint).to_contain_text("3 份反馈中已核验 0 份")
    expect(hint.locator("[data-close-why]")).to_contain_text(GAS_COMPANY)
    expect(hint.locator("[data-close-why]")).to_contain_text(COMMAND_OFFICE)
    # The department's phone is on its card for the duty officer.
    expect(detail.locator("[data-detail-orders] [data-contact]").first).to_be_visible()
    duty.evaluate("document.getElementById('close-form').scrollIntoView({block: 'center'})")
    shoot(duty, "01-close-disabled-with-reason")

    # Two report; still disabled, waiting for the third.
    report_all(warning, city, (GAS_COMPANY, GOVERNMENT))
    expect(detail.locator("[data-detail-orders] .wo-card[data-status='verified']")).to_have_count(2)
    expect(button).to_be_disabled()
    expect(hint.locator("[data-close-why]")).to_contain_text(COMMAND_OFFICE)
    expect(hint.locator("[data-close-why]")).not_to_contain_text(GAS_COMPANY)
    report_all(warning, city, (COMMAND_OFFICE,))
    expect(detail.locator("[data-detail-orders] .wo-card[data-status='verified']")).to_have_count(3)
    expect(button).to_be_enabled()
    expect(hint.locator("[data-close-why]")).to_have_count(0)

    # Every department reported, but the sensor still reads Level I: the page asks.
    still = detail.locator("[data-still-active]")
    expect(still).to_be_visible()
    expect(still).to_contain_text("60")
    detail.locator("#close-note").fill("传感器故障、现场复核无燃气泄漏。")
    button.click()
    expect(detail.locator("#close-error")).to_contain_text("仍然关闭")
    assert Warning.objects.get(pk=warning.pk).status == WarningStatus.ACTIVE
    duty.evaluate("document.getElementById('close-form').scrollIntoView({block: 'center'})")
    shoot(duty, "02-active-warning-asks-for-the-choice")

    detail.locator("#close-active").check()
    button.click()
    expect(detail.locator("[data-closed]")).to_contain_text("传感器故障")
    expect(detail.locator("[data-closed-while-active]")).to_be_visible()
    closed = Warning.objects.get(pk=warning.pk)
    assert closed.status == WarningStatus.CLOSED
    assert closed.closed_while_active is True
    duty.evaluate("document.querySelector('[data-closed]').scrollIntoView({block: 'center'})")
    shoot(duty, "03-closed-while-active-recorded")


def test_the_list_follows_values_and_tells_the_peak_from_the_current_level(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    duty = new_context().new_page()
    log_in(duty, url, "duty")
    expect_live(duty)

    post(url, city, city.sensor, 60.0)
    item = duty.locator(".warning-item[data-level='1']")
    expect(item).to_contain_text("60")
    item.click()
    detail = duty.locator("#warning-detail")
    expect(detail.locator(".value-box .vb-value").first).to_have_text("60")

    # Down into the Level II range: no change of level, yet list and detail follow (value push).
    post(url, city, city.sensor, 25.0)
    expect(item.locator(".wi-value")).to_contain_text("25")
    expect(item).to_have_attribute("data-level", "1")
    expect(item.locator("[data-now-level='2']")).to_be_visible()
    expect(detail.locator(".value-box .vb-value").first).to_have_text("25")
    expect(detail.locator("[data-now-level='2']")).to_be_visible()
    assert duty.evaluate("performance.getEntriesByType('navigation').length") == 1
    shoot(duty, "01-peak-level-i-now-level-ii")

    # Back to normal: recovered, dimmed, with no current level.
    post(url, city, city.sensor, 2.0)
    expect(item).to_have_attribute("data-status", "recovered")
    expect(item.locator(".peak-badge.is-dimmed")).to_be_visible()
    expect(item.locator("[data-now-level]")).to_have_count(0)
    detail.locator("[data-close-detail]").click()
    expect(item).not_to_have_class(re.compile(r"\bselected\b"))
    opacity = float(item.evaluate("node => getComputedStyle(node).opacity"))
    assert opacity < 0.7
    shoot(duty, "02-recovered-dimmed")


def test_the_department_queue_keeps_its_order_when_a_card_is_acknowledged(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    second = SensorFactory(
        code="GAS-0065",
        name="瑶海区燃气阀井可燃气体监测点065",
        sensor_type=city.sensor.sensor_type,
        district=city.sensor.district,
        owner_department=city.sensor.owner_department,
        gateway=city.sensor.gateway,
    )
    gas = new_context().new_page()
    log_in(gas, url, "gas")
    expect_live(gas)

    # A Level I warning (15 minutes to acknowledge), then a Level III one (30 minutes).
    post(url, city, city.sensor, 60.0)
    post(url, city, second, 12.0)
    cards = gas.locator(".wo-card")
    expect(cards).to_have_count(2)
    first_id = WorkOrder.objects.get(warning__sensor=city.sensor, department__name=GAS_COMPANY).pk
    second_id = WorkOrder.objects.get(warning__sensor=second).pk
    order = [int(i) for i in cards.evaluate_all("nodes => nodes.map((n) => n.dataset.orderId)")]
    assert order == [first_id, second_id]
    shoot(gas, "01-by-deadline")

    gas.locator(f".wo-card[data-order-id='{first_id}'] [data-action='acknowledge']").click()
    expect(gas.locator(f".wo-card[data-order-id='{first_id}']")).to_have_attribute("data-status", "acknowledged")
    order = [int(i) for i in cards.evaluate_all("nodes => nodes.map((n) => n.dataset.orderId)")]
    assert order == [first_id, second_id], "the acknowledged card moved"
    shoot(gas, "02-acknowledged-card-stays-first")


def test_the_duty_officers_queue_is_grouped_by_warning_and_reads_in_english(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    Department.objects.filter(name=GAS_COMPANY).update(phone="0551-62345678", email="duty@gas.example.org")
    second = SensorFactory(
        code="GAS-0065",
        name="瑶海区燃气阀井可燃气体监测点065",
        sensor_type=city.sensor.sensor_type,
        district=city.sensor.district,
        owner_department=city.sensor.owner_department,
        gateway=city.sensor.gateway,
    )
    post(url, city, city.sensor, 60.0)
    post(url, city, second, 12.0)
    first = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="warning 1")
    wait_for(lambda: WorkOrder.objects.filter(warning__sensor=second).exists(), timeout=15, what="warning 2's order")
    wait_for(lambda: WorkOrder.objects.filter(warning=first).count() == 3, what="three orders")
    gas_order = WorkOrder.objects.get(warning=first, department__name=GAS_COMPANY)
    off_the_event_loop(dispatch_services.work_order_acknowledge, work_order_id=gas_order.pk, user=city.gas_staff)

    page = new_context(locale="en-GB").new_page()
    log_in(page, url, "duty")
    page.goto(f"{url}/work-orders/")
    expect_live(page)
    groups = page.locator("[data-warning-group]")
    expect(groups).to_have_count(2)
    group = page.locator(f"[data-warning-group='{first.pk}']")
    expect(group.locator(".wo-card")).to_have_count(3)
    expect(group.locator("[data-group-progress]")).to_contain_text("0 of 3 reports verified")
    expect(groups.first).to_have_attribute("data-warning-group", str(first.pk))  # the most urgent first

    card = group.locator(f".wo-card[data-order-id='{gas_order.pk}']")
    expect(card.locator("[data-phone]")).to_contain_text("0551-62345678")
    expect(card.locator("[data-email]")).to_contain_text("duty@gas.example.org")
    card.locator("details.wo-timeline summary").click()
    # Written by the worker in Chinese days ago or now: read in English.
    expect(card.locator(".timeline li.k-created [data-summary]")).to_have_text(
        "Routed at Level I (red); acknowledge within 15 minutes."
    )
    # The person who acknowledged, and their department.
    expect(card.locator(".timeline li.k-acknowledged [data-actor]")).to_contain_text("gas")
    expect(card.locator(".timeline li.k-acknowledged [data-actor]")).to_contain_text(GAS_COMPANY)
    shoot(page, "01-grouped-with-contact-in-english")

    # A pushed change arrives in the page's language too.
    off_the_event_loop(dispatch_services.work_order_arrive, work_order_id=gas_order.pk, user=city.gas_staff)
    off_the_event_loop(
        dispatch_services.work_order_report, work_order_id=gas_order.pk, user=city.gas_staff, report="Valve closed."
    )
    expect(card).to_have_attribute("data-status", "reported")
    off_the_event_loop(dispatch_services.work_order_verify, work_order_id=gas_order.pk, user=city.duty, accept=True)
    expect(card).to_have_attribute("data-status", "verified")
    expect(group.locator("[data-group-progress]")).to_contain_text("1 of 3 reports verified")
    expect(card.locator(".timeline li.k-created [data-summary]")).to_have_text(
        "Routed at Level I (red); acknowledge within 15 minutes."
    )
    shoot(page, "02-live-update-grouped")

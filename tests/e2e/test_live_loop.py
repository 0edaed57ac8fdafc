"""The closed loop in a real browser: a reading becomes a red warning on the
duty officer's map, a work order in the gas company's queue, is acknowledged,
reported and closed, with every screen following live over the websocket.

Real daphne, real Celery worker, real Redis channel layer, on the test
database; the gateway posts through the HTTP API like a device would.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import requests
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.db import connections
from django.utils import timezone
from playwright.sync_api import Page, expect

from dispatch import services as dispatch_services
from dispatch.models import WorkOrder, WorkOrderStatus
from monitoring.models import Sensor
from monitoring.services import gateway_create
from organisation.models import DepartmentKind
from organisation.roles import DEPARTMENT_STAFF, DUTY_OFFICER
from tests.cities import build_gas_city
from tests.e2e.conftest import log_in
from tests.factories import (
    DepartmentFactory,
    RoutingPolicyFactory,
    SensorFactory,
    UserFactory,
)
from tests.live import wait_for
from warning.models import TransitionKind, Warning, WarningStatus, WarningTransition

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

GAS_COMPANY = "合肥燃气集团"
GOVERNMENT = "瑶海区人民政府"
COMMAND_OFFICE = "合肥市城市安全风险综合监测预警指挥部办公室"


@dataclass
class City:
    sensor: Sensor
    token: str
    duty: AbstractBaseUser
    gas_staff: AbstractBaseUser
    government_staff: AbstractBaseUser
    command_staff: AbstractBaseUser


def build_city() -> City:
    """Hefei practice for gas: III → owner, II → + district government, I → + command office."""
    gas_city = build_gas_city(chinese=True)  # Level III → the owner; above 10 / 20 / 50
    gas, methane, district = gas_city.domain, gas_city.methane, gas_city.district
    government = DepartmentFactory(
        code="yaohai-government", name=GOVERNMENT, kind=DepartmentKind.DISTRICT_GOVERNMENT, district=district
    )
    gas_company = DepartmentFactory(code="gas-company", name=GAS_COMPANY, kind=DepartmentKind.ENTERPRISE)
    command = DepartmentFactory(code="command-office", name=COMMAND_OFFICE, kind=DepartmentKind.COMMAND_OFFICE)
    RoutingPolicyFactory(domain=gas, level=2, include_district_government=True, ack_deadline_minutes=20)
    RoutingPolicyFactory(domain=gas, level=1, departments=[command], ack_deadline_minutes=15)
    gateway, token = gateway_create(code="gw-e2e", name="E2E gateway")
    sensor = SensorFactory(
        code="GAS-0064",
        name="瑶海区燃气阀井可燃气体监测点064",
        sensor_type=methane,
        district=district,
        owner_department=gas_company,
        gateway=gateway,
        address="合肥市瑶海区长江东路与站前路交口",
        location=Point(117.31, 31.87, srid=4326),
    )
    return City(
        sensor=sensor,
        token=token,
        duty=UserFactory(username="duty", first_name="值班员", roles=[DUTY_OFFICER]),
        gas_staff=UserFactory(username="gas", roles=[DEPARTMENT_STAFF], department=gas_company),
        government_staff=UserFactory(username="yaohai", roles=[DEPARTMENT_STAFF], department=government),
        command_staff=UserFactory(username="command", roles=[DEPARTMENT_STAFF], department=command),
    )


def post_reading(base_url: str, city: City, value: float, at: datetime | None = None) -> None:
    at = at or timezone.now()
    response = requests.post(
        f"{base_url}/api/v1/readings/",
        json=[{"sensor": city.sensor.code, "observed_at": at.isoformat(), "value": value}],
        headers={"Authorization": f"Bearer {city.token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


def off_the_event_loop(function: Callable, **kwargs):
    """Run a service in a plain thread: Playwright's loop runs in this one, and
    the service's push (async_to_sync into the channel layer) refuses to run
    beside an event loop."""

    def run():
        try:
            return function(**kwargs)
        finally:
            connections.close_all()  # this thread's connection would keep the test database from being dropped

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=30)


def expect_live(page: Page) -> None:
    expect(page.locator("#live-status")).to_have_attribute("data-state", "connected")


def note_first_warning_item(page: Page) -> None:
    """Record (browser clock) when the first warning item shows up in the list."""
    page.evaluate(
        """() => {
          window.__warningSeenAt = null;
          const list = document.getElementById("warning-list");
          const observer = new MutationObserver(() => {
            if (!window.__warningSeenAt && list.querySelector(".warning-item")) {
              window.__warningSeenAt = Date.now();
              observer.disconnect();
            }
          });
          observer.observe(list, {childList: true, subtree: true});
        }"""
    )


def test_a_red_warning_travels_the_whole_loop_live(daphne_server, celery_worker_process, new_context, shoot):
    url = daphne_server.url
    city = build_city()

    # The duty officer watches the one map; the socket says it is live.
    duty = new_context().new_page()
    log_in(duty, url, "duty")
    expect(duty).to_have_url(f"{url}/dashboard/")
    expect_live(duty)
    expect(duty.locator("#warning-list [data-empty]")).to_be_visible()
    expect(duty.locator("[data-counter-level='1'] [data-count]")).to_have_text("0")
    expect(duty.locator("#sensor-summary")).to_contain_text("1")
    shoot(duty, "01-dashboard-live")

    # The gas company's queue is empty and live too.
    gas = new_context().new_page()
    log_in(gas, url, "gas")
    expect(gas).to_have_url(f"{url}/work-orders/")
    expect_live(gas)
    expect(gas.locator("#wo-list .empty-state")).to_be_visible()
    shoot(gas, "02-work-orders-empty")

    # A gateway reports 60 %LEL: above the Level I threshold (50).
    note_first_warning_item(duty)
    post_reading(url, city, 60.0)

    item = duty.locator(".warning-item[data-level='1']")
    expect(item).to_be_visible()
    expect(item).to_contain_text(city.sensor.name)
    expect(item).to_contain_text("60")
    expect(duty.locator(".leaflet-marker-icon .wm.level-1.status-active")).to_be_visible()
    expect(duty.locator("[data-counter-level='1'] [data-count]")).to_have_text("1")
    warning = Warning.objects.get(sensor=city.sensor)
    written = WarningTransition.objects.get(warning=warning, kind=TransitionKind.OPENED).created_at
    seen_at = duty.evaluate("window.__warningSeenAt") / 1000
    latency = seen_at - written.timestamp()
    print(f"warning written → shown on the map page: {latency:.3f} s")
    assert latency < 2.0, f"the warning took {latency:.2f} s to reach the page"
    assert duty.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload happened
    shoot(duty, "03-red-warning-live")

    # The duty officer opens it: readings, thresholds, history, three orders.
    item.click()
    detail = duty.locator("#warning-detail")
    expect(detail).to_be_visible()
    expect(detail.locator(f"[data-detail-id='{warning.pk}']")).to_contain_text(city.sensor.name)
    expect(detail.locator(".timeline li.k-opened")).to_have_count(1)
    orders = detail.locator("[data-detail-orders] .wo-card")
    expect(orders).to_have_count(3)
    expect(detail.locator("[data-detail-orders] .wo-card[data-status='pending']")).to_have_count(3)
    shoot(duty, "04-warning-detail")

    # The gas company's order arrives without a reload; acknowledge it.
    gas_order = WorkOrder.objects.get(warning=warning, department__name=GAS_COMPANY)
    card = gas.locator(f".wo-card[data-order-id='{gas_order.pk}']")
    expect(card).to_have_attribute("data-status", "pending")
    expect(card).to_contain_text(city.sensor.name)
    expect(gas.locator("[data-stat='pending']")).to_have_text("1")
    shoot(gas, "05-order-arrived")
    card.locator("[data-action='acknowledge']").click()
    expect(card).to_have_attribute("data-status", "acknowledged")
    card.locator("[data-action='on-site']").click()
    expect(card).to_have_attribute("data-status", "on_site")

    # A report needs words.
    card.locator("[data-action='report']").click()
    expect(card.locator("[data-error-for]")).not_to_be_empty()
    card.locator("textarea[name='report']").fill("关闭上游阀门、现场通风、检测浓度已降至 5 %LEL 以下。")
    card.locator("[data-action='report']").click()
    expect(card).to_have_attribute("data-status", "reported")
    expect(card).to_contain_text("关闭上游阀门")
    expect(gas.locator("[data-stat='reported']")).to_have_text("1")
    shoot(gas, "06-order-reported")

    # The duty officer's detail follows the order live.
    duty_card = detail.locator(f".wo-card[data-order-id='{gas_order.pk}']")
    expect(duty_card).to_have_attribute("data-status", "reported")
    expect(duty_card.locator(".timeline li")).to_have_count(4)
    shoot(duty, "07-detail-follows-orders")
    duty_card.locator("[data-action='verify-accept']").click()
    expect(duty_card).to_have_attribute("data-status", "verified")

    # Closing waits while two departments' reports are not verified, and says for whom.
    detail.locator("#close-note").fill("燃气公司已处置完毕、现场恢复正常。")
    expect(detail.locator("#close-form button[type=submit]")).to_be_disabled()
    expect(detail.locator("[data-close-why]")).to_contain_text(GOVERNMENT)
    expect(detail.locator("[data-close-why]")).to_contain_text(COMMAND_OFFICE)
    assert Warning.objects.get(pk=warning.pk).status == WarningStatus.ACTIVE
    shoot(duty, "08-close-refused")

    # The other two departments report (through the services; their pages are not under test).
    for staff, department in ((city.government_staff, GOVERNMENT), (city.command_staff, COMMAND_OFFICE)):
        order = WorkOrder.objects.get(warning=warning, department__name=department)
        off_the_event_loop(dispatch_services.work_order_acknowledge, work_order_id=order.pk, user=staff)
        off_the_event_loop(dispatch_services.work_order_arrive, work_order_id=order.pk, user=staff)
        off_the_event_loop(
            dispatch_services.work_order_report, work_order_id=order.pk, user=staff, report="已到场核实。"
        )
        off_the_event_loop(dispatch_services.work_order_verify, work_order_id=order.pk, user=city.duty, accept=True)
    expect(detail.locator("[data-detail-orders] .wo-card[data-status='verified']")).to_have_count(3)

    # The gas is gone: the warning recovers (an active one would close only by explicit choice).
    post_reading(url, city, 3.0)
    expect(duty.locator(f".warning-item[data-warning-id='{warning.pk}']")).to_have_attribute("data-status", "recovered")

    # Now the warning closes, with the note kept from the first try.
    expect(detail.locator("#close-note")).to_have_value("燃气公司已处置完毕、现场恢复正常。")
    detail.locator("#close-form button[type=submit]").click()
    expect(detail.locator("[data-closed]")).to_contain_text("燃气公司已处置")
    expect(duty.locator(f".warning-item[data-warning-id='{warning.pk}']")).to_have_count(0)
    expect(duty.locator("#warning-list [data-empty]")).to_be_visible()
    expect(duty.locator("[data-counter-level='1'] [data-count]")).to_have_text("0")
    expect(duty.locator(".leaflet-marker-icon .wm")).to_have_count(0)
    closed = Warning.objects.get(pk=warning.pk)
    assert closed.status == WarningStatus.CLOSED
    assert closed.disposal_note == "燃气公司已处置完毕、现场恢复正常。"
    assert set(WorkOrder.objects.filter(warning=warning).values_list("status", flat=True)) == {WorkOrderStatus.CLOSED}
    shoot(duty, "09-warning-closed")

    # The gas company's open queue empties; the order is under "closed".
    expect(card).to_have_count(0)
    expect(gas.locator("#wo-list .empty-state")).to_be_visible()
    gas.locator("[data-view='closed']").click()
    expect(gas.locator(f".wo-card[data-order-id='{gas_order.pk}']")).to_have_attribute("data-status", "closed")
    shoot(gas, "10-order-closed")


def test_the_page_reconnects_and_catches_up_on_what_it_missed(daphne_server, celery_worker_process, new_context, shoot):
    url = daphne_server.url
    city = build_city()
    page = new_context(viewport={"width": 1920, "height": 1080}).new_page()
    log_in(page, url, "duty")
    expect_live(page)
    expect(page.locator("#warning-list [data-empty]")).to_be_visible()
    page.evaluate(
        """() => {
          window.__states = [];
          window.citysafetyLive.addEventListener("state", (e) => window.__states.push(e.detail.state));
        }"""
    )

    # A dropped socket comes back by itself.
    page.evaluate("window.citysafetyLive.socket.close()")
    page.wait_for_function("window.__states.includes('reconnecting')")
    page.wait_for_function("window.__states.lastIndexOf('connected') > window.__states.indexOf('reconnecting')")
    expect_live(page)

    # While the connection is down, a Level II warning is written and its push is lost.
    page.evaluate("window.citysafetyLive.hold()")
    indicator = page.locator("#live-status")
    expect(indicator).to_have_attribute("data-state", "reconnecting")
    post_reading(url, city, 25.0)
    warning = wait_for(
        lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the Level II warning"
    )
    wait_for(lambda: WorkOrder.objects.filter(warning=warning).count() == 2, what="its work orders")
    expect(page.locator(".warning-item")).to_have_count(0)
    shoot(page, "01-reconnecting-missed-a-warning")

    # Back online: the page resyncs from the API and shows what it missed.
    page.evaluate("window.citysafetyLive.release()")
    expect_live(page)
    item = page.locator(f".warning-item[data-warning-id='{warning.pk}']")
    expect(item).to_be_visible()
    expect(item).to_have_attribute("data-level", "2")
    expect(page.locator("[data-counter-level='2'] [data-count]")).to_have_text("1")
    expect(page.locator(".leaflet-marker-icon .wm.level-2")).to_be_visible()

    # And it is live again: an escalation arrives as a push.
    post_reading(url, city, 55.0, at=timezone.now() + timedelta(seconds=1))
    expect(item).to_have_attribute("data-level", "1")
    expect(page.locator("[data-counter-level='1'] [data-count]")).to_have_text("1")
    expect(page.locator("[data-counter-level='2'] [data-count]")).to_have_text("0")

    # Its marker on the map opens the same detail as the list.
    page.locator(f".leaflet-marker-icon .wm[data-warning-id='{warning.pk}']").click()
    expect(page.locator(f"#warning-detail [data-detail-id='{warning.pk}']")).to_be_visible()
    # One escalation in the warning's level history (each work order's own
    # timeline notes it too).
    expect(page.locator("#warning-detail .timeline:not(.wo-timeline .timeline) li.k-escalated")).to_have_count(1)
    shoot(page, "02-resynced-and-live")


def test_the_work_order_queue_catches_up_after_a_drop(daphne_server, celery_worker_process, new_context, shoot):
    url = daphne_server.url
    city = build_city()
    page = new_context().new_page()
    log_in(page, url, "gas")
    expect_live(page)

    page.evaluate("window.citysafetyLive.hold()")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "reconnecting")
    post_reading(url, city, 12.0)
    order = wait_for(
        lambda: WorkOrder.objects.filter(department__name=GAS_COMPANY).first(), timeout=15, what="the order"
    )
    expect(page.locator(".wo-card")).to_have_count(0)

    page.evaluate("window.citysafetyLive.release()")
    expect_live(page)
    card = page.locator(f".wo-card[data-order-id='{order.pk}']")
    expect(card).to_have_attribute("data-status", "pending")
    expect(card.locator("[data-deadline-for]")).to_contain_text(":")
    shoot(page, "01-queue-resynced")

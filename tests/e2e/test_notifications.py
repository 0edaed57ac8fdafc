"""Notifications, the roster and deadlines in a real browser on the real stack:
the bell rings live for the person on duty, the dashboard shows today's
roster, and an order whose deadline passes turns red and is chased."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dispatch import escalation
from dispatch.models import EscalationStep, WorkOrder
from dispatch.pushes import push_work_orders
from notifications.models import Notification
from organisation.models import Department, DutyShift
from tests.e2e.conftest import log_in
from tests.e2e.test_live_loop import GAS_COMPANY, build_city, expect_live, off_the_event_loop, post_reading
from tests.factories import UserFactory
from tests.live import wait_for
from warning.models import Warning

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def roster(city) -> None:
    gas_company = Department.objects.get(name=GAS_COMPANY)
    leader = UserFactory(username="gas-leader", first_name="王经理", department=gas_company)
    for offset in (-1, 0, 1):
        day = timezone.localdate() + timedelta(days=offset)
        DutyShift.objects.create(department=gas_company, date=day, person_on_duty=city.gas_staff, leader_on_duty=leader)
        DutyShift.objects.create(department=None, date=day, person_on_duty=city.duty, leader_on_duty=city.duty)


def test_the_bell_rings_live_and_an_overdue_order_turns_red_and_is_chased(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    roster(city)
    EscalationStep.objects.all().delete()
    EscalationStep.objects.create(target="department", minutes_overdue=0)

    gas = new_context().new_page()
    log_in(gas, url, "gas")
    gas.goto(f"{url}/work-orders/")
    expect_live(gas)
    bell = gas.locator("#bell")
    expect(bell).to_have_attribute("data-unread", "0")
    expect(gas.locator("#bell-count")).to_be_hidden()

    # A Level III reading: the gas company's order, told to its person on duty, live.
    post_reading(url, city, 12.0)
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")
    order = wait_for(lambda: WorkOrder.objects.filter(warning=warning).first(), what="the work order")
    expect(bell).to_have_attribute("data-unread", "1")
    expect(gas.locator("#bell-count")).to_have_text("1")
    toast = gas.locator("#toasts .toast").filter(has_text="请在 30 分钟内签收")
    expect(toast).to_contain_text(f"收到新的三级工单 WO-{order.pk}")
    # The queue's own news of the order and the person's notification are one toast.
    expect(gas.locator("#toasts .toast").filter(has_text=f"WO-{order.pk}")).to_have_count(1)
    expect(gas.locator(f"#toasts .toast[data-subject='wo:{order.pk}']")).to_have_count(1)
    shoot(gas, "01-bell-rings-live")

    # The deadline passes (brought forward to a few seconds from now): the card turns red by itself.
    card = gas.locator(f".wo-card[data-order-id='{order.pk}']")
    expect(card).not_to_have_class(re.compile(r"\bis-overdue\b"))
    WorkOrder.objects.filter(pk=order.pk).update(ack_deadline=timezone.now() + timedelta(seconds=3))
    off_the_event_loop(push_work_orders, work_order_ids=[order.pk])
    expect(card).to_have_class(re.compile(r"\bis-overdue\b"), timeout=15_000)
    expect(card.locator("[data-overdue-badge]")).to_be_visible()

    # The sweep chases it: a timeline step and a second notification, live.
    assert off_the_event_loop(escalation.work_orders_escalate) == 1
    expect(bell).to_have_attribute("data-unread", "2")
    expect(gas.locator("#toasts .toast").filter(has_text="提醒")).to_be_visible()
    card.locator("details.wo-timeline summary").click()
    expect(card.locator(".timeline li.k-reminded")).to_contain_text("本部门值班人员")
    shoot(gas, "02-overdue-order-red-and-reminded")

    # The list: the person's own notifications; marking all read clears the bell.
    gas.goto(f"{url}/notifications/")
    expect(gas.locator(".notification-item")).to_have_count(2)
    shoot(gas, "03-notification-list")
    gas.locator("#read-all").click()
    expect(gas.locator("#bell")).to_have_attribute("data-unread", "0")
    assert not Notification.objects.filter(recipient=city.gas_staff, read_at__isnull=True).exists()
    # Nobody else of the city was told of the gas company's order.
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"gas"}


def test_the_dashboard_shows_todays_roster(daphne_server, new_context, shoot):
    url = daphne_server.url
    city = build_city()
    roster(city)

    duty = new_context().new_page()
    log_in(duty, url, "duty")
    duty.goto(f"{url}/dashboard/")
    panel = duty.locator("#roster-today")
    expect(panel).to_contain_text("今日值班")
    expect(panel.locator("[data-roster-unit='city']")).to_contain_text("值班员")
    expect(panel.locator("[data-roster-unit='gas-company']")).to_contain_text("王经理")
    shoot(duty, "01-roster-on-dashboard")

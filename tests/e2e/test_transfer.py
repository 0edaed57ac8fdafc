# ruff: noqa: RUF001 - the Chinese sentences are meant, fullwidth punctuation and all
"""A transfer (转派) in real browsers on the real stack: the duty officer's
dialog offers only departments without an order on the warning; the
receiving department is told (bell) and its card names the deadline that
runs — to acknowledge, then to be on site, counted from the transfer."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from dispatch.models import WorkOrder, WorkOrderStatus
from notifications.models import Notification, NotificationKind
from organisation.models import DepartmentKind
from organisation.roles import DEPARTMENT_STAFF
from tests.e2e.conftest import log_in
from tests.e2e.test_live_loop import COMMAND_OFFICE, GAS_COMPANY, GOVERNMENT, build_city, expect_live, post_reading
from tests.factories import DepartmentFactory, UserFactory
from tests.live import wait_for
from warning.models import Warning

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WATER_COMPANY = "合肥供水集团"


def test_the_duty_officer_transfers_an_order_and_the_receiving_department_is_told_and_chased(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    water = DepartmentFactory(code="water-company", name=WATER_COMPANY, kind=DepartmentKind.ENTERPRISE)
    water_staff = UserFactory(username="water", roles=[DEPARTMENT_STAFF], department=water)

    receiver = new_context().new_page()
    log_in(receiver, url, "water")
    receiver.goto(f"{url}/work-orders/")
    expect_live(receiver)
    expect(receiver.locator("#bell")).to_have_attribute("data-unread", "0")

    # Level II: the gas company (the sensor's owner) and the district government hold orders.
    post_reading(url, city, 25.0)
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")
    order = wait_for(
        lambda: WorkOrder.objects.filter(warning=warning, department__name=GAS_COMPANY).first(), what="the order"
    )
    wait_for(lambda: WorkOrder.objects.filter(warning=warning).count() == 2, what="both orders")

    duty = new_context().new_page()
    log_in(duty, url, "duty")
    duty.goto(f"{url}/work-orders/")
    expect_live(duty)
    card = duty.locator(f".wo-card[data-order-id='{order.pk}']")
    card.locator("[data-action='transfer-open']").click()
    choice = card.locator(f"select[data-transfer-department='{order.pk}']")
    offered = [text.strip() for text in choice.locator("option").all_inner_texts()]
    # The holders (the gas company itself, the district government) are not offered.
    assert WATER_COMPANY in offered
    assert COMMAND_OFFICE in offered
    assert GAS_COMPANY not in offered
    assert GOVERNMENT not in offered
    shoot(duty, "01-transfer-dialog-offers-only-free-departments")

    choice.select_option(label=WATER_COMPANY)
    card.locator("textarea[name='reason']").fill("泄漏点位于供水管廊内，由供水集团处置")
    card.locator("[data-action='transfer-send']").click()
    successor = wait_for(lambda: WorkOrder.objects.filter(transferred_from=order).first(), what="the new order")
    expect(duty.locator(f".wo-card[data-order-id='{successor.pk}']")).to_have_attribute(
        "data-status", WorkOrderStatus.PENDING
    )
    shoot(duty, "02-transferred")

    # The receiving department: its order live, a bell notification, the acknowledgement deadline running.
    mine = receiver.locator(f".wo-card[data-order-id='{successor.pk}']")
    expect(mine).to_have_attribute("data-status", WorkOrderStatus.PENDING)
    expect(receiver.locator("#bell")).to_have_attribute("data-unread", "1")
    expect(receiver.locator("#bell-count")).to_have_text("1")
    label = mine.locator("[data-deadline-label]")
    expect(label).to_have_attribute("data-deadline-label", "acknowledge")
    expect(label).to_contain_text("签收截止")
    shoot(receiver, "03-receiver-told-acknowledge-by")
    notification = Notification.objects.get(recipient=water_staff)
    assert notification.kind == NotificationKind.WORK_ORDER_DISPATCHED
    assert notification.data["order"] == successor.pk

    # Acknowledged: the on-site deadline runs, counted from the transfer.
    mine.locator("[data-action='acknowledge']").click()
    expect(mine).to_have_attribute("data-status", WorkOrderStatus.ACKNOWLEDGED)
    expect(label).to_have_attribute("data-deadline-label", "arrive")
    expect(label).to_contain_text("到场截止")
    successor.refresh_from_db()
    expect(label).to_contain_text(timezone.localtime(successor.arrive_deadline).strftime("%H:%M"))
    assert successor.arrive_deadline - successor.created_at == timedelta(minutes=60)
    assert successor.arrive_deadline > timezone.now()
    shoot(receiver, "04-receiver-acknowledged-on-site-by")


def test_a_report_sent_back_runs_to_a_fresh_report_deadline_and_its_department_is_told(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    gas = new_context().new_page()
    log_in(gas, url, "gas")
    expect_live(gas)

    post_reading(url, city, 12.0)
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")
    order = wait_for(lambda: WorkOrder.objects.filter(warning=warning).first(), what="the work order")
    card = gas.locator(f".wo-card[data-order-id='{order.pk}']")
    card.locator("[data-action='acknowledge']").click()
    expect(card).to_have_attribute("data-status", WorkOrderStatus.ACKNOWLEDGED)
    card.locator("[data-action='on-site']").click()
    expect(card).to_have_attribute("data-status", WorkOrderStatus.ON_SITE)
    card.locator("textarea[name='report']").fill("已关闭上游阀门。")
    card.locator("[data-action='report']").click()
    expect(card).to_have_attribute("data-status", WorkOrderStatus.REPORTED)
    label = card.locator("[data-deadline-label]")
    expect(label).to_have_text("当前无时限")
    unread = Notification.objects.filter(recipient=city.gas_staff).count()

    duty = new_context().new_page()
    log_in(duty, url, "duty")
    duty.goto(f"{url}/work-orders/")
    expect_live(duty)
    theirs = duty.locator(f".wo-card[data-order-id='{order.pk}']")
    theirs.locator("[data-action='send-back-open']").click()
    theirs.locator("textarea[name='reason']").fill("请补充关阀位置照片")
    theirs.locator("[data-action='send-back-send']").click()
    expect(theirs).to_have_attribute("data-status", WorkOrderStatus.ON_SITE)

    # The department: told (bell), and its card runs to the report deadline counted from the send-back.
    expect(card).to_have_attribute("data-status", WorkOrderStatus.ON_SITE)
    expect(gas.locator("#bell")).to_have_attribute("data-unread", str(unread + 1))
    expect(label).to_have_attribute("data-deadline-label", "report")
    expect(label).to_contain_text("反馈截止")
    order.refresh_from_db()
    expect(label).to_contain_text(timezone.localtime(order.report_deadline).strftime("%H:%M"))
    expect(card.locator("[data-status-reason]")).to_contain_text("请补充关阀位置照片")
    assert order.report_deadline > timezone.now() + timedelta(minutes=230)
    notification = Notification.objects.get(recipient=city.gas_staff, kind=NotificationKind.REPORT_SENT_BACK)
    assert notification.data["reason"] == "请补充关阀位置照片"
    shoot(gas, "01-sent-back-report-by")

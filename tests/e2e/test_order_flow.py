# ruff: noqa: RUF001 - the Chinese sentences are meant, fullwidth punctuation and all
"""A work order's whole life in real browsers on the real stack: the gas
company acknowledges, marks on site, ticks the response plan's actions,
uploads a photo (after a refused one) and reports; the duty officer sees
which actions are done, verifies and closes. And two people of one
department acting on one order at once: one wins, the other is told.
"""

import io

import pytest
from PIL import Image
from playwright.sync_api import Page, WebSocketRoute, expect

from dispatch.models import ReportPhoto, ResponsePlan, ResponsePlanAction, WorkOrder, WorkOrderStatus
from organisation.models import DepartmentKind
from organisation.roles import DEPARTMENT_STAFF
from tests.e2e.conftest import log_in
from tests.e2e.test_live_loop import build_city, expect_live, post_reading
from tests.factories import UserFactory
from tests.live import wait_for
from warning.models import Warning, WarningStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (220, 120, 40)).save(out, format="JPEG")
    return out.getvalue()


def gas_plan(city) -> None:
    plan = ResponsePlan.objects.create(domain=city.sensor.sensor_type.domain, level=3, title="燃气三级响应预案")
    for position, text in enumerate(("派人到场核查并检测周边可燃气体浓度", "关闭上游阀门并切断气源")):
        ResponsePlanAction.objects.create(
            plan=plan, department_kind=DepartmentKind.ENTERPRISE, text=text, position=position
        )


def test_a_department_handles_an_order_and_the_duty_officer_verifies_and_closes_it(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    gas_plan(city)
    gas = new_context().new_page()
    log_in(gas, url, "gas")
    expect_live(gas)

    post_reading(url, city, 12.0)  # Level III: the gas company alone
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")
    order = wait_for(lambda: WorkOrder.objects.filter(warning=warning).first(), what="the work order")
    card = gas.locator(f".wo-card[data-order-id='{order.pk}']")
    expect(card.locator("[data-checklist] li")).to_have_count(2)
    expect(card.locator("[data-checklist]")).to_contain_text("已完成 0/2 项")
    card.locator("[data-action='acknowledge']").click()
    expect(card).to_have_attribute("data-status", "acknowledged")
    card.locator("[data-action='on-site']").click()
    expect(card).to_have_attribute("data-status", "on_site")
    shoot(gas, "01-on-site-with-checklist")

    # The report: text and fields first, then a file that is no image: refused by name, the text kept.
    card.locator("textarea[name='report']").fill("关闭上游阀门，现场通风后浓度降至 2 %LEL。")
    card.locator("textarea[name='cause']").fill("阀井内接头锈蚀渗漏")
    card.locator("input[name='people_sent']").fill("4")
    card.locator("input[name='vehicles_sent']").fill("1")
    card.locator("[data-action-check]").first.check()
    photo_input = card.locator("input[data-photo-for]")
    photo_input.set_input_files(files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo at all"}])
    expect(card.locator("[data-photo-error-for]")).to_contain_text("现场.jpg 不是图片")
    expect(card.locator("textarea[name='report']")).to_have_value("关闭上游阀门，现场通风后浓度降至 2 %LEL。")
    expect(card.locator("[data-action-check]").first).to_be_checked()
    shoot(gas, "02-wrong-file-refused-text-kept")
    card.locator("input[data-photo-for]").set_input_files(
        files=[{"name": "阀井.jpg", "mimeType": "image/jpeg", "buffer": jpeg()}]
    )
    expect(card.locator("[data-photos] img")).to_have_count(1)
    expect(card.locator("[data-photo-error-for]")).to_be_empty()
    expect(card.locator("textarea[name='report']")).to_have_value("关闭上游阀门，现场通风后浓度降至 2 %LEL。")
    # The thumbnail, served through the view that checks rights: 320 pixels on its long side.
    expect(card.locator("[data-photos] img")).to_have_js_property("naturalWidth", 320)
    shoot(gas, "03-photo-uploaded")
    card.locator("[data-action='report']").click()
    expect(card).to_have_attribute("data-status", "reported")
    expect(card.locator("[data-report-facts]")).to_contain_text("阀井内接头锈蚀渗漏")
    expect(card.locator("[data-checklist] [data-action-done='true']")).to_have_count(1)
    shoot(gas, "04-reported")
    reported = WorkOrder.objects.get(pk=order.pk)
    assert (reported.status, reported.people_sent, reported.vehicles_sent) == (WorkOrderStatus.REPORTED, 4, 1)
    assert ReportPhoto.objects.filter(work_order=order).count() == 1

    # The duty officer sees which actions are done and the photo, accepts, and closes.
    post_reading(url, city, 2.0)  # the gas is gone: the warning recovers
    duty = new_context().new_page()
    log_in(duty, url, "duty")
    expect_live(duty)
    duty.locator(f".warning-item[data-warning-id='{warning.pk}']").click()
    detail = duty.locator("#warning-detail")
    duty_card = detail.locator(f".wo-card[data-order-id='{order.pk}']")
    expect(duty_card.locator("[data-checklist]")).to_contain_text("已完成 1/2 项")
    expect(duty_card.locator("[data-checklist] [data-action-done='true']")).to_contain_text("派人到场核查")
    expect(duty_card.locator("[data-checklist] [data-action-done='false']")).to_contain_text("关闭上游阀门")
    expect(duty_card.locator("[data-photos] img")).to_have_count(1)
    expect(detail.locator("#close-form button[type=submit]")).to_be_disabled()
    expect(detail.locator("[data-close-progress]")).to_contain_text("1 份反馈中已核验 0 份")
    duty_card.scroll_into_view_if_needed()
    shoot(duty, "05-duty-officer-sees-checklist-and-photo")
    duty_card.locator("[data-action='verify-accept']").click()
    expect(duty_card).to_have_attribute("data-status", "verified")
    expect(card).to_have_attribute("data-status", "verified")  # the department's page follows live
    detail.locator("#close-note").fill("燃气公司已处置完毕，现场恢复正常。")
    detail.locator("#close-form button[type=submit]").click()
    expect(detail.locator("[data-closed]")).to_contain_text("燃气公司已处置完毕")
    shoot(duty, "06-closed")
    assert Warning.objects.get(pk=warning.pk).status == WarningStatus.CLOSED
    assert WorkOrder.objects.get(pk=order.pk).status == WorkOrderStatus.CLOSED


def hold_order_pushes(page: Page) -> dict:
    """Let the page's socket through, but hold back work-order pushes while ``held`` is set:
    the page keeps showing the order as it was, as a slow network would."""
    state = {"held": True}

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(message) -> None:
            if state["held"] and "work_order.changed" in str(message):
                return
            ws.send(message)

        server.on_message(from_server)

    page.route_web_socket("**/ws/**", route)
    return state


def test_two_people_acknowledge_one_order_at_once_and_the_second_is_told_who_won(
    daphne_server, celery_worker_process, new_context, shoot
):
    url = daphne_server.url
    city = build_city()
    UserFactory(
        username="gas2", first_name="李明", roles=[DEPARTMENT_STAFF], department=city.gas_staff.membership.department
    )
    first = new_context().new_page()
    second = new_context().new_page()
    hold = hold_order_pushes(second)
    log_in(first, url, "gas")
    log_in(second, url, "gas2")
    expect_live(first)
    expect_live(second)
    hold["held"] = False

    post_reading(url, city, 12.0)
    order = wait_for(lambda: WorkOrder.objects.filter(warning__sensor=city.sensor).first(), what="the work order")
    mine = first.locator(f".wo-card[data-order-id='{order.pk}']")
    theirs = second.locator(f".wo-card[data-order-id='{order.pk}']")
    expect(mine.locator("[data-action='acknowledge']")).to_be_visible()
    expect(theirs.locator("[data-action='acknowledge']")).to_be_visible()

    # Both press 签收; the second page has not yet heard of the first press.
    hold["held"] = True
    mine.locator("[data-action='acknowledge']").click()
    expect(mine).to_have_attribute("data-status", "acknowledged")
    theirs.locator("[data-action='acknowledge']").click()

    error = theirs.locator("[data-error-for]")
    expect(error).to_contain_text("gas 已于")
    expect(error).to_contain_text("签收该工单。该工单已不能再签收。")
    # The loser's card shows the order as it now stands.
    expect(theirs).to_have_attribute("data-status", "acknowledged")
    shoot(second, "01-the-second-is-told-who-won")
    acknowledged = WorkOrder.objects.get(pk=order.pk)
    assert acknowledged.status == WorkOrderStatus.ACKNOWLEDGED
    assert [e.actor.username for e in acknowledged.events.filter(kind="acknowledged")] == ["gas"]

"""Every text a person can set, written as markup, reaches every page as text.

Each name an administrator or a user sets (districts, departments, sensors,
sensor types, domains, rules, gateways, response plans, people's names) and
each text they write (reports, return, transfer and send-back reasons,
silence reasons, notes) carries two payloads; warnings, work orders and
notifications are made from them by the real pipeline, and the duty
officer, a department's staff and the administrator open every page. A
script that runs opens a dialog: the listener fails the test. Each page
must also show the payload as text (escaped, not dropped).
"""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.gis.geos import Point
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from dispatch import services as dispatch_services
from dispatch.models import ResponsePlan, ResponsePlanAction, RoutingPolicy, VerificationMode, WorkOrder
from monitoring.services import gateway_create
from organisation.models import DepartmentKind, DutyShift, Shift
from organisation.roles import ADMINISTRATOR, DEPARTMENT_STAFF, DUTY_OFFICER
from tests.e2e.conftest import log_in
from tests.e2e.test_closing import post
from tests.e2e.test_live_loop import City, off_the_event_loop
from tests.factories import (
    DepartmentFactory,
    DistrictFactory,
    RiskDomainFactory,
    RoutingPolicyFactory,
    SensorFactory,
    SensorTypeFactory,
    ThresholdRuleFactory,
    UserFactory,
)
from tests.live import wait_for
from warning import verification
from warning.models import FalseAlarmReason, Warning, WarningStatus
from warning.silences import silence_create

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(2)>'


def marked(name: str) -> str:
    """A name with both payloads: markup in text, and a quote that would leave an attribute."""
    return f"{name}{IMG}{SVG}"


class Dialogs:
    """Every alert a page opens; a script that ran is a failure."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page: Page) -> Page:
        def record(dialog) -> None:
            self.seen.append(f"{page.url}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", record)
        return page


def settle(page: Page, dialogs: Dialogs, *, payload_shown: bool = True) -> None:
    """Wait until the page's requests (the failing <img src=x> among them) are over, then check it."""
    page.wait_for_load_state("networkidle")
    assert dialogs.seen == [], dialogs.seen
    if payload_shown:
        assert IMG in page.locator("body").inner_text(), f"{page.url} shows no payload as text"


def build_marked_city() -> tuple[City, dict]:
    gas = RiskDomainFactory(code="gas", name=marked("燃气"))
    methane = SensorTypeFactory(code="gas-methane", name=marked("可燃气体探测器"), domain=gas, unit="%LEL")
    rule = ThresholdRuleFactory(name=marked("甲烷浓度上限"), sensor_type=methane)  # above 10 / 20 / 50
    district = DistrictFactory(code="340102", name=marked("瑶海区"))
    government = DepartmentFactory(
        code="yaohai-government",
        name=marked("瑶海区人民政府"),
        kind=DepartmentKind.DISTRICT_GOVERNMENT,
        district=district,
    )
    gas_company = DepartmentFactory(code="gas-company", name=marked("合肥燃气集团"), kind=DepartmentKind.ENTERPRISE)
    command = DepartmentFactory(code="command-office", name=marked("指挥部办公室"), kind=DepartmentKind.COMMAND_OFFICE)
    rescue = DepartmentFactory(code="rescue", name=marked("燃气抢险队"), kind=DepartmentKind.ENTERPRISE)
    RoutingPolicyFactory(domain=gas, level=3, include_sensor_owner=True, ack_deadline_minutes=30)
    RoutingPolicyFactory(domain=gas, level=2, include_district_government=True, ack_deadline_minutes=20)
    RoutingPolicyFactory(domain=gas, level=1, departments=[command], ack_deadline_minutes=15)
    plan = ResponsePlan.objects.create(domain=gas, level=1, title=marked("燃气泄漏一级响应"))
    for kind in DepartmentKind.values:
        ResponsePlanAction.objects.create(plan=plan, department_kind=kind, text=marked("关闭上游阀门"))
    gateway, token = gateway_create(code="gw-e2e", name=marked("瑶海区网关"))

    def sensor(code: str, lng: float, lat: float):
        return SensorFactory(
            code=code,
            name=marked(f"监测点{code}"),
            sensor_type=methane,
            district=district,
            owner_department=gas_company,
            gateway=gateway,
            address=marked("长江东路与站前路交口"),
            location=Point(lng, lat, srid=4326),
        )

    duty = UserFactory(username="duty", first_name=marked("值班员"), roles=[DUTY_OFFICER])
    city = City(
        sensor=sensor("GAS-0064", 117.31, 31.87),
        token=token,
        duty=duty,
        gas_staff=UserFactory(
            username="gas", first_name=marked("王"), roles=[DEPARTMENT_STAFF], department=gas_company
        ),
        government_staff=UserFactory(
            username="yaohai", first_name=marked("李"), roles=[DEPARTMENT_STAFF], department=government
        ),
        command_staff=UserFactory(
            username="command", first_name=marked("张"), roles=[DEPARTMENT_STAFF], department=command
        ),
    )
    UserFactory(username="admin", first_name=marked("管理员"), roles=[ADMINISTRATOR], is_staff=True, is_superuser=True)
    DutyShift.objects.create(
        department=None, date=timezone.localdate(), shift=Shift.ALL_DAY, person_on_duty=duty, leader_on_duty=duty
    )
    return city, {
        "verified": sensor("GAS-0065", 117.25, 31.83),
        "silenced": sensor("GAS-0066", 117.20, 31.80),
        "rule": rule,
        "rescue": rescue,
        "district": district,
        "plan": plan,
        "gateway": gateway,
    }


def admin_pages(objects: list) -> list[str]:
    """Every model's change list, and the change form and history of each object the test made."""
    pages = []
    for model in admin.site._registry:
        try:
            pages.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        except NoReverseMatch:
            continue
    for obj in objects:
        pages.append(reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]))
        # The History page shows the audit trail's before and after: every stored value again.
        pages.append(reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history", args=[obj.pk]))
    return pages


def test_no_stored_text_runs_as_markup_on_any_page(daphne_server, celery_worker_process, new_context, shoot):
    url = daphne_server.url
    city, more = build_marked_city()
    dialogs = Dialogs()

    # A Level I warning with three work orders and their notifications; a
    # Level II warning held for verification; a silenced sensor.
    post(url, city, city.sensor, 60.0)
    warning = wait_for(lambda: Warning.objects.filter(sensor=city.sensor).first(), timeout=15, what="the warning")
    wait_for(lambda: WorkOrder.objects.filter(warning=warning).count() == 3, timeout=15, what="three work orders")
    RoutingPolicy.objects.filter(level__in=[2, 3]).update(verification=VerificationMode.VERIFY_FIRST)
    post(url, city, more["verified"], 25.0)
    held = wait_for(
        lambda: Warning.objects.filter(sensor=more["verified"]).first(), timeout=15, what="the held warning"
    )
    off_the_event_loop(
        silence_create,
        user=city.duty,
        reason=marked("阀门检修"),
        ends_at=timezone.now() + timedelta(hours=4),
        sensor=more["silenced"],
    )

    # Every text people write on a work order: a note, a report, a send-back, a return, a transfer.
    orders = {order.department.code: order for order in WorkOrder.objects.filter(warning=warning)}
    gas_order = orders["gas-company"]
    off_the_event_loop(
        dispatch_services.work_order_acknowledge,
        work_order_id=gas_order.pk,
        user=city.gas_staff,
        note=marked("已签收"),
    )
    off_the_event_loop(dispatch_services.work_order_arrive, work_order_id=gas_order.pk, user=city.gas_staff)
    off_the_event_loop(
        dispatch_services.work_order_report,
        work_order_id=gas_order.pk,
        user=city.gas_staff,
        report=marked("已到场"),
        cause=marked("阀门老化"),
        actions_taken=marked("更换阀门"),
        result=marked("恢复正常"),
    )
    off_the_event_loop(
        dispatch_services.work_order_verify,
        work_order_id=gas_order.pk,
        user=city.duty,
        accept=False,
        reason=marked("照片不清"),
    )
    off_the_event_loop(
        dispatch_services.work_order_return,
        work_order_id=orders["yaohai-government"].pk,
        user=city.government_staff,
        reason=marked("不属本部门"),
    )
    off_the_event_loop(
        dispatch_services.work_order_transfer,
        work_order_id=orders["command-office"].pk,
        user=city.duty,
        department_id=more["rescue"].pk,
        reason=marked("抢险队更近"),
    )
    # A second warning ruled a false alarm with a note: the closed list and its summary.
    off_the_event_loop(
        verification.warning_false_alarm,
        warning_id=held.pk,
        user=city.duty,
        reason=FalseAlarmReason.OTHER,
        note=marked("施工误触"),
    )
    assert Warning.objects.get(pk=held.pk).status == WarningStatus.CLOSED

    # The duty officer's map: the district's label, a warning's detail, a sensor's popup.
    duty = dialogs.watch(new_context().new_page())
    log_in(duty, url, "duty")
    duty.goto(f"{url}/dashboard/")
    expect(duty.locator(".district-label")).to_be_visible()
    settle(duty, dialogs, payload_shown=False)
    expect(duty.locator(".district-label")).to_contain_text(IMG)
    duty.locator(f".warning-item[data-warning-id='{warning.pk}']").click()
    detail = duty.locator(f"#warning-detail [data-detail-id='{warning.pk}']")
    expect(detail).to_contain_text(IMG)
    expect(duty.locator("#warning-detail [data-detail-orders] .wo-card")).to_have_count(4)
    expect(duty.locator("#warning-detail")).to_contain_text("照片不清")
    settle(duty, dialogs)
    shoot(duty, "01-dashboard-detail")
    # Back to the whole city (the detail flew the map to the warning), to the silenced sensor.
    duty.goto(f"{url}/dashboard/")
    duty.locator(f".maintenance-marker[data-sensor-id='{more['silenced'].pk}']").click()
    expect(duty.locator(".leaflet-popup .popup-title")).to_have_text(more["silenced"].name)
    settle(duty, dialogs)
    shoot(duty, "02-dashboard-popup")

    for path in [
        "/work-orders/",
        "/warnings/verification/",
        "/warnings/closed/",
        "/warnings/silences/",
        "/notifications/",
        "/reports/response-times/",
        f"/reports/summaries/{held.pk}/",
    ]:
        duty.goto(f"{url}{path}")
        # The verification queue is empty now (its warning was ruled a false alarm);
        # the notifications are the departments'.
        settle(duty, dialogs, payload_shown=path not in {"/warnings/verification/", "/notifications/"})
        shoot(duty, f"03-duty{path.replace('/', '-')}")

    # A department's staff: their queue and their notifications.
    gas = dialogs.watch(new_context().new_page())
    log_in(gas, url, "gas")
    for path in ["/work-orders/", "/notifications/"]:
        gas.goto(f"{url}{path}")
        settle(gas, dialogs)
        shoot(gas, f"04-gas{path.replace('/', '-')}")

    # The administrator: every change list, and the change form of what carries a payload.
    administrator = dialogs.watch(new_context().new_page())
    log_in(administrator, url, "admin")
    objects = [
        city.sensor,
        city.sensor.sensor_type,
        city.sensor.sensor_type.domain,
        city.sensor.owner_department,
        more["district"],
        more["rule"],
        more["gateway"],
        more["plan"],
        warning,
        gas_order,
        city.gas_staff,
    ]
    shown_somewhere = 0
    for path in admin_pages(objects):
        administrator.goto(f"{url}{path}")
        settle(administrator, dialogs, payload_shown=False)
        shown_somewhere += IMG in administrator.locator("body").inner_text()
    # Names and texts show in the lists and the forms' headings, as text.
    assert shown_somewhere >= len(objects), shown_somewhere
    assert dialogs.seen == []

# ruff: noqa: RUF001 - the Chinese sentences are meant, fullwidth punctuation and all
"""A work order's whole life: on site, the response plan's checklist, the
structured report, verification, return, transfer and assignment."""

import pytest
from django.utils import translation

from citysafety.errors import ConflictError, InvalidInputError, NotAllowedError, NotFoundError
from dispatch import services
from dispatch.models import ResponsePlan, ResponsePlanAction, WorkOrder, WorkOrderEventKind, WorkOrderStatus
from dispatch.timeline import event_sentence
from organisation.models import DepartmentKind
from organisation.roles import DEPARTMENT_STAFF
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans(city):
    """Gas plans: Level III for the enterprise; Level II adds one more enterprise action and the bureau's."""
    gas = city["gas_sensor"].sensor_type.domain
    level3 = ResponsePlan.objects.create(domain=gas, level=3, title="Gas III")
    ResponsePlanAction.objects.create(
        plan=level3, department_kind=DepartmentKind.ENTERPRISE, text="Check on site", position=0
    )
    ResponsePlanAction.objects.create(
        plan=level3, department_kind=DepartmentKind.ENTERPRISE, text="Close valves", position=1
    )
    ResponsePlanAction.objects.create(plan=level3, department_kind=DepartmentKind.INDUSTRY, text="Inspect buildings")
    level2 = ResponsePlan.objects.create(domain=gas, level=2, title="Gas II")
    ResponsePlanAction.objects.create(plan=level2, department_kind=DepartmentKind.ENTERPRISE, text="Evacuate 50 m")
    ResponsePlanAction.objects.create(plan=level2, department_kind=DepartmentKind.INDUSTRY, text="Inspect buildings")
    return level3, level2


def on_site(order, user):
    services.work_order_acknowledge(work_order_id=order.pk, user=user)
    services.work_order_arrive(work_order_id=order.pk, user=user)


def test_an_order_carries_its_departments_plan_actions_and_the_report_ticks_them(
    city, reach, plans, staff_a, duty_officer
):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    assert [a.text for a in order.actions.all()] == ["Check on site", "Close valves"]
    on_site(order, staff_a)
    check, _close = order.actions.all()

    services.work_order_report(
        work_order_id=order.pk,
        user=staff_a,
        report="Valve closed, no leak left.",
        cause="Corroded joint",
        actions_taken="Closed the valve",
        result="Safe",
        people_sent=4,
        vehicles_sent=1,
        done_actions=[check.pk],
    )

    order.refresh_from_db()
    assert order.status == WorkOrderStatus.REPORTED
    assert (order.report_cause, order.people_sent, order.vehicles_sent) == ("Corroded joint", 4, 1)
    assert [(a.text, a.done) for a in order.actions.all()] == [("Check on site", True), ("Close valves", False)]
    reported = order.events.get(kind=WorkOrderEventKind.REPORTED)
    assert event_sentence(reported.kind, reported.data) == "Plan actions done: 1 of 2; 0 photos."
    with translation.override("zh-hans"):
        assert event_sentence(reported.kind, reported.data) == "预案处置事项完成 1/2 项；照片 0 张。"


def test_escalation_adds_the_worse_levels_actions_once(city, reach, plans):
    warning = reach(city["gas_sensor"], 12.0)
    reach(city["gas_sensor"], 25.0)  # Level II
    gas_order = WorkOrder.objects.get(warning=warning, department__code="gas-company")
    bureau_order = WorkOrder.objects.get(warning=warning, department__code="housing-bureau")
    assert [a.text for a in gas_order.actions.all()] == ["Check on site", "Close valves", "Evacuate 50 m"]
    assert [a.text for a in bureau_order.actions.all()] == ["Inspect buildings"]
    assert not WorkOrder.objects.get(warning=warning, department__code="yaohai-government").actions.exists()


def test_reporting_needs_the_order_on_site_and_known_actions(city, reach, plans, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    with pytest.raises(ConflictError, match="Mark the work order on site before reporting"):
        services.work_order_report(work_order_id=order.pk, user=staff_a, report="Done")
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    with pytest.raises(InvalidInputError, match="not on this work order's checklist") as unknown:
        services.work_order_report(work_order_id=order.pk, user=staff_a, report="Done", done_actions=[999999])
    assert unknown.value.field == "done_actions"
    with pytest.raises(InvalidInputError) as negative:
        services.work_order_report(work_order_id=order.pk, user=staff_a, report="Done", people_sent=-1)
    assert negative.value.field == "people_sent"
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.ON_SITE


def test_marking_on_site_twice_tells_who_did_it_first(city, reach, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    with pytest.raises(ConflictError, match="Acknowledge the work order before marking it on site"):
        services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    on_site(order, staff_a)
    with pytest.raises(ConflictError, match=r"^alice marked this work order on site at \d\d:\d\d\. It cannot be"):
        services.work_order_arrive(work_order_id=order.pk, user=staff_a)


def test_the_duty_officer_sends_a_report_back_and_then_accepts_it(city, reach, staff_a, duty_officer):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    on_site(order, staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Done")

    with pytest.raises(InvalidInputError, match="Say why the report is sent back"):
        services.work_order_verify(work_order_id=order.pk, user=duty_officer, accept=False)
    with pytest.raises(NotAllowedError):
        services.work_order_verify(work_order_id=order.pk, user=staff_a, accept=True)
    services.work_order_verify(
        work_order_id=order.pk, user=duty_officer, accept=False, reason="Add photos of the valve."
    )
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.ON_SITE
    assert order.status_reason == "Add photos of the valve."
    assert order.report == "Done"  # kept, to amend
    with pytest.raises(ConflictError, match="Only a reported work order can be verified"):
        services.work_order_verify(work_order_id=order.pk, user=duty_officer, accept=True)

    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Done; photos added.")
    services.work_order_verify(work_order_id=order.pk, user=duty_officer, accept=True)
    reach(city["gas_sensor"], 1.0)
    services.warning_close_with_work_orders(warning_id=warning.pk, user=duty_officer, note="Safe.")

    order.refresh_from_db()
    assert order.status == WorkOrderStatus.CLOSED
    assert [e.kind for e in order.events.all()] == [
        "created",
        "acknowledged",
        "on_site",
        "reported",
        "sent_back",
        "reported",
        "verified",
        "closed",
    ]


def test_a_warning_closes_only_once_every_report_is_verified(city, reach, staff_a, duty_officer):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    on_site(order, staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Done")
    reach(city["gas_sensor"], 1.0)

    with pytest.raises(ConflictError, match="Verify every department's report before closing; still waiting for: Gas"):
        services.warning_close_with_work_orders(warning_id=warning.pk, user=duty_officer, note="Safe.")


def test_a_returned_order_is_transferred_and_the_old_department_keeps_it_read_only(
    city, reach, plans, staff_a, staff_b, duty_officer
):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    with pytest.raises(InvalidInputError, match="Say why the work order is returned"):
        services.work_order_return(work_order_id=order.pk, user=staff_a, reason="  ")

    services.work_order_return(work_order_id=order.pk, user=staff_a, reason="The pipe is the water company's.")
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.RETURNED
    with pytest.raises(ConflictError, match="returned this work order to the duty officer"):
        services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    with pytest.raises(NotAllowedError):
        services.work_order_transfer(
            work_order_id=order.pk, user=staff_a, department_id=staff_b.membership.department_id, reason="x"
        )

    successor = services.work_order_transfer(
        work_order_id=order.pk,
        user=duty_officer,
        department_id=staff_b.membership.department_id,
        reason="Water main, not gas.",
    )

    order.refresh_from_db()
    assert order.status == WorkOrderStatus.TRANSFERRED
    assert successor.transferred_from_id == order.pk
    assert successor.status == WorkOrderStatus.PENDING
    assert successor.department.code == "water-company"
    first = successor.events.get()
    assert first.kind == WorkOrderEventKind.TRANSFER_IN
    assert event_sentence(first.kind, first.data) == (
        "Transferred here from Gas company; acknowledge within 30 minutes."
    )
    with translation.override("zh-hans"):
        last = order.events.last()
        assert event_sentence(last.kind, last.data) == "已转派给Water company。"
    # The old department can do nothing more with it; the new one takes it on.
    with pytest.raises(ConflictError, match="transferred this work order to Water company"):
        services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    with pytest.raises(NotFoundError):
        services.work_order_acknowledge(work_order_id=successor.pk, user=staff_a)
    services.work_order_acknowledge(work_order_id=successor.pk, user=staff_b)
    # Routing again (an escalation) does not give the gas company a second order.
    reach(city["gas_sensor"], 25.0)
    assert WorkOrder.objects.filter(warning=warning, department__code="gas-company").count() == 1
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.TRANSFERRED


def test_a_transfer_to_a_department_with_an_order_for_the_warning_is_refused(city, reach, duty_officer):
    warning = reach(city["gas_sensor"], 25.0)
    gas = WorkOrder.objects.get(warning=warning, department__code="gas-company")
    bureau = city["bureau"]
    with pytest.raises(ConflictError, match="Housing bureau already has a work order for this warning"):
        services.work_order_transfer(work_order_id=gas.pk, user=duty_officer, department_id=bureau.pk, reason="x")
    with pytest.raises(InvalidInputError, match="already with Gas company") as same:
        services.work_order_transfer(
            work_order_id=gas.pk, user=duty_officer, department_id=gas.department_id, reason="x"
        )
    assert same.value.field == "department"
    with pytest.raises(InvalidInputError, match="Say why"):
        services.work_order_transfer(work_order_id=gas.pk, user=duty_officer, department_id=bureau.pk, reason="")
    gas.refresh_from_db()
    assert gas.status == WorkOrderStatus.PENDING


def test_a_returned_order_can_go_back_to_its_department_with_a_fresh_deadline(city, reach, staff_a, duty_officer):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    with pytest.raises(ConflictError, match="Only a returned work order can be dispatched again"):
        services.work_order_redispatch(work_order_id=order.pk, user=duty_officer)
    services.work_order_return(work_order_id=order.pk, user=staff_a, reason="Not sure it is ours.")

    services.work_order_redispatch(work_order_id=order.pk, user=duty_officer, note="It is yours: your pipe.")

    order.refresh_from_db()
    assert order.status == WorkOrderStatus.PENDING
    assert not order.is_overdue
    last = order.events.last()
    assert (last.kind, last.note) == ("redispatched", "It is yours: your pipe.")
    assert event_sentence(last.kind, last.data) == (
        "Dispatched to the department again; acknowledge within 30 minutes."
    )
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)


def test_an_order_is_assigned_only_to_a_person_of_its_department(city, reach, staff_a, staff_b, duty_officer):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    colleague = UserFactory(
        username="wang",
        first_name="Fang",
        last_name="Wang",
        roles=[DEPARTMENT_STAFF],
        department=staff_a.membership.department,
    )
    with pytest.raises(InvalidInputError, match="Choose a person of Gas company") as outsider:
        services.work_order_assign(work_order_id=order.pk, user=staff_a, assignee_id=staff_b.pk)
    assert outsider.value.field == "assignee"
    with pytest.raises(NotFoundError):
        services.work_order_assign(work_order_id=order.pk, user=staff_b, assignee_id=staff_b.pk)

    services.work_order_assign(work_order_id=order.pk, user=staff_a, assignee_id=colleague.pk)
    services.work_order_assign(work_order_id=order.pk, user=staff_a, assignee_id=colleague.pk)  # unchanged: no step
    services.work_order_assign(work_order_id=order.pk, user=duty_officer, assignee_id=None)

    order.refresh_from_db()
    assert order.assignee is None
    steps = [(e.kind, event_sentence(e.kind, e.data)) for e in order.events.filter(kind="assigned")]
    assert steps == [("assigned", "Assigned to Fang Wang."), ("assigned", "No longer assigned to anyone.")]

"""Routing warnings to departments, and the work order's life."""

import pytest
from django.utils import timezone, translation
from freezegun import freeze_time

from citysafety.errors import ConflictError, InvalidInputError, NotFoundError
from dispatch import services
from dispatch.models import WorkOrder, WorkOrderStatus

pytestmark = pytest.mark.django_db


def departments(warning):
    return sorted(WorkOrder.objects.filter(warning=warning).values_list("department__code", flat=True))


def test_a_level_three_warning_goes_to_the_operating_enterprise(city, reach):
    warning = reach(city["gas_sensor"], 12.0)

    assert departments(warning) == ["gas-company"]
    order = WorkOrder.objects.get(warning=warning)
    assert order.status == WorkOrderStatus.PENDING
    assert order.level == 3
    assert 29 * 60 < (order.ack_deadline - order.created_at).total_seconds() <= 30 * 60
    assert [e.kind for e in order.events.all()] == ["created"]


def test_a_level_one_warning_goes_to_every_level_at_once(city, reach):
    warning = reach(city["gas_sensor"], 80.0)

    assert departments(warning) == ["command-office", "gas-company", "housing-bureau", "yaohai-government"]
    # Everybody routed at Level I answers within Level I's deadline.
    for order in WorkOrder.objects.filter(warning=warning):
        assert (order.ack_deadline - order.created_at).total_seconds() == 15 * 60


def test_escalation_adds_the_higher_levels_orders_without_duplicates(city, reach):
    warning = reach(city["gas_sensor"], 12.0)
    first = WorkOrder.objects.get(warning=warning)

    reach(city["gas_sensor"], 25.0)
    assert departments(warning) == ["gas-company", "housing-bureau", "yaohai-government"]
    reach(city["gas_sensor"], 60.0)
    reach(city["gas_sensor"], 70.0)

    assert departments(warning) == ["command-office", "gas-company", "housing-bureau", "yaohai-government"]
    assert WorkOrder.objects.get(warning=warning, department__code="gas-company").pk == first.pk
    assert WorkOrder.objects.filter(warning=warning, department__code="command-office").get().level == 1


def test_recovery_routes_nothing_new(city, reach):
    warning = reach(city["gas_sensor"], 12.0)
    reach(city["gas_sensor"], 1.0)
    assert WorkOrder.objects.filter(warning=warning).count() == 1


def test_a_domain_without_a_policy_for_the_level_still_routes_lower_levels(city, reach):
    warning = reach(city["water_sensor"], 0.05)  # Level I drop; water has only a Level III policy
    assert departments(warning) == ["water-company"]


def test_the_loop_acknowledge_report_close(city, reach, staff_a, duty_officer):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)

    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a, note="On our way")
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Closed the valve, fixed the leak.")
    services.work_order_verify(work_order_id=order.pk, user=duty_officer, accept=True)
    reach(city["gas_sensor"], 1.0)  # back to normal: an ordinary close
    closed = services.warning_close_with_work_orders(
        warning_id=warning.pk, user=duty_officer, note="Leak repaired, area safe."
    )

    order.refresh_from_db()
    assert closed.status == "closed"
    assert closed.disposal_note == "Leak repaired, area safe."
    assert order.status == WorkOrderStatus.CLOSED
    timeline = [(e.kind, e.actor.username if e.actor else None, e.note) for e in order.events.all()]
    assert timeline == [
        ("created", None, timeline[0][2]),
        ("acknowledged", "alice", "On our way"),
        ("on_site", "alice", ""),
        ("reported", "alice", "Closed the valve, fixed the leak."),
        ("verified", "duty", ""),
        ("closed", "duty", "Leak repaired, area safe."),
    ]
    assert [t.kind for t in closed.transitions.all()][-1] == "closed"


def test_reporting_before_acknowledging_is_refused(city, reach, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    with pytest.raises(ConflictError, match="Acknowledge the work order before reporting"):
        services.work_order_report(work_order_id=order.pk, user=staff_a, report="Done")
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.PENDING


def test_acknowledging_twice_is_refused(city, reach, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    with pytest.raises(ConflictError) as again:
        services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    at = timezone.localtime(order.events.get(kind="acknowledged").created_at).strftime("%H:%M")
    assert str(again.value) == f"alice acknowledged this work order at {at}. It can no longer be acknowledged."
    with translation.override("zh-hans"), pytest.raises(ConflictError) as in_chinese:
        services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    assert str(in_chinese.value) == f"alice 已于 {at} 签收该工单。该工单已不能再签收。"
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve closed.")
    with pytest.raises(ConflictError) as reported:
        services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    assert str(reported.value).startswith("alice reported on this work order at ")
    assert order.events.filter(kind="acknowledged").count() == 1


def test_an_empty_report_is_refused(city, reach, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    with pytest.raises(InvalidInputError, match="Describe how"):
        services.work_order_report(work_order_id=order.pk, user=staff_a, report="   ")


def test_closing_before_every_order_is_reported_is_refused(city, reach, staff_a, duty_officer):
    warning = reach(city["gas_sensor"], 25.0)
    gas_order = WorkOrder.objects.get(warning=warning, department__code="gas-company")
    services.work_order_acknowledge(work_order_id=gas_order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=gas_order.pk, user=staff_a)
    services.work_order_report(work_order_id=gas_order.pk, user=staff_a, report="Fixed")

    with pytest.raises(ConflictError, match="still waiting for: ") as error:
        services.warning_close_with_work_orders(warning_id=warning.pk, user=duty_officer, note="Done")
    assert "Housing bureau" in str(error.value)
    assert "Yaohai government" in str(error.value)
    warning.refresh_from_db()
    assert warning.status != "closed"


def test_staff_of_another_department_cannot_act_on_the_order(city, reach, staff_b):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    with pytest.raises(NotFoundError):
        services.work_order_acknowledge(work_order_id=order.pk, user=staff_b)
    order.refresh_from_db()
    assert order.status == WorkOrderStatus.PENDING


def test_an_order_past_its_deadline_is_marked_overdue_once(city, reach, staff_a):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)

    with freeze_time(timezone.now() + timezone.timedelta(minutes=31)):
        assert services.work_orders_mark_overdue() == 1
        assert services.work_orders_mark_overdue() == 0
    order.refresh_from_db()
    assert order.is_overdue
    assert order.events.filter(kind="overdue").count() == 1


def test_an_acknowledged_order_is_never_overdue(city, reach, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    with freeze_time(timezone.now() + timezone.timedelta(hours=2)):
        assert services.work_orders_mark_overdue() == 0


def test_escalation_raises_the_level_of_existing_orders(city, reach, staff_a):
    warning = reach(city["gas_sensor"], 12.0)
    reach(city["gas_sensor"], 60.0)

    order = WorkOrder.objects.get(warning=warning, department__code="gas-company")
    assert order.level == 1
    assert [e.kind for e in order.events.all()] == ["created", "escalated"]
    # Still unacknowledged: Level I's 15 minutes apply, not Level III's 30.
    assert (order.ack_deadline - order.created_at).total_seconds() <= 15 * 60 + 5


def test_a_flare_up_sends_reported_orders_back_for_acknowledgement(city, reach, staff_a, duty_officer):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve closed")
    reach(city["gas_sensor"], 1.0)  # recovered

    reach(city["gas_sensor"], 13.0)  # the same incident flares up again

    order.refresh_from_db()
    assert order.status == WorkOrderStatus.PENDING
    assert not order.is_overdue
    assert [e.kind for e in order.events.all()][-1] == "reopened"
    with pytest.raises(ConflictError, match="still waiting for: Gas company"):
        services.warning_close_with_work_orders(warning_id=warning.pk, user=duty_officer, note="Done")


def test_a_recovery_leaves_reported_orders_reported(city, reach, staff_a):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve closed")

    reach(city["gas_sensor"], 1.0)

    order.refresh_from_db()
    assert order.status == WorkOrderStatus.REPORTED

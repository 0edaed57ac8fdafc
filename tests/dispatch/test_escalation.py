"""Deadlines that escalate: a reminder to the person on duty, then the leader on duty, then the city command office."""

import time
from datetime import timedelta

import pytest
from django.utils import translation

from dispatch import escalation, services
from dispatch.api.serializers import WorkOrderSerializer
from dispatch.consumers import LiveConsumer
from dispatch.models import EscalationStep, WorkOrder, WorkOrderEventKind
from dispatch.selectors import work_orders_with_details
from dispatch.timeline import event_sentence
from notifications.models import Notification, NotificationKind, WebhookDelivery, WebhookEndpoint
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def steps(db):
    """The escalation of the seeds: remind at once (again every 10 min), leader at 15, command office at 30."""
    EscalationStep.objects.all().delete()
    return [
        EscalationStep.objects.create(target="department", minutes_overdue=0, repeat_every_minutes=10),
        EscalationStep.objects.create(target="leader", minutes_overdue=15),
        EscalationStep.objects.create(target="command", minutes_overdue=30),
    ]


def told(kind=None) -> list[str]:
    rows = Notification.objects.order_by("recipient__username")
    if kind:
        rows = rows.filter(kind=kind)
    return [n.recipient.username for n in rows]


def test_routing_sets_the_deadlines_to_acknowledge_be_on_site_and_report(city, reach):
    from dispatch.models import RoutingPolicy

    RoutingPolicy.objects.filter(level=3, domain__code="gas").update(
        arrive_deadline_minutes=45, report_deadline_minutes=120
    )
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)

    assert order.ack_deadline - order.created_at == timedelta(minutes=30)
    assert order.arrive_deadline - order.created_at == timedelta(minutes=45)
    assert order.report_deadline - order.created_at == timedelta(minutes=120)
    assert order.current_deadline() == ("acknowledge", order.ack_deadline)


def test_a_new_order_is_told_to_the_departments_person_on_duty_and_its_own_system(
    city, reach_and_announce, on_duty, department_a
):
    WebhookEndpoint.objects.create(department=department_a, url="http://127.0.0.1:1/hook")
    warning = reach_and_announce(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)

    assert told(NotificationKind.WORK_ORDER_DISPATCHED) == ["alice"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.key) == ("work_order.dispatched", f"wo:{order.pk}:dispatched")
    assert delivery.payload["work_order"]["id"] == order.pk
    assert delivery.payload["warning"]["sensor"]["code"] == "GAS-0001"


def test_without_a_roster_every_member_of_the_department_is_told(city, reach_and_announce, staff_a, department_a):
    UserFactory(username="amy", department=department_a)
    reach_and_announce(city["gas_sensor"], 12.0)
    assert told(NotificationKind.WORK_ORDER_DISPATCHED) == ["alice", "amy"]


def test_readings_of_one_warning_tell_nobody_again(city, reach_and_announce, on_duty):
    reach_and_announce(city["gas_sensor"], 12.0)
    for value in (13.0, 14.0, 12.5, 15.0):
        reach_and_announce(city["gas_sensor"], value)
    assert Notification.objects.count() == 1


def test_a_level_one_warning_tells_the_city_centres_leader_on_duty_at_once_and_once(city, reach_and_announce, on_duty):
    reach_and_announce(city["gas_sensor"], 80.0)
    reach_and_announce(city["gas_sensor"], 5.0)  # recovers
    reach_and_announce(city["gas_sensor"], 90.0)  # and flares up again

    (notification,) = Notification.objects.filter(kind=NotificationKind.LEVEL_ONE_WARNING)
    assert notification.recipient.username == "chief"
    assert notification.department_id is None
    assert "Level I (red) warning at" in escalation_text(notification)


def escalation_text(notification) -> str:
    from notifications.messages import notification_text

    return notification_text(notification.kind, notification.data)


def test_a_missed_deadline_escalates_step_by_step_and_a_second_sweep_changes_nothing(city, reach, on_duty, steps):
    warning = reach(city["gas_sensor"], 12.0)
    order = WorkOrder.objects.get(warning=warning)
    Notification.objects.all().delete()
    deadline = order.ack_deadline

    assert escalation.work_orders_escalate(now=deadline - timedelta(seconds=1)) == 0
    assert escalation.work_orders_escalate(now=deadline + timedelta(minutes=1)) == 1
    assert escalation.work_orders_escalate(now=deadline + timedelta(minutes=1)) == 0
    assert told() == ["alice"]
    assert escalation.work_orders_escalate(now=deadline + timedelta(minutes=16)) == 1
    assert told(NotificationKind.ESCALATED_TO_LEADER) == ["arthur"]
    assert escalation.work_orders_escalate(now=deadline + timedelta(minutes=31)) == 1
    assert told(NotificationKind.ESCALATED_TO_COMMAND) == ["chief", "officer"]
    assert escalation.work_orders_escalate(now=deadline + timedelta(minutes=32)) == 0

    events = [e for e in order.events.all() if e.kind != WorkOrderEventKind.CREATED]
    assert [e.kind for e in events] == ["reminded", "to_leader", "to_command"]
    assert event_sentence(events[1].kind, events[1].data) == (
        "16 minutes past the deadline to acknowledge: escalated to the department's leader on duty (arthur)."
    )
    with translation.override("zh-hans"):
        assert event_sentence(events[2].kind, events[2].data) == (
            "签收已超时 31 分钟：已升级至市指挥部办公室（chief, officer）。"  # noqa: RUF001
        )
    order.refresh_from_db()
    assert order.escalation_step == 3


def test_a_sweep_that_comes_late_takes_every_step_due_in_order(city, reach, on_duty, steps):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))

    assert escalation.work_orders_escalate(now=order.ack_deadline + timedelta(hours=2)) == 3
    assert [e.kind for e in order.events.all()][-3:] == ["reminded", "to_leader", "to_command"]


def test_the_person_on_duty_is_reminded_again_at_the_configured_interval(city, reach, on_duty, steps):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    Notification.objects.all().delete()
    deadline = order.ack_deadline

    escalation.work_orders_escalate(now=deadline + timedelta(minutes=1))
    escalation.work_orders_escalate(now=deadline + timedelta(minutes=6))
    assert Notification.objects.count() == 1
    escalation.work_orders_escalate(now=deadline + timedelta(minutes=11))
    escalation.work_orders_escalate(now=deadline + timedelta(minutes=12))

    assert told(NotificationKind.DEADLINE_REMINDER) == ["alice", "alice"]
    # Reminders are notifications; the timeline keeps the one step.
    assert order.events.filter(kind=WorkOrderEventKind.REMINDED).count() == 1


def test_acknowledging_ends_the_chase_and_the_on_site_deadline_starts_its_own(city, reach, on_duty, steps, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    escalation.work_orders_escalate(now=order.ack_deadline + timedelta(minutes=16))
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    order.refresh_from_db()
    assert order.current_deadline() == ("arrive", order.arrive_deadline)

    assert escalation.work_orders_escalate(now=order.arrive_deadline - timedelta(minutes=1)) == 0
    assert escalation.work_orders_escalate(now=order.arrive_deadline + timedelta(minutes=1)) == 1
    last = order.events.last()
    assert (last.kind, last.data["stage"]) == ("reminded", "arrive")
    order.refresh_from_db()
    assert (order.escalation_deadline, order.escalation_step) == (order.arrive_deadline, 1)


def test_an_order_on_site_works_to_its_report_deadline(city, reach, staff_a, steps):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    order.refresh_from_db()

    assert order.current_deadline() == ("report", order.report_deadline)
    assert escalation.work_orders_escalate(now=order.arrive_deadline + timedelta(minutes=5)) == 0
    assert escalation.work_orders_escalate(now=order.report_deadline + timedelta(minutes=1)) == 1


def test_a_reported_order_is_not_chased(city, reach, staff_a, steps):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    services.work_order_arrive(work_order_id=order.pk, user=staff_a)
    services.work_order_report(work_order_id=order.pk, user=staff_a, report="Valve closed.")
    assert escalation.work_orders_escalate(now=order.created_at + timedelta(days=1)) == 0


def test_the_api_gives_the_deadline_the_order_works_to_now(city, reach, staff_a):
    order = WorkOrder.objects.get(warning=reach(city["gas_sensor"], 12.0))
    data = WorkOrderSerializer(work_orders_with_details().get(pk=order.pk)).data
    assert (data["due_stage"], data["due_at"]) == ("acknowledge", data["ack_deadline"])

    services.work_order_acknowledge(work_order_id=order.pk, user=staff_a)
    orders = list(work_orders_with_details().filter(pk=order.pk))
    (row,) = WorkOrderSerializer(orders, many=True).data
    assert (row["due_stage"], row["due_at"]) == ("arrive", row["arrive_deadline"])
    assert row == WorkOrderSerializer(orders[0]).data


def test_the_escalation_steps_are_edited_in_the_admin(admin_client, steps):
    response = admin_client.get("/admin/dispatch/escalationstep/")
    assert response.status_code == 200
    saved = admin_client.post(
        f"/admin/dispatch/escalationstep/{steps[1].pk}/change/",
        {"target": "leader", "minutes_overdue": "5", "repeat_every_minutes": "0"},
    )
    assert saved.status_code == 302
    steps[1].refresh_from_db()
    assert steps[1].minutes_overdue == 5


# --- The socket: a notification reaches its recipient only ------------------------------


def consumer_of(user, *, duty: bool, department_id: int | None) -> tuple[LiveConsumer, list]:
    consumer = LiveConsumer()
    consumer.user_id = user.pk
    consumer.is_duty = duty
    consumer.department_id = department_id
    consumer.rights_checked_at = time.monotonic()
    sent: list = []
    consumer.send_json = sent.append
    return consumer, sent


def test_a_pushed_notification_reaches_only_its_recipient(staff_a, staff_b, department_a, department_b):
    payload = {"id": 1, "recipient": staff_a.pk, "department": department_a.pk, "text": {}}
    alice, to_alice = consumer_of(staff_a, duty=False, department_id=department_a.pk)
    bob, to_bob = consumer_of(staff_b, duty=False, department_id=department_b.pk)

    alice.notification_created({"payload": payload})
    bob.notification_created({"payload": payload})

    assert to_alice == [{"type": "notification.created", "notification": payload}]
    assert to_bob == []


def test_a_pushed_notification_about_a_department_the_recipient_left_is_not_shown(staff_a, department_a, department_b):
    payload = {"id": 1, "recipient": staff_a.pk, "department": department_a.pk, "text": {}}
    moved, sent = consumer_of(staff_a, duty=False, department_id=department_b.pk)
    moved.notification_created({"payload": payload})
    city_matter, sent_city = consumer_of(staff_a, duty=False, department_id=department_a.pk)
    city_matter.notification_created({"payload": {**payload, "department": None}})
    assert sent == []
    assert sent_city == []

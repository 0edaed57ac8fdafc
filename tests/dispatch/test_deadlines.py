"""Every way a work order moves, and the deadlines it then works to.

One row per state change: which deadlines (to acknowledge, to be on site,
to report) are set afresh and from when, which stay, which one runs now,
who is told, and that the escalation sweep chases the running deadline
once it passes. The gas domain of the ``city`` fixture; its policies get
distinct minutes per level so that a deadline names the level it came from.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client

from dispatch import escalation, services
from dispatch.api.serializers import WorkOrderSerializer
from dispatch.models import EscalationStep, RoutingPolicy, WorkOrder, WorkOrderEvent, WorkOrderEventKind
from dispatch.selectors import work_orders_with_details
from monitoring.models import Asset, AssetKind
from notifications.messages import notification_text
from notifications.models import Notification, NotificationKind
from tests.factories import SensorFactory

pytestmark = pytest.mark.django_db

# Minutes by level: (acknowledge, be on site, report).
MINUTES = {3: (30, 45, 120), 2: (20, 25, 90)}
FIELDS = ("ack_deadline", "arrive_deadline", "report_deadline")
STAGE_FIELD = {"acknowledge": "ack_deadline", "arrive": "arrive_deadline", "report": "report_deadline"}
FRESH, KEPT = "fresh", "kept"


@pytest.fixture
def world(
    city, reach, staff_a, staff_b, duty_officer, django_capture_on_commit_callbacks, tasks_in_process, department_a
):
    for level, (ack, arrive, report) in MINUTES.items():
        RoutingPolicy.objects.filter(domain__code="gas", level=level).update(
            ack_deadline_minutes=ack, arrive_deadline_minutes=arrive, report_deadline_minutes=report
        )
    EscalationStep.objects.all().delete()
    EscalationStep.objects.create(target="department", minutes_overdue=0)

    def committed(action: Callable):
        """Run ``action`` as a request would: what its commit sets off runs too (announcements, pushes)."""
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    return {
        "city": city,
        "reach": reach,
        "staff_a": staff_a,
        "staff_b": staff_b,
        "duty": duty_officer,
        "committed": committed,
        "department_a": department_a,
    }


def age(order: WorkOrder, minutes: int) -> None:
    """Move the order's past into the past: as if it had been dispatched ``minutes`` earlier."""
    delta = timedelta(minutes=minutes)
    WorkOrder.objects.filter(pk=order.pk).update(
        **{field: F(field) - delta for field in (*FIELDS, "created_at", "acknowledged_at", "on_site_at", "reported_at")}
    )
    WorkOrderEvent.objects.filter(work_order=order).update(created_at=F("created_at") - delta)


def dispatched(w) -> WorkOrder:
    return WorkOrder.objects.get(warning=w["committed"](lambda: w["reach"](w["city"]["gas_sensor"], 12.0)))


def acknowledged(w) -> WorkOrder:
    order = dispatched(w)
    services.work_order_acknowledge(work_order_id=order.pk, user=w["staff_a"])
    return order


def on_site(w) -> WorkOrder:
    order = acknowledged(w)
    services.work_order_arrive(work_order_id=order.pk, user=w["staff_a"])
    return order


def reported(w) -> WorkOrder:
    order = on_site(w)
    services.work_order_report(work_order_id=order.pk, user=w["staff_a"], report="Valve closed.")
    return order


def returned(w) -> WorkOrder:
    order = acknowledged(w)
    services.work_order_return(work_order_id=order.pk, user=w["staff_a"], reason="Not our pipe.")
    return order


def step_of(order: WorkOrder, kind: str) -> WorkOrderEvent:
    return order.events.filter(kind=kind).latest("created_at", "id")


# --- The actions: each returns the order that now works to a deadline ---------


def act_dispatch(w, _order) -> WorkOrder:
    return dispatched(w)


def act_transfer(w, order) -> WorkOrder:
    return w["committed"](
        lambda: services.work_order_transfer(
            work_order_id=order.pk,
            user=w["duty"],
            department_id=w["staff_b"].membership.department_id,
            reason="Theirs.",
        )
    )


def act_redispatch(w, order) -> WorkOrder:
    return w["committed"](lambda: services.work_order_redispatch(work_order_id=order.pk, user=w["duty"]))


def act_send_back(w, order) -> WorkOrder:
    return w["committed"](
        lambda: services.work_order_verify(
            work_order_id=order.pk, user=w["duty"], accept=False, reason="请补充关阀位置照片"
        )
    )


def act_reopen(w, order) -> WorkOrder:
    w["committed"](lambda: w["reach"](w["city"]["gas_sensor"], 5.0))  # recovers
    w["committed"](lambda: w["reach"](w["city"]["gas_sensor"], 12.0))  # and is active again
    return order


def act_raise_incident(w, order) -> WorkOrder:
    w["committed"](lambda: w["reach"](w["member"], 25.0))  # the incident's member reaches Level II
    return order


def act_acknowledge(w, order) -> WorkOrder:
    return w["committed"](lambda: services.work_order_acknowledge(work_order_id=order.pk, user=w["staff_a"]))


def act_arrive(w, order) -> WorkOrder:
    return w["committed"](lambda: services.work_order_arrive(work_order_id=order.pk, user=w["staff_a"]))


def act_report(w, order) -> WorkOrder:
    return w["committed"](
        lambda: services.work_order_report(work_order_id=order.pk, user=w["staff_a"], report="Valve closed.")
    )


def incident_acknowledged(w) -> WorkOrder:
    """The gas sensor's warning and a second one on the same pipe segment: one incident, its order acknowledged."""
    sensor = w["city"]["gas_sensor"]
    segment = Asset.objects.create(code="pipe-7", name="Pipe segment 7", kind=AssetKind.PIPE_SEGMENT)
    sensor.asset = segment
    sensor.save(update_fields=["asset"])
    w["member"] = SensorFactory(
        sensor_type=sensor.sensor_type, district=sensor.district, owner_department=w["department_a"], asset=segment
    )
    order = acknowledged(w)
    w["committed"](lambda: w["reach"](w["member"], 12.0))
    order.warning.refresh_from_db()
    assert order.warning.incident_id is not None
    return order


@dataclass(frozen=True)
class Row:
    before: Callable | None  # brings an order to where the change starts
    aged: int  # minutes the order's past lies back
    act: Callable
    step: str  # the timeline step the change writes: "from when"
    level: int  # the level whose minutes the fresh deadlines take
    deadlines: tuple[str, str, str]  # acknowledge, on site, report: FRESH (from the step) or KEPT
    runs: str | None  # the deadline it works to now
    told: tuple[tuple[str, str], ...]  # (notification kind, person) of the people who now hold it


ROWS = {
    "dispatch": Row(
        None, 0, act_dispatch, "created", 3, (FRESH, FRESH, FRESH), "acknowledge", (("dispatched", "alice"),)
    ),
    "transfer": Row(
        acknowledged,
        180,
        act_transfer,
        "transfer_in",
        3,
        (FRESH, FRESH, FRESH),
        "acknowledge",
        (("dispatched", "bob"),),
    ),
    "return + dispatch again": Row(
        returned,
        180,
        act_redispatch,
        "redispatched",
        3,
        (FRESH, FRESH, FRESH),
        "acknowledge",
        (("redispatched", "alice"),),
    ),
    "report sent back": Row(
        reported, 180, act_send_back, "sent_back", 3, (KEPT, KEPT, FRESH), "report", (("sent_back", "alice"),)
    ),
    "warning active again (reopened)": Row(
        reported, 180, act_reopen, "reopened", 3, (FRESH, FRESH, FRESH), "acknowledge", (("redispatched", "alice"),)
    ),
    # Raised soon after dispatch: Level II's deadlines, from the raise, come before Level III's.
    "incident level raise": Row(
        incident_acknowledged, 10, act_raise_incident, "escalated", 2, (KEPT, FRESH, FRESH), "arrive", ()
    ),
    "acknowledge": Row(dispatched, 10, act_acknowledge, "acknowledged", 3, (KEPT, KEPT, KEPT), "arrive", ()),
    "on site": Row(acknowledged, 10, act_arrive, "on_site", 3, (KEPT, KEPT, KEPT), "report", ()),
    "report": Row(on_site, 10, act_report, "reported", 3, (KEPT, KEPT, KEPT), None, ()),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_each_state_change_sets_its_deadlines_tells_the_holders_and_the_sweep_chases_them(world, name):
    row = ROWS[name]
    order = None
    if row.before is not None:
        order = row.before(world)
        age(order, row.aged)
        order.refresh_from_db()
    before = {field: getattr(order, field) for field in FIELDS} if order else {}
    Notification.objects.all().delete()

    holder = row.act(world, order)

    holder.refresh_from_db()
    at = step_of(holder, row.step).created_at
    for field, expected, minutes in zip(FIELDS, row.deadlines, MINUTES[row.level], strict=True):
        wanted = at + timedelta(minutes=minutes) if expected == FRESH else before[field]
        assert getattr(holder, field) == wanted, f"{name}: {field}"
    current = holder.current_deadline()
    assert (current[0] if current else None) == row.runs
    # Everyone told: the holders, and nobody of another department (a transfer's old department included).
    told = sorted((n.kind, n.recipient.username) for n in Notification.objects.select_related("recipient"))
    assert told == sorted(row.told)
    assert all(n.department_id == holder.department_id for n in Notification.objects.all())
    for notification in Notification.objects.all():
        # Each sentence fits its data (a mismatch would fall back to the kind's bare name).
        assert notification_text(notification.kind, notification.data) != NotificationKind(notification.kind).label
    if row.runs is None:
        assert escalation.work_orders_escalate(now=at + timedelta(days=2)) == 0
        return
    due = getattr(holder, STAGE_FIELD[row.runs])
    escalation.work_orders_escalate(now=due - timedelta(minutes=1))
    assert not holder.events.filter(kind=WorkOrderEventKind.REMINDED).exists()
    escalation.work_orders_escalate(now=due + timedelta(minutes=1))
    reminder = holder.events.get(kind=WorkOrderEventKind.REMINDED)
    assert reminder.data["stage"] == row.runs
    data = WorkOrderSerializer(work_orders_with_details().get(pk=holder.pk)).data
    assert data["due_stage"] == row.runs


def test_a_raise_never_gives_more_time_than_the_order_had(world):
    order = incident_acknowledged(world)
    # 5 minutes left to be on site and 80 to report at Level III; Level II would give 25 and 90 from now.
    age(order, 40)
    order.refresh_from_db()
    before = (order.arrive_deadline, order.report_deadline)

    act_raise_incident(world, order)

    order.refresh_from_db()
    assert order.level == 2
    assert (order.arrive_deadline, order.report_deadline) == before


def test_a_transferred_order_once_acknowledged_is_chased_for_being_on_site(world):
    order = acknowledged(world)
    age(order, 180)
    successor = act_transfer(world, order)
    services.work_order_acknowledge(work_order_id=successor.pk, user=world["staff_b"])
    successor.refresh_from_db()
    assert successor.current_deadline() == ("arrive", successor.arrive_deadline)

    escalation.work_orders_escalate(now=successor.arrive_deadline + timedelta(minutes=1))

    assert successor.events.get(kind=WorkOrderEventKind.REMINDED).data["stage"] == "arrive"
    assert Notification.objects.filter(kind=NotificationKind.DEADLINE_REMINDER, recipient=world["staff_b"]).exists()


def test_the_sent_back_notification_names_the_reason_in_the_readers_language(world):
    order = reported(world)
    Notification.objects.all().delete()

    act_send_back(world, order)

    notification = Notification.objects.get(kind=NotificationKind.REPORT_SENT_BACK)
    assert notification.recipient == world["staff_a"]
    text = notification_text(notification.kind, notification.data)
    assert "请补充关阀位置照片" in text
    assert "Report again within 120 minutes" in text


def test_the_order_names_the_departments_a_transfer_cannot_go_to(world):
    warning = world["reach"](world["city"]["gas_sensor"], 25.0)  # Level II: three departments
    order = WorkOrder.objects.get(warning=warning, department=world["department_a"])
    holders = sorted(WorkOrder.objects.filter(warning=order.warning).values_list("department_id", flat=True))

    one = WorkOrderSerializer(work_orders_with_details().get(pk=order.pk)).data
    (many,) = [
        row
        for row in WorkOrderSerializer(list(work_orders_with_details().filter(pk=order.pk)), many=True).data
        if row["id"] == order.pk
    ]

    assert one["departments_with_orders"] == many["departments_with_orders"] == holders
    assert len(holders) == 3


def test_the_api_refuses_a_transfer_to_a_holder_in_the_readers_language(world):
    warning = world["reach"](world["city"]["gas_sensor"], 25.0)
    order = WorkOrder.objects.get(warning=warning, department=world["department_a"])
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(world["duty"])

    answer = client.post(
        f"/api/v1/work-orders/{order.pk}/transfer/",
        {"department": world["city"]["government"].pk, "reason": "转给区政府"},
        content_type="application/json",
    )

    assert answer.status_code == 409
    assert answer.json()["detail"] == "Yaohai government已有该预警的工单。"
    assert not WorkOrder.objects.filter(transferred_from=order).exists()

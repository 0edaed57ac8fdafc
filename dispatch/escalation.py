"""Who is told of a work order, and what happens when it misses a deadline.

Notifications go to the people on duty (organisation's roster), never to a
fixed list. Each transition is told once (the notification's key names it);
the escalation beat keeps its progress on the order's row, so a sweep that
runs twice, or a retried task, changes nothing.
"""

import logging
import operator
from datetime import datetime, timedelta
from functools import reduce

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from dispatch import pushes
from dispatch.models import (
    DEADLINE_FIELDS,
    DEADLINE_OF_STATUS,
    EscalationStep,
    EscalationTarget,
    RoutingPolicy,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderEventKind,
    WorkOrderStatus,
)
from notifications import services as notifications
from notifications.models import NotificationKind
from organisation.models import DutyShift
from organisation.selectors import department_member_ids, duty_officers, duty_shift_at, duty_shifts_at
from warning.models import Level, Warning, WarningStatus

log = logging.getLogger(__name__)

# Without a routing policy for the level.
DEFAULT_ACK_MINUTES = 30
DEFAULT_ARRIVE_MINUTES = 60
DEFAULT_REPORT_MINUTES = 240
# Orders looked at per sweep: the beat comes back for the rest.
SWEEP_BATCH = 500

EVENT_OF_TARGET = {
    EscalationTarget.DEPARTMENT_ON_DUTY: WorkOrderEventKind.REMINDED,
    EscalationTarget.DEPARTMENT_LEADER: WorkOrderEventKind.TO_LEADER,
    EscalationTarget.COMMAND_OFFICE: WorkOrderEventKind.TO_COMMAND,
}
# The steps that bring an order back to its department, and how the department is told.
NOTIFICATION_OF_RETURN = {
    WorkOrderEventKind.REDISPATCHED: NotificationKind.WORK_ORDER_REDISPATCHED,
    WorkOrderEventKind.REOPENED: NotificationKind.WORK_ORDER_REDISPATCHED,
    WorkOrderEventKind.SENT_BACK: NotificationKind.REPORT_SENT_BACK,
}
NOTIFICATION_OF_TARGET = {
    EscalationTarget.DEPARTMENT_ON_DUTY: NotificationKind.DEADLINE_REMINDER,
    EscalationTarget.DEPARTMENT_LEADER: NotificationKind.ESCALATED_TO_LEADER,
    EscalationTarget.COMMAND_OFFICE: NotificationKind.ESCALATED_TO_COMMAND,
}


# --- Who is on duty ---------------------------------------------------------


def department_on_duty(department_id: int, at: datetime) -> list[AbstractBaseUser]:
    """The department's person on duty; with no roster row, every member (nobody may be missed)."""
    shift = duty_shift_at(department_id, at)
    if shift is not None:
        return [shift.person_on_duty]
    return list(get_user_model().objects.filter(pk__in=department_member_ids(department_id), is_active=True))


def department_leader_on_duty(department_id: int, at: datetime) -> list[AbstractBaseUser]:
    """The department's leader on duty, else the deputy; nobody when the roster names neither."""
    shift = duty_shift_at(department_id, at)
    if shift is None:
        return []
    leader = shift.leader_on_duty or shift.deputy
    return [leader] if leader else []


def _city_centre_leader(shift: DutyShift | None) -> list[AbstractBaseUser]:
    """The city centre's leader on duty (or deputy); with no roster, the duty officers."""
    if shift is not None and (shift.leader_on_duty or shift.deputy):
        return [shift.leader_on_duty or shift.deputy]
    return duty_officers() if shift is None else [shift.person_on_duty]


def command_office_on_duty(at: datetime) -> list[AbstractBaseUser]:
    """The city command office: the city centre's person and leader on duty; with no roster, the duty officers."""
    shift = duty_shift_at(None, at)
    if shift is None:
        return duty_officers()
    return [user for user in (shift.person_on_duty, shift.leader_on_duty or shift.deputy) if user is not None]


# --- Announcements of routing ---------------------------------------------------


def later_minutes(policy: RoutingPolicy | None) -> dict[str, int]:
    """The minutes the policy gives to be on site and to report, by deadline field."""
    return {
        "arrive_deadline": policy.arrive_deadline_minutes if policy else DEFAULT_ARRIVE_MINUTES,
        "report_deadline": policy.report_deadline_minutes if policy else DEFAULT_REPORT_MINUTES,
    }


def later_deadlines(policy: RoutingPolicy | None, now: datetime) -> dict[str, datetime]:
    """A new order's deadlines to be on site and to report, counted from dispatch like the acknowledgement's."""
    return {field: now + timedelta(minutes=minutes) for field, minutes in later_minutes(policy).items()}


def fresh_deadlines(policy: RoutingPolicy | None, now: datetime) -> dict[str, datetime]:
    """The deadlines of an order dispatched now, or anew (transferred, dispatched again, reopened):
    to acknowledge, to be on site and to report, from its policy, all counted from ``now``."""
    ack = policy.ack_deadline_minutes if policy else DEFAULT_ACK_MINUTES
    return {"ack_deadline": now + timedelta(minutes=ack), **later_deadlines(policy, now)}


def _order_data(order: WorkOrder, warning: Warning) -> dict:
    return {
        "order": order.pk,
        "department": order.department.name,
        "level": order.level,
        "sensor": warning.sensor.name,
        # The code too, so that an e-mail's subject names the sensor exactly.
        "code": warning.sensor.code,
    }


def work_orders_announce(
    *, work_order_ids: list[int], level_one_warning_ids: list[int] = (), event_ids: list[int] = ()
) -> int:
    """Tell each new order's department (its person on duty and its own system);
    a Level I warning also reaches the city centre's leader on duty. Returns
    the notifications made.

    Runs after the routing transaction committed, for everything it routed
    (``dispatch.tasks.announce_work_orders``), set-based: the roster is read
    once for every department at this moment, the people's departments,
    roles and preferences at once, and the notifications and webhook
    deliveries written in one statement each. Each telling has its key
    (``wo:<id>:dispatched``, ``warning:<id>:level1``), so a task run again,
    or late, tells nobody twice. An order is told as it was routed (the
    level and deadline of its creation step), whatever happened to it
    since: acknowledged, escalated or stood down, it was dispatched.

    ``event_ids`` are the steps that brought an order back to its department
    (dispatched again, reopened, its report sent back): each is told to the
    department holding it, keyed by the step, so a second return is news again.
    """
    now = timezone.now()
    orders = list(
        WorkOrder.objects.filter(pk__in=work_order_ids).select_related("department", "warning__sensor").order_by("pk")
    )
    routed = dict(
        WorkOrderEvent.objects.filter(work_order_id__in=work_order_ids, kind=WorkOrderEventKind.CREATED).values_list(
            "work_order_id", "data"
        )
    )
    warnings = list(
        Warning.objects.filter(pk__in=level_one_warning_ids)
        .select_related("sensor__sensor_type__domain")
        .order_by("pk")
    )
    returns = list(
        WorkOrderEvent.objects.filter(pk__in=event_ids, kind__in=list(NOTIFICATION_OF_RETURN))
        .select_related("work_order__department", "work_order__warning__sensor")
        .order_by("pk")
    )
    if not orders and not warnings and not returns:
        return 0
    department_ids = {order.department_id for order in orders} | {step.work_order.department_id for step in returns}
    shifts = duty_shifts_at([*department_ids, *([None] if warnings else [])], now)
    members = _members_without_roster(department_ids - set(shifts))
    link = reverse("work-orders")
    tellings, events = [], []

    def tell_department(order: WorkOrder, *, kind: str, key: str, data: dict, event: str, **webhook: object) -> None:
        """The order's department: its person on duty, else its members; and its webhook."""
        shift = shifts.get(order.department_id)
        tellings.append(
            notifications.Telling(
                recipients=(shift.person_on_duty,) if shift else tuple(members.get(order.department_id, ())),
                kind=kind,
                level=order.level,
                key=key,
                data={**_order_data(order, order.warning), **data},
                link=link,
                department_id=order.department_id,
            )
        )
        payload = _webhook_payload(order, order.warning, now, **webhook)
        events.append(
            notifications.WebhookEvent(
                department_id=order.department_id, level=order.level, event=event, key=key, payload=payload
            )
        )

    for order in orders:
        created = routed.get(order.pk) or {}
        order.level = created.get("level", order.level)
        tell_department(
            order,
            kind=NotificationKind.WORK_ORDER_DISPATCHED,
            key=f"wo:{order.pk}:dispatched",
            data={"minutes": created.get("minutes", _minutes_given(order))},
            event="work_order.dispatched",
        )
    for step in returns:
        order = step.work_order
        tell_department(
            order,
            kind=NOTIFICATION_OF_RETURN[step.kind],
            key=f"wo:{order.pk}:{step.kind}:{step.pk}",
            data={"minutes": step.data.get("minutes"), "reason": step.note},
            event=f"work_order.{step.kind}",
            reason=step.note,
        )
    if warnings:
        leaders = _city_centre_leader(shifts.get(None))
        departments = _departments_of_warnings([w.pk for w in warnings])
        quoted = _level_one_readings(warnings)
        tellings += [
            notifications.Telling(
                recipients=tuple(leaders),
                kind=NotificationKind.LEVEL_ONE_WARNING,
                level=Level.I,
                # Once per warning, however often it falls back and rises again.
                key=f"warning:{warning.pk}:level1",
                data={
                    "sensor": quoted[warning.pk].sensor.name,
                    "code": quoted[warning.pk].sensor.code,
                    "domain": quoted[warning.pk].sensor.sensor_type.domain.name,
                    "value": f"{quoted[warning.pk].last_value:g} {quoted[warning.pk].sensor.sensor_type.unit}".strip(),
                    "departments": ", ".join(departments.get(warning.pk, ())),
                },
                link=reverse("dashboard"),
            )
            for warning in warnings
        ]
    with transaction.atomic():
        made = notifications.notify_many(tellings)
        notifications.webhooks_announce_many(events)
    return len(made)


def _level_one_readings(warnings: list[Warning]) -> dict[int, Warning]:
    """The warning whose reading each Level I news quotes.

    An incident's orders hang on its primary, routed at the worst level of
    its members: when a member raised the event to Level I, the news quotes
    that member's sensor and value, not the primary's milder one (one query,
    and only when an incident's primary is announced below Level I).
    """
    quoted = {warning.pk: warning for warning in warnings}
    milder = {
        warning.incident_id: warning.pk for warning in warnings if warning.incident_id and warning.level != Level.I
    }
    if not milder:
        return quoted
    members = (
        Warning.objects.filter(incident_id__in=milder, status=WarningStatus.ACTIVE, level=Level.I)
        .select_related("sensor__sensor_type__domain")
        .order_by("-opened_at", "-pk")
    )
    for member in members:
        # The earliest member at Level I wins: it is assigned last.
        quoted[milder[member.incident_id]] = member
    return quoted


def _minutes_given(order: WorkOrder) -> int:
    return int((order.ack_deadline - order.created_at).total_seconds() // 60)


def _members_without_roster(department_ids: set[int]) -> dict[int, list[AbstractBaseUser]]:
    """Every active member of each department (``department_on_duty`` with no roster row), in one query."""
    if not department_ids:
        return {}
    people: dict[int, list[AbstractBaseUser]] = {}
    for user in (
        get_user_model()
        .objects.filter(is_active=True, membership__department_id__in=department_ids)
        .annotate(member_of=F("membership__department_id"))
        .order_by("pk")
    ):
        people.setdefault(user.member_of, []).append(user)
    return people


def _departments_of_warnings(warning_ids: list[int]) -> dict[int, list[str]]:
    """The names of the departments each warning went to, by code."""
    names: dict[int, list[str]] = {}
    for warning_id, name in (
        WorkOrder.objects.filter(warning_id__in=warning_ids)
        .order_by("department__code")
        .values_list("warning_id", "department__name")
    ):
        names.setdefault(warning_id, []).append(name)
    return names


def _webhook_payload(order: WorkOrder, warning: Warning, now: datetime, **extra: object) -> dict:
    """What a department's own system receives: the order and its warning, as data."""
    sensor = warning.sensor
    return {
        "work_order": {
            "id": order.pk,
            "status": order.status,
            "level": order.level,
            "department": order.department.code,
            "created_at": order.created_at.isoformat(),
            "ack_deadline": order.ack_deadline.isoformat(),
            "arrive_deadline": order.arrive_deadline.isoformat() if order.arrive_deadline else None,
            "report_deadline": order.report_deadline.isoformat() if order.report_deadline else None,
        },
        "warning": {
            "id": warning.pk,
            "level": warning.level,
            "status": warning.status,
            "sensor": {"code": sensor.code, "name": sensor.name, "lon": sensor.location.x, "lat": sensor.location.y},
        },
        "sent_at": now.isoformat(),
        **extra,
    }


# --- Escalation of missed deadlines --------------------------------------------------


def _overdue_filter(now: datetime) -> Q:
    """The orders past the deadline their status works to (``WorkOrder.current_deadline``)."""
    return reduce(
        operator.or_,
        (Q(status=status, **{f"{DEADLINE_FIELDS[stage]}__lt": now}) for status, stage in DEADLINE_OF_STATUS.items()),
    )


def work_orders_escalate(*, now: datetime | None = None) -> int:
    """Remind and escalate the orders past a deadline, step by step (EscalationStep); the steps taken.

    Each order is handled in a transaction of its own with its row locked;
    its progress (``escalation_*``) lives on the row, so running the sweep
    again at the same moment takes no step twice.
    """
    now = now or timezone.now()
    steps = list(EscalationStep.objects.order_by("minutes_overdue", "id"))
    if not steps:
        return 0
    # "Not closed" lets the planner read the open orders' partial index
    # (wo_open_created_idx, in its order) instead of every order the city ever had.
    candidates = list(
        WorkOrder.objects.exclude(status=WorkOrderStatus.CLOSED)
        .filter(_overdue_filter(now))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    taken = 0
    for order_id in candidates:
        taken += _escalate_one(order_id, steps, now)
    return taken


def _escalate_one(order_id: int, steps: list[EscalationStep], now: datetime) -> int:
    with transaction.atomic():
        order = (
            WorkOrder.objects.select_for_update(of=("self",))
            .select_related("department", "warning__sensor")
            .filter(pk=order_id)
            .first()
        )
        current = order.current_deadline() if order else None
        if current is None or current[1] is None or current[1] >= now:
            return 0  # acted on meanwhile
        stage, deadline = current
        if order.escalation_deadline != deadline:
            # A new deadline (the next stage, or a reopened order): start again.
            order.escalation_deadline, order.escalation_step, order.escalated_at = deadline, 0, None
        minutes = int((now - deadline).total_seconds() // 60)
        due = sum(1 for step in steps if step.minutes_overdue <= minutes)
        taken = 0
        while order.escalation_step < due:
            order.escalation_step += 1
            _take_step(order, steps[order.escalation_step - 1], stage, deadline, minutes, now, repeat=None)
            taken += 1
        told = bool(taken)
        if not taken and order.escalation_step:
            step = steps[order.escalation_step - 1]
            if (
                step.repeat_every_minutes
                and order.escalated_at is not None
                and (now - order.escalated_at).total_seconds() >= step.repeat_every_minutes * 60
            ):
                _take_step(order, step, stage, deadline, minutes, now, repeat=now)
                told = True
        if told:
            order.escalated_at = now
        order.save(update_fields=["escalation_deadline", "escalation_step", "escalated_at"])
    if taken:
        transaction.on_commit(lambda: pushes.push_work_orders(work_order_ids=[order_id]))
    return taken


def _take_step(
    order: WorkOrder,
    step: EscalationStep,
    stage: str,
    deadline: datetime,
    minutes: int,
    now: datetime,
    *,
    repeat: datetime | None,
) -> None:
    """Tell the step's people; a first telling is also a timeline step and a webhook."""
    target = EscalationTarget(step.target)
    if target == EscalationTarget.DEPARTMENT_ON_DUTY:
        people, department_id = department_on_duty(order.department_id, now), order.department_id
    elif target == EscalationTarget.DEPARTMENT_LEADER:
        people, department_id = department_leader_on_duty(order.department_id, now), order.department_id
    else:
        # The city's people on duty, told as duty officers (no department filter).
        people, department_id = command_office_on_duty(now), None
    key = f"wo:{order.pk}:{stage}:{int(deadline.timestamp())}:{target}"
    if repeat is not None:
        key += f":again:{int(repeat.timestamp())}"
    data = {**_order_data(order, order.warning), "stage": stage, "minutes": minutes}
    notified = notifications.notify(
        recipients=people,
        kind=NOTIFICATION_OF_TARGET[target],
        level=order.level,
        key=key,
        data=data,
        link=reverse("work-orders"),
        department_id=department_id,
    )
    if repeat is not None:
        return
    WorkOrderEvent.objects.create(
        work_order=order,
        kind=EVENT_OF_TARGET[target],
        created_at=now,
        data={
            "stage": stage,
            "minutes": minutes,
            "people": ", ".join(sorted({n.recipient.get_username() for n in notified})) or "-",
        },
    )
    notifications.webhooks_announce(
        department_id=order.department_id,
        level=order.level,
        event="work_order.overdue",
        key=key,
        payload=_webhook_payload(order, order.warning, now, stage=stage, minutes_overdue=minutes, step=str(target)),
    )

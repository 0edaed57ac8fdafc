"""Every write of the dispatch app. A work order's status changes only here."""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citysafety import realtime
from citysafety.errors import ConflictError, InvalidInputError, NotAllowedError, NotFoundError
from dispatch import escalation, selectors
from dispatch.models import RoutingPolicy, WorkOrder, WorkOrderEvent, WorkOrderEventKind, WorkOrderStatus
from organisation.models import Department
from organisation.roles import is_duty_officer
from organisation.selectors import department_id_of
from warning import services as warning_services
from warning.models import Warning, WarningStatus

DEFAULT_ACK_DEADLINE_MINUTES = 30


def work_orders_route(*, warning: Warning) -> list[WorkOrder]:
    """Bring the warning's work orders in line with its level.

    Creates the orders due at the warning's level that do not exist yet;
    raises the level of the open ones routed at a milder level; and sends an
    order its department had already reported back to acknowledgement, since
    the warning is active again. Called inside the transaction that opened,
    escalated or reactivated the warning, with its row locked, so routing
    commits with the warning or not at all, and a retry changes nothing.
    """
    policies = list(
        RoutingPolicy.objects.filter(domain_id=warning.sensor.sensor_type.domain_id, level__gte=warning.level)
        .prefetch_related("departments")
        .order_by("level")
    )
    due: dict[int, Department] = {}
    for policy in policies:
        for department in selectors.policy_departments(policy, warning.sensor):
            due.setdefault(department.pk, department)
    own_policy = next((p for p in policies if p.level == warning.level), None)
    minutes = own_policy.ack_deadline_minutes if own_policy else DEFAULT_ACK_DEADLINE_MINUTES
    now = timezone.now()
    deadline = now + timedelta(minutes=minutes)
    later_deadlines = escalation.later_deadlines(own_policy, now)
    existing = {
        order.department_id: order
        for order in WorkOrder.objects.select_for_update()
        .filter(warning=warning)
        .exclude(status=WorkOrderStatus.CLOSED)
    }
    changed = [order.pk for order in existing.values() if _follow_warning(order, warning, now, deadline, minutes)]
    created = []
    for department_id, department in due.items():
        if department_id in existing:
            continue
        order = WorkOrder.objects.create(
            warning=warning,
            department=department,
            level=warning.level,
            created_at=now,
            ack_deadline=deadline,
            **later_deadlines,
        )
        WorkOrderEvent.objects.create(
            work_order=order,
            kind=WorkOrderEventKind.CREATED,
            created_at=now,
            data={"level": warning.level, "minutes": minutes},
        )
        created.append(order)
    escalation.announce_routed(warning=warning, created=created, minutes=minutes)
    _push_after_commit([*changed, *(order.pk for order in created)])
    return created


def _follow_warning(order: WorkOrder, warning: Warning, now, deadline, minutes: int) -> bool:
    """Update one existing open order for a worse or flared-up warning; True if it changed."""
    changed = False
    if warning.level < order.level:
        order.level = warning.level
        if order.status == WorkOrderStatus.PENDING and deadline < order.ack_deadline:
            # Not yet acknowledged: the worse level's shorter deadline applies.
            order.ack_deadline = deadline
        WorkOrderEvent.objects.create(
            work_order=order,
            kind=WorkOrderEventKind.ESCALATED,
            created_at=now,
            data={"level": warning.level},
        )
        changed = True
    if order.status == WorkOrderStatus.REPORTED and warning.status == WarningStatus.ACTIVE:
        order.status = WorkOrderStatus.PENDING
        order.ack_deadline = deadline
        order.is_overdue = False
        WorkOrderEvent.objects.create(
            work_order=order,
            kind=WorkOrderEventKind.REOPENED,
            created_at=now,
            data={"minutes": minutes},
        )
        changed = True
    if changed:
        order.save(update_fields=["level", "status", "ack_deadline", "is_overdue"])
    return changed


def work_order_acknowledge(*, work_order_id: int, user: AbstractBaseUser, note: str = "") -> WorkOrder:
    """签收: the department takes the order on."""
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user)
        if order.status != WorkOrderStatus.PENDING:
            # A sentence per state: a status label ("Acknowledged") does
            # not fit in the middle of a sentence in either language.
            raise ConflictError(
                {
                    WorkOrderStatus.ACKNOWLEDGED: _("This work order has already been acknowledged."),
                    WorkOrderStatus.REPORTED: _("This work order has already been acknowledged and reported on."),
                }.get(order.status, _("This work order is closed; it can no longer be acknowledged."))
            )
        now = timezone.now()
        _move(order, WorkOrderStatus.ACKNOWLEDGED, user, note.strip(), now, acknowledged_at=now)
        _push_after_commit([order.pk])
    return order


def work_order_report(*, work_order_id: int, user: AbstractBaseUser, report: str) -> WorkOrder:
    """处置反馈: the department reports how it handled the warning."""
    report = (report or "").strip()
    if not report:
        raise InvalidInputError(_("Describe how the warning was handled before reporting."), field="report")
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user)
        if order.status == WorkOrderStatus.PENDING:
            raise ConflictError(_("Acknowledge the work order before reporting on it."))
        if order.status != WorkOrderStatus.ACKNOWLEDGED:
            raise ConflictError(
                _("This work order has already been reported on; its report cannot change.")
                if order.status == WorkOrderStatus.REPORTED
                else _("This work order is closed; its report cannot change.")
            )
        now = timezone.now()
        _move(order, WorkOrderStatus.REPORTED, user, report, now, reported_at=now, report=report)
        _push_after_commit([order.pk])
    return order


def warning_close_with_work_orders(
    *, warning_id: int, user: AbstractBaseUser, note: str, close_active: bool = False
) -> Warning:
    """A duty officer closes the warning, and its work orders with it, once every order is reported.

    A warning whose sensor still reads in warning needs ``close_active``
    too (see ``warning_close``); its orders' closing steps say so.
    """
    if not is_duty_officer(user):
        raise NotAllowedError(_("Only duty officers may close a warning."))
    with transaction.atomic():
        warning = warning_services.warning_lock_open(warning_id=warning_id)
        orders = list(WorkOrder.objects.select_for_update().filter(warning=warning).select_related("department"))
        waiting = [order.department.name for order in orders if order.status != WorkOrderStatus.REPORTED]
        if waiting:
            raise ConflictError(
                _("Wait for every department to report before closing; still waiting for: %(names)s.")
                # Translators: joins department names in a list ("、" in Chinese).
                % {"names": _(", ").join(waiting)}
            )
        warning = warning_services.warning_close(warning_id=warning.pk, user=user, note=note, close_active=close_active)
        now = timezone.now()
        data = {"closed_while_active": True} if warning.closed_while_active else {}
        for order in orders:
            _move(order, WorkOrderStatus.CLOSED, user, warning.disposal_note, now, data=data, closed_at=now)
        _push_after_commit([order.pk for order in orders])
    return warning


def work_orders_mark_overdue(*, now=None) -> int:
    """Flag the orders whose acknowledgement deadline has passed, once each."""
    now = now or timezone.now()
    overdue_ids = list(
        WorkOrder.objects.filter(status=WorkOrderStatus.PENDING, is_overdue=False, ack_deadline__lt=now).values_list(
            "pk", flat=True
        )[:1000]
    )
    marked = []
    for order_id in overdue_ids:
        with transaction.atomic():
            # Conditional update: an acknowledgement racing with the sweep wins.
            if WorkOrder.objects.filter(pk=order_id, status=WorkOrderStatus.PENDING, is_overdue=False).update(
                is_overdue=True
            ):
                WorkOrderEvent.objects.create(work_order_id=order_id, kind=WorkOrderEventKind.OVERDUE, created_at=now)
                marked.append(order_id)
    _push_after_commit(marked)
    return len(marked)


# The timeline step that records a person's move of an order to each status.
_EVENT_OF_MOVE = {
    WorkOrderStatus.ACKNOWLEDGED: WorkOrderEventKind.ACKNOWLEDGED,
    WorkOrderStatus.REPORTED: WorkOrderEventKind.REPORTED,
    WorkOrderStatus.CLOSED: WorkOrderEventKind.CLOSED,
}


def _move(
    order: WorkOrder,
    status: WorkOrderStatus,
    actor: AbstractBaseUser,
    note: str,
    now: datetime,
    *,
    data: dict | None = None,
    **fields: object,
) -> None:
    """Move a locked order to ``status``, writing ``fields`` with it, and add the step to its timeline."""
    order.status = status
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", *fields])
    WorkOrderEvent.objects.create(
        work_order=order, kind=_EVENT_OF_MOVE[status], actor=actor, note=note, data=data or {}, created_at=now
    )


def _lock_for_department_user(work_order_id: int, user: AbstractBaseUser) -> WorkOrder:
    order = WorkOrder.objects.select_for_update().filter(pk=work_order_id).first()
    # The same answer for "absent" and "another department's": nothing leaks.
    if order is None or order.department_id != department_id_of(user):
        raise NotFoundError(_("No such work order for your department."))
    return order


def _push_after_commit(work_order_ids: list[int]) -> None:
    if work_order_ids:
        transaction.on_commit(lambda: push_work_orders(work_order_ids=work_order_ids))


def push_work_orders(*, work_order_ids: list[int]) -> None:
    """Send each order as it now stands to its department and to duty officers."""
    for payload in selectors.work_order_payloads(work_order_ids):
        groups = [realtime.DUTY_GROUP, realtime.department_group(payload["department"]["id"])]
        realtime.send(groups, "work_order.changed", payload)

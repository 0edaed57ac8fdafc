"""Every write of the dispatch app. A work order's status changes only here."""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext

from citysafety import after_commit
from citysafety.db import retry_on_deadlock
from citysafety.errors import ConflictError, InvalidInputError, NotAllowedError, NotFoundError
from dispatch import escalation, pushes, selectors
from dispatch.models import (
    DEADLINE_FIELDS,
    DEADLINE_OF_STATUS,
    FINISHED_STATUSES,
    ReportPhoto,
    ResponsePlanAction,
    RoutingPolicy,
    VerificationMode,
    WorkOrder,
    WorkOrderAction,
    WorkOrderEvent,
    WorkOrderEventKind,
    WorkOrderStatus,
)
from dispatch.photos import files_delete, photo_check
from organisation.models import Department
from organisation.roles import is_duty_officer
from organisation.selectors import department_id_of
from warning import incidents, verification
from warning import services as warning_services
from warning.models import Level, VerificationStatus, Warning, WarningStatus

log = logging.getLogger(__name__)

DEFAULT_ACK_DEADLINE_MINUTES = escalation.DEFAULT_ACK_MINUTES

# The states in which a department still works on an order.
IN_HAND = (WorkOrderStatus.PENDING, WorkOrderStatus.ACKNOWLEDGED, WorkOrderStatus.ON_SITE)
# The states from which a duty officer may transfer an order to another department.
TRANSFERABLE = (*IN_HAND, WorkOrderStatus.RETURNED)


def work_orders_route_when_due(*, warning: Warning) -> list[WorkOrder]:
    """Route an opened, escalated or reactivated warning now, or hold it for verification (研判).

    The policy of the warning's level decides: at once; in parallel (routed
    now, and queued for a verdict); or verify first (queued, routed once
    confirmed). A warning that escalates while it waits stays in the queue
    at its new level, and that level's policy applies: if it dispatches at
    once or in parallel the warning goes out now, and still waits for its
    verdict. A warning already dispatched is never held back: its
    departments follow every escalation.
    """
    policies = _policies_of(warning)
    own_policy = next((p for p in policies if p.level == warning.level), None)
    mode = own_policy.verification if own_policy else VerificationMode.AT_ONCE
    if mode != VerificationMode.AT_ONCE:
        verification.warning_hold(warning=warning)
    held = (
        mode == VerificationMode.VERIFY_FIRST
        and warning.verification == VerificationStatus.PENDING
        and not WorkOrder.objects.filter(warning=warning).exists()
    )
    return [] if held else _route(warning, policies)


def work_orders_route(*, warning: Warning) -> list[WorkOrder]:
    """Bring the warning's work orders in line with its level.

    Creates the orders due at the warning's level that do not exist yet;
    raises the level of the open ones routed at a milder level; and sends an
    order its department had already reported back to acknowledgement, since
    the warning is active again. Called inside the transaction that opened,
    escalated or reactivated the warning, with its row locked, so routing
    commits with the warning or not at all, and a retry changes nothing.
    The departments are told after the commit (``_announce_after_commit``).
    """
    return _route(warning, _policies_of(warning))


def _policies_of(warning: Warning) -> list[RoutingPolicy]:
    """The policies of the warning's domain at its level and every milder one, mildest last.

    Found through the sensor's type, so evaluation's sensor (loaded without
    its type) costs no query for it: one query, and one for the departments.
    """
    return list(
        RoutingPolicy.objects.filter(domain__sensor_types=warning.sensor.sensor_type_id, level__gte=warning.level)
        .prefetch_related("departments")
        .order_by("level")
    )


def _route(warning: Warning, policies: list[RoutingPolicy]) -> list[WorkOrder]:
    due = selectors.routed_departments(policies, warning.sensor)
    own_policy = next((p for p in policies if p.level == warning.level), None)
    minutes = own_policy.ack_deadline_minutes if own_policy else DEFAULT_ACK_DEADLINE_MINUTES
    now = timezone.now()
    deadlines = escalation.fresh_deadlines(own_policy, now)
    # A department whose order was transferred away keeps it: it is not routed a second one.
    existing = {
        order.department_id: order
        for order in WorkOrder.objects.select_for_update()
        .filter(warning=warning)
        .exclude(status=WorkOrderStatus.CLOSED)
        .select_related("department")
    }
    changed, reopened = [], []
    for order in existing.values():
        if order.status == WorkOrderStatus.TRANSFERRED:
            continue
        moved, reopening = _follow_warning(order, warning, now, deadlines, minutes)
        if moved:
            changed.append(order.pk)
        if reopening is not None:
            reopened.append(reopening)
    new = [department for department_id, department in due.items() if department_id not in existing]
    created = WorkOrder.objects.bulk_create(
        WorkOrder(
            warning=warning,
            department=department,
            level=warning.level,
            created_at=now,
            **deadlines,
        )
        for department in new
    )
    if created:
        WorkOrderEvent.objects.bulk_create(
            WorkOrderEvent(
                work_order=order,
                kind=WorkOrderEventKind.CREATED,
                created_at=now,
                data={"level": warning.level, "minutes": minutes},
            )
            for order in created
        )
        # Departments exist only through policies: the domain is theirs.
        _add_plan_actions_to_new(created, domain_id=policies[0].domain_id, level=warning.level)
    # A Level I warning is news to the city centre when routing made or raised
    # orders for it; one that only comes back at Level I (its orders in
    # hand) was told already, and a task per flip would crowd evaluation's
    # workers for nothing (the notification's key would drop it anyway).
    _announce_after_commit(
        work_order_ids=[order.pk for order in created],
        level_one_warning_ids=[warning.pk] if warning.level == Level.I and (created or changed) else [],
        event_ids=reopened,
    )
    _push_after_commit([*changed, *(order.pk for order in created)])
    return created


def _announce_after_commit(
    *, work_order_ids: list[int], level_one_warning_ids: list[int] = (), event_ids: list[int] = ()
) -> None:
    """Have the new orders' departments (and, for Level I, the city centre) told after the commit;
    ``event_ids``: the timeline steps that brought an order back to its department (dispatched
    again, reopened, report sent back), told to the department that holds it now.

    Everything one transaction routed goes to one task (a chunk of
    evaluation routes many warnings), enqueued after the warnings' pushes.
    Telling is kept out of the transaction: who is on duty, their
    preferences and the notifications are the task's work, not the
    evaluation's. A notification's key makes the telling happen once, so
    the task may run again.
    """
    items = (
        [("order", pk) for pk in work_order_ids]
        + [("level1", pk) for pk in level_one_warning_ids]
        + [("event", pk) for pk in event_ids]
    )
    after_commit.collect("dispatch.announce", items, _enqueue_announcement)


def _enqueue_announcement(items: list[tuple[str, int]]) -> None:
    from dispatch import tasks  # tasks import this module (the tasks ↔ services cycle, in pyproject.toml)

    order_ids = [pk for kind, pk in items if kind == "order"]
    warning_ids = [pk for kind, pk in items if kind == "level1"]
    event_ids = [pk for kind, pk in items if kind == "event"]
    try:
        tasks.announce_work_orders.delay(order_ids, warning_ids, event_ids)
    except Exception:
        # The broker is down: telling late beats telling nobody. The
        # commit is done; this process tells them now.
        log.warning("Could not enqueue the announcement of %d work orders; telling now", len(order_ids), exc_info=True)
        escalation.work_orders_announce(
            work_order_ids=order_ids, level_one_warning_ids=warning_ids, event_ids=event_ids
        )


def _follow_warning(
    order: WorkOrder, warning: Warning, now: datetime, deadlines: dict[str, datetime], minutes: int
) -> tuple[bool, int | None]:
    """Update one existing open order for a worse or flared-up warning.

    ``deadlines``: those of an order dispatched now at the warning's level.
    Returns whether the order changed, and the reopening step to tell its
    department of (None if it was not reopened).
    """
    changed = False
    reopened = None
    if warning.level < order.level:
        order.level = warning.level
        # The worse level's shorter deadlines apply to the steps still ahead
        # (a step already taken keeps the deadline it was measured against).
        stages = list(DEADLINE_FIELDS)
        stage = DEADLINE_OF_STATUS.get(order.status)
        for name in stages[stages.index(stage) :] if stage else []:
            field = DEADLINE_FIELDS[name]
            current = getattr(order, field)
            if current is None or deadlines[field] < current:
                setattr(order, field, deadlines[field])
        WorkOrderEvent.objects.create(
            work_order=order,
            kind=WorkOrderEventKind.ESCALATED,
            created_at=now,
            data={"level": warning.level},
        )
        # The worse level's plan asks more of the department.
        _add_plan_actions(
            order, domain_id=warning.sensor.sensor_type.domain_id, level=warning.level, kind=order.department.kind
        )
        changed = True
    if order.status in (WorkOrderStatus.REPORTED, WorkOrderStatus.VERIFIED) and warning.status == WarningStatus.ACTIVE:
        # Back to the department: every deadline starts again now.
        order.status = WorkOrderStatus.PENDING
        for field, due in deadlines.items():
            setattr(order, field, due)
        order.is_overdue = False
        reopened = WorkOrderEvent.objects.create(
            work_order=order,
            kind=WorkOrderEventKind.REOPENED,
            created_at=now,
            data={"minutes": minutes},
        ).pk
        changed = True
    if changed:
        order.save(update_fields=["level", "status", "is_overdue", *deadlines])
    return changed, reopened


def _add_plan_actions(order: WorkOrder, *, domain_id: int, level: int, kind: str) -> None:
    """Copy the plan's actions for the order's kind of department onto its checklist (once each)."""
    have = set(order.actions.values_list("text", flat=True))
    plan_actions = ResponsePlanAction.objects.filter(
        plan__domain_id=domain_id, plan__level=level, department_kind=kind
    ).order_by("position", "id")
    WorkOrderAction.objects.bulk_create(
        [
            WorkOrderAction(work_order=order, text=action.text, level=level, position=action.position)
            for action in plan_actions
            if action.text not in have
        ]
    )


def _add_plan_actions_to_new(orders: list[WorkOrder], *, domain_id: int, level: int) -> None:
    """The plan's actions on the checklists of orders just created (one query for all)."""
    kinds = {order.department.kind for order in orders}
    plan_actions = list(
        ResponsePlanAction.objects.filter(
            plan__domain_id=domain_id, plan__level=level, department_kind__in=kinds
        ).order_by("position", "id")
    )
    WorkOrderAction.objects.bulk_create(
        WorkOrderAction(work_order=order, text=action.text, level=level, position=action.position)
        for order in orders
        for action in plan_actions
        if action.department_kind == order.department.kind
    )


def _policy_at(warning: Warning, level: int) -> RoutingPolicy | None:
    """The policy of the warning's domain at ``level``: an order's own level (an incident's
    orders may stand at a worse level than the warning they hang on)."""
    return RoutingPolicy.objects.filter(domain_id=warning.sensor.sensor_type.domain_id, level=level).first()


def _ack_minutes(policy: RoutingPolicy | None) -> int:
    return policy.ack_deadline_minutes if policy else DEFAULT_ACK_DEADLINE_MINUTES


# --- Incidents: one set of work orders per event ------------------------------


def work_orders_route_incident_member(*, warning: Warning, confirmed: bool = False) -> list[WorkOrder]:
    """Route the incident of a member that opened, got worse, came back or was confirmed.

    The incident's work orders are its primary's, at the worst level of its
    active members: a member escalating past the primary raises the orders'
    level and creates those now due (once: the incident's row is locked, so
    two workers evaluating members at once queue); a member at a level
    already covered changes nothing. The primary's own changes route it as
    before, at that worst level. ``confirmed``: the warning was confirmed by
    verification, so it goes out whatever its policy's verification mode.
    """
    locked = incidents.incident_lock(warning)
    if locked is None:
        return work_orders_route(warning=warning) if confirmed else work_orders_route_when_due(warning=warning)
    incident, primary = locked
    active = incidents.incident_members_active_level(incident_id=incident.pk)
    level = primary.level if active is None else min(active, primary.level)
    if primary.pk != warning.pk:
        orders_level = (
            WorkOrder.objects.filter(warning=primary)
            .exclude(status__in=FINISHED_STATUSES)
            .order_by("level")
            .values_list("level", flat=True)
            .first()
        )
        if orders_level is not None and level >= orders_level:
            return []
        confirmed = False  # the verdict was on the member; the primary's policy decides
    # A member's worse level makes the event active, whatever the primary's own status.
    status = WarningStatus.ACTIVE if active is not None and active <= level else primary.status
    with _routed_as(primary, level=level, status=status):
        return work_orders_route(warning=primary) if confirmed else work_orders_route_when_due(warning=primary)


def work_orders_route_incident_successor(*, warning: Warning, reason: str) -> list[WorkOrder]:
    """A member closed or was ruled a false alarm (``reason``): if it was its incident's primary,
    the incident passes to its next open member, which is routed now (or held for verification,
    as its policy says) at the worst level of the incident's active members.

    Called inside the transaction that closed the warning, its row locked.
    """
    successor = incidents.incident_member_left(warning, reason=reason)
    if successor is None:
        return []
    active = incidents.incident_members_active_level(incident_id=successor.incident_id)
    level = successor.level if active is None else min(active, successor.level)
    status = WarningStatus.ACTIVE if active is not None else successor.status
    with _routed_as(successor, level=level, status=status):
        return work_orders_route_when_due(warning=successor)


@contextmanager
def _routed_as(warning: Warning, *, level: int, status: str) -> Iterator[None]:
    """Route the incident's primary as the event stands: the level and status of its worst active member.

    Routing reads the level and status from the warning it is given; the
    primary's own stay as stored (only the verification fields may be
    written meanwhile, and they are kept).
    """
    own = warning.level, warning.status
    warning.level, warning.status = level, status
    try:
        yield
    finally:
        warning.level, warning.status = own


# --- What a person is told when the order has moved on ----------------------

# Templates marked for translation, translated when used.
_STATE_SENTENCES = {
    WorkOrderStatus.ACKNOWLEDGED: (
        WorkOrderEventKind.ACKNOWLEDGED,
        gettext_noop("%(person)s acknowledged this work order at %(time)s."),
    ),
    WorkOrderStatus.ON_SITE: (
        WorkOrderEventKind.ON_SITE,
        gettext_noop("%(person)s marked this work order on site at %(time)s."),
    ),
    WorkOrderStatus.REPORTED: (
        WorkOrderEventKind.REPORTED,
        gettext_noop("%(person)s reported on this work order at %(time)s."),
    ),
    WorkOrderStatus.VERIFIED: (
        WorkOrderEventKind.VERIFIED,
        gettext_noop("%(person)s verified this work order's report at %(time)s."),
    ),
    WorkOrderStatus.RETURNED: (
        WorkOrderEventKind.RETURNED,
        gettext_noop("%(person)s returned this work order to the duty officer at %(time)s."),
    ),
    WorkOrderStatus.TRANSFERRED: (
        WorkOrderEventKind.TRANSFERRED,
        gettext_noop("%(person)s transferred this work order to %(department)s at %(time)s."),
    ),
    WorkOrderStatus.CLOSED: (WorkOrderEventKind.CLOSED, gettext_noop("%(person)s closed this work order at %(time)s.")),
}


def _state_sentence(order: WorkOrder) -> str:
    """Where the order stands and who put it there: the loser of a race learns what happened."""
    if order.status == WorkOrderStatus.PENDING:
        return _("This work order is awaiting acknowledgement.")
    kind, template = _STATE_SENTENCES[order.status]
    event = order.events.filter(kind=kind).select_related("actor").order_by("-created_at", "-id").first()
    person = (event.actor.get_full_name() or event.actor.get_username()) if event and event.actor else _("Someone")
    when = timezone.localtime(event.created_at if event else timezone.now()).strftime("%H:%M")
    return _(template) % {
        "person": person,
        "time": when,
        "department": (event.data if event else {}).get("department", ""),
    }


def _refusal(order: WorkOrder, refusal: str) -> ConflictError:
    # Translators: a work order's state, then why the action is refused (two sentences).
    return ConflictError(_("%(state)s %(refusal)s") % {"state": _state_sentence(order), "refusal": refusal})


# --- The department's steps -------------------------------------------------


def work_order_acknowledge(*, work_order_id: int, user: AbstractBaseUser, note: str = "") -> WorkOrder:
    """签收: the department takes the order on."""
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user)
        if order.status != WorkOrderStatus.PENDING:
            raise _refusal(order, _("It can no longer be acknowledged."))
        now = timezone.now()
        _move(order, WorkOrderStatus.ACKNOWLEDGED, user, note.strip(), now, acknowledged_at=now)
        _push_after_commit([order.pk])
    return order


def work_order_arrive(*, work_order_id: int, user: AbstractBaseUser, note: str = "") -> WorkOrder:
    """到场处置: the department's people are on site and handling it."""
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user)
        if order.status == WorkOrderStatus.PENDING:
            raise ConflictError(_("Acknowledge the work order before marking it on site."))
        if order.status != WorkOrderStatus.ACKNOWLEDGED:
            raise _refusal(order, _("It cannot be marked on site now."))
        now = timezone.now()
        _move(order, WorkOrderStatus.ON_SITE, user, note.strip(), now, on_site_at=now)
        _push_after_commit([order.pk])
    return order


def work_order_assign(*, work_order_id: int, user: AbstractBaseUser, assignee_id: int | None) -> WorkOrder:
    """Give the order to one person of its department (or to nobody in particular)."""
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user, duty_officer_too=True)
        if order.status not in IN_HAND:
            raise _refusal(order, _("It can no longer be assigned."))
        assignee = None
        if assignee_id is not None:
            assignee = (
                get_user_model()
                .objects.filter(pk=assignee_id, is_active=True, membership__department_id=order.department_id)
                .first()
            )
            if assignee is None:
                raise InvalidInputError(
                    _("Choose a person of %(department)s.") % {"department": order.department.name},
                    field="assignee",
                )
        if assignee == order.assignee:
            return order
        order.assignee = assignee
        order.save(update_fields=["assignee"])
        WorkOrderEvent.objects.create(
            work_order=order,
            kind=WorkOrderEventKind.ASSIGNED,
            actor=user,
            data={"person": _person_name(assignee)} if assignee else {},
            created_at=timezone.now(),
        )
        _push_after_commit([order.pk])
    return order


def work_order_photo_add(
    *, work_order_id: int, user: AbstractBaseUser, name: str, data: bytes, size: int | None = None
) -> ReportPhoto:
    """Add a photo to the report under way; checked by content, refused with the reason."""
    name = (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200] or "photo"
    # Checked before the row is locked: decoding a large photo takes a moment.
    checked = photo_check(name=name, data=data, size=size)
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user)
        if order.status not in (WorkOrderStatus.ACKNOWLEDGED, WorkOrderStatus.ON_SITE):
            raise _refusal(order, _("Photos can be added only while the work order is being handled."))
        limit = settings.WORK_ORDER_MAX_PHOTOS
        if order.photos.count() >= limit:
            raise ConflictError(
                ngettext(
                    "A report takes at most %(limit)s photo; remove it to add %(name)s.",
                    "A report takes at most %(limit)s photos; remove one to add %(name)s.",
                    limit,
                )
                % {"limit": limit, "name": name}
            )
        photo = ReportPhoto(
            work_order=order,
            original_name=name,
            content_type=checked.content_type,
            size=checked.size,
            width=checked.width,
            height=checked.height,
            taken_at=checked.taken_at,
            taken_location=checked.taken_location,
            uploaded_by=user,
        )
        photo.image.save(checked.image.name, checked.image, save=False)
        photo.thumbnail.save(checked.thumbnail.name, checked.thumbnail, save=False)
        try:
            photo.save()
        except Exception:
            # A refused row leaves no file behind.
            files_delete([photo.image.name, photo.thumbnail.name])
            raise
        _push_after_commit([order.pk])
    return photo


def work_order_photo_remove(*, work_order_id: int, photo_id: int, user: AbstractBaseUser) -> None:
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user)
        photo = order.photos.filter(pk=photo_id).first()
        if photo is None:
            raise NotFoundError(_("This work order has no such photo."))
        if order.status not in (WorkOrderStatus.ACKNOWLEDGED, WorkOrderStatus.ON_SITE):
            raise _refusal(order, _("Its photos can no longer change."))
        # Its files go after the commit (dispatch.photos.photo_files_delete).
        photo.delete()
        _push_after_commit([order.pk])


def work_order_report(
    *,
    work_order_id: int,
    user: AbstractBaseUser,
    report: str,
    cause: str = "",
    actions_taken: str = "",
    result: str = "",
    people_sent: int | None = None,
    vehicles_sent: int | None = None,
    done_actions: Iterable[int] = (),
) -> WorkOrder:
    """处置反馈: the department reports how it handled the warning, ticking the plan's actions done."""
    report = (report or "").strip()
    if not report:
        raise InvalidInputError(_("Describe how the warning was handled before reporting."), field="report")
    for field, count in (("people_sent", people_sent), ("vehicles_sent", vehicles_sent)):
        if count is not None and count < 0:
            raise InvalidInputError(_("A count cannot be negative."), field=field)
    done_ids = set(done_actions)
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user)
        if order.status == WorkOrderStatus.PENDING:
            raise ConflictError(_("Acknowledge the work order before reporting on it."))
        if order.status == WorkOrderStatus.ACKNOWLEDGED:
            raise ConflictError(_("Mark the work order on site before reporting on it."))
        if order.status != WorkOrderStatus.ON_SITE:
            raise _refusal(order, _("Its report cannot change now."))
        checklist = {action.pk: action for action in order.actions.all()}
        unknown = sorted(done_ids - set(checklist))
        if unknown:
            raise InvalidInputError(
                _("The actions %(ids)s are not on this work order's checklist.")
                % {"ids": ", ".join(str(i) for i in unknown)},
                field="done_actions",
            )
        now = timezone.now()
        for action in checklist.values():
            done = action.pk in done_ids
            if action.done != done:
                action.done, action.done_at = done, (now if done else None)
                action.save(update_fields=["done", "done_at"])
        _move(
            order,
            WorkOrderStatus.REPORTED,
            user,
            report,
            now,
            data={
                "actions_done": len(done_ids),
                "actions_total": len(checklist),
                "photos": order.photos.count(),
            },
            reported_at=now,
            report=report,
            report_cause=(cause or "").strip(),
            report_actions=(actions_taken or "").strip(),
            report_result=(result or "").strip(),
            people_sent=people_sent,
            vehicles_sent=vehicles_sent,
            status_reason="",
        )
        _push_after_commit([order.pk])
    return order


def work_order_return(*, work_order_id: int, user: AbstractBaseUser, reason: str) -> WorkOrder:
    """退回: the department says the order is not theirs; the duty officer re-routes it."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInputError(_("Say why the work order is returned."), field="reason")
    with transaction.atomic():
        order = _lock_for_department_user(work_order_id, user)
        if order.status not in IN_HAND:
            raise _refusal(order, _("It can no longer be returned."))
        _move(order, WorkOrderStatus.RETURNED, user, reason, timezone.now(), status_reason=reason)
        _push_after_commit([order.pk])
    return order


# --- The duty officer's steps -----------------------------------------------


def work_order_transfer(*, work_order_id: int, user: AbstractBaseUser, department_id: int, reason: str) -> WorkOrder:
    """转派: hand the order to another department. Returns the new department's order.

    The old order stays with its department, read-only, and points at the new one.
    """
    _require_duty_officer(user, _("Only duty officers may transfer a work order."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInputError(_("Say why the work order is transferred."), field="reason")
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        raise InvalidInputError(_("Choose a department to transfer the work order to."), field="department")
    with transaction.atomic():
        order = _lock(work_order_id)
        if order.status not in TRANSFERABLE:
            raise _refusal(order, _("It can no longer be transferred."))
        if department.pk == order.department_id:
            raise InvalidInputError(
                _("The work order is already with %(department)s; choose another department.")
                % {"department": department.name},
                field="department",
            )
        if WorkOrder.objects.filter(warning_id=order.warning_id, department=department).exists():
            raise ConflictError(
                _("%(department)s already has a work order for this warning.") % {"department": department.name}
            )
        now = timezone.now()
        warning = Warning.objects.select_related("sensor__sensor_type").get(pk=order.warning_id)
        policy = _policy_at(warning, order.level)
        minutes = _ack_minutes(policy)
        # A new order for its new department: every deadline counts from the transfer.
        successor = WorkOrder.objects.create(
            warning=warning,
            department=department,
            level=order.level,
            created_at=now,
            transferred_from=order,
            **escalation.fresh_deadlines(policy, now),
        )
        WorkOrderEvent.objects.create(
            work_order=successor,
            kind=WorkOrderEventKind.TRANSFER_IN,
            actor=user,
            note=reason,
            data={"department": order.department.name, "minutes": minutes},
            created_at=now,
        )
        _add_plan_actions(
            successor, domain_id=warning.sensor.sensor_type.domain_id, level=order.level, kind=department.kind
        )
        _move(
            order,
            WorkOrderStatus.TRANSFERRED,
            user,
            reason,
            now,
            data={"department": department.name},
            status_reason=reason,
        )
        # Every order of the warning: their transfer dialogs no longer offer the receiving department.
        _push_after_commit(list(WorkOrder.objects.filter(warning_id=order.warning_id).values_list("pk", flat=True)))
        # The receiving department is told as of any order dispatched to it.
        _announce_after_commit(work_order_ids=[successor.pk])
    return successor


def work_order_redispatch(*, work_order_id: int, user: AbstractBaseUser, note: str = "") -> WorkOrder:
    """A returned order goes back to its own department after all, with a fresh deadline."""
    _require_duty_officer(user, _("Only duty officers may dispatch a work order again."))
    with transaction.atomic():
        order = _lock(work_order_id)
        if order.status != WorkOrderStatus.RETURNED:
            raise _refusal(order, _("Only a returned work order can be dispatched again."))
        now = timezone.now()
        warning = Warning.objects.select_related("sensor__sensor_type").get(pk=order.warning_id)
        policy = _policy_at(warning, order.level)
        minutes = _ack_minutes(policy)
        # Dispatched anew: every deadline counts from now, not from the first dispatch.
        event = _move(
            order,
            WorkOrderStatus.PENDING,
            user,
            note.strip(),
            now,
            data={"minutes": minutes},
            is_overdue=False,
            acknowledged_at=None,
            on_site_at=None,
            **escalation.fresh_deadlines(policy, now),
        )
        _push_after_commit([order.pk])
        _announce_after_commit(work_order_ids=[], event_ids=[event.pk])
    return order


def work_order_verify(*, work_order_id: int, user: AbstractBaseUser, accept: bool, reason: str = "") -> WorkOrder:
    """核验: the duty officer accepts a report, or sends it back to the department with the reason."""
    _require_duty_officer(user, _("Only duty officers may verify a report."))
    reason = (reason or "").strip()
    if not accept and not reason:
        raise InvalidInputError(_("Say why the report is sent back."), field="reason")
    with transaction.atomic():
        order = _lock(work_order_id)
        if order.status != WorkOrderStatus.REPORTED:
            raise _refusal(order, _("Only a reported work order can be verified."))
        now = timezone.now()
        if accept:
            _move(order, WorkOrderStatus.VERIFIED, user, reason, now, verified_at=now)
        else:
            # Back on site: the department reports again, its text still there to amend, by a
            # fresh report deadline counted from now (the first one has likely passed).
            warning = Warning.objects.select_related("sensor__sensor_type").get(pk=order.warning_id)
            minutes = escalation.later_minutes(_policy_at(warning, order.level))["report_deadline"]
            event = _move(
                order,
                WorkOrderStatus.ON_SITE,
                user,
                reason,
                now,
                data={"minutes": minutes},
                event=WorkOrderEventKind.SENT_BACK,
                status_reason=reason,
                report_deadline=now + timedelta(minutes=minutes),
            )
            _announce_after_commit(work_order_ids=[], event_ids=[event.pk])
        _push_after_commit([order.pk])
    return order


@retry_on_deadlock
def warning_close_with_work_orders(
    *, warning_id: int, user: AbstractBaseUser, note: str, close_active: bool = False
) -> Warning:
    """A duty officer closes the warning, and its work orders with it, once every report is verified.

    Orders transferred away are done: their successors stand for them. A
    warning whose sensor still reads in warning needs ``close_active`` too
    (see ``warning_close``); its orders' closing steps say so.
    """
    _require_duty_officer(user, _("Only duty officers may close a warning."))
    with transaction.atomic():
        warning = warning_services.warning_lock_open(warning_id=warning_id)
        orders = list(
            WorkOrder.objects.select_for_update()
            .filter(warning=warning)
            .exclude(status=WorkOrderStatus.TRANSFERRED)
            .select_related("department")
        )
        waiting = [order.department.name for order in orders if order.status != WorkOrderStatus.VERIFIED]
        if waiting:
            raise ConflictError(
                _("Verify every department's report before closing; still waiting for: %(names)s.")
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


def work_orders_stand_down(*, warning: Warning, user: AbstractBaseUser | None) -> list[int]:
    """Close the open orders of a warning found to be a false alarm (dispatched in parallel with verification).

    Called inside the verdict's transaction, the warning locked.
    """
    orders = list(WorkOrder.objects.select_for_update().filter(warning=warning).exclude(status__in=FINISHED_STATUSES))
    now = timezone.now()
    data = {"false_alarm": warning.false_alarm_reason}
    for order in orders:
        _move(order, WorkOrderStatus.CLOSED, user, warning.disposal_note, now, data=data, closed_at=now)
    ids = [order.pk for order in orders]
    _push_after_commit(ids)
    return ids


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
    WorkOrderStatus.PENDING: WorkOrderEventKind.REDISPATCHED,
    WorkOrderStatus.ACKNOWLEDGED: WorkOrderEventKind.ACKNOWLEDGED,
    WorkOrderStatus.ON_SITE: WorkOrderEventKind.ON_SITE,
    WorkOrderStatus.REPORTED: WorkOrderEventKind.REPORTED,
    WorkOrderStatus.VERIFIED: WorkOrderEventKind.VERIFIED,
    WorkOrderStatus.RETURNED: WorkOrderEventKind.RETURNED,
    WorkOrderStatus.TRANSFERRED: WorkOrderEventKind.TRANSFERRED,
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
    event: WorkOrderEventKind | None = None,
    **fields: object,
) -> WorkOrderEvent:
    """Move a locked order to ``status``, writing ``fields`` with it, and add the step to its timeline."""
    order.status = status
    for name, value in fields.items():
        setattr(order, name, value)
    order.save(update_fields=["status", *fields])
    return WorkOrderEvent.objects.create(
        work_order=order,
        kind=event or _EVENT_OF_MOVE[status],
        actor=actor,
        note=note,
        data=data or {},
        created_at=now,
    )


def _lock_for_department_user(
    work_order_id: int, user: AbstractBaseUser, *, duty_officer_too: bool = False
) -> WorkOrder:
    order = (
        WorkOrder.objects.select_for_update(of=("self",)).select_related("department").filter(pk=work_order_id).first()
    )
    if order is not None and duty_officer_too and is_duty_officer(user):
        return order
    # The same answer for "absent" and "another department's": nothing leaks.
    if order is None or order.department_id != department_id_of(user):
        raise NotFoundError(_("No such work order for your department."))
    return order


def _lock(work_order_id: int) -> WorkOrder:
    order = (
        WorkOrder.objects.select_for_update(of=("self",)).select_related("department").filter(pk=work_order_id).first()
    )
    if order is None:
        raise NotFoundError(_("No such work order."))
    return order


def _require_duty_officer(user: AbstractBaseUser, message: str) -> None:
    if not is_duty_officer(user):
        raise NotAllowedError(message)


def _person_name(user: AbstractBaseUser) -> str:
    return user.get_full_name() or user.get_username()


def _push_after_commit(work_order_ids: list[int]) -> None:
    # The orders a transaction changed go out together, read in one go.
    after_commit.collect("dispatch.push", work_order_ids, lambda ids: pushes.push_work_orders(work_order_ids=ids))

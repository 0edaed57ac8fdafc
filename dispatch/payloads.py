"""What the lists, the API and the pushes send of a work order: plain rows, free of DRF.

``dispatch.api.serializers`` names these fields for the OpenAPI schema and
reuses the rows; the pushes (``dispatch.pushes``) send them as they are.
"""

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from citysafety.geo import distance_metres
from citysafety.payloads import api_datetime, choice_labels
from dispatch.models import ReportPhoto, WorkOrder, WorkOrderAction, WorkOrderEvent
from dispatch.timeline import event_sentence
from warning.payloads import WarningSummaryRows, department_name, display_name


def action_row(action: WorkOrderAction, zone) -> dict:
    return {
        "id": action.pk,
        "text": action.text,
        "level": action.level,
        "done": action.done,
        "done_at": api_datetime(action.done_at, zone),
    }


def photo_row(photo: ReportPhoto, zone, sensor_location=None) -> dict:
    """One photo, with where and when it says it was taken and how far that is from the order's sensor.

    Served through a view that checks the reader's right to the order, never as a static file.
    """
    place = photo.taken_location
    distance = distance_metres(place, sensor_location) if place is not None and sensor_location else None
    return {
        "id": photo.pk,
        "name": photo.original_name,
        "url": reverse("work-order-photo", args=[photo.pk]),
        "thumbnail_url": reverse("work-order-photo-thumbnail", args=[photo.pk]),
        "content_type": photo.content_type,
        "size": photo.size,
        "width": photo.width,
        "height": photo.height,
        "uploaded_at": api_datetime(photo.uploaded_at, zone),
        "taken_at": api_datetime(photo.taken_at, zone),
        "taken_location": None if place is None else {"lon": place.x, "lat": place.y},
        "distance_from_sensor": None if distance is None else round(distance),
        "far_from_sensor": distance is not None and distance > settings.WORK_ORDER_PHOTO_FAR_METRES,
    }


def order_link(order: WorkOrder | None) -> dict | None:
    return None if order is None else {"id": order.pk, "department": order.department.name}


def assignee_row(user) -> dict | None:
    return None if user is None else {"id": user.pk, "name": user.get_full_name() or user.get_username()}


def departments_with_orders(order: WorkOrder) -> list[int]:
    """The departments holding an order on the order's warning (any status: one order per department
    and warning), which its transfer dialog does not offer. Ids only: pushed to every department's page."""
    known = getattr(order, "departments_on_warning", None)  # dispatch.selectors.work_orders_with_details
    if known is None:
        known = WorkOrder.objects.filter(warning_id=order.warning_id).values_list("department_id", flat=True)
    return sorted(set(known))


def due(order: WorkOrder) -> tuple[str | None, datetime | None]:
    """What the order must do next by a deadline, and that deadline; (None, None) for nothing."""
    current = order.current_deadline()
    return current if current is not None else (None, None)


def work_order_rows(orders: Iterable[WorkOrder]) -> list[dict]:
    """Work orders as the lists and the pushes send them: ``WorkOrderSerializer``'s output,
    field for field (tests compare them), in plain code."""
    zone = timezone.get_current_timezone()
    statuses = choice_labels(WorkOrder, "status")
    levels = choice_labels(WorkOrder, "level")
    kinds = choice_labels(WorkOrderEvent, "kind")
    warnings = WarningSummaryRows()

    def event(item: WorkOrderEvent) -> dict:
        return {
            "kind": item.kind,
            "kind_display": kinds.get(item.kind, str(item.kind)),
            "actor": display_name(item.actor),
            "actor_department": department_name(item.actor),
            "summary": event_sentence(item.kind, item.data),
            "data": item.data,
            "note": item.note,
            "created_at": api_datetime(item.created_at, zone),
        }

    def row(order: WorkOrder) -> dict:
        department = order.department
        return {
            "id": order.pk,
            "status": order.status,
            "status_display": statuses.get(order.status, str(order.status)),
            "level": order.level,
            "level_display": levels.get(order.level, str(order.level)),
            # Phone and e-mail: the duty officer calls a department that is late.
            "department": {
                "id": order.department_id,
                "code": department.code,
                "name": department.name,
                "phone": department.phone,
                "email": department.email,
            },
            "created_at": api_datetime(order.created_at, zone),
            "ack_deadline": api_datetime(order.ack_deadline, zone),
            "arrive_deadline": api_datetime(order.arrive_deadline, zone),
            "report_deadline": api_datetime(order.report_deadline, zone),
            "due_stage": due(order)[0],
            "due_at": api_datetime(due(order)[1], zone),
            "is_overdue": order.is_overdue,
            "acknowledged_at": api_datetime(order.acknowledged_at, zone),
            "on_site_at": api_datetime(order.on_site_at, zone),
            "reported_at": api_datetime(order.reported_at, zone),
            "report": order.report,
            "report_cause": order.report_cause,
            "report_actions": order.report_actions,
            "report_result": order.report_result,
            "people_sent": order.people_sent,
            "vehicles_sent": order.vehicles_sent,
            "verified_at": api_datetime(order.verified_at, zone),
            "closed_at": api_datetime(order.closed_at, zone),
            "assignee": assignee_row(order.assignee),
            "status_reason": order.status_reason,
            "transferred_from": order_link(order.transferred_from),
            "transferred_to": order_link(getattr(order, "transferred_to", None)),
            "departments_with_orders": departments_with_orders(order),
            "actions": [action_row(action, zone) for action in order.actions.all()],
            "photos": [photo_row(photo, zone, order.warning.sensor.location) for photo in order.photos.all()],
            "warning": warnings.row(order.warning),
            "events": [event(item) for item in order.events.all()],
        }

    return [row(order) for order in orders]

"""The department's work order queue (and every department's, for duty officers)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from citysafety.api import keyset_page
from citysafety.choices import choices_json
from dispatch import selectors
from dispatch.api.serializers import WorkOrderSerializer
from dispatch.models import WorkOrderEventKind, WorkOrderStatus
from dispatch.timeline import sentences_json
from organisation.models import Department
from organisation.roles import is_duty_officer
from organisation.selectors import department_of
from warning.models import Level, WarningStatus

# Open orders rendered into the page for its first paint; the page then
# loads the rest (and stays current) through the API and the websocket.
INITIAL_ORDERS = 100

# What a work-order card shows, here and in the dashboard's warning detail.
WORK_ORDER_CARD_CHOICES = {
    "level": Level,
    "warningStatus": WarningStatus,
    "orderStatus": WorkOrderStatus,
    "eventKind": WorkOrderEventKind,
}


@login_required
def work_orders(request: HttpRequest) -> HttpResponse:
    user = request.user
    duty = is_duty_officer(user)
    department = department_of(user)
    # Keys first, then details for the rows shown (citysafety.api.keyset_page).
    first = keyset_page(
        selectors.work_orders_visible_to(user).exclude(status=WorkOrderStatus.CLOSED),
        field="created_at",
        position=None,
        page_size=INITIAL_ORDERS,
        scope="",
    )
    departments = list(Department.objects.order_by("kind", "code").values("id", "name")) if duty else []
    config = {
        "urls": {
            "workOrders": reverse("work-order-list"),
            "acknowledge": reverse("work-order-acknowledge", args=[0]),
            "report": reverse("work-order-report", args=[0]),
        },
        "duty": duty,
        "department": {"id": department.pk, "name": department.name} if department else None,
        "departments": departments,
        "orders": WorkOrderSerializer(first.rows, many=True).data,
        "ordersComplete": first.next_cursor is None,
        "choices": choices_json(WORK_ORDER_CARD_CHOICES),
        "eventSentences": sentences_json(),
    }
    return render(
        request,
        "dispatch/work_orders.html",
        {"config": config, "has_scope": duty or department is not None, "statuses": WorkOrderStatus},
    )

"""The department's work order queue (and every department's, for duty officers)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from citysafety.api import keyset_page
from citysafety.choices import choices_json
from dispatch import selectors, services
from dispatch.api.serializers import WorkOrderSerializer
from dispatch.models import FINISHED_STATUSES, ReportPhoto, WorkOrderEventKind, WorkOrderStatus
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


def work_order_urls() -> dict[str, str]:
    """The API's URLs a work-order card acts through (id 0 stands for the order's)."""
    return {
        "workOrder": reverse("work-order-detail", args=[0]),
        "acknowledge": reverse("work-order-acknowledge", args=[0]),
        "onSite": reverse("work-order-on-site", args=[0]),
        "assign": reverse("work-order-assign", args=[0]),
        "report": reverse("work-order-report", args=[0]),
        "photos": reverse("work-order-photos", args=[0]),
        "return": reverse("work-order-return", args=[0]),
        "transfer": reverse("work-order-transfer", args=[0]),
        "redispatch": reverse("work-order-redispatch", args=[0]),
        "verify": reverse("work-order-verify", args=[0]),
    }


def work_order_flow() -> dict[str, list[str]]:
    """Which statuses allow which steps, for the cards' buttons: the services' rules, not a copy in JavaScript."""
    return {
        "inHand": [str(status) for status in services.IN_HAND],
        "transferable": [str(status) for status in services.TRANSFERABLE],
    }


@login_required
def work_orders(request: HttpRequest) -> HttpResponse:
    user = request.user
    duty = is_duty_officer(user)
    department = department_of(user)
    # Keys first, then details for the rows shown (citysafety.api.keyset_page).
    first = keyset_page(
        selectors.work_orders_visible_to(user).exclude(status__in=FINISHED_STATUSES),
        field="created_at",
        position=None,
        page_size=INITIAL_ORDERS,
        scope="",
    )
    departments = list(Department.objects.order_by("kind", "code").values("id", "name")) if duty else []
    config = {
        "urls": {"workOrders": reverse("work-order-list"), **work_order_urls()},
        "people": selectors.department_people(department.pk) if department else [],
        "maxPhotos": settings.WORK_ORDER_MAX_PHOTOS,
        "duty": duty,
        "department": {"id": department.pk, "name": department.name} if department else None,
        "departments": departments,
        "orders": WorkOrderSerializer(first.rows, many=True).data,
        "ordersComplete": first.next_cursor is None,
        "choices": choices_json(WORK_ORDER_CARD_CHOICES),
        "eventSentences": sentences_json(),
        "workOrderFlow": work_order_flow(),
    }
    return render(
        request,
        "dispatch/work_orders.html",
        {"config": config, "has_scope": duty or department is not None, "statuses": WorkOrderStatus},
    )


@require_GET
@login_required
def work_order_photo(request: HttpRequest, photo_id: int, thumbnail: bool = False) -> FileResponse:
    """A report photo, for those who may see its order: media files are never served statically."""
    photo = ReportPhoto.objects.filter(pk=photo_id).select_related("work_order").first()
    # One answer for "no such photo" and "not yours to see".
    if photo is None or selectors.work_order_visible(request.user, photo.work_order_id) is None:
        raise Http404
    stored = photo.thumbnail if thumbnail else photo.image
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type="image/jpeg" if thumbnail else photo.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response

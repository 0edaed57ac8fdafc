"""The duty officer's one map (一张图) and the landing redirect."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.gis.db.models import Extent
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from citysafety.choices import AMBER, choices_json
from dispatch.timeline import sentences_json
from dispatch.views import WORK_ORDER_CARD_CHOICES, work_order_flow, work_order_urls
from monitoring.models import RiskDomain, SensorStatus
from organisation.models import Department, District
from organisation.roles import is_duty_officer
from organisation.selectors import roster_of_day
from surroundings.choices import CAMERA_COLOUR, ResourceKind, RiskAreaKind, RiskGrade, TargetKind
from surroundings.models import LAYERS
from warning.models import Direction, Level, TransitionKind, WarningStatus


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Duty officers and administrators watch the map; department staff work their queue."""
    return redirect("dashboard" if is_duty_officer(request.user) else "work-orders")


def _district_bounds() -> list[list[float]] | None:
    extent = District.objects.aggregate(extent=Extent("boundary"))["extent"]
    if extent is None:
        return None
    west, south, east, north = extent
    return [[south, west], [north, east]]  # Leaflet's [[lat, lng], [lat, lng]]


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if not is_duty_officer(request.user):
        # Warnings are the whole city's picture; the 403 page points
        # department staff to their work orders.
        raise PermissionDenied
    center = settings.LEAFLET_CONFIG.get("DEFAULT_CENTER", (31.82, 117.23))
    config = {
        "urls": {
            "districts": reverse("api-districts-geojson"),
            "mapSensors": reverse("api-map-sensors"),
            "warnings": reverse("warning-list"),
            "counts": reverse("warning-counts"),
            "backlog": reverse("api-evaluation-backlog"),
            "health": reverse("api-health"),
            "sensorSeries": reverse("api-sensor-series", args=[0]),
            "gatewayOutages": reverse("api-gateway-outages"),
            "warning": reverse("warning-detail", args=[0]),
            "close": reverse("api-warning-close", args=[0]),
            "summaryPage": reverse("event-summary", args=[0]),
            "workOrders": reverse("work-order-list"),
            **work_order_urls(),
            "verification": reverse("verification-queue"),
            "silences": reverse("silences"),
            "surroundings": {layer: reverse(f"api-surroundings-{layer}") for layer in LAYERS},
        },
        "cameraColour": CAMERA_COLOUR.hex,
        # The duty officer transfers orders to any department.
        "departments": list(Department.objects.order_by("kind", "code").values("id", "name")),
        # A silenced sensor's marker on the map (warning.silences).
        "maintenance": {"colour": AMBER.hex},
        "map": {
            "center": list(center),
            "zoom": settings.LEAFLET_CONFIG.get("DEFAULT_ZOOM", 10),
            "tileUrl": settings.MAP_TILE_URL,
            "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
            # The districts' extent, so that the map asks for its sensors at
            # once instead of after the district outlines arrive.
            "bounds": _district_bounds(),
        },
        "eventSentences": sentences_json(),
        "workOrderFlow": work_order_flow(),
        # The warnings filter lists every domain, not only those with an open warning.
        "domains": list(RiskDomain.objects.order_by("name").values_list("code", "name")),
        "choices": choices_json(
            {
                **WORK_ORDER_CARD_CHOICES,
                "transitionKind": TransitionKind,
                "direction": Direction,
                "sensorStatus": SensorStatus,
                "targetKind": TargetKind,
                "resourceKind": ResourceKind,
                "riskAreaKind": RiskAreaKind,
                "riskGrade": RiskGrade,
            }
        ),
    }
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "config": config,
            "levels": Level.displayed(),
            "statuses": WarningStatus,
            "roster_day": (today := timezone.localdate()),
            "roster": roster_of_day(today),
        },
    )

from django.urls import path
from rest_framework.routers import SimpleRouter

from warning.api.outages import GatewayOutageListView
from warning.api.silences import SilenceViewSet
from warning.api.views import WarningViewSet

router = SimpleRouter()
router.register("warnings", WarningViewSet, basename="warning")
router.register("silences", SilenceViewSet, basename="silence")

urlpatterns = [
    path("gateway-outages/", GatewayOutageListView.as_view(), name="api-gateway-outages"),
    *router.urls,
]

from django.urls import path
from rest_framework.routers import SimpleRouter

from dispatch.api.views import WarningCloseView, WorkOrderViewSet

router = SimpleRouter()
router.register("work-orders", WorkOrderViewSet, basename="work-order")

urlpatterns = [
    path("warnings/<int:pk>/close/", WarningCloseView.as_view(), name="api-warning-close"),
    *router.urls,
]

from rest_framework.routers import SimpleRouter

from warning.api.silences import SilenceViewSet
from warning.api.views import WarningViewSet

router = SimpleRouter()
router.register("warnings", WarningViewSet, basename="warning")
router.register("silences", SilenceViewSet, basename="silence")

urlpatterns = router.urls

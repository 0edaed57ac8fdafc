"""The one map's sensor layer over the REST API (``/api/v1/map/sensors/``)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety.api import BAD_REQUEST, BBOX_PARAMETER, error_response
from dashboard import selectors
from monitoring.selectors import sensors_visible_to


# Compressed, as every large API answer (citysafety.middleware.ApiCompressionMiddleware):
# a view of 600 sensors is ~250 KB of JSON and ~25 KB gzipped.
class SensorClusterView(APIView):
    """The sensors in the map's view: one by one when few, else clustered on a grid.

    Each cluster carries its count, where it lies, and its worst member's
    state: the most severe open warning's level, or the worst status.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            BBOX_PARAMETER,
            OpenApiParameter(
                "zoom",
                {"type": "number", "minimum": selectors.MIN_ZOOM, "maximum": selectors.MAX_ZOOM},
                required=True,
                description="web-map zoom level, 0-22",
            ),
            OpenApiParameter("totals", OpenApiTypes.BOOL, description="1: add the whole city's sensors by status"),
        ],
        responses={
            200: OpenApiResponse(description="clusters, or the sensors as GeoJSON; with totals=1 the city's counts"),
            400: error_response("A bbox, zoom or totals the map cannot use", BAD_REQUEST),
        },
    )
    def get(self, request):
        view = selectors.map_view_parse(request.query_params)
        totals = selectors.totals_wanted(request.query_params)
        return Response(selectors.sensor_map(sensors_visible_to(request.user), view, totals=totals))

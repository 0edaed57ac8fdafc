"""The map's surroundings layers over the REST API: ``/api/v1/surroundings/<layer>/?bbox=``.

City reference data, not warnings: every signed-in person may read them
(department staff see the same schools and shelters as the duty officer);
anonymous visitors may not.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety.api import BAD_REQUEST, BBOX_PARAMETER, error_response
from surroundings import selectors


class LayerView(APIView):
    """One layer's places in the box, as a GeoJSON FeatureCollection (RFC 7946)."""

    permission_classes = [IsAuthenticated]
    layer = ""

    @extend_schema(
        parameters=[
            BBOX_PARAMETER,
        ],
        responses={
            200: OpenApiResponse(description="a GeoJSON FeatureCollection"),
            400: error_response("A bbox the map cannot use", BAD_REQUEST),
        },
    )
    def get(self, request):
        return Response(selectors.layer_geojson(self.layer, selectors.bbox_parse(request.query_params)))

"""The map's surroundings layers over the REST API: ``/api/v1/surroundings/<layer>/?bbox=``.

City reference data, not warnings: every signed-in person may read them
(department staff see the same schools and shelters as the duty officer);
anonymous visitors may not.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety import parameters
from citysafety.api import BAD_REQUEST, error_response
from surroundings import selectors


class LayerView(APIView):
    """One layer's places in the box, as a GeoJSON FeatureCollection (RFC 7946)."""

    permission_classes = [IsAuthenticated]
    layer = ""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "bbox",
                {"type": "string", "pattern": parameters.BBOX_PATTERN},
                required=True,
                description="west,south,east,north in degrees (WGS 84), west <= east and south <= north",
            )
        ],
        responses={
            200: OpenApiResponse(description="a GeoJSON FeatureCollection"),
            400: error_response("A bbox the map cannot use", BAD_REQUEST),
        },
    )
    def get(self, request):
        return Response(selectors.layer_geojson(self.layer, selectors.bbox_parse(request.query_params)))

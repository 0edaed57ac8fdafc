import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety.errors import TooLargeError
from monitoring import selectors, services
from monitoring.api.authentication import GatewayTokenAuthentication, IsGateway
from monitoring.ingest import load_json
from organisation.permissions import IsDutyOfficer

_ITEM_ERROR = inline_serializer(
    "ReadingError",
    {"index": serializers.IntegerField(), "field": serializers.CharField(), "message": serializers.CharField()},
)
_INGEST_RESULT = inline_serializer(
    "ReadingBatchResult",
    {
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "errors": _ITEM_ERROR,
    },
)


class ReadingBatchView(APIView):
    """A gateway posts a batch of readings."""

    authentication_classes = [GatewayTokenAuthentication]
    permission_classes = [IsGateway]

    @extend_schema(
        request=inline_serializer(
            "Reading",
            {
                "sensor": serializers.CharField(help_text="Sensor code"),
                "observed_at": serializers.DateTimeField(help_text="ISO 8601 with a time zone"),
                "value": serializers.FloatField(),
            },
            many=True,
        ),
        responses={
            200: OpenApiResponse(_INGEST_RESULT, description="Every item was stored or was a duplicate."),
            422: OpenApiResponse(_INGEST_RESULT, description="Some items were invalid; the valid ones were stored."),
            400: OpenApiResponse(description="Malformed body or empty batch; nothing was stored."),
            401: OpenApiResponse(description="Missing or unknown gateway token."),
            413: OpenApiResponse(description="Batch larger than INGEST_MAX_BATCH; nothing was stored."),
        },
        examples=[
            OpenApiExample(
                "Two readings",
                value=[
                    {"sensor": "GAS-0001", "observed_at": "2026-11-21T08:00:00+08:00", "value": 3.2},
                    {"sensor": "GAS-0002", "observed_at": "2026-11-21T08:00:00+08:00", "value": 0.0},
                ],
                request_only=True,
            )
        ],
    )
    def post(self, request):
        try:
            body = request.body
        except RequestDataTooBig as exc:
            raise TooLargeError("The request body is too large.") from exc
        # A refused batch raises, and citysafety.api answers 400 or 413.
        result = services.readings_ingest(gateway=request.auth, batch=load_json(body))
        answer = status.HTTP_422_UNPROCESSABLE_ENTITY if result.errors else status.HTTP_200_OK
        return Response(result.as_dict(), status=answer)


class SensorMapView(APIView):
    """Sensors as a GeoJSON FeatureCollection, for the map."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiResponse(description="GeoJSON FeatureCollection (RFC 7946)")})
    def get(self, request):
        return Response(selectors.sensors_geojson(selectors.sensors_visible_to(request.user)))


class DistrictMapView(APIView):
    """District boundaries as a GeoJSON FeatureCollection."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: OpenApiResponse(description="GeoJSON FeatureCollection (RFC 7946)")})
    def get(self, request):
        return Response(selectors.districts_geojson())


class EvaluationBacklogView(APIView):
    """How far evaluation is behind ingestion: the duty officer's page shows it when it lags."""

    permission_classes = [IsDutyOfficer]

    @extend_schema(
        responses={
            200: inline_serializer(
                "EvaluationBacklog",
                {
                    "lag_seconds": serializers.FloatField(
                        help_text="How long the oldest unevaluated reading has waited"
                    ),
                    "waiting_sensors": serializers.IntegerField(help_text="Sensors holding unevaluated readings"),
                    "lagging": serializers.BooleanField(help_text="Lag past EVALUATION_LAG_NOTICE_SECONDS"),
                },
            )
        }
    )
    def get(self, request):
        lag, waiting = selectors.evaluation_backlog()
        seconds = round(lag.total_seconds(), 1)
        return Response(
            {
                "lag_seconds": seconds,
                "waiting_sensors": waiting,
                "lagging": seconds >= settings.EVALUATION_LAG_NOTICE_SECONDS,
            }
        )


class SensorSeriesView(APIView):
    """One sensor's values over time, for its chart: readings up to a day, hour roll-ups beyond."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description="ISO 8601 with zone; default: a day before end"),
            OpenApiParameter("end", str, description="ISO 8601 with zone, excluded; default: now"),
            OpenApiParameter(
                "resolution",
                str,
                enum=list(selectors.SERIES_MAX_SPAN),
                description="default: raw up to READING_CHART_RAW_MAX_HOURS, hour beyond",
            ),
        ],
        responses={
            200: OpenApiResponse(description="The series as columns: t and value, or t, min, max, mean, count, last")
        },
    )
    def get(self, request, sensor_id: int):
        sensor = get_object_or_404(selectors.sensors_visible_to(request.user).only("id"), pk=sensor_id)
        start, end, resolution = selectors.series_range(
            start=request.query_params.get("start"),
            end=request.query_params.get("end"),
            resolution=request.query_params.get("resolution"),
            now=timezone.now(),
        )
        series = selectors.sensor_series(sensor_id=sensor.pk, start=start, end=end, resolution=resolution)
        body = {
            "sensor": sensor.pk,
            "resolution": resolution,
            "start": start.isoformat(),
            "end": end.isoformat(),
            # Encoded by the database (selectors.sensor_series), passed through.
            "series": orjson.Fragment(series),
        }
        return HttpResponse(orjson.dumps(body), content_type="application/json")

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.mediatypes import media_type_matches
from rest_framework.views import APIView

from citysafety.api import BAD_REQUEST, error_response, language_asked
from citysafety.errors import TooLargeError
from monitoring import selectors, services
from monitoring.api.authentication import GatewayTokenAuthentication, IsGateway
from monitoring.api.serializers import ReadingBatchResultSerializer, reading_batch
from monitoring.ingest import load_json
from organisation.permissions import IsDutyOfficer


class ReadingBatchView(APIView):
    """A gateway posts a batch of readings."""

    authentication_classes = [GatewayTokenAuthentication]
    permission_classes = [IsGateway]
    # The body is read as JSON by load_json, not by a parser; this says so
    # to the schema, and the content type is checked in post().
    parser_classes = [JSONParser]

    @extend_schema(
        request=reading_batch(),
        responses={
            200: OpenApiResponse(ReadingBatchResultSerializer, description="Every item was stored or was a duplicate."),
            422: OpenApiResponse(
                ReadingBatchResultSerializer, description="Some items were invalid; the valid ones were stored."
            ),
            400: error_response("Malformed JSON, not an array, or an empty batch; nothing was stored."),
            401: error_response("Missing, unknown or disabled gateway token."),
            413: error_response("Batch larger than INGEST_MAX_BATCH; nothing was stored."),
            415: error_response("The body is not JSON (Content-Type: application/json); nothing was stored."),
            429: error_response("Evaluation lags behind: send the batch again after Retry-After seconds."),
            503: error_response("The database is busy or unavailable: send the batch again after Retry-After seconds."),
        },
        parameters=[
            OpenApiParameter(
                "Accept-Language",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="The items' error messages are English unless this asks for zh-Hans.",
            ),
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                OpenApiParameter.HEADER,
                response=[429, 503],
                required=True,
                description="Seconds to wait before sending the batch again",
            ),
        ],
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
        # Integrators read English unless they ask for another language;
        # the pages' default (Chinese) does not apply to them.
        with translation.override(language_asked(request)):
            try:
                body = request.body
            except RequestDataTooBig as exc:
                raise TooLargeError("The request body is too large.") from exc
            # Only JSON is read as JSON: a form or plain text that happens to
            # parse is refused. An empty body is a malformed batch (400), as
            # DRF's parsers leave a request without a body alone.
            if body and not media_type_matches(JSONParser.media_type, request.content_type or ""):
                raise UnsupportedMediaType(
                    request.content_type,
                    detail=_(
                        "Send the readings as JSON with the header Content-Type: application/json "
                        "(this request said: %(content_type)s)."
                    )
                    % {"content_type": request.content_type or _("no content type")},
                )
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
            OpenApiParameter(
                "start",
                OpenApiTypes.DATETIME,
                description=(
                    "ISO 8601 with its zone, before end; default: a day before end. A series spans at most "
                    + ", ".join(f"{span.days} days ({name})" for name, span in selectors.SERIES_MAX_SPAN.items())
                    + ": a longer one is a 400 naming resolution."
                ),
            ),
            OpenApiParameter(
                "end", OpenApiTypes.DATETIME, description="ISO 8601 with its zone, excluded; default: now"
            ),
            OpenApiParameter(
                "resolution",
                str,
                enum=list(selectors.SERIES_MAX_SPAN),
                description="default: raw up to READING_CHART_RAW_MAX_HOURS, hour beyond; "
                "with points, minute up to 14 days, hour beyond",
            ),
            OpenApiParameter(
                "points",
                int,
                description="at most this many buckets (2 to 5000): the roll-ups resampled on the server into "
                "buckets of 1, 2, 5, 10, 15 or 30 minutes, 1, 2, 3, 6 or 12 hours, 1, 2 or 7 days "
                "(the narrowest that fits), reported as step in seconds",
            ),
        ],
        responses={
            200: OpenApiResponse(description="The series as columns: t and value, or t, min, max, mean, count, last"),
            400: error_response("A start, end or resolution the chart cannot use", BAD_REQUEST),
        },
    )
    def get(self, request, sensor_id: int):
        sensor = get_object_or_404(selectors.sensors_visible_to(request.user).only("id"), pk=sensor_id)
        points = selectors.series_points(
            request.query_params.get("points"), resolution=request.query_params.get("resolution")
        )
        start, end, resolution = selectors.series_range(
            start=request.query_params.get("start"),
            end=request.query_params.get("end"),
            resolution=request.query_params.get("resolution"),
            now=timezone.now(),
            points=points,
        )
        step = None
        if points is not None:
            step = selectors.series_step(start=start, end=end, resolution=resolution, points=points)
        series = selectors.sensor_series(sensor_id=sensor.pk, start=start, end=end, resolution=resolution, step=step)
        body = {
            "sensor": sensor.pk,
            "resolution": resolution,
            "step": int(step.total_seconds()) if step is not None else None,
            "start": start.isoformat(),
            "end": end.isoformat(),
            # Encoded by the database (selectors.sensor_series), passed through.
            "series": orjson.Fragment(series),
        }
        return HttpResponse(orjson.dumps(body), content_type="application/json")

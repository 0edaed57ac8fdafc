from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety.api import BAD_REQUEST, error_response
from reports import performance, summaries
from reports.api.serializers import (
    EventSummaryEditSerializer,
    EventSummarySerializer,
    ResponseTimesSerializer,
)
from reports.performance import GROUPINGS


class ResponseTimesView(APIView):
    """Median and 90th-percentile minutes to acknowledge and to close work
    orders, with overdue counts, per department or per risk domain, over a
    period of at most a year. Department staff see their own department."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "start",
                OpenApiTypes.DATE,
                description=(
                    "First day, YYYY-MM-DD (30 days before `end` by default); not after `end`, and at most"
                    f" {performance.MAX_PERIOD_DAYS} days before it (else a 400 naming start)."
                ),
            ),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day included, YYYY-MM-DD (today by default)."),
            OpenApiParameter("by", str, enum=list(GROUPINGS), description="Group by (department by default)."),
        ],
        responses={
            200: ResponseTimesSerializer,
            400: error_response(
                "A date that is not one, a period that ends before it starts or is too long, or an unknown grouping.",
                BAD_REQUEST,
            ),
        },
    )
    def get(self, request):
        period = performance.period_parse(request.query_params.get("start"), request.query_params.get("end"))
        by = performance.grouping_parse(request.query_params.get("by"))
        rows = performance.response_times(user=request.user, period=period, by=by)
        return Response(
            ResponseTimesSerializer({"start": period.start, "end": period.end, "by": by, "rows": rows}).data
        )


class EventSummaryView(APIView):
    """A closed warning's event summary (反馈总结): read by duty officers and
    the departments that had an order on it; edited, then archived, by a
    duty officer."""

    permission_classes = [IsAuthenticated]

    def _respond(self, request, summary):
        context = {"language": translation.get_language() or "en"}
        return Response(EventSummarySerializer(summary, context=context).data)

    @extend_schema(responses={200: EventSummarySerializer, 404: error_response("No summary, or not yours to read.")})
    def get(self, request, pk: int):
        return self._respond(request, summaries.event_summary_visible(user=request.user, warning_id=pk))

    @extend_schema(
        request=EventSummaryEditSerializer,
        responses={
            200: EventSummarySerializer,
            403: error_response("Only duty officers edit summaries."),
            404: error_response("No summary, or not yours to read."),
            409: error_response("The summary is archived."),
        },
    )
    def put(self, request, pk: int):
        summaries.event_summary_visible(user=request.user, warning_id=pk)
        body = EventSummaryEditSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        summary = summaries.event_summary_edit(user=request.user, warning_id=pk, **body.validated_data)
        return self._respond(request, summary)

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from citysafety.api import KeysetPagination
from organisation.permissions import IsDutyOfficer
from warning import selectors
from warning.api.filters import ClosedWarningFilter, WarningFilter
from warning.api.serializers import WarningDetailSerializer, WarningSummarySerializer


class WarningViewSet(viewsets.ReadOnlyModelViewSet):
    """Warnings of the whole city, newest first (duty officers and administrators)."""

    permission_classes = [IsDutyOfficer]
    pagination_class = KeysetPagination
    keyset_field = "opened_at"

    def get_queryset(self):
        if self.action == "closed":
            warnings = selectors.closed_warnings_visible_to(self.request.user)
        else:
            warnings = selectors.warnings_visible_to(self.request.user)
        if self.action == "retrieve":
            warnings = warnings.prefetch_related("transitions__actor__membership__department")
        return warnings.order_by("-opened_at", "-id")

    @property
    def filterset_class(self) -> type[WarningFilter]:
        return ClosedWarningFilter if getattr(self, "action", None) == "closed" else WarningFilter

    def get_serializer_class(self):
        return WarningDetailSerializer if self.action == "retrieve" else WarningSummarySerializer

    @extend_schema(
        # The list's filters apply to the counts too.
        filters=True,
        responses=inline_serializer(
            "WarningCounts",
            {
                "open": serializers.IntegerField(),
                "recovered": serializers.IntegerField(),
                "active_by_level": serializers.DictField(child=serializers.IntegerField()),
            },
        ),
    )
    @action(detail=False)
    def counts(self, request):
        """Open warnings, and active ones per level, for the counters."""
        return Response(selectors.warning_counts(self.filter_queryset(self.get_queryset())))

    @extend_schema(responses=WarningSummarySerializer(many=True))
    @action(detail=False)
    def closed(self, request):
        """The closed-warning search: closed warnings, newest opened first, by time, sensor and district.

        The list's filters apply: ``opened_after`` / ``opened_before``,
        ``search`` (part of the sensor's code or name), ``sensor`` (its code),
        ``district``, ``domain``, ``level``.
        """
        return self.list(request)

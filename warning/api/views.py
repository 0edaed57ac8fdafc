from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from citysafety.api import KeysetPagination, error_response
from organisation.permissions import IsDutyOfficer
from warning import selectors, verification
from warning.api.filters import ClosedWarningFilter, WarningFilter
from warning.api.serializers import (
    ConfirmSerializer,
    FalseAlarmSerializer,
    UnverifiedWarningSerializer,
    WarningDetailSerializer,
    WarningSummarySerializer,
)


class WarningViewSet(viewsets.ReadOnlyModelViewSet):
    """Warnings of the whole city, newest first (duty officers and administrators)."""

    permission_classes = [IsDutyOfficer]
    pagination_class = KeysetPagination
    keyset_field = "opened_at"

    def get_queryset(self):
        if self.action == "closed":
            warnings = selectors.closed_warnings_visible_to(self.request.user)
        elif self.action == "unverified":
            warnings = verification.unverified_warnings(self.request.user).select_related("verified_by")
        else:
            warnings = selectors.warnings_visible_to(self.request.user)
        if self.action == "retrieve":
            warnings = warnings.prefetch_related("transitions__actor__membership__department")
        return warnings.order_by("-opened_at", "-id")

    @property
    def filterset_class(self) -> type[WarningFilter]:
        return ClosedWarningFilter if getattr(self, "action", None) == "closed" else WarningFilter

    def get_serializer_class(self):
        if self.action == "unverified":
            return UnverifiedWarningSerializer
        return (
            WarningDetailSerializer
            if self.action in ("retrieve", "confirm", "false_alarm")
            else WarningSummarySerializer
        )

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

    @extend_schema(responses=UnverifiedWarningSerializer(many=True))
    @action(detail=False)
    def unverified(self, request):
        """The verification queue (研判): open warnings whose routing policy waits for a duty officer's verdict.

        Newest first, like every list; `verification_requested_at` says how
        long each has waited. The list's filters apply.
        """
        return self.list(request)

    def _detail(self, pk: int) -> Response:
        warning = (
            selectors.warnings_visible_to(self.request.user)
            .select_related("verified_by")
            .prefetch_related("transitions__actor__membership__department")
            .get(pk=pk)
        )
        return Response(WarningDetailSerializer(warning).data)

    def _valid_body(self, serializer_class: type[serializers.Serializer]) -> dict:
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    @extend_schema(
        request=ConfirmSerializer,
        responses={
            200: WarningDetailSerializer,
            409: error_response(
                "The warning was verified already (the message says by whom and when), is closed,"
                " or is not awaiting verification."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm a warning awaiting verification: its work orders go out, once."""
        self.get_object()
        note = self._valid_body(ConfirmSerializer)["note"]
        warning = verification.warning_confirm(warning_id=int(pk), user=request.user, note=note)
        return self._detail(warning.pk)

    @extend_schema(
        request=FalseAlarmSerializer,
        responses={
            200: WarningDetailSerializer,
            409: error_response(
                "The warning was verified already (the message says by whom and when), is closed,"
                " or is not awaiting verification."
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="false-alarm")
    def false_alarm(self, request, pk=None):
        """Close a warning awaiting verification as a false alarm, with the reason (and a note)."""
        self.get_object()
        body = self._valid_body(FalseAlarmSerializer)
        warning = verification.warning_false_alarm(
            warning_id=int(pk), user=request.user, reason=body["reason"], note=body["note"]
        )
        return self._detail(warning.pk)

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety.api import KeysetPagination, error_response
from dispatch import selectors, services
from dispatch.api.filters import WorkOrderFilter
from dispatch.api.serializers import CloseSerializer, NoteSerializer, ReportSerializer, WorkOrderSerializer
from organisation.permissions import IsDutyOfficer
from warning import selectors as warning_selectors
from warning.api.serializers import WarningDetailSerializer


class WorkOrderViewSet(viewsets.ReadOnlyModelViewSet):
    """Work orders: a department's staff see their department's; duty officers all."""

    serializer_class = WorkOrderSerializer
    lookup_value_regex = r"\d+"
    filterset_class = WorkOrderFilter
    pagination_class = KeysetPagination
    keyset_field = "created_at"

    def get_queryset(self):
        return selectors.work_orders_visible_to(self.request.user).order_by("-created_at", "-id")

    def _valid_body(self, serializer_class: type[serializers.Serializer]) -> dict:
        body = serializer_class(data=self.request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    def _respond(self, order_id: int) -> Response:
        return Response(WorkOrderSerializer(selectors.work_orders_with_details().get(pk=order_id)).data)

    @extend_schema(
        request=NoteSerializer,
        responses={200: WorkOrderSerializer, 409: error_response("The order is no longer awaiting acknowledgement.")},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """签收: acknowledge the order (department staff of its department)."""
        note = self._valid_body(NoteSerializer)["note"]
        order = services.work_order_acknowledge(work_order_id=int(pk), user=request.user, note=note)
        return self._respond(order.pk)

    @extend_schema(
        request=ReportSerializer,
        responses={
            200: WorkOrderSerializer,
            409: error_response("The order is not acknowledged, or already reported."),
        },
    )
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        """处置反馈: report how the department handled it."""
        report = self._valid_body(ReportSerializer)["report"]
        order = services.work_order_report(work_order_id=int(pk), user=request.user, report=report)
        return self._respond(order.pk)


class WarningCloseView(APIView):
    """Close a warning with a disposal note once every work order is reported.

    A warning whose sensor still reads in warning closes only with
    `close_active` set, the note giving the reason (409 without it).
    """

    permission_classes = [IsDutyOfficer]

    @extend_schema(
        request=CloseSerializer,
        responses={
            200: WarningDetailSerializer,
            409: error_response("The warning is closed already, or some of its work orders are not reported."),
        },
    )
    def post(self, request, pk: int):
        get_object_or_404(warning_selectors.warnings_visible_to(request.user), pk=pk)
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.warning_close_with_work_orders(
            warning_id=pk,
            user=request.user,
            note=body.validated_data["note"],
            close_active=body.validated_data["close_active"],
        )
        warning = (
            warning_selectors.warnings_visible_to(request.user)
            .prefetch_related("transitions__actor__membership__department")
            .get(pk=pk)
        )
        return Response(WarningDetailSerializer(warning).data, status=status.HTTP_200_OK)

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from citysafety.api import KeysetPagination, error_response
from dispatch import selectors, services
from dispatch.api.filters import WorkOrderFilter
from dispatch.api.serializers import (
    AssignSerializer,
    CloseSerializer,
    NoteSerializer,
    PhotoSerializer,
    PhotoUploadSerializer,
    ReasonSerializer,
    ReportSerializer,
    TransferSerializer,
    VerifySerializer,
    WorkOrderSerializer,
    photo_row,
)
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
        request=NoteSerializer,
        responses={200: WorkOrderSerializer, 409: error_response("The order is not acknowledged, or past this step.")},
    )
    @action(detail=True, methods=["post"], url_path="on-site", url_name="on-site")
    def on_site(self, request, pk=None):
        """到场处置: the department's people are on site (department staff of its department)."""
        note = self._valid_body(NoteSerializer)["note"]
        order = services.work_order_arrive(work_order_id=int(pk), user=request.user, note=note)
        return self._respond(order.pk)

    @extend_schema(
        request=AssignSerializer,
        responses={200: WorkOrderSerializer, 409: error_response("The order is no longer in the department's hands.")},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Assign the order to a person of its department (its staff, or a duty officer)."""
        assignee = self._valid_body(AssignSerializer)["assignee"]
        order = services.work_order_assign(work_order_id=int(pk), user=request.user, assignee_id=assignee)
        return self._respond(order.pk)

    @extend_schema(
        request=ReportSerializer,
        responses={
            200: WorkOrderSerializer,
            409: error_response("The order is not on site yet, or already reported."),
        },
    )
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        """处置反馈: report how the department handled it, ticking the plan's actions done."""
        body = self._valid_body(ReportSerializer)
        order = services.work_order_report(
            work_order_id=int(pk),
            user=request.user,
            report=body["report"],
            cause=body["cause"],
            actions_taken=body["actions_taken"],
            result=body["result"],
            people_sent=body["people_sent"],
            vehicles_sent=body["vehicles_sent"],
            done_actions=body["done_actions"],
        )
        return self._respond(order.pk)

    @extend_schema(
        request={"multipart/form-data": PhotoUploadSerializer},
        responses={
            201: PhotoSerializer,
            409: error_response("The order is not being handled, or already has six photos."),
            413: error_response("The photo is larger than the platform takes."),
        },
    )
    @action(detail=True, methods=["post"])
    def photos(self, request, pk=None):
        """Add a photo to the report under way (one per request; six at most)."""
        upload = request.FILES.get("photo")
        if upload is None:
            raise serializers.ValidationError({"photo": [_("Choose a photo to upload.")]})
        # An oversized file is refused by its size, without reading it into memory.
        data = b"" if upload.size > settings.WORK_ORDER_PHOTO_MAX_BYTES else upload.read()
        photo = services.work_order_photo_add(
            work_order_id=int(pk), user=request.user, name=upload.name, data=data, size=upload.size
        )
        return Response(
            photo_row(
                photo, timezone.get_current_timezone(), selectors.work_order_sensor_location(photo.work_order_id)
            ),
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={204: None, 409: error_response("The report is sent; photos stay.")})
    @action(detail=True, methods=["delete"], url_path=r"photos/(?P<photo_id>\d+)", url_name="photo")
    def photo(self, request, pk=None, photo_id=None):
        """Remove a photo from the report under way."""
        services.work_order_photo_remove(work_order_id=int(pk), photo_id=int(photo_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ReasonSerializer,
        responses={200: WorkOrderSerializer, 409: error_response("The order is no longer in the department's hands.")},
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_order(self, request, pk=None):
        """退回: send the order back to the duty officer to re-route, with the reason."""
        reason = self._valid_body(ReasonSerializer)["reason"]
        order = services.work_order_return(work_order_id=int(pk), user=request.user, reason=reason)
        return self._respond(order.pk)

    @extend_schema(
        request=TransferSerializer,
        responses={
            200: WorkOrderSerializer,
            409: error_response("The order is past handling, or that department has an order for the warning."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsDutyOfficer])
    def transfer(self, request, pk=None):
        """转派: hand the order to another department (duty officers). Answers with the new department's order."""
        body = self._valid_body(TransferSerializer)
        order = services.work_order_transfer(
            work_order_id=int(pk), user=request.user, department_id=body["department"], reason=body["reason"]
        )
        return self._respond(order.pk)

    @extend_schema(
        request=NoteSerializer,
        responses={200: WorkOrderSerializer, 409: error_response("The order is not returned.")},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsDutyOfficer])
    def redispatch(self, request, pk=None):
        """Send a returned order back to its own department, with a fresh deadline (duty officers)."""
        note = self._valid_body(NoteSerializer)["note"]
        order = services.work_order_redispatch(work_order_id=int(pk), user=request.user, note=note)
        return self._respond(order.pk)

    @extend_schema(
        request=VerifySerializer,
        responses={200: WorkOrderSerializer, 409: error_response("The order is not reported.")},
    )
    @action(detail=True, methods=["post"], permission_classes=[IsDutyOfficer])
    def verify(self, request, pk=None):
        """核验: accept the report, or send it back to the department with the reason (duty officers)."""
        body = self._valid_body(VerifySerializer)
        order = services.work_order_verify(
            work_order_id=int(pk), user=request.user, accept=body["accept"], reason=body["reason"]
        )
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

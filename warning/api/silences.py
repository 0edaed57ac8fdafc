"""Silences over the REST API (``/api/v1/silences/``).

Duty officers and administrators see and set silences of anything. Department
staff see the silences of the sensors their department owns and may silence
those sensors, one at a time, for their own maintenance work: a gateway, a
district or a sensor type is the whole city's business.
"""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from citysafety.api import error_response
from citysafety.errors import NotAllowedError
from monitoring.models import Gateway, SensorType
from monitoring.selectors import sensors_visible_to
from organisation.models import District
from organisation.roles import is_duty_officer
from warning import silences
from warning.api.serializers import display_name
from warning.models import Silence


def silences_visible_to(user):
    listed = silences.silences_listed()
    if is_duty_officer(user):
        return listed
    return listed.filter(sensor__in=sensors_visible_to(user))


class SilenceSerializer(serializers.ModelSerializer):
    target = serializers.SerializerMethodField(
        help_text="What it covers: kind (sensor, gateway, district, sensor_type) and code."
    )
    created_by = serializers.SerializerMethodField()
    ended_by = serializers.SerializerMethodField()
    in_force = serializers.SerializerMethodField()

    class Meta:
        model = Silence
        fields = ["id", "target", "reason", "created_by", "created_at", "starts_at", "ends_at", "ended_by", "in_force"]

    def get_target(self, silence) -> dict:
        for kind in Silence.TARGETS:
            value = getattr(silence, kind)
            if value is not None:
                return {"kind": kind, "code": value.code, "name": str(getattr(value, "name", value))}
        return {}

    def get_created_by(self, silence) -> str | None:
        return display_name(silence.created_by)

    def get_ended_by(self, silence) -> str | None:
        return display_name(silence.ended_by)

    def get_in_force(self, silence) -> bool:
        return silence.is_in_force()


class SilenceCreateSerializer(serializers.Serializer):
    sensor = serializers.CharField(required=False, help_text="A sensor's code.")
    gateway = serializers.SlugRelatedField(slug_field="code", queryset=Gateway.objects.all(), required=False)
    district = serializers.SlugRelatedField(
        slug_field="code", queryset=District.objects.defer("boundary"), required=False
    )
    sensor_type = serializers.SlugRelatedField(slug_field="code", queryset=SensorType.objects.all(), required=False)
    reason = serializers.CharField(allow_blank=True)
    starts_at = serializers.DateTimeField(required=False, help_text="Empty: now.")
    ends_at = serializers.DateTimeField()


class SilenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Maintenance windows: newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = SilenceSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return silences_visible_to(self.request.user)

    @extend_schema(
        request=SilenceCreateSerializer,
        responses={201: SilenceSerializer, 403: error_response("Department staff may silence only their own sensors.")},
    )
    def create(self, request):
        """Silence a sensor, a gateway, a district or a sensor type until ``ends_at``."""
        body = SilenceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        code = data.pop("sensor", None)
        sensor = None
        if code is not None:
            sensor = get_object_or_404(sensors_visible_to(request.user), code=code)
        if not is_duty_officer(request.user) and (
            sensor is None or any(data.get(k) for k in ("gateway", "district", "sensor_type"))
        ):
            raise NotAllowedError(
                _("Department staff may silence only their department's sensors, one sensor at a time.")
            )
        silence = silences.silence_create(user=request.user, sensor=sensor, **data)
        return Response(SilenceSerializer(silence).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: SilenceSerializer, 409: error_response("The silence has already ended.")},
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        """End the silence now; a condition still true opens its warning."""
        silence = get_object_or_404(self.get_queryset(), pk=pk)
        silences.silence_end(silence_id=silence.pk, user=request.user)
        return Response(SilenceSerializer(self.get_queryset().get(pk=silence.pk)).data)

"""Silences over the REST API (``/api/v1/silences/``).

Duty officers and administrators see and set silences of anything. Department
staff see the silences of the sensors their department owns and may silence
those sensors, one at a time, for their own maintenance work: a gateway, a
district or a sensor type is the whole city's business.
"""

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from citysafety.api import error_response
from citysafety.errors import InvalidInputError, NotAllowedError
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
    """A silence to set: exactly one target (sensor, gateway, district, sensor_type); one given as "" is not given."""

    # The one target is checked here, before the model's constraint
    # silence_one_target: its refusal names the constraint, not the fields.

    # allow_blank: the schema then allows "", which is taken as "no sensor".
    sensor = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="A sensor's code.")
    gateway = serializers.SlugRelatedField(slug_field="code", queryset=Gateway.objects.all(), required=False)
    district = serializers.SlugRelatedField(
        slug_field="code", queryset=District.objects.defer("boundary"), required=False
    )
    sensor_type = serializers.SlugRelatedField(slug_field="code", queryset=SensorType.objects.all(), required=False)
    # Not blank, as the model demands; min_length says so in the schema.
    reason = serializers.CharField(
        min_length=1,
        max_length=4000,
        error_messages={"blank": gettext_lazy("Say why the warnings are silenced (e.g. the maintenance work).")},
    )
    starts_at = serializers.DateTimeField(required=False, help_text="Empty: now.")
    ends_at = serializers.DateTimeField()

    def to_internal_value(self, data):
        # A form sends every field it has, the unused targets as ""; a JSON
        # client may send null. Either way that target is not named. (A plain
        # dict also spares form bodies DRF's HTML-form reading of "".)
        if hasattr(data, "items"):
            data = {key: value for key, value in data.items() if not (key in Silence.TARGETS and value in ("", None))}
        return super().to_internal_value(data)

    def validate(self, attrs: dict) -> dict:
        named = [target for target in Silence.TARGETS if attrs.get(target) is not None]
        if not named:
            raise serializers.ValidationError(
                _("Name what to silence: one of sensor, gateway, district or sensor_type.")
            )
        if len(named) > 1:
            raise serializers.ValidationError(
                _(
                    "A silence covers one thing: name only one of sensor, gateway, district or sensor_type"
                    " (this request names %(named)s)."
                )
                % {"named": ", ".join(named)}
            )
        return attrs


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
        description=(
            "Silence a sensor, a gateway, a district or a sensor type until ``ends_at``. Name exactly one of"
            ' sensor, gateway, district and sensor_type (one given as "" counts as not given): another number of'
            " targets, an unknown code, or ends_at not after starts_at is a 400 naming the field."
        ),
    )
    def create(self, request):
        """Silence a sensor, a gateway, a district or a sensor type until ``ends_at``."""
        body = SilenceCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        code = data.pop("sensor", None)
        sensor = None
        if code is not None:
            # A sensor the caller may not see is refused as unknown: its existence is not theirs to learn.
            sensor = sensors_visible_to(request.user).filter(code=code).first()
            if sensor is None:
                raise InvalidInputError(
                    _("No sensor with code %(code)s among the sensors you may silence.") % {"code": code},
                    field="sensor",
                )
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

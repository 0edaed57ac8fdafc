"""Gateways gone silent (inhibition's one warning per gateway), for the duty officer's map."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from organisation.permissions import IsDutyOfficer
from warning.models import GatewayOutage, WarningStatus
from warning.payloads import outage_row

# A city has a few hundred gateways; more outages than this at once is a
# city-wide failure, and the first ones say enough.
MAX_OUTAGES = 100


class GatewayOutageSerializer(serializers.ModelSerializer):
    gateway_code = serializers.CharField(source="gateway.code")
    gateway_name = serializers.CharField(source="gateway.name")

    class Meta:
        model = GatewayOutage
        fields = (
            "id",
            "gateway_code",
            "gateway_name",
            "level",
            "status",
            "opened_at",
            "last_seen_at",
            "silent_sensors",
            "recovered_at",
        )

    def to_representation(self, instance: GatewayOutage) -> dict:
        # One shape for the list and the push (warning.pushes.outages_push).
        return outage_row(instance)


class GatewayOutageListView(APIView):
    """The gateways silent now, each one warning in place of its sensors' no-data warnings; the oldest first."""

    permission_classes = [IsDutyOfficer]

    @extend_schema(responses={200: GatewayOutageSerializer(many=True)})
    def get(self, request):
        outages = (
            GatewayOutage.objects.filter(status=WarningStatus.ACTIVE)
            .select_related("gateway")
            .order_by("level", "opened_at", "id")[:MAX_OUTAGES]
        )
        return Response(GatewayOutageSerializer(outages, many=True).data)

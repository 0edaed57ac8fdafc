"""The rows the pushes send are the API's own shape, built without DRF."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework import serializers

from tests.factories import GatewayFactory
from warning.api.outages import GatewayOutageSerializer
from warning.models import GatewayOutage, WarningStatus
from warning.payloads import outage_row

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("recovered", [False, True])
def test_an_outages_row_equals_the_serializers_own_fields_field_for_field(recovered):
    now = timezone.now()
    outage = GatewayOutage.objects.create(
        gateway=GatewayFactory(),
        level=2,
        opened_at=now - timedelta(minutes=20),
        last_seen_at=None if recovered else now - timedelta(minutes=31),
        silent_sensors=7,
        status=WarningStatus.RECOVERED if recovered else WarningStatus.ACTIVE,
        recovered_at=now if recovered else None,
    )
    outage = GatewayOutage.objects.select_related("gateway").get(pk=outage.pk)

    generic = serializers.ModelSerializer.to_representation(GatewayOutageSerializer(), outage)

    assert outage_row(outage) == dict(generic)
    assert GatewayOutageSerializer(outage).data == outage_row(outage)

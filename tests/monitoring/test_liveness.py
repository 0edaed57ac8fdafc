"""Sensors that stop reporting are marked offline."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import SensorStatus
from monitoring.tasks import mark_offline_sensors
from tests.factories import SensorFactory, SensorTypeFactory

pytestmark = pytest.mark.django_db


def test_a_sensor_silent_for_three_intervals_goes_offline():
    sensor_type = SensorTypeFactory(reporting_interval_seconds=60)
    now = timezone.now()
    silent = SensorFactory(
        sensor_type=sensor_type, status=SensorStatus.ONLINE, latest_observed_at=now - timedelta(minutes=4)
    )
    recent = SensorFactory(
        sensor_type=sensor_type, status=SensorStatus.ONLINE, latest_observed_at=now - timedelta(minutes=2)
    )
    never = SensorFactory(sensor_type=sensor_type, status=SensorStatus.UNKNOWN)

    assert mark_offline_sensors() == 1

    silent.refresh_from_db()
    recent.refresh_from_db()
    never.refresh_from_db()
    assert silent.status == SensorStatus.OFFLINE
    assert recent.status == SensorStatus.ONLINE
    assert never.status == SensorStatus.UNKNOWN
    assert mark_offline_sensors() == 0


def test_a_new_reading_brings_an_offline_sensor_back_online(client, gateway):
    import json

    sensor = SensorFactory(gateway=gateway, status=SensorStatus.OFFLINE)
    body = json.dumps([{"sensor": sensor.code, "observed_at": timezone.now().isoformat(), "value": 1.0}])
    client.post(
        "/api/v1/readings/", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {gateway.token}"
    )
    sensor.refresh_from_db()
    assert sensor.status == SensorStatus.ONLINE

"""Readings older than the retention period are deleted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_purge_expired
from tests.factories import SensorFactory

pytestmark = pytest.mark.django_db


def test_readings_past_the_retention_period_are_purged_in_batches():
    sensor = SensorFactory()
    now = timezone.now()
    Reading.objects.bulk_create(
        Reading(sensor=sensor, observed_at=now - timedelta(days=days), value=1.0) for days in (1, 5, 31, 40, 90)
    )

    assert readings_purge_expired(retention_days=0) == 0
    assert readings_purge_expired(retention_days=30, batch_size=2) == 3
    assert sorted(round((now - r.observed_at).days) for r in Reading.objects.all()) == [1, 5]

"""Silenced, flapping and grouped warnings through the real stack: a gateway
posts to gunicorn, the Celery worker evaluates and lifts silences."""

from datetime import timedelta

import pytest
from django.utils import timezone

from dispatch.models import WorkOrder
from monitoring.models import Asset, AssetKind, Reading
from tests.factories import SensorFactory, UserFactory
from tests.integration import test_pipeline
from tests.integration.test_pipeline import post_readings
from tests.live import wait_for
from warning.models import Incident, RuleState, Silence, Warning
from warning.tasks import lift_silences

pytestmark = pytest.mark.django_db(transaction=True)

city = test_pipeline.city  # the pipeline tests' city: a gas and a water sensor behind one gateway


def evaluated(sensor) -> bool:
    """The worker has moved the sensor's watermark past its newest reading."""
    newest = Reading.objects.filter(sensor=sensor).order_by("-id").values_list("id", flat=True).first()
    return RuleState.objects.filter(sensor=sensor, last_reading_id=newest).exists()


def test_a_silenced_gateways_readings_are_evaluated_by_the_worker_and_warn_once_the_silence_lifts(
    gunicorn_server,
    celery_worker_process,
    city,
    gateway,
):
    now = timezone.now()
    author = UserFactory(username="maint")
    silence = Silence.objects.create(
        gateway=gateway,
        reason="Gateway firmware update",
        created_by=author,
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    items = [
        {"sensor": "GAS-0001", "observed_at": (now - timedelta(seconds=30 - i)).isoformat(), "value": value}
        for i, value in enumerate([5.0, 60.0, 8.0, 70.0, 25.0])
    ]

    response = post_readings(gunicorn_server, gateway, items)

    assert response.json()["accepted"] == 5
    wait_for(lambda: evaluated(city["gas"]), timeout=20, what="the worker's evaluation")
    assert not Warning.objects.exists()
    assert not WorkOrder.objects.exists()

    Silence.objects.filter(pk=silence.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    lift_silences.delay()

    warning = wait_for(lambda: Warning.objects.filter(sensor=city["gas"]).first(), timeout=20, what="the warning")
    assert (warning.level, warning.last_value) == (2, 25.0)
    wait_for(lambda: WorkOrder.objects.filter(warning=warning).exists(), timeout=5, what="its work order")
    assert wait_for(lambda: Silence.objects.get(pk=silence.pk).lifted_at, timeout=5, what="the lift")


def test_a_flapping_series_is_one_warning_marked_flapping_with_one_work_order(
    gunicorn_server,
    celery_worker_process,
    city,
    gateway,
    settings,
):
    now = timezone.now()
    values = [60.0, 5.0] * 4  # opened, then seven flips
    items = [
        {"sensor": "GAS-0001", "observed_at": (now - timedelta(seconds=60 - i)).isoformat(), "value": value}
        for i, value in enumerate(values)
    ]

    post_readings(gunicorn_server, gateway, items)

    warning = wait_for(
        lambda: Warning.objects.filter(sensor=city["gas"], is_flapping=True).first(), timeout=20, what="the mark"
    )
    wait_for(lambda: evaluated(city["gas"]), timeout=10, what="the whole series")
    assert Warning.objects.filter(sensor=city["gas"]).count() == 1
    assert warning.transitions.count() == len(values)
    assert WorkOrder.objects.filter(warning=warning).count() == 1


def test_warnings_on_one_assets_sensors_are_one_incident_dispatched_once(
    gunicorn_server,
    celery_worker_process,
    city,
    gateway,
):
    pipe = Asset.objects.create(code="dn300-12", name="DN300 main, segment 12", kind=AssetKind.PIPE_SEGMENT)
    city["gas"].asset = pipe
    city["gas"].save(update_fields=["asset"])
    neighbour = SensorFactory(
        code="GAS-0002",
        sensor_type=city["gas"].sensor_type,
        owner_department=city["gas"].owner_department,
        gateway=gateway,
        asset=pipe,
    )
    now = timezone.now()

    post_readings(gunicorn_server, gateway, [{"sensor": "GAS-0001", "observed_at": now.isoformat(), "value": 30.0}])
    first = wait_for(lambda: Warning.objects.filter(sensor=city["gas"]).first(), timeout=20, what="the first")
    post_readings(gunicorn_server, gateway, [{"sensor": "GAS-0002", "observed_at": now.isoformat(), "value": 60.0}])
    second = wait_for(lambda: Warning.objects.filter(sensor=neighbour).first(), timeout=20, what="the second")

    incident = Incident.objects.get()
    assert (incident.primary_id, incident.asset_id) == (first.pk, pipe.pk)
    assert second.incident_id == incident.pk
    # Dispatched once: the first warning's order, raised to the second's Level I.
    assert list(WorkOrder.objects.values_list("warning_id", "level")) == [(first.pk, 1)]

"""Closing an active warning, and what the warning list is told about its
peak and its current level."""

from datetime import timedelta

import pytest
from django.utils import timezone

from citysafety.errors import ConflictError
from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning import services
from warning.models import TransitionKind, Warning, WarningStatus
from warning.selectors import warning_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def sensor():
    return SensorFactory(sensor_type=ThresholdRuleFactory().sensor_type)  # above: III 10, II 20, I 50


@pytest.fixture
def feed(sensor):
    """Evaluate readings a minute apart, in the recent past, as the worker would."""
    at = [timezone.now() - timedelta(minutes=50)]

    def feed(value: float) -> None:
        at[0] += timedelta(minutes=1)
        readings_record_stored(readings=[Reading.objects.create(sensor=sensor, observed_at=at[0], value=value)])
        services.sensor_evaluate(sensor_id=sensor.pk)

    return feed


@pytest.fixture
def warning(sensor, feed) -> Warning:
    feed(60.0)  # Level I
    return Warning.objects.get(sensor=sensor)


def test_an_active_warning_closes_only_by_explicit_choice(warning, duty_officer):
    with pytest.raises(ConflictError, match="still reads 60, at Level I"):
        services.warning_close(warning_id=warning.pk, user=duty_officer, note="Done.")
    assert Warning.objects.get(pk=warning.pk).status == WarningStatus.ACTIVE

    closed = services.warning_close(warning_id=warning.pk, user=duty_officer, note="Sensor faulty.", close_active=True)

    assert closed.closed_while_active is True
    last = closed.transitions.last()
    assert (last.kind, last.note, last.actor) == (TransitionKind.CLOSED, "Sensor faulty.", duty_officer)


def test_a_recovered_warning_closes_without_the_choice(warning, feed, duty_officer):
    feed(1.0)
    closed = services.warning_close(warning_id=warning.pk, user=duty_officer, note="Leak repaired.")
    assert closed.status == WarningStatus.CLOSED
    assert closed.closed_while_active is False


def test_the_payload_tells_the_peak_level_from_the_current_one(warning, feed):
    assert warning_payload(warning.pk)["current_level"] == 1

    feed(25.0)  # down into the Level II range: the warning stays at Level I
    payload = warning_payload(warning.pk)
    assert (payload["level"], payload["current_level"], payload["last_value"]) == (1, 2, 25.0)

    feed(1.0)  # recovered: no current level
    payload = warning_payload(warning.pk)
    assert (payload["level"], payload["status"], payload["current_level"]) == (1, "recovered", None)

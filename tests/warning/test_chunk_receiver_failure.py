"""What a chunk of evaluation carries when a receiver of ``warning_changed`` raises.

Routing runs in the receiver, inside the chunk's transaction, so a warning
is never stored without its work orders. A receiver that raises for one
sensor (a routing bug, a bad policy) must not take the chunk's other
sensors down with it: their warnings open and commit; the failing sensor's
change is undone, its readings stay unevaluated and marked, the error is
logged, and the sweep tries it again.
"""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning import selectors, services
from warning.events import warning_changed
from warning.models import TransitionKind, Warning, WarningTransition

pytestmark = pytest.mark.django_db


class RoutingError(Exception):
    pass


@pytest.fixture
def rule():
    return ThresholdRuleFactory()  # above: III 10, II 20, I 50


@pytest.fixture
def failing_for():
    """A receiver that raises for the sensors in the returned set, connected for the test only."""
    sensor_ids: set[int] = set()

    def receiver(sender, *, warning, transition, **kwargs) -> None:
        if warning.sensor_id in sensor_ids:
            raise RoutingError(f"routing failed for sensor {warning.sensor_id}")

    warning_changed.connect(receiver, dispatch_uid="test.failing_receiver")
    yield sensor_ids
    warning_changed.disconnect(dispatch_uid="test.failing_receiver")


def stored(sensor, value: float) -> None:
    reading = Reading.objects.create(sensor=sensor, observed_at=timezone.now() - timedelta(minutes=1), value=value)
    readings_record_stored(readings=[reading])


def test_a_receiver_raising_for_one_sensor_leaves_the_chunks_other_sensors_evaluated(rule, failing_for, caplog):
    bad, good, other = (SensorFactory(sensor_type=rule.sensor_type) for _ in range(3))
    for sensor in (bad, good, other):
        stored(sensor, 25.0)
    failing_for.add(bad.pk)

    with caplog.at_level(logging.ERROR, logger="warning.services"):
        written = services.sensors_evaluate(sensor_ids=[bad.pk, good.pk, other.pk])

    assert written == 2
    assert sorted(Warning.objects.values_list("sensor_id", flat=True)) == sorted([good.pk, other.pk])
    # Undone with its routing: nothing of the bad sensor's warning is left.
    assert not WarningTransition.objects.filter(warning__sensor=bad).exists()
    assert selectors.sensors_with_unevaluated_readings() == [bad.pk]
    assert any(f"sensor {bad.pk}" in record.getMessage() for record in caplog.records)
    assert any(isinstance(record.exc_info and record.exc_info[1], RoutingError) for record in caplog.records)


def test_the_sweep_evaluates_the_failed_sensor_once_its_receiver_works_again(rule, failing_for):
    bad, good = (SensorFactory(sensor_type=rule.sensor_type) for _ in range(2))
    for sensor in (bad, good):
        stored(sensor, 25.0)
    failing_for.add(bad.pk)
    services.sensors_evaluate(sensor_ids=[bad.pk, good.pk])
    failing_for.clear()

    assert services.sensors_evaluate(sensor_ids=selectors.sensors_with_unevaluated_readings()) == 1

    assert list(Warning.objects.filter(sensor=bad).values_list("level", flat=True)) == [2]
    assert Warning.objects.filter(sensor=good).count() == 1
    assert WarningTransition.objects.filter(kind=TransitionKind.OPENED).count() == 2
    assert selectors.sensors_with_unevaluated_readings() == []


def test_a_chunk_of_one_sensor_whose_receiver_raises_changes_nothing_and_says_so(rule, failing_for, caplog):
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    stored(sensor, 60.0)
    failing_for.add(sensor.pk)

    with caplog.at_level(logging.ERROR, logger="warning.services"):
        assert services.sensors_evaluate(sensor_ids=[sensor.pk]) == 0

    assert not Warning.objects.exists()
    assert selectors.sensors_with_unevaluated_readings() == [sensor.pk]
    assert any(f"sensor {sensor.pk}" in record.getMessage() for record in caplog.records)

"""The bench's reading of evaluation's bookkeeping: lag, evaluated counts, catching up."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bench import schema
from monitoring.models import Sensor, SensorState
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning.models import RuleState

pytestmark = pytest.mark.django_db


def store(sensor: Sensor, *, received_seconds_ago: float) -> int:
    """A reading received that long ago, its sensor's state marked as ingestion marks it."""
    received = timezone.now() - timedelta(seconds=received_seconds_ago)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at) "
            "VALUES (%s, %s, 1.0, %s) RETURNING id",
            [sensor.pk, received, received],
        )
        reading_id = cursor.fetchone()[0]
    state, _ = SensorState.objects.get_or_create(sensor=sensor)
    state.latest_reading_id = reading_id
    state.unevaluated_since = min(filter(None, [state.unevaluated_since, received]))
    state.unevaluated_observed_from = state.unevaluated_observed_from or received
    state.save()
    return reading_id


def evaluated_through(sensor: Sensor, reading_id: int) -> None:
    """What evaluation leaves: the rule's watermark, and the marks cleared when it saw the newest."""
    RuleState.objects.update_or_create(sensor=sensor, rule=rule_of(sensor), defaults={"last_reading_id": reading_id})
    SensorState.objects.filter(sensor=sensor, latest_reading_id__lte=reading_id).update(
        unevaluated_since=None, unevaluated_observed_from=None
    )


def rule_of(sensor: Sensor):
    return sensor.sensor_type.threshold_rules.get()


def lag():
    with connection.cursor() as cursor:
        return schema.evaluation_lag(cursor)


@pytest.fixture
def sensors():
    rule = ThresholdRuleFactory()
    first, second = SensorFactory(sensor_type=rule.sensor_type), SensorFactory(sensor_type=rule.sensor_type)
    return first, second


def test_nothing_waits_when_every_rule_has_seen_its_sensors_newest_reading(sensors):
    first, second = sensors
    evaluated_through(first, store(first, received_seconds_ago=30))
    evaluated_through(second, store(second, received_seconds_ago=20))

    assert lag() == schema.Lag(seconds=0.0, sensors_behind=0)


def test_the_lag_is_the_age_of_the_oldest_reading_not_yet_evaluated(sensors):
    first, second = sensors
    evaluated_through(first, store(first, received_seconds_ago=100))
    store(first, received_seconds_ago=40)
    store(first, received_seconds_ago=10)
    evaluated_through(second, store(second, received_seconds_ago=90))
    store(second, received_seconds_ago=20)

    measured = lag()

    assert measured.sensors_behind == 2
    assert 38 < measured.seconds < 45


def test_a_sensor_counts_as_evaluated_only_as_far_as_its_slowest_rule(sensors):
    first, second = sensors
    before = store(first, received_seconds_ago=60)
    evaluated_through(first, before)
    seen = store(first, received_seconds_ago=50)
    store(first, received_seconds_ago=40)
    evaluated_through(first, seen)
    evaluated_through(second, store(second, received_seconds_ago=30))
    own_rule = ThresholdRuleFactory(sensor=second, sensor_type=None)
    RuleState.objects.create(sensor=second, rule=own_rule, last_reading_id=before)

    with connection.cursor() as cursor:
        counted = schema.readings_evaluated(cursor, after_id=before)

    # first: the reading it has seen, not the one after; second: its own rule is behind.
    assert counted == 1


def test_catching_up_by_decree_leaves_no_sensor_behind_and_gives_every_sensor_its_state(sensors):
    first, second = sensors
    store(first, received_seconds_ago=40)
    store(second, received_seconds_ago=30)
    evaluated_through(first, 0)

    with connection.cursor() as cursor:
        schema.evaluation_mark_all_done(cursor)

    assert lag() == schema.Lag(seconds=0.0, sensors_behind=0)
    assert RuleState.objects.filter(sensor=second).exists()


def test_the_latest_reading_of_history_written_behind_ingestion_lands_on_the_sensor(sensors):
    first, _ = sensors
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at) "
            "SELECT %s, now() - make_interval(mins => m), m, now() FROM generate_series(1, 5) AS m",
            [first.pk],
        )
        schema.sensors_take_latest(cursor, after_id=0)

    first.refresh_from_db()
    assert first.latest_value == 1.0
    assert first.state.latest_reading_id is not None
    assert first.state.unevaluated_since is None

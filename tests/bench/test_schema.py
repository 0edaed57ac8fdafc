"""The bench's reading of evaluation's bookkeeping: lag, evaluated counts, catching up."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from bench import schema
from monitoring.models import Sensor
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning.models import RuleState

pytestmark = pytest.mark.django_db


def store(sensor: Sensor, *, received_seconds_ago: float) -> int:
    """A reading received that long ago; the sensor's newest reading id follows, as ingestion does."""
    received = timezone.now() - timedelta(seconds=received_seconds_ago)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO monitoring_reading (sensor_id, observed_at, value, received_at) "
            "VALUES (%s, %s, 1.0, %s) RETURNING id",
            [sensor.pk, received, received],
        )
        reading_id = cursor.fetchone()[0]
    Sensor.objects.filter(pk=sensor.pk).update(latest_reading_id=reading_id)
    return reading_id


def evaluated_through(sensor: Sensor, reading_id: int) -> None:
    RuleState.objects.update_or_create(sensor=sensor, rule=rule_of(sensor), defaults={"last_reading_id": reading_id})


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


def test_the_lag_is_the_age_of_the_oldest_reading_past_its_rules_watermark(sensors):
    first, second = sensors
    evaluated_through(first, store(first, received_seconds_ago=100))
    store(first, received_seconds_ago=40)
    store(first, received_seconds_ago=10)
    evaluated_through(second, store(second, received_seconds_ago=90))
    store(second, received_seconds_ago=20)

    measured = lag()

    assert measured.sensors_behind == 2
    assert measured.exact
    assert 38 < measured.seconds < 45


def test_the_search_walks_past_evaluated_readings_of_other_sensors_a_window_at_a_time(sensors, monkeypatch):
    first, second = sensors
    store(first, received_seconds_ago=300)
    mark = store(second, received_seconds_ago=200)
    evaluated_through(second, mark)
    for age in range(120, 60, -5):
        evaluated_through(first, store(first, received_seconds_ago=age))
    store(second, received_seconds_ago=50)
    monkeypatch.setattr(schema, "LAG_WINDOW", 3)

    measured = lag()

    assert measured.sensors_behind == 1
    assert measured.exact
    assert 48 < measured.seconds < 55


def test_a_search_that_gives_up_says_its_figure_is_only_an_upper_bound(sensors, monkeypatch):
    first, second = sensors
    evaluated_through(second, store(second, received_seconds_ago=200))
    for age in range(120, 60, -5):
        evaluated_through(first, store(first, received_seconds_ago=age))
    store(second, received_seconds_ago=50)
    monkeypatch.setattr(schema, "LAG_WINDOW", 2)

    with connection.cursor() as cursor:
        measured = schema.evaluation_lag(cursor, max_scan=4)

    assert not measured.exact
    assert measured.sensors_behind == 1
    assert measured.seconds > 50


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
    assert first.latest_reading_id is not None

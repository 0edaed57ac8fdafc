"""Sensors wait for evaluation in a Redis set: coalesced, drained most severe first."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, ThresholdRuleFactory
from warning import evaluation_queue, selectors, services
from warning.models import Warning
from warning.tasks import drain_evaluation_queue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_queue(monkeypatch):
    """Keys of this test's own: the session's Celery worker drains the real ones."""
    run = uuid.uuid4().hex[:8]
    monkeypatch.setattr(evaluation_queue, "WAITING", f"test:{run}:waiting")
    monkeypatch.setattr(evaluation_queue, "DRAIN_QUEUED", f"test:{run}:drain-queued")
    yield
    evaluation_queue.client().delete(evaluation_queue.WAITING, evaluation_queue.DRAIN_QUEUED)


@pytest.fixture
def rule():
    return ThresholdRuleFactory()  # above: III 10, II 20, I 50


def stored(sensor, value, minutes_ago=1.0):
    reading = Reading.objects.create(
        sensor=sensor, observed_at=timezone.now() - timedelta(minutes=minutes_ago), value=value
    )
    readings_record_stored(readings=[reading])
    return reading


def test_a_sensor_marked_by_several_batches_waits_once_and_one_drain_is_queued():
    assert evaluation_queue.sensors_mark([1, 2]) is True
    assert evaluation_queue.sensors_mark([2, 3]) is False
    assert evaluation_queue.sensors_mark([3]) is False

    assert evaluation_queue.waiting_count() == 3


def test_once_a_drain_starts_the_next_mark_queues_another():
    evaluation_queue.sensors_mark([1])
    evaluation_queue.drain_started()

    assert evaluation_queue.sensors_mark([2]) is True


def test_a_drain_evaluates_the_most_severe_first(rule, monkeypatch):
    quiet, orange, red = (SensorFactory(sensor_type=rule.sensor_type) for _ in range(3))
    for sensor, value in ((quiet, 3.0), (orange, 25.0), (red, 60.0)):
        stored(sensor, value)
    evaluation_queue.sensors_mark([quiet.pk, orange.pk, red.pk])
    order = []
    evaluate_chunk = services._evaluate_chunk

    def spy(sensor_ids):
        order.extend(sensor_ids)
        return evaluate_chunk(sensor_ids)

    monkeypatch.setattr(services, "_evaluate_chunk", spy)
    monkeypatch.setattr(services, "CHUNK_SIZE", 1)

    assert services.sensors_drain() == 3

    assert order == [red.pk, orange.pk, quiet.pk]
    assert {w.sensor_id: w.level for w in Warning.objects.all()} == {red.pk: 1, orange.pk: 2}
    assert selectors.sensors_with_unevaluated_readings() == []
    assert evaluation_queue.waiting_count() == 0


def test_a_level_one_reading_arriving_during_a_drain_goes_before_the_backlog(rule, monkeypatch):
    backlog = [SensorFactory(sensor_type=rule.sensor_type) for _ in range(4)]
    for sensor in backlog:
        stored(sensor, 3.0)
    red = SensorFactory(sensor_type=rule.sensor_type)
    evaluation_queue.sensors_mark([s.pk for s in backlog])
    order = []
    evaluate_chunk = services._evaluate_chunk

    def spy(sensor_ids):
        order.extend(sensor_ids)
        if len(order) == 1:
            # A gas leak is stored while the drain works through the backlog.
            stored(red, 60.0)
            evaluation_queue.sensors_mark([red.pk])
        return evaluate_chunk(sensor_ids)

    monkeypatch.setattr(services, "_evaluate_chunk", spy)
    monkeypatch.setattr(services, "CHUNK_SIZE", 1)
    # Each take holds all that waits (fewer than DRAIN_TAKE): the gas leak
    # comes with the next take, ranked before what the drain still holds.
    services.sensors_drain(take=10)

    assert order[1] == red.pk
    assert sorted(order) == sorted([*(s.pk for s in backlog), red.pk])


def test_a_drain_out_of_time_hands_the_rest_back(rule, monkeypatch):
    sensors = [SensorFactory(sensor_type=rule.sensor_type) for _ in range(3)]
    for sensor in sensors:
        stored(sensor, 3.0)
    evaluation_queue.sensors_mark([s.pk for s in sensors])
    monkeypatch.setattr(services, "CHUNK_SIZE", 1)

    assert services.sensors_drain(budget_seconds=0) == 1

    assert evaluation_queue.waiting_count() == 2
    assert len(selectors.sensors_with_unevaluated_readings()) == 2


def test_a_drain_that_finds_nothing_touches_no_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert drain_evaluation_queue() == 0


def test_a_marked_sensor_with_no_new_reading_costs_a_handful_of_queries(rule, django_assert_max_num_queries):
    sensor = SensorFactory(sensor_type=rule.sensor_type)
    stored(sensor, 3.0)
    services.sensor_evaluate(sensor_id=sensor.pk)
    evaluation_queue.sensors_mark([sensor.pk])

    # Rank it (its value, the rules); lock and find nothing unevaluated
    # (savepoint, lock, read, release).
    with django_assert_max_num_queries(6):
        assert services.sensors_drain() == 1


def test_a_drain_leaves_a_sensor_without_rules_unmarked():
    sensor = SensorFactory()
    stored(sensor, 3.0)
    evaluation_queue.sensors_mark([sensor.pk])

    services.sensors_drain()

    assert selectors.sensors_with_unevaluated_readings() == []

"""Sensors wait for evaluation in a Redis sorted set: coalesced, drained most severe first."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Reading
from monitoring.services import readings_record_stored
from tests.factories import SensorFactory, SensorTypeFactory, ThresholdRuleFactory
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
    unranked = evaluation_queue.UNRANKED
    assert evaluation_queue.sensors_mark({1: unranked, 2: unranked}) is True
    assert evaluation_queue.sensors_mark({2: unranked, 3: unranked}) is False
    assert evaluation_queue.sensors_mark({3: unranked}) is False

    assert evaluation_queue.waiting_count() == 3


def test_once_a_drain_starts_the_next_mark_queues_another():
    evaluation_queue.sensors_mark({1: evaluation_queue.UNRANKED})
    evaluation_queue.drain_started()

    assert evaluation_queue.sensors_mark({2: evaluation_queue.UNRANKED}) is True


def test_sensors_are_taken_by_level_then_by_how_long_they_waited():
    evaluation_queue.sensors_mark({1: evaluation_queue.UNRANKED, 2: 3})
    evaluation_queue.sensors_mark({3: evaluation_queue.UNRANKED, 4: 1, 5: 3})

    assert evaluation_queue.sensors_take(10) == [4, 2, 5, 1, 3]


def test_a_waiting_sensor_keeps_its_best_place():
    evaluation_queue.sensors_mark({1: evaluation_queue.UNRANKED, 2: 2})
    # Sensor 2's newest value is normal again: it keeps its Level II place;
    # sensor 1 reaches Level I and moves ahead of it.
    evaluation_queue.sensors_mark({2: evaluation_queue.UNRANKED, 1: 1})

    assert evaluation_queue.sensors_take(10) == [1, 2]


def test_ingestion_ranks_a_sensor_by_the_level_its_newest_value_reaches(rule):
    quiet, orange, red, without_rule = (
        SensorFactory(sensor_type=rule.sensor_type),
        SensorFactory(sensor_type=rule.sensor_type),
        SensorFactory(sensor_type=rule.sensor_type),
        SensorFactory(sensor_type=SensorTypeFactory(code="water-level")),
    )
    for sensor, value in ((quiet, 3.0), (orange, 25.0), (red, 60.0), (without_rule, 99.0)):
        stored(sensor, value)

    assert services.sensors_rank(
        {s.pk: (s.sensor_type_id, v) for s, v in ((quiet, 3.0), (orange, 25.0), (red, 60.0), (without_rule, 99.0))}
    ) == {quiet.pk: evaluation_queue.UNRANKED, orange.pk: 2, red.pk: 1, without_rule.pk: evaluation_queue.UNRANKED}
    # Without the values at hand, they are looked up.
    services.sensors_enqueue(sensor_ids=[quiet.pk, orange.pk, red.pk, without_rule.pk])
    assert evaluation_queue.sensors_take(2) == [red.pk, orange.pk]


def test_a_drain_evaluates_the_most_severe_first(rule, monkeypatch):
    quiet, orange, red = (SensorFactory(sensor_type=rule.sensor_type) for _ in range(3))
    for sensor, value in ((quiet, 3.0), (orange, 25.0), (red, 60.0)):
        stored(sensor, value)
    services.sensors_enqueue(sensor_ids=[quiet.pk, orange.pk, red.pk])
    order = []
    evaluate_chunk = services.chunk_evaluate

    def spy(sensor_ids):
        order.extend(sensor_ids)
        return evaluate_chunk(sensor_ids)

    monkeypatch.setattr(services, "chunk_evaluate", spy)
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
    services.sensors_enqueue(sensor_ids=[s.pk for s in backlog])
    order = []
    evaluate_chunk = services.chunk_evaluate

    def spy(sensor_ids):
        order.extend(sensor_ids)
        if len(order) == 1:
            # A gas leak is stored while the drain works through the backlog.
            stored(red, 60.0)
            services.sensors_enqueue(sensor_ids=[red.pk])
        return evaluate_chunk(sensor_ids)

    monkeypatch.setattr(services, "chunk_evaluate", spy)
    monkeypatch.setattr(services, "CHUNK_SIZE", 1)
    # The gas leak is ranked when it is stored: the next chunk is taken
    # from the front of the queue, before the rest of the backlog.
    services.sensors_drain()

    assert order[1] == red.pk
    assert sorted(order) == sorted([*(s.pk for s in backlog), red.pk])


def test_a_drain_out_of_time_hands_the_rest_back(rule, monkeypatch):
    sensors = [SensorFactory(sensor_type=rule.sensor_type) for _ in range(3)]
    for sensor in sensors:
        stored(sensor, 3.0)
    services.sensors_enqueue(sensor_ids=[s.pk for s in sensors])
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
    services.sensors_enqueue(sensor_ids=[sensor.pk])

    # Lock and find nothing unevaluated (savepoint, lock, release).
    with django_assert_max_num_queries(3):
        assert services.sensors_drain() == 1


def test_a_drain_leaves_a_sensor_without_rules_unmarked():
    sensor = SensorFactory()
    stored(sensor, 3.0)
    services.sensors_enqueue(sensor_ids=[sensor.pk])

    services.sensors_drain()

    assert selectors.sensors_with_unevaluated_readings() == []
